#include "engine/engine.hpp"

#include "base/log.hpp"
#include "engine/validate.hpp"

#include <algorithm>
#include <limits>
#include <unordered_set>
#include <vector>

namespace bgcopy::engine {

namespace {

constexpr auto kRetentionCheckEvery = std::chrono::minutes(1);

// BITS's split: text that is not clean (invalid UTF-8, control characters) is E_INVALIDARG,
// clean text over the limit BG_E_STRING_TOO_LONG, for create and set alike.
Status check_text(std::string_view text, std::string_view what, std::uint32_t max_chars,
                  bool allow_newlines) {
  if (!is_clean_text(text, std::numeric_limits<std::uint32_t>::max(), allow_newlines)) {
    return Error::make(hr::EInvalidArg, "the " + std::string(what) +
                                            " must be valid UTF-8 without control characters");
  }
  if (!is_clean_text(text, max_chars, allow_newlines)) {
    return Error::make(hr::BgEStringTooLong, "the " + std::string(what) + " is longer than " +
                                                 std::to_string(max_chars) + " characters");
  }
  return {};
}

Error not_found(const JobId& id) {
  return Error::make(hr::DoEJobNotFound, "no job " + id.to_string());
}

Error invalid_state(const JobRecord& job, std::string_view action) {
  return Error::make(hr::DoEInvalidState, std::string("cannot ") + std::string(action) + " job " +
                                              job.id.to_string() + " in state " +
                                              std::string(to_string(job.state)));
}

bool is_background(JobPriority p) {
  return p != JobPriority::Foreground;
}

// CONNECTING or TRANSFERRING: the states whose time counts against max_download_time.
bool is_running(JobState s) {
  return s == JobState::Connecting || s == JobState::Transferring;
}

}  // namespace

/// A job plus what only lives in memory while the daemon runs.
struct Engine::Live {
  JobRecord rec;
  // Per file: bytes known durable (synced) in the staging file. rec.files[i].bytes_transferred
  // holds the live count for display; the store only ever receives durable counts.
  std::vector<std::uint64_t> durable;
  std::uint64_t transfer_id = 0;  // nonzero while a transfer runs
  std::uint64_t queue_seq = 0;    // round-robin order among equal background jobs
  std::optional<MonoTime> retry_due;
  std::optional<MonoTime> no_progress_due;
  std::optional<MonoTime> run_started;    // entered CONNECTING (for max download time)
  std::optional<MonoTime> slice_started;  // background time slice
  // rec.times.modified on the monotonic clock, for inactivity retention: a wall-clock jump
  // must not cancel (or immortalise) jobs.
  MonoTime touched{};
};

Engine::Engine(EngineConfig config, const Clock& clock, JobStore& store, TransferPort& transfer,
               StagingPort& staging, EventSink& events)
    : config_(config),
      clock_(clock),
      store_(store),
      transfer_(transfer),
      staging_(staging),
      events_(events) {}

Engine::~Engine() = default;

// ---------------------------------------------------------------------------------------------
// Loading

Status Engine::load() {
  auto loaded = store_.load_all();
  if (!loaded) return std::move(loaded).error();
  const MonoTime mono_now = clock_.mono();
  const WallTime wall_now = clock_.wall();
  std::vector<JobRecord> records = std::move(loaded).value();
  jobs_.reserve(records.size());
  // Oldest first so round-robin order follows creation.
  std::sort(records.begin(), records.end(), [](const JobRecord& a, const JobRecord& b) {
    return a.times.created < b.times.created;
  });
  for (auto& rec : records) {
    auto live = std::make_unique<Live>();
    live->rec = std::move(rec);
    JobRecord& r = live->rec;
    bool changed = false;
    if (is_active(r.state) && r.state != JobState::Queued) {
      r.state = JobState::Queued;  // a transfer that was running is queued again
      changed = true;
    }
    for (auto& f : r.files) {
      if (f.completed) {
        // complete() recorded this rename and was stopped before (or while) doing it.
        if (staging_.staging_size(f)) {
          if (auto st = staging_.finalize(r.owner, f); !st) {
            log::warn("job " + r.id.to_string() + ": could not finish moving " + f.spec.local_path +
                      " into place: " + st.error().message);
            f.completed = false;  // complete can be called again
            changed = true;
          }
        }
        continue;
      }
      std::optional<std::uint64_t> real = staging_.staging_size(f);
      if (f.transferred) {
        // A transferred file must still be whole in staging; if it vanished (for instance a
        // crash between complete's rename and its commit), fetch it again rather than lie.
        if (!real || (f.bytes_total && *real != *f.bytes_total)) {
          log::warn("job " + r.id.to_string() + ": staging file of " + f.spec.local_path +
                    " is missing or has the wrong size; it will be downloaded again");
          f.transferred = false;
          f.verified = false;
          f.bytes_transferred = 0;
          (void)staging_.remove(r.owner, f);
          changed = true;
          if (r.state == JobState::Transferred) r.state = JobState::Queued;
        }
        continue;
      }
      std::uint64_t held = real.value_or(0);
      if (held < f.bytes_transferred) {
        f.bytes_transferred = held;
        changed = true;
      } else if (held > f.bytes_transferred) {
        // Bytes past the last checkpoint were never synced: they may be garbage after a crash.
        (void)staging_.truncate(r.owner, f, f.bytes_transferred);
      }
    }
    if (r.state == JobState::TransientError) {
      // Timers restart from their persisted wall-clock targets, bounded so a wall-clock jump
      // can neither fire them early en masse nor postpone them past their configured length.
      auto remaining = [&](std::optional<WallTime> target, std::uint32_t max_s) {
        auto left = target ? *target - wall_now : std::chrono::system_clock::duration::zero();
        left = std::clamp<std::chrono::system_clock::duration>(
            left, std::chrono::system_clock::duration::zero(), Seconds(max_s));
        return mono_now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(left);
      };
      live->retry_due = remaining(r.retry_at, std::max(r.settings.min_retry_delay_s,
                                                       r.retry_after_from_server ? 86400U : 0U));
      if (r.no_progress_since) {
        auto deadline = *r.no_progress_since + Seconds(r.settings.no_progress_timeout_s);
        live->no_progress_due = remaining(deadline, r.settings.no_progress_timeout_s);
      }
    }
    live->durable.resize(r.files.size());
    for (std::size_t i = 0; i < r.files.size(); ++i)
      live->durable[i] = r.files[i].bytes_transferred;
    live->queue_seq = next_queue_seq_++;
    // Monotonic time does not survive a restart: the wall-clock age is all there is, clamped
    // so a modified time in the future counts as now.
    const auto age = std::clamp<std::chrono::system_clock::duration>(
        wall_now - r.times.modified, std::chrono::system_clock::duration::zero(),
        Seconds(config_.inactivity_retention_s) + Seconds(1));
    live->touched = mono_now - std::chrono::duration_cast<std::chrono::steady_clock::duration>(age);
    if (changed) {
      if (auto st = store_.update(r); !st) {
        log::warn("job " + r.id.to_string() +
                  ": could not record reload fix-ups: " + st.error().message);
      }
    }
    JobId id = r.id;
    jobs_per_owner_[r.owner] += 1;
    Live* placed = jobs_.emplace(id, std::move(live)).first->second.get();
    reindex(*placed);
  }
  next_retention_check_ = mono_now;
  check_retention();
  schedule();
  return {};
}

// ---------------------------------------------------------------------------------------------
// Lookup and persistence helpers

Result<Engine::Live*> Engine::find_for(const Caller& caller, const JobId& id, bool mutating) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    auto t = tombstones_.find(id);
    if (mutating && t != tombstones_.end() && (caller.is_root() || caller.uid == t->second.first)) {
      return Error::make(hr::DoEInvalidState, "job " + id.to_string() + " is " +
                                                  std::string(to_string(t->second.second)) +
                                                  " and can no longer be changed");
    }
    return not_found(id);
  }
  Live* job = it->second.get();
  if (!caller.is_root() && caller.uid != job->rec.owner) {
    return Error::make(hr::EAccessDenied, "job " + id.to_string() + " belongs to another user");
  }
  return job;
}

