// A child process owned by a test: spawned with posix_spawn, killed and reaped on destruction.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bgcopy::test {

struct ExitStatus {
  bool exited = false;  ///< Ended through exit(); `code` is valid.
  int code = -1;
  bool signaled = false;  ///< Killed by a signal; `signal` is valid.
  int signal = 0;
  bool timed_out = false;  ///< run_process only: the deadline passed and the child was killed.

  bool success() const { return exited && code == 0; }
  /// "exit 0", "signal 9 (Killed)", "timed out, signal 9 (Killed)".
  std::string describe() const;
};

struct SpawnOptions {
  /// Added to (or replacing) the parent's environment.
  std::map<std::string, std::string> env;
  /// Removed from the child's environment.
  std::vector<std::string> unset_env;
  /// Where stdout / stderr go (created or truncated). Empty: inherited from the test.
  std::filesystem::path stdout_path;
  std::filesystem::path stderr_path;
  /// Working directory. Empty: the test's.
  std::filesystem::path cwd;
};

class ChildProcess {
 public:
  /// argv[0] is looked up in PATH when it has no '/'. stdin is /dev/null; signal dispositions
  /// and mask are reset to defaults. Throws std::runtime_error when the spawn fails.
  explicit ChildProcess(std::vector<std::string> argv, SpawnOptions options = {});
  /// SIGKILLs and reaps the child if it is still running.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;

  pid_t pid() const { return pid_; }
  /// Non-blocking; reaps the child when it has ended.
  bool running();
  /// Sends sig unless the child has already been reaped. Returns false if kill(2) failed.
  bool kill(int sig);
  /// Blocks until the child ends. Prefer wait_for in tests.
  ExitStatus wait();
  /// Waits (wait_until, deadline scaled) for the child to end; nullopt if it is still running.
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds deadline);
  /// The status once reaped.
  const std::optional<ExitStatus>& status() const { return status_; }

 private:
  void reap(int raw_status);
  void kill_and_reap() noexcept;

  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
};

/// Spawns argv and waits up to `deadline` (scaled); on timeout kills it (SIGKILL) and returns
/// a status with timed_out set.
ExitStatus run_process(std::vector<std::string> argv, SpawnOptions options = {},
                       std::chrono::milliseconds deadline = std::chrono::seconds(60));

}  // namespace bgcopy::test
