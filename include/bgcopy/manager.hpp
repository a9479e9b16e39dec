// The entry point of the client library: a connection to a bgcopy service (IBackgroundCopyManager).
#pragma once

#include <bgcopy/export.hpp>
#include <bgcopy/job.hpp>
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
class ManagerCore;
}

/// Where and how to connect.
struct ConnectOptions {
  /// The service's socket. Empty: chosen by Manager::resolve_socket_path.
  std::string socket_path;
  /// Use the system service (/run/bgcopy/bgcopyd.sock) instead of the caller's own user
  /// service. Ignored when socket_path is set or BGCOPY_SOCKET is in the environment.
  bool system = false;
  /// Upper bound for one request: connecting, sending it and reading the whole answer.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
};

/// What GET /v1/health reports.
struct ServiceInfo {
  std::string version;    // the daemon's version, "0.1.0"
  int api = 0;            // local API version, 1
  std::uint32_t uid = 0;  // the caller's uid as the service saw it (SO_PEERCRED)
  std::string mode;       // "user" or "system"
  friend bool operator==(const ServiceInfo&, const ServiceInfo&) = default;
};

/// A connection to the service. A Manager is a cheap handle: copies share one connection and
/// the Jobs it hands out keep that connection alive, so a Job may outlive its Manager.
///
/// One HTTP/1.1 keep-alive connection over the Unix socket carries every request of a Manager
/// and its Jobs; requests are serialised on it. A broken connection is re-opened on the next
/// request (a request that fails on a reused connection before any answer arrived is sent once
/// more on a fresh one).
///
/// Thread-safety: every member function may be called concurrently from any number of threads,
/// on one Manager or on copies.
///
/// Codes common to every call that talks to the service (written below as "transport codes"):
///   0xC0D00000 + errno  the socket could not be reached (ENOENT: no socket there,
///                       ECONNREFUSED: nothing listening, EACCES: not allowed, ETIMEDOUT:
///                       request_timeout passed), or the connection broke mid-answer;
///   BG_E_INVALID_SERVER_RESPONSE  the answer was not the documented HTTP/JSON;
///   E_ACCESSDENIED      the service refused the caller;
///   E_FAIL              anything unexpected inside the library (the message says what).
class BGCOPY_API Manager {
 public:
  /// Connects to the service and checks it answers GET /v1/health with API version 1.
  ///   Codes: S_OK; the transport codes; E_NOTIMPL when the service speaks another API
  ///   version; E_INVALIDARG when request_timeout is not positive.
  /// Does not start a service: the bgcopy command line does that for the user service.
  /// Thread-safe.
  static Result<Manager> connect(ConnectOptions options = {}) noexcept;

  /// The socket connect() would use, without touching it. In order: options.socket_path;
  /// $BGCOPY_SOCKET; /run/bgcopy/bgcopyd.sock when options.system; else
  /// $XDG_RUNTIME_DIR/bgcopy/bgcopyd.sock; without XDG_RUNTIME_DIR (or with a relative one)
  /// /run/user/<uid>/bgcopy/bgcopyd.sock when /run/user/<uid> exists, else
  /// /tmp/bgcopy-<uid>/bgcopyd.sock, as bgcopyd itself chooses.
  /// Thread-safe (reads the environment and stats /run/user/<uid>).
  static std::string resolve_socket_path(const ConnectOptions& options);

  Manager(const Manager&) noexcept;
  Manager& operator=(const Manager&) noexcept;
  Manager(Manager&&) noexcept;
  Manager& operator=(Manager&&) noexcept;
  ~Manager();

  /// The socket this Manager talks to.
  const std::string& socket_path() const noexcept;

  /// GET /v1/health. Codes: S_OK; the transport codes.
  Result<ServiceInfo> service_info() const noexcept;

  /// Creates an empty job owned by the caller, in SUSPENDED (CreateJob).
  ///   Codes: S_OK; E_INVALIDARG (a name that is not valid UTF-8 or has control characters,
  ///   or a type the service does not take); BG_E_STRING_TOO_LONG (name over 256
  ///   characters); BG_E_TOO_MANY_JOBS_PER_USER; E_NOTIMPL (upload types, until the service
  ///   supports them); the transport codes. An empty name is allowed.
  Result<Job> create_job(std::string_view display_name, JobType type = JobType::Download,
                         JobPriority priority = JobPriority::Normal) const noexcept;

  /// create_job, Job::add_file_set and (with resume) Job::resume in one request and one step
  /// of the service: no other call sees the job before it holds every file, and on any error
  /// there is no job at all, so a caller that dies half-way leaves nothing behind. One round
  /// trip instead of three. `files` must not be empty.
  ///   Codes: those of create_job, add_file_set and resume.
  Result<Job> submit_job(std::string_view display_name, const std::vector<FileSpec>& files,
                         JobPriority priority = JobPriority::Normal,
                         bool resume = true) const noexcept;

  /// A handle on an existing job (GetJob). `id` is the GUID, braces and case optional.
  ///   Codes: S_OK; E_INVALIDARG (not a GUID); DO_E_JOB_NOT_FOUND (no such job, it is
  ///   ACKNOWLEDGED or CANCELLED, or it belongs to another user and the caller is not root);
  ///   the transport codes.
  Result<Job> get_job(std::string_view id) const noexcept;

  /// Snapshots of the caller's jobs (EnumJobs), oldest first; with all_users, every user's.
  /// Final (ACKNOWLEDGED / CANCELLED) jobs are never listed.
  ///   Codes: S_OK; E_ACCESSDENIED (all_users without root); the transport codes.
  Result<std::vector<JobInfo>> enum_jobs(bool all_users = false) const noexcept;

  /// The same list as enum_jobs, as the service wrote it: a compact JSON array of the objects
  /// that to_json_string(JobInfo) writes (`bgcopy list --json`), without decoding it. For
  /// very long lists that are passed on as text (100,000 jobs are ~90 MB of JSON).
  ///   Codes: those of enum_jobs; BG_E_INVALID_SERVER_RESPONSE when the answer is not a list.
  Result<std::string> enum_jobs_json(bool all_users = false) const noexcept;

  /// Opens the event stream (GET /v1/events), for one job or, with no job_id, for every job
  /// the caller may see. Returns once the service has accepted the stream, so every event
  /// the service emits after that reaches the callback (subject to coalescing).
  /// If this returns an error the callback is never invoked; otherwise it is invoked once per
  /// event until the Subscription is stopped. See Subscription for threading.
  ///   Codes: S_OK; E_INVALIDARG (empty callback, or job_id not a GUID); DO_E_JOB_NOT_FOUND
  ///   (job_id names no visible job); the transport codes.
  Result<Subscription> subscribe(EventCallback callback,
                                 std::optional<std::string> job_id = std::nullopt) const noexcept;

 private:
  friend class Job;
  explicit Manager(std::shared_ptr<detail::ManagerCore> core) noexcept;

  std::shared_ptr<detail::ManagerCore> core_;
};

}  // namespace v0
}  // namespace bgcopy
