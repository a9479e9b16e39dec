#include "daemon/notify.hpp"

#include "base/log.hpp"
#include "base/thread_name.hpp"
#include "base/unique_fd.hpp"
#include <bgcopy/types.hpp>

#include <sys/wait.h>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace bgcopy::daemon {
namespace {

struct Account {
  std::string name;
  std::string home;
  gid_t gid = 0;
};

std::optional<Account> account_of(uid_t uid) {
  struct passwd pw {};
  struct passwd* result = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &result) != 0 || result == nullptr) {
    return std::nullopt;
  }
  return Account{pw.pw_name != nullptr ? pw.pw_name : "", pw.pw_dir != nullptr ? pw.pw_dir : "/",
                 pw.pw_gid};
}

std::vector<char*> c_strings(const std::vector<std::string>& list) {
  std::vector<char*> out;
  out.reserve(list.size() + 1);
  // execve takes char* const[] but does not modify the strings.
  for (const auto& s : list) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<pid_t> spawn_as(uid_t owner, const std::vector<std::string>& argv,
                       const std::vector<std::string>& env) {
  if (argv.empty() || argv.front().empty() || argv.front().front() != '/') {
    return Error::make(hr::EInvalidArg, "the notify program must be an absolute path");
  }
  const bool switch_user = ::geteuid() == 0 && owner != 0;
  // Everything the child needs is prepared here: after fork only async-signal-safe calls are
  // allowed, and initgroups (NSS) is not one of them.
  std::vector<gid_t> groups;
  gid_t gid = 0;
  if (switch_user) {
    auto acct = account_of(owner);
    if (!acct) {
      return Error::make(hr::EAccessDenied,
                         "uid " + std::to_string(owner) + " has no account; not running as it");
    }
    gid = acct->gid;
    int n = 64;
    groups.resize(static_cast<std::size_t>(n));
    while (::getgrouplist(acct->name.c_str(), gid, groups.data(), &n) < 0) {
      groups.resize(static_cast<std::size_t>(n) + 16);
      n = static_cast<int>(groups.size());
    }
    groups.resize(static_cast<std::size_t>(n));
  }
  auto c_argv = c_strings(argv);
  auto c_env = c_strings(env);
  UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull.valid()) {
    return Error::from_errno(errno, "cannot open /dev/null");
  }

  const pid_t pid = ::fork();
  if (pid < 0) {
    return Error::from_errno(errno, "cannot fork for the notify command");
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only, then exec. Exit code 127 tells the parent (in its
    // log) that the program never started.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::signal(SIGCHLD, SIG_DFL);
    if (::dup2(devnull.get(), 0) < 0 || ::dup2(devnull.get(), 1) < 0 ||
        ::dup2(devnull.get(), 2) < 0) {
      ::_exit(127);
    }
    ::closefrom(3);
    ::setsid();
    if (switch_user) {
      if (::setgroups(groups.size(), groups.data()) != 0 || ::setgid(gid) != 0 ||
          ::setuid(owner) != 0) {
        ::_exit(127);
      }
    }
    if (::chdir("/") != 0) {
      ::_exit(127);
    }
    ::execve(c_argv[0], c_argv.data(), c_env.data());
    ::_exit(127);
  }
  return pid;
}

NotifyRunner::NotifyRunner(EngineHost& host, EventHub& hub) : host_(host), hub_(hub) {
  worker_ = std::thread([this] { work(); });
  token_ = hub_.add([this](const engine::Event& ev) {
    if (ev.kind != engine::Event::Kind::JobTransferred &&
        ev.kind != engine::Event::Kind::JobError) {
      return;
    }
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      queue_.push_back(Job{ev.job, ev.kind, ev.state});
    }
    cv_.notify_one();
  });
}

NotifyRunner::~NotifyRunner() {
  stop();
}

void NotifyRunner::stop() {
  if (token_ != 0) {
    hub_.remove(token_);
    token_ = 0;
  }
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) {
    worker_.join();
  }
  reap();
}

void NotifyRunner::work() {
  set_thread_name("bgcopy-notify");
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = queue_.front();
      queue_.pop_front();
    }
    handle(job);
    reap();
  }
}

void NotifyRunner::handle(const Job& job) {
  // Read the settings as root: this is the service acting on the owner's behalf.
  auto view = host_.call([&](engine::Engine& e) { return e.get_job(engine::Caller{0}, job.id); });
  if (!view) {
    // Completed or cancelled before we got here: nothing to notify about any more.
    return;
  }
  const engine::JobRecord& r = view->record;
  const std::uint32_t flags = r.settings.notify_flags;
  const std::uint32_t wanted = job.kind == engine::Event::Kind::JobTransferred
                                   ? engine::notify::JobTransferred
                                   : engine::notify::JobError;
  if ((flags & engine::notify::Disable) != 0 || (flags & wanted) == 0 ||
      r.settings.notify_cmdline.empty()) {
    return;
  }
  auto acct = account_of(r.owner);
  const std::string state(state_name(static_cast<JobState>(job.state)));
  std::vector<std::string> env{
      "PATH=/usr/local/bin:/usr/bin:/bin",
      "HOME=" + (acct ? acct->home : std::string("/")),
      "USER=" + (acct ? acct->name : std::to_string(r.owner)),
      "BGCOPY_JOB_ID=" + r.id.to_string(),
      "BGCOPY_JOB_STATE=" + state,
  };
  auto pid = spawn_as(r.owner, r.settings.notify_cmdline, env);
  if (!pid) {
    log::warn("job " + r.id.to_string() +
              ": cannot run the notify command: " + pid.error().message);
    return;
  }
  log::debug("job " + r.id.to_string() + ": notify command started as pid " + std::to_string(*pid) +
             " for " + state);
  std::lock_guard lock(children_mu_);
  children_.push_back(*pid);
}

void NotifyRunner::reap() {
  std::lock_guard lock(children_mu_);
  std::erase_if(children_, [](pid_t pid) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        log::warn("notify command (pid " + std::to_string(pid) +
                  ") exited 127: it could not be started");
      }
      return true;
    }
    return r < 0;  // ECHILD: somebody else reaped it
  });
}

std::size_t NotifyRunner::running() const {
  std::lock_guard lock(children_mu_);
  return children_.size();
}

}  // namespace bgcopy::daemon
