// One event-stream subscriber's queue: bounded, JobModification coalesced per job. No I/O and no
// threads of its own, so the rules can be tested by driving time by hand.
//
// Rules (docs/api.md, "GET /v1/events"):
//  - JobTransferred, JobError and FileTransferred are never coalesced.
//  - At most one JobModification per job per window (500 ms): the first goes out at once, later
//    ones are held and the latest is sent when the window ends.
//  - A held JobModification is dropped when a non-coalesced event of the same job arrives: that
//    event carries the newer state.
//  - Full queue (a consumer that fell behind): the queue is folded into one held
//    JobModification per job, carrying that job's newest state. Nothing is dropped without a
//    trace: every job that changed is still announced, so memory stays bounded by the queue
//    capacity plus one event per job, and the stream never has to end for being slow.
//  - seq is taken from the shared counter when an event enters the queue or a hold is released
//    (holds go after the queued events of the same batch), so it increases
//    within one stream and is unique per daemon run.
//
// Thread-safety: offer() runs on the engine thread, take() on the stream's thread; both lock.
#pragma once

#include "base/clock.hpp"
#include <bgcopy/types.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace bgcopy::daemon {

class EventFeed {
 public:
  EventFeed(std::atomic<std::uint64_t>& seq, std::size_t capacity, Millis window);

  /// Queues or holds `event` (its seq is assigned here). Returns true when the consumer must be
  /// woken: the first change since its last take(). Never blocks for long.
  bool offer(JobEvent event, MonoTime now);

  struct Batch {
    std::vector<JobEvent> events;        // in order
    std::optional<MonoTime> next_flush;  // when a held JobModification becomes due
    std::size_t folds = 0;               // times the queue was folded since the last take()
  };
  /// Everything ready at `now`, including held JobModifications whose window has ended.
  Batch take(MonoTime now);

 private:
  struct PerJob {
    std::optional<MonoTime> last_sent;
    std::optional<JobEvent> held;
  };
  void push(JobEvent event);
  void stamp(JobEvent& event);
  void fold_queue();

  std::atomic<std::uint64_t>& seq_;
  const std::size_t capacity_;
  const Millis window_;
  std::mutex mu_;
  std::deque<JobEvent> queue_;
  std::unordered_map<std::string, PerJob> jobs_;
  std::size_t folds_ = 0;
  bool wake_pending_ = false;
};

}  // namespace bgcopy::daemon
