// Event subscriptions: the service's JobTransferred / JobError / JobModification /
// FileTransferred notifications, delivered to a callback.
#pragma once

#include <bgcopy/export.hpp>
#include <bgcopy/types.hpp>

#include <functional>
#include <memory>

namespace bgcopy {
inline namespace v0 {

namespace detail {
class SubscriptionCore;
}

/// Called once per event, on the subscription's own thread, never concurrently with itself,
/// in the order the service sent the events. It must not throw (an exception that escapes is
/// swallowed). It may call into the library, including stop() on its own Subscription.
using EventCallback = std::function<void(const JobEvent& event)>;

/// A live event stream. Move-only; destroying it stops it.
///
/// Events are hints, not a log: JobModification is coalesced by the service (at most one per
/// job every 500 ms); a subscriber that falls behind by 1024 events gets one JobModification
/// per changed job, carrying its newest state, instead of the backlog (so look at
/// JobEvent::state, not only at the type); and when the connection to the service breaks (a
/// daemon restart, say) the subscription reconnects by itself, with back-off, and the events
/// of the gap are lost; so once it is connected again it delivers one JobModification with
/// seq 0 per job it covers (the job of Job::subscribe; every job the caller may see for
/// Manager::subscribe), carrying the job's state then: a change made during the gap is not
/// missed. The job's record (Job::info) is the truth; re-read it when an event arrives.
///
/// Thread-safety: stop() and active() may be called from any thread, including from inside the
/// callback. Moving or destroying a Subscription must not race with other calls on the same
/// object.
class BGCOPY_API Subscription {
 public:
  /// An inactive subscription (active() is false).
  Subscription() noexcept;
  Subscription(Subscription&& other) noexcept;
  Subscription& operator=(Subscription&& other) noexcept;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  /// stop().
  ~Subscription();

  /// True from a successful subscribe() until stop().
  bool active() const noexcept;
  /// Ends the stream. When called from another thread, returns after the callback has returned
  /// for the last time: no call starts after stop() returns (a resync's read in progress is
  /// cancelled, not waited for). When called from inside the callback, the current call is the
  /// last one. Idempotent; never fails.
  void stop() noexcept;

 private:
  friend class Manager;
  explicit Subscription(std::shared_ptr<detail::SubscriptionCore> core) noexcept;

  std::shared_ptr<detail::SubscriptionCore> core_;
};

}  // namespace v0
}  // namespace bgcopy
