#include "base/log.hpp"
#include "engine/engine_internal.hpp"

#include <algorithm>
#include <unordered_set>

namespace bgcopy::engine {

using detail::is_running;
using detail::not_found;

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

bool Engine::submitting(const Live& job) const {
  return submission_ && submission_->id == job.rec.id;
}

Status Engine::persist(Live& job) {
  if (submitting(job)) return {};  // submit_job writes the whole job once, at its end
  // The store must never see live byte counts: only what is synced to the staging file.
  JobRecord copy = job.rec;
  for (std::size_t i = 0; i < copy.files.size(); ++i) {
    FileRecord& f = copy.files[i];
    if (f.transferred && job.syncing.count(static_cast<std::uint32_t>(i)) != 0) {
      f.transferred = false;  // all bytes written, not yet synced: not promised yet
      f.verified = false;
    }
    if (!f.transferred) f.bytes_transferred = job.durable[i];
  }
  // Unreachable by construction (TRANSFERRED waits for the syncs); kept so a record can never
  // claim TRANSFERRED over a file it does not hold.
  if (copy.state == JobState::Transferred && !job.syncing.empty()) copy.state = JobState::Queued;
  return store_.update(copy);
}

void Engine::touch(Live& job) {
  job.rec.times.modified = clock_.wall();
  job.touched = clock_.mono();
}

void Engine::emit(const Live& job, Event::Kind kind, std::optional<std::uint32_t> file) {
  Event ev{kind, job.rec.id, job.rec.owner, job.rec.state, file};
  if (submitting(job)) {
    submission_->events.push_back(ev);  // announced once the job exists in the store
    return;
  }
  events_.on_event(ev);
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

void Engine::shutdown(std::span<const TransferEvent> last_events) {
  shutting_down_ = true;
  for (const auto& ev : last_events) on_transfer_event(ev);
  for (auto& [id, jp] : jobs_) {
    Live& j = *jp;
    if (j.transfer_id == 0) continue;
    stop_transfer(j);
    account_active_time(j);
    (void)persist(j);
  }
}

}  // namespace bgcopy::engine
