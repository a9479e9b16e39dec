#include "cli/autostart.hpp"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <thread>
#include <vector>

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX, not in a header

namespace bgcopy::cli {
namespace {

bool is_executable_file(const std::filesystem::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
}

bool nothing_listening(const Status& s) {
  const int e = errno_of(s.code());
  return e == ENOENT || e == ECONNREFUSED;
}

/// Closes every descriptor from `first` up. Runs in the child between fork and exec, so only
/// async-signal-safe calls.
void close_from(int first) {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, first, ~0U, 0) == 0) {
    return;
  }
#endif
  const long max = ::sysconf(_SC_OPEN_MAX);
  for (long fd = first; fd < (max > 0 ? max : 1024); ++fd) {
    ::close(static_cast<int>(fd));
  }
}

/// False once `pid` has exited (gone, or a zombie nobody reaped yet).
bool process_alive(pid_t pid) {
  if (pid <= 0) {
    return true;  // unknown: keep waiting until the deadline
  }
  if (::kill(pid, 0) != 0 && errno == ESRCH) {
    return false;
  }
  const std::string stat_path = "/proc/" + std::to_string(pid) + "/stat";
  std::FILE* f = std::fopen(stat_path.c_str(), "re");
  if (f == nullptr) {
    return true;
  }
  std::array<char, 512> buf{};
  const std::size_t n = std::fread(buf.data(), 1, buf.size() - 1, f);
  (void)std::fclose(f);  // read-only: nothing to lose
  const std::string_view text(buf.data(), n);
  const auto paren = text.rfind(')');
  return paren == std::string_view::npos || paren + 2 >= text.size() || text[paren + 2] != 'Z';
}

}  // namespace

std::optional<std::filesystem::path> find_daemon(const std::filesystem::path& self_exe) {
  if (!self_exe.empty()) {
    auto beside = self_exe.parent_path() / "bgcopyd";
    if (is_executable_file(beside)) {
      return beside;
    }
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    dirs.remove_prefix(colon == std::string_view::npos ? dirs.size() : colon + 1);
    if (dir.empty() || dir.front() != '/') {
      continue;  // a relative PATH entry would make what we run depend on the cwd
    }
    auto candidate = std::filesystem::path(std::string(dir)) / "bgcopyd";
    if (is_executable_file(candidate)) {
      return candidate;
    }
  }
  return std::nullopt;
}

std::optional<std::filesystem::path> user_state_dir() {
  if (const char* d = std::getenv("BGCOPY_STATE_DIR"); d != nullptr && *d == '/') {
    return std::filesystem::path(d);
  }
  if (const char* d = std::getenv("XDG_STATE_HOME"); d != nullptr && *d == '/') {
    return std::filesystem::path(d) / "bgcopy";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') {
    return std::filesystem::path(home) / ".local" / "state" / "bgcopy";
  }
  return std::nullopt;
}