Result<const Engine::Live*> Engine::find_for_read(const Caller& caller, const JobId& id) const {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return not_found(id);
  const Live* job = it->second.get();
  if (!caller.is_root() && caller.uid != job->rec.owner) {
    return Error::make(hr::EAccessDenied, "job " + id.to_string() + " belongs to another user");
  }
  return job;
}

Status Engine::persist(Live& job) {
  // The store must never see live byte counts: only what is synced to the staging file.
  JobRecord copy = job.rec;
  for (std::size_t i = 0; i < copy.files.size(); ++i) {
    if (!copy.files[i].transferred) copy.files[i].bytes_transferred = job.durable[i];
  }
  return store_.update(copy);
}

void Engine::touch(Live& job) {
  job.rec.times.modified = clock_.wall();
  job.touched = clock_.mono();
}

void Engine::emit(const Live& job, Event::Kind kind, std::optional<std::uint32_t> file) {
  events_.on_event(Event{kind, job.rec.id, job.rec.owner, job.rec.state, file});
}

void Engine::account_active_time(Live& job) {
  if (job.run_started) {
    auto ms = std::chrono::duration_cast<Millis>(clock_.mono() - *job.run_started).count();
    job.rec.active_ms += static_cast<std::uint64_t>(std::max<std::int64_t>(ms, 0));
    job.run_started.reset();
  }
}

void Engine::set_state(Live& job, JobState state) {
  // Leaving CONNECTING/TRANSFERRING for QUEUED (preempted, slice over) stops the clock too.
  if (is_running(job.rec.state) && !is_running(state)) {
    account_active_time(job);
    job.slice_started.reset();
  }
  job.rec.state = state;
  touch(job);
  reindex(job);
}

void Engine::stop_transfer(Live& job) {
  if (job.transfer_id == 0) return;
  std::uint32_t idx = job.rec.current_file();
  std::optional<std::uint64_t> durable = transfer_.stop(job.rec.id);
  job.transfer_id = 0;
  reindex(job);
  if (durable && idx < job.rec.files.size()) {
    job.durable[idx] = *durable;
    job.rec.files[idx].bytes_transferred = *durable;
  }
}

// ---------------------------------------------------------------------------------------------
// Calls

Result<JobId> Engine::create_job(const Caller& caller, const std::string& display_name,
                                 JobType type) {
  if (type != JobType::Download) {
    return Error::make(hr::ENotImpl, "only download jobs are supported");
  }
  BGCOPY_TRY(check_text(display_name, "display name", config_.max_display_name, false));
  if (!caller.is_root()) {
    const std::size_t owned = jobs_per_owner_[caller.uid];
    if (owned >= config_.max_jobs_per_user) {
      return Error::make(hr::BgETooManyJobsPerUser, "user " + std::to_string(caller.uid) +
                                                        " already has " + std::to_string(owned) +
                                                        " jobs (the limit)");
    }
  }
  auto live = std::make_unique<Live>();
  JobRecord& r = live->rec;
  do {
    r.id = JobId::generate();
  } while (jobs_.count(r.id) != 0);
  r.type = type;
  r.owner = caller.uid;
  r.state = JobState::Suspended;
  r.settings.display_name = display_name;
  r.times.created = r.times.modified = clock_.wall();
  live->touched = clock_.mono();
  BGCOPY_TRY(store_.insert(r));
  JobId id = r.id;
  live->queue_seq = next_queue_seq_++;
  jobs_per_owner_[r.owner] += 1;
  reindex(*jobs_.emplace(id, std::move(live)).first->second);
  return id;
}

