#include "client/core.hpp"
#include "client/wire.hpp"
#include <bgcopy/manager.hpp>
#include <bgcopy/version.hpp>

#include <sys/stat.h>

#include <unistd.h>

#include <cstdlib>
#include <utility>

namespace bgcopy {
inline namespace v0 {

namespace detail {

ManagerCore::ManagerCore(std::string socket_path, std::chrono::milliseconds timeout)
    : socket_path_(std::move(socket_path)), timeout_(timeout), connection_(socket_path_, timeout) {}

Result<std::string> ManagerCore::call(client::Method method, std::string_view target,
                                      std::string body) {
  Result<client::HttpAnswer> answer = [&] {
    std::lock_guard lock(mu_);
    return connection_.request(method, target, body);
  }();
  if (!answer) {
    return std::move(answer).status();
  }
  if (answer->status >= 200 && answer->status < 300) {
    return std::move(answer->body);
  }
  auto failure = client::wire::decode_failure(answer->status, answer->body);
  return Status(failure.code, std::move(failure.message));
}

}  // namespace detail

namespace {

Status from_failure(client::wire::Failure f) {
  return Status(f.code, std::move(f.message));
}

Status invalid_id(std::string_view id) {
  std::string shown(id.substr(0, 60));
  return Status(hr::EInvalidArg,
                "not a job id (a GUID such as {C775D194-090F-431F-B5FB-"
                "8334D00D1CB6}): \"" +
                    shown + "\"");
}

/// The id of the job an answer (POST /v1/jobs, GET /v1/jobs/{id}) describes, or the failure.
Result<std::string> job_id_of(Result<std::string> body) {
  if (!body) {
    return std::move(body).status();
  }
  std::string id;
  if (auto failed = client::wire::decode_job_id(*body, id)) {
    return from_failure(std::move(*failed));
  }
  return id;
}

}  // namespace

Manager::Manager(std::shared_ptr<detail::ManagerCore> core) noexcept : core_(std::move(core)) {}
Manager::Manager(const Manager&) noexcept = default;
Manager& Manager::operator=(const Manager&) noexcept = default;
Manager::Manager(Manager&&) noexcept = default;
Manager& Manager::operator=(Manager&&) noexcept = default;
Manager::~Manager() = default;

std::string Manager::resolve_socket_path(const ConnectOptions& options) {
  if (!options.socket_path.empty()) {
    return options.socket_path;
  }
  if (const char* env = std::getenv("BGCOPY_SOCKET"); env != nullptr && *env != '\0') {
    return env;
  }
  if (options.system) {
    return "/run/bgcopy/bgcopyd.sock";
  }
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg == '/') {
    return std::string(xdg) + "/bgcopy/bgcopyd.sock";
  }
  // Without XDG_RUNTIME_DIR, the same fallbacks as bgcopyd (src/daemon/paths.hpp).
  const std::string uid = std::to_string(::getuid());
  struct stat st {};
  const std::string run_user = "/run/user/" + uid;
  if (::stat(run_user.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return run_user + "/bgcopy/bgcopyd.sock";
  }
  return "/tmp/bgcopy-" + uid + "/bgcopyd.sock";
}

Result<Manager> Manager::connect(ConnectOptions options) noexcept {
  return detail::guard<Result<Manager>>([&]() -> Result<Manager> {
    if (options.request_timeout.count() <= 0) {
      return Status(hr::EInvalidArg, "request_timeout must be positive");
    }
    auto core = std::make_shared<detail::ManagerCore>(resolve_socket_path(options),
                                                      options.request_timeout);
    Manager manager(std::move(core));
    auto info = manager.service_info();
    if (!info) {
      return std::move(info).status();
    }
    if (info->api != BGCOPY_API_VERSION) {
      return Status(hr::ENotImpl, "bgcopyd at " + manager.socket_path() + " speaks API version " +
                                      std::to_string(info->api) + "; this library speaks " +
                                      std::to_string(BGCOPY_API_VERSION));
    }
    return manager;
  });
}

const std::string& Manager::socket_path() const noexcept {
  return core_->socket_path();
}

Result<ServiceInfo> Manager::service_info() const noexcept {
  return detail::guard<Result<ServiceInfo>>([&]() -> Result<ServiceInfo> {
    auto body = core_->call(client::Method::Get, client::wire::kHealthPath);
    if (!body) {
      return std::move(body).status();
    }
    client::wire::Health h;
    if (auto failed = client::wire::decode_health(*body, h)) {
      return from_failure(std::move(*failed));
    }
    return ServiceInfo{std::move(h.version), h.api, h.uid, std::move(h.mode)};
  });
}

Result<Job> Manager::create_job(std::string_view display_name, JobType type,
                                JobPriority priority) const noexcept {
  return detail::guard<Result<Job>>([&]() -> Result<Job> {
    auto body = core_->call(client::Method::Post, client::wire::jobs_path(false),
                            client::wire::encode_create(display_name, type, priority));
    auto job_id = job_id_of(std::move(body));
    if (!job_id) {
      return std::move(job_id).status();
    }
    return Job(std::make_shared<detail::JobCore>(core_, std::move(*job_id)));
  });
}

Result<Job> Manager::submit_job(std::string_view display_name, const std::vector<FileSpec>& files,
                                JobPriority priority, bool resume) const noexcept {
  return detail::guard<Result<Job>>([&]() -> Result<Job> {
    if (files.empty()) {
      return Status(hr::EInvalidArg, "submit_job needs at least one file");
    }
    auto body = core_->call(
        client::Method::Post, client::wire::jobs_path(false),
        client::wire::encode_create(display_name, JobType::Download, priority, files, resume));
    auto job_id = job_id_of(std::move(body));
    if (!job_id) {
      return std::move(job_id).status();
    }
    return Job(std::make_shared<detail::JobCore>(core_, std::move(*job_id)));
  });
}

Result<Job> Manager::get_job(std::string_view id) const noexcept {
  return detail::guard<Result<Job>>([&]() -> Result<Job> {
    auto canonical = client::wire::canonical_job_id(id);
    if (!canonical) {
      return invalid_id(id);
    }
    auto body = core_->call(client::Method::Get, client::wire::job_path(*canonical));
    auto job_id = job_id_of(std::move(body));
    if (!job_id) {
      return std::move(job_id).status();
    }
    return Job(std::make_shared<detail::JobCore>(core_, std::move(*job_id)));
  });
}

Result<std::vector<JobInfo>> Manager::enum_jobs(bool all_users) const noexcept {
  return detail::guard<Result<std::vector<JobInfo>>>([&]() -> Result<std::vector<JobInfo>> {
    auto body = core_->call(client::Method::Get, client::wire::jobs_path(all_users));
    if (!body) {
      return std::move(body).status();
    }
    std::vector<JobInfo> jobs;
    if (auto failed = client::wire::decode_job_list(*body, jobs)) {
      return from_failure(std::move(*failed));
    }
    return jobs;
  });
}

Result<std::string> Manager::enum_jobs_json(bool all_users) const noexcept {
  return detail::guard<Result<std::string>>([&]() -> Result<std::string> {
    auto body = core_->call(client::Method::Get, client::wire::jobs_path(all_users));
    if (!body) {
      return std::move(body).status();
    }
    // The service writes exactly {"jobs":[...]} and a newline; anything else is refused
    // rather than passed on. Decoding 90 MB to check it would cost more than the listing.
    constexpr std::string_view kHead = "{\"jobs\":";
    std::string text = std::move(*body);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text.size() < kHead.size() + 3 || text.compare(0, kHead.size(), kHead) != 0 ||
        text[kHead.size()] != '[' || text[text.size() - 2] != ']' || text.back() != '}') {
      return Status(hr::BgEInvalidServerResponse,
                    "the service's job list is not in the expected form");
    }
    text.pop_back();
    text.erase(0, kHead.size());
    return text;
  });
}

Result<Subscription> Manager::subscribe(EventCallback callback,
                                        std::optional<std::string> job_id) const noexcept {
  return detail::guard<Result<Subscription>>([&]() -> Result<Subscription> {
    if (!callback) {
      return Status(hr::EInvalidArg, "subscribe needs a callback");
    }
    if (job_id) {
      auto canonical = client::wire::canonical_job_id(*job_id);
      if (!canonical) {
        return invalid_id(*job_id);
      }
      job_id = std::move(canonical);
    }
    auto core = std::make_shared<detail::SubscriptionCore>(core_->socket_path(), core_->timeout(),
                                                           std::move(job_id), std::move(callback));
    if (auto started = core->start(); !started) {
      return started;
    }
    return Subscription(std::move(core));
  });
}

}  // namespace v0
}  // namespace bgcopy
