#include "process.hpp"

#include "wait.hpp"

#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

extern char** environ;

namespace bgcopy::test {
namespace {

class SpawnAttr {
 public:
  SpawnAttr() {
    posix_spawnattr_init(&attr_);
    sigset_t none;
    sigemptyset(&none);
    sigset_t all;
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr_, &none);
    posix_spawnattr_setsigdefault(&attr_, &all);
    posix_spawnattr_setflags(&attr_, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  ~SpawnAttr() { posix_spawnattr_destroy(&attr_); }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
  posix_spawnattr_t* get() { return &attr_; }

 private:
  posix_spawnattr_t attr_{};
};

class FileActions {
 public:
  FileActions() { posix_spawn_file_actions_init(&actions_); }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_{};
};

std::vector<std::string> child_environment(const SpawnOptions& options) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string name(entry.substr(0, entry.find('=')));
    bool replaced = options.env.count(name) != 0;
    bool unset = false;
    for (const auto& u : options.unset_env) {
      unset = unset || u == name;
    }
    if (!replaced && !unset) {
      env.emplace_back(entry);
    }
  }
  for (const auto& [name, value] : options.env) {
    env.push_back(name + "=" + value);
  }
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::string ExitStatus::describe() const {
  std::string out = timed_out ? "timed out, " : "";
  if (exited) {
    return out + "exit " + std::to_string(code);
  }
  if (signaled) {
    const char* name = ::strsignal(signal);
    return out + "signal " + std::to_string(signal) + " (" + (name ? name : "?") + ")";
  }
  return out + "not finished";
}

ChildProcess::ChildProcess(std::vector<std::string> argv, SpawnOptions options) {
  if (argv.empty()) {
    throw std::invalid_argument("ChildProcess: empty argv");
  }
  FileActions actions;
  posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  const int out_flags = O_WRONLY | O_CREAT | O_TRUNC;
  if (!options.stdout_path.empty()) {
    posix_spawn_file_actions_addopen(actions.get(), STDOUT_FILENO, options.stdout_path.c_str(),
                                     out_flags, 0644);
  }
  if (!options.stderr_path.empty()) {
    if (options.stderr_path == options.stdout_path) {
      posix_spawn_file_actions_adddup2(actions.get(), STDOUT_FILENO, STDERR_FILENO);
    } else {
      posix_spawn_file_actions_addopen(actions.get(), STDERR_FILENO, options.stderr_path.c_str(),
                                       out_flags, 0644);
    }
  }
  if (!options.cwd.empty()) {
    posix_spawn_file_actions_addchdir_np(actions.get(), options.cwd.c_str());
  }
  SpawnAttr attr;
  std::vector<std::string> env = child_environment(options);
  std::vector<char*> c_argv = c_strings(argv);
  std::vector<char*> c_env = c_strings(env);
  int rc = ::posix_spawnp(&pid_, c_argv[0], actions.get(), attr.get(), c_argv.data(), c_env.data());
  if (rc != 0) {
    pid_ = -1;
    throw std::runtime_error("posix_spawnp(" + argv[0] + "): " + std::strerror(rc));
  }
}

ChildProcess::~ChildProcess() {
  kill_and_reap();
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(std::exchange(other.status_, std::nullopt)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    pid_ = std::exchange(other.pid_, -1);
    status_ = std::exchange(other.status_, std::nullopt);
  }
  return *this;
}

void ChildProcess::reap(int raw_status) {
  ExitStatus s;
  if (WIFEXITED(raw_status)) {
    s.exited = true;
    s.code = WEXITSTATUS(raw_status);
  } else if (WIFSIGNALED(raw_status)) {
    s.signaled = true;
    s.signal = WTERMSIG(raw_status);
  }
  status_ = s;
}

bool ChildProcess::running() {
  if (pid_ < 0 || status_) {
    return false;
  }
  int raw = 0;
  pid_t r = ::waitpid(pid_, &raw, WNOHANG);
  if (r == pid_) {
    reap(raw);
    return false;
  }
  if (r < 0 && errno == ECHILD) {
    status_ = ExitStatus{};  // Someone else reaped it; nothing more to learn.
    return false;
  }
  return true;
}

bool ChildProcess::kill(int sig) {
  if (pid_ < 0 || status_) {
    return false;
  }
  return ::kill(pid_, sig) == 0;
}

ExitStatus ChildProcess::wait() {
  if (pid_ < 0) {
    return ExitStatus{};
  }
  while (!status_) {
    int raw = 0;
    pid_t r = ::waitpid(pid_, &raw, 0);
    if (r == pid_) {
      reap(raw);
    } else if (r < 0 && errno != EINTR) {
      status_ = ExitStatus{};  // ECHILD: someone else reaped it; nothing more to learn.
    }
  }
  return *status_;
}

std::optional<ExitStatus> ChildProcess::wait_for(std::chrono::milliseconds deadline) {
  if (pid_ < 0) {
    return ExitStatus{};
  }
  if (!wait_until([this] { return !running(); }, deadline, std::chrono::milliseconds(5))) {
    return std::nullopt;
  }
  return status_ ? status_ : std::optional<ExitStatus>(ExitStatus{});
}

void ChildProcess::kill_and_reap() noexcept {
  if (pid_ >= 0 && !status_) {
    ::kill(pid_, SIGKILL);
    wait();
  }
  pid_ = -1;
}

ExitStatus run_process(std::vector<std::string> argv, SpawnOptions options,
                       std::chrono::milliseconds deadline) {
  ChildProcess child(std::move(argv), std::move(options));
  if (auto status = child.wait_for(deadline)) {
    return *status;
  }
  child.kill(SIGKILL);
  ExitStatus status = child.wait();
  status.timed_out = true;
  return status;
}

}  // namespace bgcopy::test