Status spawn_detached(const std::filesystem::path& daemon, const std::filesystem::path& log,
                      const std::string& socket, pid_t* pid_out) {
  // Everything the child needs is prepared here: after fork only async-signal-safe calls.
  const std::string program = daemon.string();
  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (!socket.empty() && std::strncmp(*e, "BGCOPY_SOCKET=", 14) == 0) {
      continue;
    }
    env_strings.emplace_back(*e);
  }
  if (!socket.empty()) {
    env_strings.push_back("BGCOPY_SOCKET=" + socket);
  }
  std::vector<char*> envp;
  for (auto& s : env_strings) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);
  std::string arg0 = "bgcopyd";
  std::vector<char*> argv{arg0.data(), nullptr};

  int log_fd = -1;
  if (!log.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(log.parent_path(), ec);
    if (!ec) {
      ::chmod(log.parent_path().c_str(), 0700);
    }
    log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
  }
  if (log_fd < 0) {
    log_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  }
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    const int err = errno;
    if (log_fd >= 0) {
      ::close(log_fd);
    }
    if (null_fd >= 0) {
      ::close(null_fd);
    }
    return Status(hresult_from_errno(err),
                  "cannot open /dev/null: " + std::string(std::strerror(err)));
  }

  int pipe_fds[2] = {-1, -1};  // the grandchild reports an exec failure's errno through it
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    const int err = errno;
    ::close(log_fd);
    ::close(null_fd);
    return Status(hresult_from_errno(err), "pipe: " + std::string(std::strerror(err)));
  }

  const pid_t child = ::fork();
  if (child < 0) {
    const int err = errno;
    ::close(log_fd);
    ::close(null_fd);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return Status(hresult_from_errno(err), "fork: " + std::string(std::strerror(err)));
  }
  if (child == 0) {
    // First child: a new session without a controlling terminal, then fork again so the
    // daemon is not a session leader and is reparented away from us at once.
    ::setsid();
    const pid_t grandchild = ::fork();
    if (grandchild != 0) {
      ::_exit(grandchild < 0 ? 127 : 0);
    }
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT}) {
      ::signal(sig, SIG_DFL);
    }
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    // Keep only the report pipe (close-on-exec) above stderr.
    const int report = ::dup2(pipe_fds[1], 3) == 3 ? 3 : -1;
    if (report == 3) {
      ::fcntl(3, F_SETFD, FD_CLOEXEC);
      close_from(4);
    }
    ::umask(077);
    if (report == 3) {
      const pid_t self = ::getpid();
      [[maybe_unused]] auto n = ::write(3, &self, sizeof self);
    }
    ::execve(program.c_str(), argv.data(), envp.data());
    const int err = errno;
    if (report == 3) {
      [[maybe_unused]] auto n = ::write(3, &err, sizeof err);
    }
    ::_exit(127);
  }
  ::close(log_fd);
  ::close(null_fd);
  ::close(pipe_fds[1]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  // The daemon's pid, then either EOF (exec succeeded: the pipe closed on exec) or the errno
  // of a failed exec.
  const auto read_exact = [fd = pipe_fds[0]](void* out, std::size_t size) {
    ssize_t n = 0;
    do {
      n = ::read(fd, out, size);
    } while (n < 0 && errno == EINTR);
    return n == static_cast<ssize_t>(size);
  };
  pid_t daemon_pid = -1;
  const bool got_pid = read_exact(&daemon_pid, sizeof daemon_pid);
  int exec_errno = 0;
  const bool exec_failed = got_pid && read_exact(&exec_errno, sizeof exec_errno);
  ::close(pipe_fds[0]);
  if (pid_out != nullptr) {
    *pid_out = got_pid ? daemon_pid : -1;
  }
  if (exec_failed) {
    return Status(hresult_from_errno(exec_errno),
                  "cannot run " + program + ": " + std::strerror(exec_errno));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status(hresult_from_errno(EAGAIN), "cannot start " + program + " in the background");
  }
  return Status();
}

Result<Manager> connect_with_autostart(const ConnectOptions& options, bool autostart,
                                       const std::filesystem::path& self_exe,
                                       std::chrono::milliseconds deadline) {
  auto first = Manager::connect(options);
  if (first || !autostart || !nothing_listening(first.status())) {
    return first;
  }
  const std::string socket = Manager::resolve_socket_path(options);
  auto daemon = find_daemon(self_exe);
  if (!daemon) {
    return Status(first.code(), first.message() +
                                    "; bgcopyd is not running and was not found (next to bgcopy "
                                    "or in PATH) to start it");
  }
  const auto state = user_state_dir();
  const std::filesystem::path log = state ? *state / "bgcopyd.log" : std::filesystem::path();
  // An explicit socket (--socket) is handed on; otherwise bgcopyd picks the same default we did.
  const bool explicit_socket = !options.socket_path.empty();
  pid_t pid = -1;
  if (auto started = spawn_detached(*daemon, log, explicit_socket ? socket : std::string(), &pid);
      !started) {
    return Status(started.code(),
                  "bgcopyd is not running and could not be started: " + started.message());
  }
  const auto end = std::chrono::steady_clock::now() + deadline;
  auto delay = std::chrono::milliseconds(10);
  for (;;) {
    auto again = Manager::connect(options);
    if (again || !nothing_listening(again.status())) {
      return again;
    }
    const bool died = !process_alive(pid);
    if (died) {
      // It may have lost a start-up race to another bgcopyd that is now serving: one more try.
      auto last = Manager::connect(options);
      if (last || !nothing_listening(last.status())) {
        return last;
      }
    }
    if (died || std::chrono::steady_clock::now() >= end) {
      std::string where = log.empty() ? std::string() : "; see " + log.string();
      if (died) {
        return Status(again.code(),
                      "started " + daemon->string() + " but it exited at once" + where);
      }
      return Status(again.code(), "started " + daemon->string() + " but it did not answer on " +
                                      socket + " within " +
                                      std::to_string(deadline.count() / 1000) + " s" + where);
    }
    std::this_thread::sleep_for(delay);  // polling a process we do not control
    delay = std::min(delay * 2, std::chrono::milliseconds(100));
  }
}

}  // namespace bgcopy::cli