Status Engine::add_files(const Caller& caller, const JobId& id, std::vector<FileSpec> files) {
  auto found = find_for(caller, id, true);
  if (!found) return std::move(found).error();
  Live& job = **found;
  if (is_final(job.rec.state)) return invalid_state(job.rec, "add files to");
  if (files.empty()) return Error::make(hr::EInvalidArg, "no files given");
  const bool limited = !caller.is_root();
  if (limited && job.rec.files.size() + files.size() > config_.max_files_per_job) {
    return Error::make(
        hr::BgETooManyFilesInJob,
        "a job may hold at most " + std::to_string(config_.max_files_per_job) + " files");
  }
  std::unordered_set<std::string> destinations;
  for (const auto& f : job.rec.files) destinations.insert(f.spec.local_path);
  std::vector<FileRecord> added;
  added.reserve(files.size());
  for (std::size_t k = 0; k < files.size(); ++k) {
    FileSpec& spec = files[k];
    auto tag = [&](Error e) {
      if (files.size() > 1) e.message = "file " + std::to_string(k + 1) + ": " + e.message;
      return e;
    };
    if (auto st = validate_url(spec.remote_url, config_); !st) return tag(std::move(st).error());
    if (auto st = validate_local_path(spec.local_path, config_); !st) {
      return tag(std::move(st).error());
    }
    if (!spec.ranges.empty()) {
      if (auto st = validate_ranges(spec.ranges, limited ? config_.max_ranges_per_file : 0); !st) {
        return tag(std::move(st).error());
      }
    }
    if (spec.sha256) {
      if (auto st = normalise_sha256(*spec.sha256); !st) return tag(std::move(st).error());
    }
    if (!destinations.insert(spec.local_path).second) {
      return tag(Error::make(hr::EInvalidArg,
                             "the job already has a file with local path " + spec.local_path));
    }
    if (auto st = staging_.check_destination(job.rec.owner, spec.local_path); !st) {
      return tag(std::move(st).error());
    }
    FileRecord rec;
    auto index = static_cast<std::uint32_t>(job.rec.files.size() + added.size());
    rec.staging_name = staging_name_for(spec.local_path, job.rec.id, index);
    rec.spec = std::move(spec);
    if (!rec.spec.ranges.empty()) {
      std::uint64_t sum = 0;
      bool known = true;
      for (const auto& range : rec.spec.ranges) {
        if (range.length == kLengthToEof)
          known = false;
        else
          sum += range.length;
      }
      if (known) rec.bytes_total = sum;
    }
    added.push_back(std::move(rec));
  }
  const std::size_t before = job.rec.files.size();
  const WallTime old_modified = job.rec.times.modified;
  const MonoTime old_touched = job.touched;
  for (auto& f : added) {
    job.rec.files.push_back(std::move(f));
    job.durable.push_back(0);
  }
  touch(job);
  if (auto st = persist(job); !st) {
    job.rec.files.resize(before);
    job.durable.resize(before);
    job.rec.times.modified = old_modified;
    job.touched = old_touched;
    return st;
  }
  emit(job, Event::Kind::JobModification);
  return {};
}

Status Engine::resume(const Caller& caller, const JobId& id) {
  auto found = find_for(caller, id, true);
  if (!found) return std::move(found).error();
  Live& job = **found;
  JobRecord& r = job.rec;
  if (is_final(r.state)) return invalid_state(r, "resume");
  if (r.files.empty()) {
    return Error::make(hr::DoEJobEmpty,
                       "job " + r.id.to_string() + " has no files; add a file before resuming");
  }
  if (is_active(r.state)) return {};
  if (r.state == JobState::Transferred && r.current_file() >= r.files.size()) return {};
  const JobRecord saved = r;
  set_state(job, JobState::Queued);
  r.retry_at.reset();
  r.retry_after_from_server = false;
  r.no_progress_since.reset();
  r.active_ms = 0;
  if (auto st = persist(job); !st) {
    r = saved;
    reindex(job);
    return st;
  }
  job.retry_due.reset();
  job.no_progress_due.reset();
  job.queue_seq = next_queue_seq_++;
  reindex(job);
  emit(job, Event::Kind::JobModification);
  schedule();
  return {};
}

Status Engine::suspend(const Caller& caller, const JobId& id) {
  auto found = find_for(caller, id, true);
  if (!found) return std::move(found).error();
  Live& job = **found;
  JobRecord& r = job.rec;
  if (is_final(r.state)) return invalid_state(r, "suspend");
  if (r.state == JobState::Suspended) return {};
  const JobRecord saved = r;
  stop_transfer(job);
  set_state(job, JobState::Suspended);
  r.retry_at.reset();
  r.retry_after_from_server = false;
  if (auto st = persist(job); !st) {
    // The transfer is already stopped; put the job back where the scheduler will find it.
    r = saved;
    if (is_active(r.state)) r.state = JobState::Queued;
    reindex(job);
    schedule();
    return st;
  }
  job.retry_due.reset();
  job.no_progress_due.reset();
  reindex(job);
  emit(job, Event::Kind::JobModification);
  schedule();
  return {};
}

