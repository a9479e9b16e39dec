#include "base/log.hpp"
#include "engine/engine_internal.hpp"

#include <algorithm>
#include <unordered_set>
#include <vector>

namespace bgcopy::engine {

using detail::check_text;
using detail::invalid_state;
using detail::is_background;

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
  if (submission_) {
    submission_->id = r.id;  // submit_job inserts it, whole, at its end
  } else {
    BGCOPY_TRY(store_.insert(r));
  }
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

Result<JobView> Engine::submit_job(const Caller& caller, const std::string& display_name,
                                   JobType type, std::optional<JobPriority> priority,
                                   std::vector<FileSpec> files, bool start) {
  submission_.emplace();
  auto id = create_job(caller, display_name, type);
  Status st = id ? Status{} : Status(id.error());
  if (st && priority) {
    SettingsPatch p;
    p.priority = *priority;
    st = set_settings(caller, *id, p);
  }
  if (st && !files.empty()) st = add_files(caller, *id, std::move(files));
  if (st && start) st = resume(caller, *id);
  Submission done = std::move(*submission_);
  submission_.reset();
  if (!id) return std::move(id).error();
  Live& job = *jobs_.at(*id);
  // A new job has no transfer yet, so its record holds no live byte counts: stored as it is.
  if (st) st = store_.insert(job.rec);
  if (!st) {
    forget_unsubmitted(job);
    return std::move(st).error();
  }
  for (const auto& ev : done.events) events_.on_event(ev);
  if (done.schedule) schedule();
  return get_job(caller, *id);
}

void Engine::forget_unsubmitted(Live& job) {
  // Never stored, announced or started: it simply was not.
  const JobId id = job.rec.id;  // a copy: erasing destroys `job`
  const uid_t owner = job.rec.owner;
  index_.remove(&job);
  if (auto it = jobs_per_owner_.find(owner); it != jobs_per_owner_.end() && --it->second == 0) {
    jobs_per_owner_.erase(it);
  }
  jobs_.erase(id);
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

Result<std::vector<const Engine::Live*>> Engine::listed(const Caller& caller,
                                                        bool all_users) const {
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
  return picked;
}

Result<std::vector<JobView>> Engine::enum_jobs(const Caller& caller, bool all_users) const {
  auto picked = listed(caller, all_users);
  if (!picked) return std::move(picked).error();
  std::vector<JobView> out;
  out.reserve(picked->size());
  for (const Live* j : *picked) out.push_back(view_of(*j));
  return out;
}

Result<std::vector<JobId>> Engine::enum_job_ids(const Caller& caller, bool all_users) const {
  auto picked = listed(caller, all_users);
  if (!picked) return std::move(picked).error();
  std::vector<JobId> out;
  out.reserve(picked->size());
  for (const Live* j : *picked) out.push_back(j->rec.id);
  return out;
}

std::vector<JobView> Engine::views_of(const Caller& caller, std::span<const JobId> ids) const {
  std::vector<JobView> out;
  out.reserve(ids.size());
  for (const JobId& id : ids) {
    if (auto found = find_for_read(caller, id)) out.push_back(view_of(**found));
  }
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

}  // namespace bgcopy::engine
