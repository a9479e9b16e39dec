// A handle on one job of the service (IBackgroundCopyJob).
#pragma once

#include <bgcopy/export.hpp>
#include <bgcopy/result.hpp>
#include <bgcopy/subscription.hpp>
#include <bgcopy/types.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bgcopy {
inline namespace v0 {

namespace detail {
class JobCore;
}

/// Byte and file counts of a job (GetProgress).
struct JobProgress {
  std::optional<std::uint64_t> bytes_total;  // nullopt while some file's size is unknown
  std::uint64_t bytes_transferred = 0;
  std::uint32_t files_total = 0;
  std::uint32_t files_transferred = 0;
  friend bool operator==(const JobProgress&, const JobProgress&) = default;
};

/// When the job was created, last changed, and finished transferring (GetTimes).
struct JobTimes {
  SystemTime created{};
  SystemTime modified{};
  std::optional<SystemTime> transfer_completed;  // nullopt until every file is transferred
  friend bool operator==(const JobTimes&, const JobTimes&) = default;
};

/// A handle on one job. Made by Manager::create_job or Manager::get_job. Cheap to copy; copies
/// are the same handle (they share what the handle has seen), like a COM interface pointer.
///
/// Every call is one request to the service; nothing is cached except this: once a call
/// through this handle (or a copy) has made the job ACKNOWLEDGED (complete) or CANCELLED
/// (cancel), the handle remembers it, state() answers that final state without asking the
/// service, and every other call except id() answers DO_E_INVALID_STATE. A job made final
/// through some other handle or process looks different: the service answers
/// DO_E_JOB_NOT_FOUND to reads and DO_E_INVALID_STATE to changes.
///
/// Thread-safety: every member function may be called concurrently from any thread.
///
/// "Transport codes" below are those listed on Manager. Every call can also answer
/// DO_E_JOB_NOT_FOUND (the job is gone, or was never visible to the caller) and
/// E_ACCESSDENIED (the job belongs to another user).
class BGCOPY_API Job {
 public:
  Job(const Job&) noexcept;
  Job& operator=(const Job&) noexcept;
  Job(Job&&) noexcept;
  Job& operator=(Job&&) noexcept;
  ~Job();

  /// "{C775D194-090F-431F-B5FB-8334D00D1CB6}": upper-case, with braces. Never fails.
  const std::string& id() const noexcept;

  // --- Files --------------------------------------------------------------------------------

  /// Adds one file (AddFile). local_path must be absolute; its directory must exist and be
  /// writable by the job's owner. The file transfers after those already in the job.
  ///   Codes: S_OK; E_INVALIDARG (bad URL or scheme, relative path, bad sha256 text);
  ///   E_ACCESSDENIED / 0xC0D00000 + errno (the directory is not usable);
  ///   BG_E_TOO_MANY_FILES_IN_JOB; DO_E_INVALID_STATE (the job is final); the transport
  ///   codes. A file added to a TRANSFERRED job leaves it TRANSFERRED until resume() fetches
  ///   the new file (BITS).
  Status add_file(std::string_view remote_url, std::string_view local_path) const noexcept;
  /// The same with a FileSpec, which may also carry a sha256 (64 hex digits, checked before
  /// the job becomes TRANSFERRED) and ranges (as add_file_with_ranges). Codes: as
  /// add_file_set.
  Status add_file(const FileSpec& file) const noexcept;
  /// Adds several files atomically: all of them or, on any error, none (AddFileSet).
  ///   Codes: those of add_file; DO_E_INVALID_RANGE, DO_E_OVERLAPPING_RANGES,
  ///   BG_E_TOO_MANY_RANGES_IN_FILE (a FileSpec with ranges); E_INVALIDARG (empty set).
  Status add_file_set(const std::vector<FileSpec>& files) const noexcept;
  /// Adds a file whose local copy is the given byte ranges of the remote file, concatenated in
  /// the given order (AddFileWithRanges). A range of length kLengthToEof runs to the end.
  ///   Codes: those of add_file; DO_E_INVALID_RANGE (empty list, zero length, offset plus
  ///   length past 2^64); DO_E_OVERLAPPING_RANGES; BG_E_TOO_MANY_RANGES_IN_FILE.
  Status add_file_with_ranges(std::string_view remote_url, std::string_view local_path,
                              const std::vector<FileRange>& ranges) const noexcept;
  /// The job's files in the order added (EnumFiles). Codes: S_OK; the transport codes.
  Result<std::vector<FileInfo>> enum_files() const noexcept;

  // --- State changes ------------------------------------------------------------------------

  /// SUSPENDED / ERROR / TRANSIENT_ERROR -> QUEUED; on an active job does nothing; on a
  /// TRANSFERRED job fetches files added since, else does nothing.
  ///   Codes: S_OK; DO_E_JOB_EMPTY (no files; the job stays SUSPENDED); DO_E_INVALID_STATE
  ///   (final); the transport codes.
  Status resume() const noexcept;
  /// Stops transferring; partial data is kept. Legal in every non-final state, TRANSFERRED
  /// included (resume() then returns it to TRANSFERRED). On a SUSPENDED job does nothing.
  ///   Codes: S_OK; DO_E_INVALID_STATE (final); the transport codes.
  Status suspend() const noexcept;
  /// Deletes every staging file; the job becomes CANCELLED and leaves the queue.
  ///   Codes: S_OK; BG_S_UNABLE_TO_DELETE_FILES (success, but a staging file stayed);
  ///   DO_E_INVALID_STATE (already final); the transport codes.
  Status cancel() const noexcept;
  /// Moves every fully transferred file to its final name and deletes partial ones; the job
  /// becomes ACKNOWLEDGED and leaves the queue. Allowed in any non-final state.
  ///   Codes: S_OK; BG_S_PARTIAL_COMPLETE (success; unfinished files were dropped);
  ///   BG_S_UNABLE_TO_DELETE_FILES; 0xC0D00000 + errno (a rename failed: the job stays
  ///   TRANSFERRED and complete may be retried); DO_E_INVALID_STATE (already final);
  ///   the transport codes.
  Status complete() const noexcept;
  /// Makes the caller the job's owner (TakeOwnership). Root only.
  ///   Codes: S_OK; E_ACCESSDENIED; DO_E_INVALID_STATE (final); the transport codes.
  Status take_ownership() const noexcept;

  // --- Reading ------------------------------------------------------------------------------

  /// A snapshot of the whole job: type, state, progress, times, error, error count, owner,
  /// every setting and the files. Codes: S_OK; the transport codes.
  Result<JobInfo> info() const noexcept;
  /// The job's state (GetState). After complete/cancel through this handle: ACKNOWLEDGED /
  /// CANCELLED, with no request. Codes: S_OK; the transport codes.
  Result<JobState> state() const noexcept;
  /// The job's error (GetError), when it is in ERROR or TRANSIENT_ERROR.
  ///   Codes: S_OK; DO_E_ERROR_INFORMATION_UNAVAILABLE (it is in another state);
  ///   the transport codes.
  Result<ErrorInfo> error() const noexcept;
  /// Each of these reads info() and returns one part of it. Codes: as info().
  Result<JobType> type() const noexcept;
  Result<JobProgress> progress() const noexcept;
  Result<JobTimes> times() const noexcept;
  Result<std::uint32_t> error_count() const noexcept;
  /// The owner's uid.
  Result<std::uint32_t> owner() const noexcept;

  // --- Settings -----------------------------------------------------------------------------

  /// Changes the settings present in `patch`, all or none (an empty patch changes nothing).
  ///   A min retry delay under 5 s is raised to 5 s.
  ///   Codes: S_OK; E_INVALIDARG (a relative notify program, an OVERRIDE proxy without a
  ///   list; text that is not valid UTF-8 or has control characters); E_NOTIMPL (notify
  ///   flags above 0x1F); BG_E_STRING_TOO_LONG (display name over 256 or description over
  ///   1024 characters); DO_E_INVALID_STATE (final); the transport codes.
  Status set(const JobSettingsPatch& patch) const noexcept;
  /// One setting each; codes as set().
  Status set_display_name(std::string_view name) const noexcept;
  Status set_description(std::string_view description) const noexcept;
  Status set_priority(JobPriority priority) const noexcept;
  /// BG_NOTIFY_* bits, see bgcopy::notify_flag.
  Status set_notify_flags(std::uint32_t flags) const noexcept;
  /// Program and arguments, run without a shell as the job's owner when a notification
  /// fires. argv[0] must be absolute. An empty vector removes the command line.
  Status set_notify_cmdline(std::vector<std::string> argv) const noexcept;
  /// Delay before a TRANSIENT_ERROR job is retried; at least 5 s.
  /// E_INVALIDARG when negative or over 2^32 - 1 s.
  Status set_min_retry_delay(std::chrono::seconds delay) const noexcept;
  /// How long a job may make no progress after its first transient error before it becomes
  /// ERROR; 0 makes every error fatal. E_INVALIDARG when negative or over 2^32 - 1 s.
  Status set_no_progress_timeout(std::chrono::seconds timeout) const noexcept;
  /// Longest a job may spend transferring before it becomes ERROR (BG_E_MAXDOWNLOAD_TIMEOUT).
  Status set_max_download_time(std::chrono::seconds limit) const noexcept;
  Status set_proxy(const ProxySettings& proxy) const noexcept;
  /// TLS certificate verification for this job's https transfers (on by default).
  Status set_tls_verify(bool verify) const noexcept;

  // --- Waiting and events -------------------------------------------------------------------

  /// Blocks until the job is TRANSFERRED or ERROR, or `timeout` has passed, and returns the
  /// state it is in then: TRANSFERRED or ERROR, or any other state when the timeout passed
  /// (so the caller tells a timeout by the state). TRANSIENT_ERROR does not end the wait: the
  /// service retries by itself. A SUSPENDED job is waited for too (someone may resume it).
  /// Wakes on events that report TRANSFERRED, ERROR or a final state and re-reads the job
  /// then (and once a second regardless), so the answer is the job's record, never an event;
  /// a lost event costs at most a one-second delay.
  /// timeout <= 0 reads the state once.
  ///   Codes: S_OK; DO_E_JOB_NOT_FOUND (the job was completed or cancelled elsewhere);
  ///   DO_E_INVALID_STATE (made final through this handle); the transport codes.
  Result<JobState> wait(
      std::chrono::milliseconds timeout = std::chrono::milliseconds::max()) const noexcept;

  /// Manager::subscribe for this job only. Codes: as Manager::subscribe.
  Result<Subscription> subscribe(EventCallback callback) const noexcept;

 private:
  friend class Manager;
  explicit Job(std::shared_ptr<detail::JobCore> core) noexcept;

  std::shared_ptr<detail::JobCore> core_;
};

}  // namespace v0
}  // namespace bgcopy