void Engine::make_final(Live& job, JobState final_state) {
  JobId id = job.rec.id;
  uid_t owner = job.rec.owner;
  index_.remove(&job);
  if (auto it = jobs_per_owner_.find(owner); it != jobs_per_owner_.end() && --it->second == 0) {
    jobs_per_owner_.erase(it);
  }
  jobs_.erase(id);
  tombstones_[id] = {owner, final_state};
  auto& order = tombstone_order_[owner];
  order.push_back(id);
  while (order.size() > kMaxTombstonesPerOwner) {
    tombstones_.erase(order.front());
    order.pop_front();
  }
}

Result<Hresult> Engine::cancel(const Caller& caller, const JobId& id) {
  auto found = find_for(caller, id, true);
  if (!found) return std::move(found).error();
  Live& job = **found;
  JobRecord& r = job.rec;
  if (is_final(r.state)) return invalid_state(r, "cancel");
  stop_transfer(job);
  // Staging files go first: if we crash before the store forgets the job, the job comes back
  // with no data and can be cancelled again; the reverse order would orphan files.
  Hresult result = hr::SOk;
  for (std::size_t i = 0; i < r.files.size(); ++i) {
    auto& f = r.files[i];
    if (f.completed) continue;
    if (auto st = staging_.remove(r.owner, f); !st) {
      log::warn("cancel " + r.id.to_string() + ": " + st.error().message);
      result = hr::BgSUnableToDeleteFiles;
    }
    f.bytes_transferred = 0;
    f.transferred = false;
    job.durable[i] = 0;
  }
  if (auto st = store_.remove(r.id); !st) {
    if (is_active(r.state)) r.state = JobState::Queued;
    reindex(job);
    (void)persist(job);
    schedule();
    return std::move(st).error();
  }
  set_state(job, JobState::Cancelled);
  emit(job, Event::Kind::JobModification);
  make_final(job, JobState::Cancelled);
  schedule();
  return result;
}

Result<Hresult> Engine::complete(const Caller& caller, const JobId& id) {
  auto found = find_for(caller, id, true);
  if (!found) return std::move(found).error();
  Live& job = **found;
  JobRecord& r = job.rec;
  if (is_final(r.state)) return invalid_state(r, "complete");
  if (r.type != JobType::Download && r.state != JobState::Transferred) {
    return invalid_state(r, "complete");
  }
  stop_transfer(job);
  // Every rename is recorded before it is done (completed = "to be at its final name"), so a
  // crash between a rename and its record can never make load() take the renamed file for a
  // lost staging file and fetch it again: load() finishes a recorded rename instead. One
  // record and one staging batch for all files: a job of 1,000 small files would otherwise
  // pay 1,000 commits and 2,000 flushes here.
  std::vector<std::uint32_t> moving;
  std::vector<const FileRecord*> batch;
  for (std::uint32_t i = 0; i < r.files.size(); ++i) {
    auto& f = r.files[i];
    if (f.completed || !f.transferred) continue;
    f.completed = true;
    moving.push_back(i);
    batch.push_back(&f);
  }
  if (!moving.empty()) {
    Status st = persist(job);
    StagingPort::Finalized moved;
    if (st) {
      moved = staging_.finalize_all(r.owner, batch);
      st = std::move(moved.status);
    }
    if (!st) {
      for (std::size_t k = moved.done; k < moving.size(); ++k) r.files[moving[k]].completed = false;
      Error e = std::move(st).error();
      e.file_index = moving[moved.done];
      // Leave the job where complete can be retried (BITS keeps it TRANSFERRED).
      set_state(job,
                r.current_file() >= r.files.size() ? JobState::Transferred : JobState::Suspended);
      (void)persist(job);
      emit(job, Event::Kind::JobModification);
      schedule();
      return e;
    }
  }
  Hresult result = hr::SOk;
  bool undeleted = false;
  for (std::size_t i = 0; i < r.files.size(); ++i) {
    auto& f = r.files[i];
    if (f.completed) continue;
    result = hr::BgSPartialComplete;
    if (auto st = staging_.remove(r.owner, f); !st) {
      log::warn("complete " + r.id.to_string() + ": " + st.error().message);
      undeleted = true;
    }
    f.bytes_transferred = 0;
    job.durable[i] = 0;
  }
  if (undeleted) result = hr::BgSUnableToDeleteFiles;  // left-over files need the user
  if (auto st = store_.remove(r.id); !st) {
    set_state(job, JobState::Suspended);
    (void)persist(job);
    schedule();
    return std::move(st).error();
  }
  set_state(job, JobState::Acknowledged);
  emit(job, Event::Kind::JobModification);
  make_final(job, JobState::Acknowledged);
  schedule();
  return result;
}

JobView Engine::view_of(const Live& job) const {
  JobView v{job.rec, WaitReason::None};
  switch (job.rec.state) {
    case JobState::Suspended:
      v.wait_reason = WaitReason::SuspendedByOwner;
      break;
    case JobState::Queued:
      v.wait_reason = WaitReason::WaitingForSlot;
      break;
    case JobState::TransientError:
      v.wait_reason =
          job.rec.retry_after_from_server ? WaitReason::RetryAfter : WaitReason::BackingOff;
      break;
    case JobState::Error:
    case JobState::Transferred:
      v.wait_reason = WaitReason::NeedsAction;
      break;
    default:
      break;
  }
  // Error information is reported only while the job is in an error state (BITS GetError).
  if (job.rec.state != JobState::Error && job.rec.state != JobState::TransientError) {
    v.record.error.reset();
  }
  return v;
}

Result<JobView> Engine::get_job(const Caller& caller, const JobId& id) const {
  auto found = find_for_read(caller, id);
  if (!found) return std::move(found).error();
  return view_of(**found);
}

