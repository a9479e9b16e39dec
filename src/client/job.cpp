#include "client/core.hpp"
#include "client/wire.hpp"
#include <bgcopy/job.hpp>
#include <bgcopy/manager.hpp>

#include <algorithm>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <utility>

namespace bgcopy {
inline namespace v0 {

namespace detail {

std::optional<JobState> JobCore::final_state() const {
  std::lock_guard lock(mu_);
  return final_;
}

void JobCore::set_final_state(JobState s) {
  std::lock_guard lock(mu_);
  final_ = s;
}

Status JobCore::check_not_final(std::string_view what) const {
  auto final = final_state();
  if (!final) {
    return Status();
  }
  return Status(hr::DoEInvalidState, "cannot " + std::string(what) + " job " + id_ + ": it is " +
                                         std::string(state_name(*final)) +
                                         " (made final through this handle)");
}

}  // namespace detail

namespace {

using client::Method;
namespace wire = client::wire;

Status from_failure(wire::Failure f) {
  return Status(f.code, std::move(f.message));
}

/// GET the job's record.
Result<JobInfo> read_job(const detail::JobCore& core) {
  auto body = core.manager().call(Method::Get, wire::job_path(core.id()));
  if (!body) {
    return std::move(body).status();
  }
  JobInfo info;
  if (auto failed = wire::decode_job(*body, info)) {
    return from_failure(std::move(*failed));
  }
  return info;
}

/// POST /v1/jobs/{id}/<action>: {"result": RESULT, "job"?}. The result's code is the answer.
Status run_action(detail::JobCore& core, std::string_view action, std::string_view verb,
                  std::optional<JobState> final_on_success = std::nullopt) {
  if (auto s = core.check_not_final(verb); !s) {
    return s;
  }
  auto body = core.manager().call(Method::Post, wire::job_path(core.id(), action));
  if (!body) {
    return std::move(body).status();
  }
  Hresult code = hr::SOk;
  std::string message;
  std::optional<JobInfo> job;
  if (auto failed = wire::decode_action(*body, code, message, job)) {
    return from_failure(std::move(*failed));
  }
  if (succeeded(code) && final_on_success) {
    core.set_final_state(*final_on_success);
  }
  return Status(code, std::move(message));
}

Status patch(detail::JobCore& core, const JobSettingsPatch& p) {
  if (auto s = core.check_not_final("change"); !s) {
    return s;
  }
  auto body = core.manager().call(Method::Patch, wire::job_path(core.id()), wire::encode_patch(p));
  if (!body) {
    return std::move(body).status();
  }
  return Status();
}

Result<std::uint32_t> seconds_u32(std::chrono::seconds d, std::string_view what) {
  if (d.count() < 0 || d.count() > std::numeric_limits<std::uint32_t>::max()) {
    return Status(hr::EInvalidArg, std::string(what) + " must be between 0 and 4294967295 s");
  }
  return static_cast<std::uint32_t>(d.count());
}

template <class T, class F>
Result<T> from_info(const detail::JobCore& core, F&& pick) {
  if (auto s = core.check_not_final("read"); !s) {
    return s;
  }
  auto info = read_job(core);
  if (!info) {
    return std::move(info).status();
  }
  return std::forward<F>(pick)(*info);
}

bool wait_is_over(JobState s) {
  return s == JobState::Transferred || s == JobState::Error;
}

}  // namespace

Job::Job(std::shared_ptr<detail::JobCore> core) noexcept : core_(std::move(core)) {}
Job::Job(const Job&) noexcept = default;
Job& Job::operator=(const Job&) noexcept = default;
Job::Job(Job&&) noexcept = default;
Job& Job::operator=(Job&&) noexcept = default;
Job::~Job() = default;

const std::string& Job::id() const noexcept {
  return core_->id();
}

Status Job::add_file(std::string_view remote_url, std::string_view local_path) const noexcept {
  return detail::guard<Status>([&] {
    FileSpec spec;
    spec.remote_url = std::string(remote_url);
    spec.local_path = std::string(local_path);
    return add_file_set({std::move(spec)});
  });
}

Status Job::add_file(const FileSpec& file) const noexcept {
  return detail::guard<Status>([&] { return add_file_set({file}); });
}

Status Job::add_file_set(const std::vector<FileSpec>& files) const noexcept {
  return detail::guard<Status>([&]() -> Status {
    if (auto s = core_->check_not_final("add files to"); !s) {
      return s;
    }
    if (files.empty()) {
      return Status(hr::EInvalidArg, "no files to add");
    }
    auto body = core_->manager().call(Method::Post, wire::job_path(core_->id(), "files"),
                                      wire::encode_files(files));
    if (!body) {
      return std::move(body).status();
    }
    return Status();
  });
}

Status Job::add_file_with_ranges(std::string_view remote_url, std::string_view local_path,
                                 const std::vector<FileRange>& ranges) const noexcept {
  return detail::guard<Status>([&]() -> Status {
    if (ranges.empty()) {
      return Status(hr::DoEInvalidRange, "add_file_with_ranges needs at least one range");
    }
    FileSpec spec;
    spec.remote_url = std::string(remote_url);
    spec.local_path = std::string(local_path);
    spec.ranges = ranges;
    return add_file_set({std::move(spec)});
  });
}

Result<std::vector<FileInfo>> Job::enum_files() const noexcept {
  return detail::guard<Result<std::vector<FileInfo>>>([&]() -> Result<std::vector<FileInfo>> {
    if (auto s = core_->check_not_final("list the files of"); !s) {
      return s;
    }
    auto body = core_->manager().call(Method::Get, wire::job_path(core_->id(), "files"));
    if (!body) {
      return std::move(body).status();
    }
    std::vector<FileInfo> files;
    if (auto failed = wire::decode_file_list(*body, files)) {
      return from_failure(std::move(*failed));
    }
    return files;
  });
}

Status Job::resume() const noexcept {
  return detail::guard<Status>([&] { return run_action(*core_, "resume", "resume"); });
}

Status Job::suspend() const noexcept {
  return detail::guard<Status>([&] { return run_action(*core_, "suspend", "suspend"); });
}

Status Job::cancel() const noexcept {
  return detail::guard<Status>(
      [&] { return run_action(*core_, "cancel", "cancel", JobState::Cancelled); });
}

Status Job::complete() const noexcept {
  return detail::guard<Status>(
      [&] { return run_action(*core_, "complete", "complete", JobState::Acknowledged); });
}

Status Job::take_ownership() const noexcept {
  return detail::guard<Status>(
      [&] { return run_action(*core_, "take_ownership", "take ownership of"); });
}

Result<JobInfo> Job::info() const noexcept {
  return detail::guard<Result<JobInfo>>([&]() -> Result<JobInfo> {
    if (auto s = core_->check_not_final("read"); !s) {
      return s;
    }
    return read_job(*core_);
  });
}

Result<JobState> Job::state() const noexcept {
  return detail::guard<Result<JobState>>([&]() -> Result<JobState> {
    if (auto final = core_->final_state()) {
      return *final;
    }
    auto info = read_job(*core_);
    if (!info) {
      return std::move(info).status();
    }
    return info->state;
  });
}

Result<ErrorInfo> Job::error() const noexcept {
  return detail::guard<Result<ErrorInfo>>([&]() -> Result<ErrorInfo> {
    if (auto s = core_->check_not_final("read the error of"); !s) {
      return s;
    }
    auto body = core_->manager().call(Method::Get, wire::job_path(core_->id(), "error"));
    if (!body) {
      return std::move(body).status();
    }
    ErrorInfo error;
    if (auto failed = wire::decode_error_info(*body, error)) {
      return from_failure(std::move(*failed));
    }
    return error;
  });
}

Result<JobType> Job::type() const noexcept {
  return detail::guard<Result<JobType>>(
      [&] { return from_info<JobType>(*core_, [](const JobInfo& i) { return i.type; }); });
}

Result<JobProgress> Job::progress() const noexcept {
  return detail::guard<Result<JobProgress>>([&] {
    return from_info<JobProgress>(*core_, [](const JobInfo& i) {
      return JobProgress{i.bytes_total, i.bytes_transferred, i.files_total, i.files_transferred};
    });
  });
}

Result<JobTimes> Job::times() const noexcept {
  return detail::guard<Result<JobTimes>>([&] {
    return from_info<JobTimes>(*core_, [](const JobInfo& i) {
      return JobTimes{i.created, i.modified, i.transfer_completed};
    });
  });
}

Result<std::uint32_t> Job::error_count() const noexcept {
  return detail::guard<Result<std::uint32_t>>([&] {
    return from_info<std::uint32_t>(*core_, [](const JobInfo& i) { return i.error_count; });
  });
}

Result<std::uint32_t> Job::owner() const noexcept {
  return detail::guard<Result<std::uint32_t>>(
      [&] { return from_info<std::uint32_t>(*core_, [](const JobInfo& i) { return i.owner; }); });
}

Status Job::set(const JobSettingsPatch& p) const noexcept {
  return detail::guard<Status>([&] { return patch(*core_, p); });
}

Status Job::set_display_name(std::string_view name) const noexcept {
  return detail::guard<Status>([&] {
    JobSettingsPatch p;
    p.display_name = std::string(name);
    return patch(*core_, p);
  });
}

Status Job::set_description(std::string_view description) const noexcept {
  return detail::guard<Status>([&] {
    JobSettingsPatch p;
    p.description = std::string(description);
    return patch(*core_, p);
  });
}

Status Job::set_priority(JobPriority priority) const noexcept {
  return detail::guard<Status>([&] {
    JobSettingsPatch p;
    p.priority = priority;
    return patch(*core_, p);
  });
}

Status Job::set_notify_flags(std::uint32_t flags) const noexcept {
  return detail::guard<Status>([&] {
    JobSettingsPatch p;
    p.notify_flags = flags;
    return patch(*core_, p);
  });
}

Status Job::set_notify_cmdline(std::vector<std::string> argv) const noexcept {
  return detail::guard<Status>([&] {
    JobSettingsPatch p;
    p.notify_cmdline = std::move(argv);
    return patch(*core_, p);
  });
}

Status Job::set_min_retry_delay(std::chrono::seconds delay) const noexcept {
  return detail::guard<Status>([&]() -> Status {
    auto v = seconds_u32(delay, "min retry delay");
    if (!v) {
      return std::move(v).status();
    }
    JobSettingsPatch p;
    p.min_retry_delay = *v;
    return patch(*core_, p);
  });
}

Status Job::set_no_progress_timeout(std::chrono::seconds timeout) const noexcept {
  return detail::guard<Status>([&]() -> Status {
    auto v = seconds_u32(timeout, "no-progress timeout");
    if (!v) {
      return std::move(v).status();
    }
    JobSettingsPatch p;
    p.no_progress_timeout = *v;
    return patch(*core_, p);
  });
}

Status Job::set_max_download_time(std::chrono::seconds limit) const noexcept {
  return detail::guard<Status>([&]() -> Status {
    auto v = seconds_u32(limit, "max download time");
    if (!v) {
      return std::move(v).status();
    }
    JobSettingsPatch p;
    p.max_download_time = *v;
    return patch(*core_, p);
  });
}

Status Job::set_proxy(const ProxySettings& proxy) const noexcept {
  return detail::guard<Status>([&] {
    JobSettingsPatch p;
    p.proxy = proxy;
    return patch(*core_, p);
  });
}

Status Job::set_tls_verify(bool verify) const noexcept {
  return detail::guard<Status>([&] {
    JobSettingsPatch p;
    p.tls_verify = verify;
    return patch(*core_, p);
  });
}

Result<JobState> Job::wait(std::chrono::milliseconds timeout) const noexcept {
  return detail::guard<Result<JobState>>([&]() -> Result<JobState> {
    if (auto s = core_->check_not_final("wait for"); !s) {
      return s;
    }
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    // Saturating: a huge timeout (the default) means "forever", not an overflow.
    const auto deadline = timeout >= std::chrono::duration_cast<std::chrono::milliseconds>(
                                         Clock::time_point::max() - start)
                              ? Clock::time_point::max()
                              : start + timeout;

    auto first = read_job(*core_);
    if (!first) {
      return std::move(first).status();
    }
    if (wait_is_over(first->state) || timeout.count() <= 0) {
      return first->state;
    }

    // Wake-ups from the event stream; the job record read after each one is the answer.
    struct Signal {
      std::mutex mu;
      std::condition_variable cv;
      std::uint64_t count = 0;
    };
    auto signal = std::make_shared<Signal>();
    // Only events that can end the wait cost a re-read: a 1,000-file job sends an event per
    // file, and re-reading the whole job after each was most of the daemon's work.
    auto subscription = Job(core_).subscribe([signal](const JobEvent& e) {
      if (!wait_is_over(e.state) && e.state != JobState::Acknowledged &&
          e.state != JobState::Cancelled) {
        return;
      }
      {
        std::lock_guard lock(signal->mu);
        ++signal->count;
      }
      signal->cv.notify_all();
    });
    if (!subscription && subscription.code() == hr::DoEJobNotFound) {
      return std::move(subscription).status();
    }
    // Without a stream (an odd failure) the one-second re-read below still finishes the wait.

    constexpr auto kRecheck = std::chrono::seconds(1);
    std::uint64_t seen = 0;
    for (;;) {
      auto info = read_job(*core_);
      if (!info) {
        return std::move(info).status();
      }
      const auto now = Clock::now();
      if (wait_is_over(info->state) || now >= deadline) {
        return info->state;
      }
      const auto until = deadline - now > kRecheck ? now + kRecheck : deadline;
      std::unique_lock lock(signal->mu);
      signal->cv.wait_until(lock, until, [&] { return signal->count != seen; });
      seen = signal->count;
    }
  });
}

Result<Subscription> Job::subscribe(EventCallback callback) const noexcept {
  return detail::guard<Result<Subscription>>([&]() -> Result<Subscription> {
    if (auto s = core_->check_not_final("subscribe to"); !s) {
      return s;
    }
    return Manager(core_->manager_ptr()).subscribe(std::move(callback), core_->id());
  });
}

}  // namespace v0
}  // namespace bgcopy
