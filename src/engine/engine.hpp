// The job engine: BITS job semantics with no I/O of its own. Time comes from a Clock; storage,
// transfers, staging files and notifications go through the ports in ports.hpp.
//
// Thread-safety: none. One thread (the daemon's engine loop) calls every member.
#pragma once

#include "base/clock.hpp"
#include "base/error.hpp"
#include "engine/config.hpp"
#include "engine/ports.hpp"
#include "engine/schedule_index.hpp"
#include "engine/types.hpp"

#include <array>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace bgcopy::engine {

/// A partial update of JobSettings; unset fields stay as they are.
struct SettingsPatch {
  std::optional<std::string> display_name;
  std::optional<std::string> description;
  std::optional<JobPriority> priority;
  std::optional<std::uint32_t> notify_flags;
  std::optional<std::vector<std::string>> notify_cmdline;
  std::optional<std::uint32_t> min_retry_delay_s;
  std::optional<std::uint32_t> no_progress_timeout_s;
  std::optional<std::uint32_t> max_download_time_s;
  std::optional<ProxySettings> proxy;
  std::optional<bool> tls_verify;
};

/// A job as callers see it: the record with live progress, plus why it is not moving.
struct JobView {
  JobRecord record;
  WaitReason wait_reason = WaitReason::None;
};

class Engine {
 public:
  /// How many final jobs per owner still answer DO_E_INVALID_STATE to changes by id (older
  /// ones answer DO_E_JOB_NOT_FOUND, as after a restart).
  static constexpr std::size_t kMaxTombstonesPerOwner = 4096;

  Engine(EngineConfig config, const Clock& clock, JobStore& store, TransferPort& transfer,
         StagingPort& staging, EventSink& events);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Reloads every job from the store: active jobs go back to QUEUED, partial files resume
  /// from their checkpoint cross-checked with the staging file's size. Then schedules.
  /// Errors: whatever the store's load_all returns.
  Status load();

  /// New empty job in SUSPENDED, priority NORMAL, owned by the caller.
  /// Errors: E_INVALIDARG (name too long or not UTF-8-clean), E_NOTIMPL (upload types),
  /// BG_E_TOO_MANY_JOBS_PER_USER, store errors.
  Result<JobId> create_job(const Caller& caller, const std::string& display_name, JobType type);

  /// Appends files, all or none. Errors: DO_E_JOB_NOT_FOUND, E_ACCESSDENIED,
  /// DO_E_INVALID_STATE (final), E_INVALIDARG (URL, path, sha256, duplicate destination),
  /// DO_E_INVALID_RANGE, DO_E_OVERLAPPING_RANGES, BG_E_TOO_MANY_RANGES_IN_FILE,
  /// BG_E_TOO_MANY_FILES_IN_JOB, destination errors from the staging port, store errors.
  Status add_files(const Caller& caller, const JobId& id, std::vector<FileSpec> files);

  /// SUSPENDED, ERROR, TRANSIENT_ERROR -> QUEUED; active: no change. Errors: DO_E_JOB_EMPTY
  /// (no files, stays SUSPENDED), DO_E_INVALID_STATE (final), DO_E_JOB_NOT_FOUND,
  /// E_ACCESSDENIED, store errors.
  Status resume(const Caller& caller, const JobId& id);

  /// Any non-final state -> SUSPENDED; partial data is kept. Errors as resume, minus EMPTY.
  Status suspend(const Caller& caller, const JobId& id);

  /// create_job, then set_settings with `priority` (if given), add_files (if any) and resume
  /// (if `start`), as one step with one store write: nothing about the job is persisted,
  /// announced or started until every step succeeded and the job's row (with its files) is
  /// inserted, and after any failure there is no job at all (no row, no event, no staging
  /// file). Returns the new job. Errors: those of the steps, store errors.
  Result<JobView> submit_job(const Caller& caller, const std::string& display_name, JobType type,
                             std::optional<JobPriority> priority, std::vector<FileSpec> files,
                             bool start);

  /// Deletes staging files; the job becomes CANCELLED and is gone. Returns S_OK or
  /// BG_S_UNABLE_TO_DELETE_FILES. Errors: DO_E_INVALID_STATE, DO_E_JOB_NOT_FOUND,
  /// E_ACCESSDENIED, store errors.
  Result<Hresult> cancel(const Caller& caller, const JobId& id);

  /// Renames every transferred file to its final name, deletes partial ones; the job becomes
  /// ACKNOWLEDGED and is gone. Returns S_OK, BG_S_PARTIAL_COMPLETE or
  /// BG_S_UNABLE_TO_DELETE_FILES. A rename failure returns its error and leaves the job
  /// TRANSFERRED (SUSPENDED if files were still missing) so complete can be retried.
  Result<Hresult> complete(const Caller& caller, const JobId& id);

  /// Errors: DO_E_JOB_NOT_FOUND (absent or final), E_ACCESSDENIED.
  Result<JobView> get_job(const Caller& caller, const JobId& id) const;

  /// The caller's jobs, or everyone's with all_users (root only, else E_ACCESSDENIED), in
  /// list order: by creation time, then id.
  Result<std::vector<JobView>> enum_jobs(const Caller& caller, bool all_users) const;