Result<std::vector<JobView>> Engine::enum_jobs(const Caller& caller, bool all_users) const {
  if (all_users && !caller.is_root()) {
    return Error::make(hr::EAccessDenied, "only root may list every user's jobs");
  }
  std::vector<const Live*> picked;
  for (const auto& [id, j] : jobs_) {
    if (all_users || j->rec.owner == caller.uid) picked.push_back(j.get());
  }
  std::sort(picked.begin(), picked.end(), [](const Live* a, const Live* b) {
    if (a->rec.times.created != b->rec.times.created) {
      return a->rec.times.created < b->rec.times.created;
    }
    return a->rec.id < b->rec.id;
  });
  std::vector<JobView> out;
  out.reserve(picked.size());
  for (const Live* j : picked) out.push_back(view_of(*j));
  return out;
}

Result<ErrorInfo> Engine::get_error(const Caller& caller, const JobId& id) const {
  auto found = find_for_read(caller, id);
  if (!found) return std::move(found).error();
  const JobRecord& r = (*found)->rec;
  if ((r.state != JobState::Error && r.state != JobState::TransientError) || !r.error) {
    return Error::make(hr::DoEErrorInformationUnavailable,
                       "job " + r.id.to_string() + " is not in an error state");
  }
  return *r.error;
}

Status Engine::set_settings(const Caller& caller, const JobId& id, const SettingsPatch& p) {
  auto found = find_for(caller, id, true);
  if (!found) return std::move(found).error();
  Live& job = **found;
  JobRecord& r = job.rec;
  if (is_final(r.state)) return invalid_state(r, "change");
  JobSettings s = r.settings;
  if (p.display_name) {
    BGCOPY_TRY(check_text(*p.display_name, "display name", config_.max_display_name, false));
    s.display_name = *p.display_name;
  }
  if (p.description) {
    BGCOPY_TRY(check_text(*p.description, "description", config_.max_description, true));
    s.description = *p.description;
  }
  if (p.priority) s.priority = *p.priority;
  if (p.notify_flags) {
    if ((*p.notify_flags & ~notify::All) != 0) {
      return Error::make(hr::ENotImpl,
                         "unknown notify flag bits in " + std::to_string(*p.notify_flags));
    }
    s.notify_flags = *p.notify_flags;
  }
  if (p.notify_cmdline) {
    const auto& argv = *p.notify_cmdline;
    if (!argv.empty()) {
      if (argv.front().empty() || argv.front().front() != '/') {
        return Error::make(hr::EInvalidArg,
                           "the notify program must be an absolute path (no PATH search)");
      }
      std::size_t total = 0;
      for (const auto& a : argv) {
        total += a.size();
        if (!is_clean_text(a, 4096, false)) {
          return Error::make(hr::EInvalidArg, "a notify argument has control characters");
        }
      }
      if (total > 8192 || argv.size() > 256) {
        return Error::make(hr::BgEStringTooLong, "the notify command line is too long");
      }
    }
    s.notify_cmdline = argv;
  }
  if (p.min_retry_delay_s)
    s.min_retry_delay_s = std::max(*p.min_retry_delay_s, config_.min_retry_delay_floor_s);
  if (p.no_progress_timeout_s) s.no_progress_timeout_s = *p.no_progress_timeout_s;
  if (p.max_download_time_s) s.max_download_time_s = *p.max_download_time_s;
  if (p.proxy) {
    const ProxySettings& px = *p.proxy;
    if (px.usage == ProxyUsage::Override) {
      if (px.list.empty()) {
        return Error::make(hr::EInvalidArg, "an OVERRIDE proxy setting needs a proxy list");
      }
    } else if (!px.list.empty() || !px.bypass.empty()) {
      return Error::make(hr::EInvalidArg,
                         "a proxy list or bypass list is only allowed with OVERRIDE");
    }
    if (!is_clean_text(px.list, 4000, false) || !is_clean_text(px.bypass, 4000, false)) {
      return Error::make(hr::EInvalidArg, "the proxy list is too long or has control characters");
    }
    s.proxy = px;
  }
  if (p.tls_verify) s.tls_verify = *p.tls_verify;
  if (s == r.settings) return {};
  const JobRecord saved = r;
  r.settings = s;
  touch(job);
  if (auto st = persist(job); !st) {
    r = saved;
    return st;
  }
  emit(job, Event::Kind::JobModification);
  // Priority and limits can change who runs now.
  if (saved.settings.priority != s.priority) {
    reindex(job);
    schedule();
    // A running job that crossed the foreground/background line keeps its transfer, so its
    // rate cap (and the background jobs' shares) must follow.
    if (config_.background_bandwidth_bps != 0) {
      const std::uint64_t rate = background_rate();
      for (Live* j : index_.running()) {
        transfer_.set_rate_limit(j->rec.id, is_background(j->rec.settings.priority) ? rate : 0);
      }
    }
  }
  return {};
}

Status Engine::take_ownership(const Caller& caller, const JobId& id) {
  if (!caller.is_root()) {
    return Error::make(hr::EAccessDenied, "only root may take ownership of a job");
  }
  auto found = find_for(caller, id, true);
  if (!found) return std::move(found).error();
  Live& job = **found;
  JobRecord& r = job.rec;
  if (is_final(r.state)) return invalid_state(r, "take ownership of");
  const JobRecord saved = r;
  r.owner = caller.uid;
  r.settings.notify_cmdline.clear();
  touch(job);
  if (auto st = persist(job); !st) {
    r = saved;
    return st;
  }
  if (saved.owner != r.owner) {
    if (--jobs_per_owner_[saved.owner] == 0) jobs_per_owner_.erase(saved.owner);
    jobs_per_owner_[r.owner] += 1;
  }
  emit(job, Event::Kind::JobModification);
  return {};
}

// ---------------------------------------------------------------------------------------------
// Transfer events

