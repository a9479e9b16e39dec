#include "daemon/engine_host.hpp"

#include "base/log.hpp"
#include "base/thread_name.hpp"

#include <algorithm>
#include <iterator>
#include <vector>

namespace bgcopy::daemon {

std::uint64_t EventHub::add(Listener listener) {
  std::lock_guard lock(mu_);
  listeners_.emplace_back(next_, std::move(listener));
  return next_++;
}

void EventHub::remove(std::uint64_t token) {
  std::lock_guard lock(mu_);
  std::erase_if(listeners_, [&](const auto& p) { return p.first == token; });
}

void EventHub::on_event(const engine::Event& event) {
  std::lock_guard lock(mu_);
  for (const auto& [token, l] : listeners_) l(event);
}

EngineHost::EngineHost(engine::EngineConfig config, const Clock& clock, engine::JobStore& store,
                       engine::TransferPort& transfer, engine::StagingPort& staging,
                       engine::EventSink& events)
    : engine_(config, clock, store, transfer, staging, events), transfer_(transfer) {}

EngineHost::~EngineHost() {
  stop();
}

Status EngineHost::start() {
  {
    std::lock_guard lock(engine_mu_);
    BGCOPY_TRY(engine_.load());
  }
  {
    // The first pass arms the timers of the jobs just loaded (retries, retention).
    std::lock_guard lock(queue_mu_);
    dirty_ = true;
  }
  thread_ = std::thread([this] { loop(); });
  return {};
}

void EngineHost::stop() {
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Finished files whose flush is still queued would otherwise be fetched again after the
  // restart (from their last checkpoint): let the flushes finish and hand the engine what
  // arrived since the loop stopped, Synced events included.
  transfer_.flush_final_syncs();
  std::deque<engine::TransferEvent> late;
  {
    std::lock_guard lock(queue_mu_);
    late.swap(queue_);
  }
  const std::vector<engine::TransferEvent> events(std::make_move_iterator(late.begin()),
                                                  std::make_move_iterator(late.end()));
  std::lock_guard lock(engine_mu_);
  engine_.shutdown(events);
}

void EngineHost::post(engine::TransferEvent event) {
  {
    std::lock_guard lock(queue_mu_);
    queue_.push_back(std::move(event));
  }
  queue_cv_.notify_one();
}

void EngineHost::wake_if_sooner() {
  const auto next = engine_.next_deadline();
  {
    std::lock_guard lock(queue_mu_);
    if (!next || (loop_deadline_ && *loop_deadline_ <= *next)) return;
    dirty_ = true;
  }
  queue_cv_.notify_one();
}

void EngineHost::loop() {
  set_thread_name("bgcopy-engine");
  std::optional<MonoTime> deadline;
  for (;;) {
    std::deque<engine::TransferEvent> batch;
    {
      std::unique_lock lock(queue_mu_);
      auto ready = [&] { return stopping_ || dirty_ || !queue_.empty(); };
      if (deadline) {
        // The engine's deadlines are steady_clock instants (SystemClock in production).
        queue_cv_.wait_until(lock, *deadline, ready);
      } else {
        queue_cv_.wait(lock, ready);
      }
      if (stopping_) return;
      batch.swap(queue_);
      dirty_ = false;
    }
    std::lock_guard lock(engine_mu_);
    for (const auto& ev : batch) engine_.on_transfer_event(ev);
    engine_.tick();
    deadline = engine_.next_deadline();
    std::lock_guard queue_lock(queue_mu_);
    loop_deadline_ = deadline;
  }
}

}  // namespace bgcopy::daemon