  /// enum_jobs without the views: the ids only, in the same order. With views_of() a long
  /// list is read in batches, so neither the engine lock nor a copy of every job is held for
  /// the whole of it.
  Result<std::vector<JobId>> enum_job_ids(const Caller& caller, bool all_users) const;

  /// The views of those of `ids` that still exist and the caller may read, in the given
  /// order; the others (completed or cancelled since they were listed) are left out.
  std::vector<JobView> views_of(const Caller& caller, std::span<const JobId> ids) const;

  /// The job's last error; DO_E_ERROR_INFORMATION_UNAVAILABLE unless (TRANSIENT_)ERROR.
  Result<ErrorInfo> get_error(const Caller& caller, const JobId& id) const;

  /// Errors: DO_E_INVALID_STATE, DO_E_JOB_NOT_FOUND, E_ACCESSDENIED, E_INVALIDARG,
  /// BG_E_STRING_TOO_LONG, E_NOTIMPL (undefined notify bits), store errors.
  Status set_settings(const Caller& caller, const JobId& id, const SettingsPatch& patch);

  /// Root only: the caller becomes the owner; the notify command line is removed.
  Status take_ownership(const Caller& caller, const JobId& id);

  /// A transfer's report. Stale reports (an old transfer_id) are ignored.
  void on_transfer_event(const TransferEvent& event);

  /// When tick() next has something to do, or nullopt if nothing is pending.
  std::optional<MonoTime> next_deadline() const;

  /// Runs due timers (retries, no-progress and max-download timeouts, time slices,
  /// inactivity retention) and the scheduler.
  void tick();

  /// Stops every running transfer and records its checkpoint, leaving states as they are so
  /// the next load() picks them up. For orderly daemon shutdown. `last_events` are transfer
  /// reports that arrived after the caller stopped feeding on_transfer_event (typically the
  /// Synced events of TransferPort::flush_final_syncs()); they are applied first, so a file
  /// whose flush finished is recorded rather than fetched again. From here on no transfer
  /// starts. Call once, last.
  void shutdown(std::span<const TransferEvent> last_events = {});

  std::size_t job_count() const { return jobs_.size(); }

  /// Whether the scheduler's index agrees with every job (O(n); for tests).
  bool indexes_consistent() const;

 private:
  struct Live;

  Result<Live*> find_for(const Caller& caller, const JobId& id, bool mutating);
  Result<const Live*> find_for_read(const Caller& caller, const JobId& id) const;
  /// The jobs enum_jobs lists, in its order.
  Result<std::vector<const Live*>> listed(const Caller& caller, bool all_users) const;
  Status persist(Live& job);
  // Whether `job` is the one submit_job is building: its writes, events and start wait.
  bool submitting(const Live& job) const;
  void forget_unsubmitted(Live& job);
  void stop_transfer(Live& job);
  void start_transfer(Live& job);
  void enter_transient_error(Live& job, Error error, std::optional<std::uint32_t> retry_after_s);
  void enter_error(Live& job, Error error, bool count_failure = true);
  void enter_transferred(Live& job);
  // Every file is in: TRANSFERRED, or (a sync still running) wait for it as kAwaitingSync.
  void finish_files(Live& job);
  void on_synced(Live& job, const TransferEvent& ev);
  void set_state(Live& job, JobState state);
  void touch(Live& job);
  void emit(const Live& job, Event::Kind kind, std::optional<std::uint32_t> file = std::nullopt);
  void schedule();
  void check_retention();
  void make_final(Live& job, JobState final_state);
  void account_active_time(Live& job);
  JobView view_of(const Live& job) const;
  std::uint64_t background_rate() const;
  ScheduleIndex<Live>::Keys index_keys(const Live& job) const;
  void reindex(Live& job);
  static void sort_by_queue_order(std::vector<Live*>& jobs);
  std::array<std::size_t, 4> waiting_background() const;  // queued, not running, per priority

  EngineConfig config_;
  const Clock& clock_;
  JobStore& store_;
  TransferPort& transfer_;
  StagingPort& staging_;
  EventSink& events_;

  std::unordered_map<JobId, std::unique_ptr<Live>> jobs_;
  ScheduleIndex<Live> index_;  // after jobs_: destroyed first, it points into it
  std::unordered_map<uid_t, std::size_t> jobs_per_owner_;  // for the per-user job limit
  // Recently final jobs, so a call through a held id answers DO_E_INVALID_STATE rather than
  // DO_E_JOB_NOT_FOUND. The newest kMaxTombstonesPerOwner of each owner, so one user's churn
  // cannot change what another user's held ids answer; in memory only.
  std::unordered_map<JobId, std::pair<uid_t, JobState>> tombstones_;
  std::unordered_map<uid_t, std::deque<JobId>> tombstone_order_;
  std::uint64_t next_transfer_id_ = 1;
  bool shutting_down_ = false;  // shutdown(): nothing starts any more
  std::uint64_t next_queue_seq_ = 1;
  MonoTime next_retention_check_{};
  // While submit_job runs: the job it creates (set by create_job), the events its steps
  // emitted and whether one of them asked to schedule; all released after the one insert.
  // No default member initializers: clang cannot use them for std::optional<Submission>
  // inside Engine's own definition; emplace() value-initializes (schedule starts false).
  struct Submission {
    std::optional<JobId> id;
    std::vector<Event> events;
    bool schedule;
  };
  std::optional<Submission> submission_;
};

}  // namespace bgcopy::engine