void Engine::on_transfer_event(const TransferEvent& ev) {
  auto it = jobs_.find(ev.job);
  if (it == jobs_.end()) return;
  Live& job = *it->second;
  JobRecord& r = job.rec;
  if (job.transfer_id == 0 || ev.transfer_id != job.transfer_id) return;  // stale
  if (ev.file_index >= r.files.size()) return;
  FileRecord& f = r.files[ev.file_index];
  using Kind = TransferEvent::Kind;
  switch (ev.kind) {
    case Kind::Connected: {
      // For ranged files the transfer reports the sum of the range lengths, which becomes
      // known once an open-ended range meets the remote size.
      if (ev.bytes_total) f.bytes_total = ev.bytes_total;
      f.validators = ev.validators;
      if (ev.remote_mtime) f.remote_mtime = ev.remote_mtime;
      if (r.state == JobState::Connecting) {
        set_state(job, JobState::Transferring);
        r.error.reset();
        emit(job, Event::Kind::JobModification);
      }
      break;
    }
    case Kind::Restarted: {
      f.bytes_transferred = 0;
      job.durable[ev.file_index] = 0;
      f.restarts += 1;
      f.validators = ev.validators;
      if (ev.bytes_total) f.bytes_total = ev.bytes_total;
      log::info("job " + r.id.to_string() + ": " + f.spec.remote_url +
                " changed on the server; restarting it from byte 0 (" +
                hresult_name(hr::BgERemoteFileChanged) + ")");
      touch(job);
      if (auto st = store_.update_file(r.id, ev.file_index, f); !st) {
        log::warn("job " + r.id.to_string() + ": " + st.error().message);
      }
      emit(job, Event::Kind::JobModification);
      break;
    }
    case Kind::Progress: {
      if (ev.bytes_total) f.bytes_total = ev.bytes_total;
      if (ev.bytes_transferred > f.bytes_transferred) {
        // Any byte is progress: the no-progress clock stops.
        r.no_progress_since.reset();
        job.no_progress_due.reset();
      }
      f.bytes_transferred = ev.bytes_transferred;
      touch(job);
      if (ev.durable) {
        job.durable[ev.file_index] = ev.bytes_transferred;
        if (auto st = store_.update_file(r.id, ev.file_index, f); !st) {
          log::warn("job " + r.id.to_string() + ": checkpoint not recorded: " + st.error().message);
        }
      }
      emit(job, Event::Kind::JobModification);
      break;
    }
    case Kind::FileDone: {
      job.transfer_id = 0;
      f.transferred = true;
      f.verified = ev.verified;
      if (ev.bytes_total) f.bytes_total = ev.bytes_total;
      f.bytes_transferred = ev.bytes_transferred;
      job.durable[ev.file_index] = ev.bytes_transferred;
      if (!f.bytes_total) f.bytes_total = ev.bytes_transferred;
      f.validators = ev.validators;
      if (ev.remote_mtime) f.remote_mtime = ev.remote_mtime;
      r.no_progress_since.reset();
      job.no_progress_due.reset();
      touch(job);
      if (auto st = store_.update_file(r.id, ev.file_index, f); !st) {
        // Without a record of the finished file we cannot promise it: treat as a local fault.
        // The file is not transferred until recorded, so the retry records it (its bytes are
        // all durable, so that costs no request) instead of declaring the job TRANSFERRED.
        f.transferred = false;
        f.verified = false;
        enter_transient_error(job, st.error(), std::nullopt);
        break;
      }
      emit(job, Event::Kind::FileTransferred, ev.file_index);
      if (r.current_file() >= r.files.size()) {
        enter_transferred(job);
      } else {
        start_transfer(job);
      }
      break;
    }
    case Kind::Failed: {
      job.transfer_id = 0;
      // Bytes past the last checkpoint that the transfer did not sync may not survive a crash:
      // keep the durable count (or less, if the transfer discarded data).
      std::uint64_t& held = job.durable[ev.file_index];
      held = ev.durable ? ev.bytes_transferred : std::min(held, ev.bytes_transferred);
      f.bytes_transferred = held;
      Error e = ev.error.value_or(Error::make(hr::EFail, "transfer failed"));
      e.file_index = ev.file_index;
      if (ev.transient && r.settings.no_progress_timeout_s != 0) {
        enter_transient_error(job, std::move(e), ev.retry_after_s);
      } else {
        enter_error(job, std::move(e));
      }
      break;
    }
  }
  reindex(job);
  if (ev.kind == Kind::FileDone || ev.kind == Kind::Failed) schedule();
}

void Engine::enter_transient_error(Live& job, Error error,
                                   std::optional<std::uint32_t> retry_after_s) {
  JobRecord& r = job.rec;
  if (job.transfer_id != 0) stop_transfer(job);
  const MonoTime now = clock_.mono();
  const WallTime wall = clock_.wall();
  set_state(job, JobState::TransientError);
  r.error_count += 1;
  r.error = ErrorInfo{std::move(error)};
  if (!r.no_progress_since) {
    r.no_progress_since = wall;
    job.no_progress_due = now + Seconds(r.settings.no_progress_timeout_s);
  }
  std::uint32_t delay = r.settings.min_retry_delay_s;
  r.retry_after_from_server = false;
  if (retry_after_s && *retry_after_s > delay) {
    delay = *retry_after_s;
    r.retry_after_from_server = true;
  }
  job.retry_due = now + Seconds(delay);
  r.retry_at = wall + Seconds(delay);
  if (job.no_progress_due && *job.no_progress_due <= now) {
    Error last = r.error->error;
    enter_error(job,
                Error{hr::DoEDownloadNoProgress, last.context,
                      "no progress within the no-progress timeout; last error: " +
                          hresult_name(last.code) + ": " + last.message,
                      last.file_index},
                /*count_failure=*/false);  // one failure, already counted
    return;
  }
  reindex(job);
  if (auto st = persist(job); !st) {
    log::warn("job " + r.id.to_string() + ": " + st.error().message);
  }
  emit(job, Event::Kind::JobModification);
}

