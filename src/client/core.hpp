// The shared state behind the public handles (Manager, Job, Subscription).
#pragma once

#include "client/http.hpp"
#include <bgcopy/result.hpp>
#include <bgcopy/subscription.hpp>
#include <bgcopy/types.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace bgcopy {
inline namespace v0 {
namespace detail {

/// Runs f, turning any exception into E_FAIL so nothing crosses the library boundary.
/// R is Status or Result<T>.
template <class R, class F>
R guard(F&& f) noexcept {
  try {
    return std::forward<F>(f)();
  } catch (const std::bad_alloc&) {
    return R(Status(hr::EFail, "out of memory"));
  } catch (const std::exception& e) {
    return R(Status(hr::EFail, std::string("internal error in libbgcopy: ") + e.what()));
  } catch (...) {
    return R(Status(hr::EFail, "internal error in libbgcopy"));
  }
}

/// One connection to the service; every request of a Manager and its Jobs goes through it.
class ManagerCore {
 public:
  ManagerCore(std::string socket_path, std::chrono::milliseconds timeout);

  const std::string& socket_path() const { return socket_path_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

  /// Sends a request and returns the body of a 2xx answer; any other answer becomes the
  /// failure its error body describes. Thread-safe (calls are serialised).
  Result<std::string> call(client::Method method, std::string_view target, std::string body = {});

 private:
  const std::string socket_path_;
  const std::chrono::milliseconds timeout_;
  std::mutex mu_;
  client::HttpConnection connection_;
};

/// What a Job handle and its copies share.
class JobCore {
 public:
  JobCore(std::shared_ptr<ManagerCore> manager, std::string id)
      : manager_(std::move(manager)), id_(std::move(id)) {}

  ManagerCore& manager() const { return *manager_; }
  const std::shared_ptr<ManagerCore>& manager_ptr() const { return manager_; }
  const std::string& id() const { return id_; }

  /// The final state this handle made the job reach, if any.
  std::optional<JobState> final_state() const;
  void set_final_state(JobState s);
  /// DO_E_INVALID_STATE when the handle has seen the job become final; S_OK otherwise.
  Status check_not_final(std::string_view what) const;

 private:
  std::shared_ptr<ManagerCore> manager_;
  const std::string id_;
  mutable std::mutex mu_;
  std::optional<JobState> final_;
};

/// An event stream and the thread that reads it.
class SubscriptionCore : public std::enable_shared_from_this<SubscriptionCore> {
 public:
  SubscriptionCore(std::string socket_path, std::chrono::milliseconds timeout,
                   std::optional<std::string> job_id, EventCallback callback);
  ~SubscriptionCore();
  SubscriptionCore(const SubscriptionCore&) = delete;
  SubscriptionCore& operator=(const SubscriptionCore&) = delete;

  /// Opens the stream on the calling thread, then starts the reader thread.
  Status start();
  void stop() noexcept;
  bool active() const noexcept { return active_.load(); }

 private:
  /// One attempt to (re)open the stream. S_OK when open; a failure otherwise.
  Status open_stream();
  void reader();
  void deliver(std::string_view line);
  /// Hands one event to the callback unless stopping.
  void deliver_event(const JobEvent& event);
  /// After a reconnect, tells the callback the current state of every job the stream covers
  /// (one JobModification each, seq 0): whatever changed during the gap is otherwise never
  /// announced.
  void resync();
  /// Waits up to `d` or until stop(); true when stopping.
  bool wait_or_stop(std::chrono::milliseconds d);

  const std::string socket_path_;
  const std::chrono::milliseconds timeout_;
  client::HttpLineStream stream_;
  client::HttpConnection resync_conn_;  // resync()'s reads; stop() cancels them too
  std::string target_;
  std::optional<std::string> job_id_;
  EventCallback callback_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool done_ = false;  // the reader thread has finished
  std::atomic<bool> active_{false};
  std::atomic<std::thread::id> reader_id_{};
  std::thread thread_;
};

}  // namespace detail
}  // namespace v0
}  // namespace bgcopy
