#include "daemon/event_feed.hpp"

#include <algorithm>

namespace bgcopy::daemon {

EventFeed::EventFeed(std::atomic<std::uint64_t>& seq, std::size_t capacity, Millis window)
    : seq_(seq), capacity_(std::max<std::size_t>(capacity, 1)), window_(window) {}

void EventFeed::stamp(JobEvent& event) {
  event.seq = seq_.fetch_add(1, std::memory_order_relaxed) + 1;
}

void EventFeed::fold_queue() {
  // The queue is in order, so the last event of a job is its newest. A job that already holds a
  // modification keeps it: a hold is newer than anything queued for that job (a later
  // non-coalesced event would have dropped the hold, a later modification replaced it).
  std::unordered_map<std::string, JobEvent*> newest;
  for (auto& e : queue_) newest[e.job_id] = &e;
  for (auto& [job_id, e] : newest) {
    PerJob& job = jobs_[job_id];
    job.last_sent.reset();  // what was queued never went out: the fold is due at once
    if (job.held) continue;
    JobEvent folded = std::move(*e);
    folded.type = EventType::JobModification;
    folded.file_index.reset();
    job.held = std::move(folded);
  }
  queue_.clear();
  ++folds_;
}

void EventFeed::push(JobEvent event) {
  if (queue_.size() >= capacity_) fold_queue();
  stamp(event);
  queue_.push_back(std::move(event));
}

bool EventFeed::offer(JobEvent event, MonoTime now) {
  std::lock_guard lock(mu_);
  PerJob& job = jobs_[event.job_id];
  if (event.type == EventType::JobModification) {
    const bool window_open = job.last_sent && now - *job.last_sent < window_;
    if (job.held || window_open) {
      const bool first_held = !job.held;
      job.held = std::move(event);
      // A replaced hold keeps its deadline, so the consumer need not recompute it.
      if (!first_held) {
        return false;
      }
    } else {
      job.last_sent = now;
      push(std::move(event));
    }
  } else {
    job.held.reset();
    push(std::move(event));
  }
  if (wake_pending_) {
    return false;
  }
  wake_pending_ = true;
  return true;
}

EventFeed::Batch EventFeed::take(MonoTime now) {
  std::lock_guard lock(mu_);
  wake_pending_ = false;
  Batch batch;
  batch.events.assign(std::make_move_iterator(queue_.begin()),
                      std::make_move_iterator(queue_.end()));
  queue_.clear();
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    PerJob& job = it->second;
    const bool due = !job.last_sent || now - *job.last_sent >= window_;
    if (job.held && due) {
      // Straight into the batch, not through push(): the holds are already bounded by the
      // number of jobs, and folding them again would only delay them.
      job.last_sent = now;
      stamp(*job.held);
      batch.events.push_back(std::move(*job.held));
      job.held.reset();
    } else if (job.held) {
      const MonoTime at = *job.last_sent + window_;
      batch.next_flush = batch.next_flush ? std::min(*batch.next_flush, at) : at;
    } else if (due) {
      // Nothing held and the window is over: the next event goes straight out anyway.
      it = jobs_.erase(it);
      continue;
    }
    ++it;
  }
  batch.folds = folds_;
  folds_ = 0;
  return batch;
}

}  // namespace bgcopy::daemon