void Engine::enter_error(Live& job, Error error, bool count_failure) {
  JobRecord& r = job.rec;
  if (job.transfer_id != 0) stop_transfer(job);
  set_state(job, JobState::Error);
  if (count_failure) r.error_count += 1;
  r.error = ErrorInfo{std::move(error)};
  r.retry_at.reset();
  r.retry_after_from_server = false;
  job.retry_due.reset();
  job.no_progress_due.reset();
  reindex(job);
  if (auto st = persist(job); !st) {
    log::warn("job " + r.id.to_string() + ": " + st.error().message);
  }
  emit(job, Event::Kind::JobError);
}

void Engine::enter_transferred(Live& job) {
  JobRecord& r = job.rec;
  set_state(job, JobState::Transferred);
  r.times.transfer_completed = clock_.wall();
  r.error.reset();
  r.no_progress_since.reset();
  job.no_progress_due.reset();
  if (auto st = persist(job); !st) {
    log::warn("job " + r.id.to_string() + ": " + st.error().message);
  }
  emit(job, Event::Kind::JobTransferred);
}

// ---------------------------------------------------------------------------------------------
// Scheduling

std::uint64_t Engine::background_rate() const {
  if (config_.background_bandwidth_bps == 0) return 0;
  std::uint64_t running = 0;
  for (const Live* j : index_.running()) {
    if (is_background(j->rec.settings.priority)) ++running;
  }
  return std::max<std::uint64_t>(
      1, config_.background_bandwidth_bps / std::max<std::uint64_t>(1, running));
}

ScheduleIndex<Engine::Live>::Keys Engine::index_keys(const Live& job) const {
  const JobRecord& r = job.rec;
  ScheduleIndex<Live>::Keys k;
  k.id = r.id;
  k.active = is_active(r.state);
  k.background = is_background(r.settings.priority);
  k.priority = r.settings.priority;
  k.queue_seq = job.queue_seq;
  k.running = job.transfer_id != 0;
  if (r.state == JobState::TransientError) {
    for (const auto& t : {job.retry_due, job.no_progress_due}) {
      if (t && (!k.timer || *t < *k.timer)) k.timer = t;
    }
  }
  return k;
}

void Engine::reindex(Live& job) {
  index_.update(&job, index_keys(job));
}

bool Engine::indexes_consistent() const {
  for (const auto& [id, j] : jobs_) {
    auto keys = index_.keys_of(j.get());
    if (!keys || !(*keys == index_keys(*j))) return false;
  }
  return true;
}

void Engine::start_transfer(Live& job) {
  JobRecord& r = job.rec;
  std::uint32_t idx = r.current_file();
  if (idx >= r.files.size()) {
    enter_transferred(job);
    return;
  }
  if (!job.run_started) job.run_started = clock_.mono();
  if (r.state != JobState::Connecting) set_state(job, JobState::Connecting);
  TransferRequest req;
  req.job = r.id;
  req.transfer_id = next_transfer_id_++;
  req.file_index = idx;
  req.owner = r.owner;
  req.file = r.files[idx];
  req.resume_from = job.durable[idx];
  req.file.bytes_transferred = job.durable[idx];
  req.max_recv_bps = is_background(r.settings.priority) ? background_rate() : 0;
  req.tls_verify = r.settings.tls_verify;
  req.proxy = r.settings.proxy;
  req.checkpoint_bytes = config_.checkpoint_bytes;
  req.checkpoint_ms = config_.checkpoint_ms;
  req.stall_timeout_s = config_.stall_timeout_s;
  req.connect_timeout_s = config_.connect_timeout_s;
  job.transfer_id = req.transfer_id;
  reindex(job);
  transfer_.start(req);
}

// Jobs collected from the (unordered) index are acted on in queue order, so what happens is
// the same from run to run.
void Engine::sort_by_queue_order(std::vector<Live*>& jobs) {
  std::sort(jobs.begin(), jobs.end(),
            [](const Live* a, const Live* b) { return a->queue_seq < b->queue_seq; });
}

void Engine::schedule() {
  // Every FOREGROUND job runs at once, in queue order so starts are deterministic.
  std::vector<Live*> foreground;
  for (Live* j : index_.foreground_active()) {
    if (j->transfer_id == 0) foreground.push_back(j);
  }
  sort_by_queue_order(foreground);
  for (Live* j : foreground) start_transfer(*j);

  // Background: the first `slots` jobs in strict priority, then round-robin order (a job whose
  // slice ended moved to the back) may run; a running job outside them is preempted.
  const std::size_t slots = std::max<std::uint32_t>(1, config_.max_background_jobs);
  std::vector<Live*> top;
  for (const auto& entry : index_.background_queue()) {
    if (top.size() == slots) break;
    top.push_back(std::get<Live*>(entry));
  }
  std::vector<Live*> preempted;
  for (Live* j : index_.running()) {
    if (is_background(j->rec.settings.priority) &&
        std::find(top.begin(), top.end(), j) == top.end()) {
      preempted.push_back(j);
    }
  }
  sort_by_queue_order(preempted);
  bool changed = false;
  for (Live* j : preempted) {
    stop_transfer(*j);  // preempted: partial data is kept
    set_state(*j, JobState::Queued);
    emit(*j, Event::Kind::JobModification);
    changed = true;
  }
  for (Live* j : top) {
    if (j->transfer_id == 0 && j->rec.state == JobState::Queued) {
      j->slice_started = clock_.mono();
      start_transfer(*j);
      changed = true;
    } else if (!j->slice_started) {
      j->slice_started = clock_.mono();
    }
  }
  if (changed && config_.background_bandwidth_bps != 0) {
    const std::uint64_t rate = background_rate();
    for (Live* j : index_.running()) {
      if (is_background(j->rec.settings.priority)) transfer_.set_rate_limit(j->rec.id, rate);
    }
  }
}

