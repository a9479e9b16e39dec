// Runs the engine on one thread: the loop feeds it transfer events and fires its timers;
// callers reach it through call(), which serialises every access. This is the only place the
// engine meets real threads.
#pragma once

#include "base/clock.hpp"
#include "engine/engine.hpp"

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace bgcopy::daemon {

/// Fans engine events out to listeners. Listeners run on the engine thread with the engine
/// locked: they must be quick and must not call back into the host.
class EventHub final : public engine::EventSink {
 public:
  using Listener = std::function<void(const engine::Event&)>;
  /// Returns a token for remove().
  std::uint64_t add(Listener listener);
  void remove(std::uint64_t token);
  void on_event(const engine::Event& event) override;

 private:
  std::mutex mu_;
  std::uint64_t next_ = 1;
  std::vector<std::pair<std::uint64_t, Listener>> listeners_;
};

class EngineHost {
 public:
  /// The ports must outlive the host. The transfer port's events must be fed to post().
  EngineHost(engine::EngineConfig config, const Clock& clock, engine::JobStore& store,
             engine::TransferPort& transfer, engine::StagingPort& staging,
             engine::EventSink& events);
  ~EngineHost();
  EngineHost(const EngineHost&) = delete;
  EngineHost& operator=(const EngineHost&) = delete;

  /// Loads the jobs and starts the loop thread. Errors: the store's.
  Status start();
  /// Stops every transfer (checkpointing it) and joins the loop. Idempotent.
  void stop();

  /// Runs f(engine) with exclusive access and returns its result. Any thread except the
  /// loop thread and the transfer thread.
  template <class F>
  auto call(F&& f) -> decltype(f(std::declval<engine::Engine&>())) {
    std::unique_lock lock(engine_mu_);
    struct Wake {
      EngineHost* h;
      ~Wake() { h->wake_if_sooner(); }
    } wake{this};  // timers may have moved
    return f(engine_);
  }

  /// Queues a transfer event. Cheap; safe from any thread (the transfer thread calls it).
  void post(engine::TransferEvent event);

 private:
  void loop();
  /// With engine_mu_ held: wakes the loop only when the engine's next deadline is now earlier
  /// than the one the loop sleeps towards. Waking it after every call cost two context switches
  /// per API request for nothing (a call schedules by itself; only timers need the loop).
  void wake_if_sooner();

  engine::Engine engine_;
  engine::TransferPort& transfer_;
  std::mutex engine_mu_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<engine::TransferEvent> queue_;
  bool dirty_ = false;
  bool stopping_ = false;
  // The deadline the loop last computed (nullopt: none, it sleeps until woken). Written by the
  // loop with engine_mu_ and queue_mu_ held, read by callers with engine_mu_ held, so a caller
  // always compares against the state the loop has seen.
  std::optional<MonoTime> loop_deadline_;
  std::thread thread_;
};

}  // namespace bgcopy::daemon
