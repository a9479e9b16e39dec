#include "daemon/event_feed.hpp"

#include <algorithm>

namespace bgcopy::daemon {

EventFeed::EventFeed(std::atomic<std::uint64_t>& seq, std::size_t capacity, Millis window)
    : seq_(seq), capacity_(std::max<std::size_t>(capacity, 1)), window_(window) {}

void EventFeed::push(JobEvent event) {
  if (overflowed_) {
    return;
  }
  if (queue_.size() >= capacity_) {
    auto it = std::find_if(queue_.begin(), queue_.end(),
                           [](const JobEvent& e) { return e.type == EventType::JobModification; });
    if (it == queue_.end()) {
      overflowed_ = true;
      return;
    }
    queue_.erase(it);
  }
  event.seq = seq_.fetch_add(1, std::memory_order_relaxed) + 1;
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
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    PerJob& job = it->second;
    const bool due = !job.last_sent || now - *job.last_sent >= window_;
    if (job.held && due) {
      job.last_sent = now;
      push(std::move(*job.held));
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
  batch.events.assign(std::make_move_iterator(queue_.begin()),
                      std::make_move_iterator(queue_.end()));
  queue_.clear();
  batch.overflowed = overflowed_;
  return batch;
}

}  // namespace bgcopy::daemon