void Engine::check_retention() {
  const MonoTime now = clock_.mono();
  if (now < next_retention_check_) return;
  next_retention_check_ = now + kRetentionCheckEvery;
  if (config_.inactivity_retention_s == 0) return;
  const auto limit = Seconds(config_.inactivity_retention_s);
  std::vector<std::pair<JobId, uid_t>> stale;
  for (const auto& [id, j] : jobs_) {
    if (now - j->touched > limit && j->transfer_id == 0) stale.emplace_back(id, j->rec.owner);
  }
  for (const auto& [id, owner] : stale) {
    log::info("job " + id.to_string() + " untouched for " +
              std::to_string(config_.inactivity_retention_s / 86400) + " days; cancelling it");
    (void)cancel(Caller{0}, id);
  }
}

std::optional<MonoTime> Engine::next_deadline() const {
  std::optional<MonoTime> best = next_retention_check_;
  auto consider = [&](std::optional<MonoTime> t) {
    if (t && (!best || *t < *best)) best = t;
  };
  if (!index_.timers().empty()) consider(std::get<MonoTime>(*index_.timers().begin()));
  // Slices matter only when an equal-priority background job is waiting.
  const auto waiting = waiting_background();
  for (const Live* j : index_.running()) {
    const JobRecord& r = j->rec;
    if (!j->run_started) continue;
    auto used = Millis(r.active_ms);
    consider(*j->run_started + (Seconds(r.settings.max_download_time_s) - used));
    if (is_background(r.settings.priority) && j->slice_started &&
        waiting[static_cast<std::size_t>(r.settings.priority)] > 0) {
      consider(*j->slice_started + Seconds(config_.time_slice_s));
    }
  }
  return best;
}

std::array<std::size_t, 4> Engine::waiting_background() const {
  std::array<std::size_t, 4> waiting{};
  for (std::size_t p = 0; p < waiting.size(); ++p) {
    waiting[p] = index_.background_active(static_cast<JobPriority>(p));
  }
  for (const Live* j : index_.running()) {
    if (is_background(j->rec.settings.priority)) {
      waiting[static_cast<std::size_t>(j->rec.settings.priority)] -= 1;
    }
  }
  return waiting;
}

void Engine::tick() {
  const MonoTime now = clock_.mono();
  std::vector<Live*> due_retry;
  std::vector<Live*> due_no_progress;
  std::vector<Live*> due_max_time;
  bool slice_rotated = false;
  for (const auto& [due, id, j] : index_.timers()) {
    if (due > now) break;
    if (j->no_progress_due && *j->no_progress_due <= now) {
      due_no_progress.push_back(j);
    } else if (j->retry_due && *j->retry_due <= now) {
      due_retry.push_back(j);
    }
  }
  const auto waiting = waiting_background();
  std::vector<Live*> running(index_.running().begin(), index_.running().end());
  sort_by_queue_order(running);
  for (Live* jp : running) {
    Live& j = *jp;
    const JobRecord& r = j.rec;
    if (!j.run_started) continue;
    auto used = Millis(r.active_ms) + std::chrono::duration_cast<Millis>(now - *j.run_started);
    if (used >= Seconds(r.settings.max_download_time_s)) {
      due_max_time.push_back(&j);
      continue;
    }
    if (is_background(r.settings.priority) && j.slice_started &&
        now - *j.slice_started >= Seconds(config_.time_slice_s) &&
        waiting[static_cast<std::size_t>(r.settings.priority)] > 0) {
      // Slice used up while an equal job waits: move to the back of the line.
      j.queue_seq = next_queue_seq_++;
      j.slice_started.reset();
      reindex(j);
      slice_rotated = true;
    }
  }
  for (Live* j : due_no_progress) {
    Error last = j->rec.error ? j->rec.error->error : Error::make(hr::EFail, "unknown");
    enter_error(*j,
                Error{hr::DoEDownloadNoProgress, last.context,
                      "no progress within the no-progress timeout of " +
                          std::to_string(j->rec.settings.no_progress_timeout_s) +
                          " s; last error: " + hresult_name(last.code) + ": " + last.message,
                      last.file_index},
                /*count_failure=*/false);  // the timeout is not another failure
  }
  for (Live* j : due_retry) {
    set_state(*j, JobState::Queued);
    j->retry_due.reset();
    j->rec.retry_at.reset();
    j->rec.retry_after_from_server = false;
    j->queue_seq = next_queue_seq_++;
    reindex(*j);
    (void)persist(*j);
    emit(*j, Event::Kind::JobModification);
  }
  for (Live* j : due_max_time) {
    enter_error(*j, Error::make(hr::BgEMaxDownloadTimeout,
                                "the job did not finish within its maximum download time of " +
                                    std::to_string(j->rec.settings.max_download_time_s) + " s",
                                ErrorContext::GeneralQueueManager));
  }
  check_retention();
  if (!due_retry.empty() || !due_no_progress.empty() || !due_max_time.empty() || slice_rotated) {
    schedule();
  }
}

void Engine::shutdown() {
  for (auto& [id, jp] : jobs_) {
    Live& j = *jp;
    if (j.transfer_id == 0) continue;
    stop_transfer(j);
    account_active_time(j);
    (void)persist(j);
  }
}

}  // namespace bgcopy::engine
