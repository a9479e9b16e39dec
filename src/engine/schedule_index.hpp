// The scheduler's view of the jobs, kept sorted as they change, so that scheduling and timers
// cost O(log n) per change instead of a walk over every job per call. With 100,000 queued jobs
// a walk per resume made create+add+resume quadratic.
//
// The engine calls update() whenever a field behind the keys may have changed (state, priority,
// round-robin position, running transfer, timers) and remove() before a job goes away;
// Engine::indexes_consistent() lets the unit tests catch a missed update.
#pragma once

#include "base/clock.hpp"
#include "engine/types.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace bgcopy::engine {

template <class Job>
class ScheduleIndex {
 public:
  /// What the index needs to know about one job.
  struct Keys {
    JobId id;
    bool active = false;  // QUEUED, CONNECTING or TRANSFERRING
    bool background = false;
    JobPriority priority = JobPriority::Normal;
    std::uint64_t queue_seq = 0;    // round-robin position among equal background jobs
    bool running = false;           // a transfer runs
    std::optional<MonoTime> timer;  // earliest retry / no-progress deadline (TRANSIENT_ERROR)
    friend bool operator==(const Keys&, const Keys&) = default;
  };
  // Strict priority, then round-robin order; queue_seq is unique, so no ties.
  using QueueEntry = std::tuple<JobPriority, std::uint64_t, Job*>;
  // Earliest first; the id breaks ties so equal deadlines fire in a stable order.
  using TimerEntry = std::tuple<MonoTime, JobId, Job*>;

  void update(Job* job, const Keys& keys) {
    auto [it, inserted] = entries_.try_emplace(job);
    if (!inserted) {
      if (it->second == keys) return;
      erase(job, it->second);
    }
    it->second = keys;
    insert(job, keys);
  }

  void remove(Job* job) {
    auto it = entries_.find(job);
    if (it == entries_.end()) return;
    erase(job, it->second);
    entries_.erase(it);
  }

  /// The keys last given for job, or nullopt.
  std::optional<Keys> keys_of(Job* job) const {
    auto it = entries_.find(job);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }

  const std::set<QueueEntry>& background_queue() const { return background_; }
  const std::unordered_set<Job*>& foreground_active() const { return foreground_; }
  const std::unordered_set<Job*>& running() const { return running_; }
  const std::set<TimerEntry>& timers() const { return timers_; }
  /// Active background jobs of one priority (running or waiting).
  std::size_t background_active(JobPriority p) const {
    return background_count_[static_cast<std::size_t>(p)];
  }

 private:
  void insert(Job* job, const Keys& k) {
    if (k.active && k.background) {
      background_.emplace(k.priority, k.queue_seq, job);
      background_count_[static_cast<std::size_t>(k.priority)] += 1;
    }
    if (k.active && !k.background) foreground_.insert(job);
    if (k.running) running_.insert(job);
    if (k.timer) timers_.emplace(*k.timer, k.id, job);
  }

  void erase(Job* job, const Keys& k) {
    if (k.active && k.background) {
      background_.erase(QueueEntry{k.priority, k.queue_seq, job});
      background_count_[static_cast<std::size_t>(k.priority)] -= 1;
    }
    if (k.active && !k.background) foreground_.erase(job);
    if (k.running) running_.erase(job);
    if (k.timer) timers_.erase(TimerEntry{*k.timer, k.id, job});
  }

  std::unordered_map<Job*, Keys> entries_;
  std::set<QueueEntry> background_;
  std::unordered_set<Job*> foreground_;
  std::unordered_set<Job*> running_;
  std::set<TimerEntry> timers_;
  std::array<std::size_t, 4> background_count_{};
};

}  // namespace bgcopy::engine
