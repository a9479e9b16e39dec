#include "base/thread_name.hpp"
#include "client/core.hpp"
#include "client/wire.hpp"
#include <bgcopy/subscription.hpp>

#include <unistd.h>

#include <algorithm>
#include <utility>

namespace bgcopy {
inline namespace v0 {

namespace detail {

namespace {
constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);
}  // namespace

SubscriptionCore::SubscriptionCore(std::string socket_path, std::chrono::milliseconds timeout,
                                   std::optional<std::string> job_id, EventCallback callback)
    : socket_path_(std::move(socket_path)),
      timeout_(timeout),
      stream_(socket_path_, timeout),
      resync_conn_(socket_path_, timeout),
      target_(client::wire::events_path(job_id.value_or(std::string()))),
      job_id_(std::move(job_id)),
      callback_(std::move(callback)) {}

// The last owner is either a Subscription (which stopped us) or the reader thread itself,
// which detached itself in stop(). Either way no thread is joinable here.
SubscriptionCore::~SubscriptionCore() = default;

Status SubscriptionCore::open_stream() {
  auto answer = stream_.open(target_);
  if (!answer) {
    return std::move(answer).status();
  }
  if (answer->status >= 200 && answer->status < 300) {
    return Status();
  }
  auto failure = client::wire::decode_failure(answer->status, answer->body);
  return Status(failure.code, std::move(failure.message));
}

Status SubscriptionCore::start() {
  if (auto opened = open_stream(); !opened) {
    return opened;
  }
  active_.store(true);
  thread_ = std::thread([self = shared_from_this()] { self->reader(); });
  return Status();
}

void SubscriptionCore::deliver(std::string_view line) {
  if (line.empty()) {
    return;  // keep-alive
  }
  JobEvent event;
  if (client::wire::decode_event(line, event)) {
    return;  // not an event we understand: events are hints, skip it
  }
  if (job_id_ && event.job_id != *job_id_) {
    return;
  }
  deliver_event(event);
}

void SubscriptionCore::deliver_event(const JobEvent& event) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      return;
    }
  }
  try {
    callback_(event);
  } catch (...) {  // NOLINT(bugprone-empty-catch): documented: a throwing callback is ignored
  }
}

void SubscriptionCore::resync() {
  // Read after the stream is open again: a change after this read arrives on the stream.
  // A manager stream covers every job the caller may see (root: everyone's), so it reads the
  // list; a daemon restart with many jobs makes this one large read, once.
  const std::string target =
      job_id_ ? client::wire::job_path(*job_id_) : client::wire::jobs_path(::geteuid() == 0);
  auto answer = resync_conn_.request(client::Method::Get, target, {});
  resync_conn_.disconnect();  // reconnects are rare: hold none of the service's connections
  if (!answer || answer->status < 200 || answer->status >= 300) {
    return;  // the stream itself reports what comes next (or ends if the job is gone)
  }
  std::vector<JobInfo> jobs;
  if (job_id_) {
    JobInfo info;
    if (client::wire::decode_job(answer->body, info)) {
      return;
    }
    jobs.push_back(std::move(info));
  } else if (client::wire::decode_job_list(answer->body, jobs)) {
    return;
  }
  const auto now = std::chrono::system_clock::now();
  for (const auto& info : jobs) {
    JobEvent event;
    event.seq = 0;  // not the service's: it marks the resync
    event.type = EventType::JobModification;
    event.job_id = info.id;
    event.state = info.state;
    event.time = now;
    deliver_event(event);
  }
}

bool SubscriptionCore::wait_or_stop(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, d, [this] { return stopping_; });
}

void SubscriptionCore::reader() {
  set_thread_name("bgcopy-events");
  reader_id_.store(std::this_thread::get_id());
  auto backoff = kFirstBackoff;
  for (;;) {
    auto ended = stream_.run([this](std::string_view line) { deliver(line); });
    (void)ended;  // broken or ended streams are both re-opened
    if (wait_or_stop(backoff)) {
      break;
    }
    auto opened = open_stream();
    if (opened) {
      backoff = kFirstBackoff;
      resync();
      continue;
    }
    if (opened.code() == hr::DoEJobNotFound) {
      break;  // the job we follow is gone: nothing more will come
    }
    backoff = std::min(backoff * 2, kMaxBackoff);
    // Keep trying to reopen until stopped; run() on a closed stream returns at once.
  }
  active_.store(false);
  {
    std::lock_guard lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
}

void SubscriptionCore::stop() noexcept {
  std::thread worker;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    worker = std::move(thread_);
  }
  cv_.notify_all();
  stream_.cancel();
  resync_conn_.cancel();
  if (reader_id_.load() == std::this_thread::get_id()) {
    // Called from inside the callback: the reader cannot join itself. It returns from the
    // callback, sees stopping_ and ends; its own reference keeps this object alive until then.
    if (worker.joinable()) {
      worker.detach();
    }
  } else if (worker.joinable()) {
    worker.join();
  } else {
    // Another thread took the std::thread and is joining it; wait for the reader to finish.
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return done_ || reader_id_.load() == std::thread::id(); });
  }
  active_.store(false);
}

}  // namespace detail

Subscription::Subscription() noexcept = default;
Subscription::Subscription(std::shared_ptr<detail::SubscriptionCore> core) noexcept
    : core_(std::move(core)) {}
Subscription::Subscription(Subscription&& other) noexcept = default;

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    stop();
    core_ = std::move(other.core_);
  }
  return *this;
}

Subscription::~Subscription() {
  stop();
}

bool Subscription::active() const noexcept {
  return core_ && core_->active();
}

void Subscription::stop() noexcept {
  if (core_) {
    core_->stop();
  }
}

}  // namespace v0
}  // namespace bgcopy
