#include "base/log.hpp"
#include "engine/engine_internal.hpp"

#include <algorithm>
#include <array>
#include <vector>

namespace bgcopy::engine {

using detail::is_background;
using detail::kRetentionCheckEvery;

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
    finish_files(job);
    return;
  }
  // Shutting down: the job keeps its state and load() queues it again.
  if (shutting_down_) return;
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
  if (r.settings.priority == JobPriority::Foreground && req.max_recv_bps == 0) {
    for (std::uint32_t i = idx + 1; i < r.files.size() && req.ahead.size() < config_.files_ahead;
         ++i) {
      if (r.files[i].transferred) continue;
      AheadFile next{i, r.files[i], job.durable[i]};
      next.file.bytes_transferred = job.durable[i];
      req.ahead.push_back(std::move(next));
    }
  }
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
  if (shutting_down_) return;
  if (submission_) {
    submission_->schedule = true;  // nothing starts before submit_job's insert
    return;
  }
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

}  // namespace bgcopy::engine
