// A real bgcopyd (the installed-style binary) as a child process of a test, in a directory of
// the test's own: socket, state, config file and one log per start. Header-only because it
// uses libbgcopy to see that the daemon answers, and bgcopy_testsupport does not link it.
#pragma once

#include "files.hpp"
#include "process.hpp"
#include "wait.hpp"
#include <bgcopy/bgcopy.hpp>

#include <signal.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bgcopy::test {

class BgcopydProcess {
 public:
  /// `binary`: bgcopyd; `dir`: where its files go; `config`: bgcopyd.toml text ("" for none).
  BgcopydProcess(std::string binary, std::filesystem::path dir, const std::string& config = "")
      : binary_(std::move(binary)), dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    if (!config.empty()) write_file(config_path(), config);
    has_config_ = !config.empty();
  }
  ~BgcopydProcess() = default;  // ChildProcess SIGKILLs and reaps a daemon still running
  BgcopydProcess(const BgcopydProcess&) = delete;
  BgcopydProcess& operator=(const BgcopydProcess&) = delete;

  /// Starts bgcopyd and waits (deadline scaled) until Manager::connect succeeds. False, with
  /// the daemon killed, when it does not come up; log() then says why.
  bool start(std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
    std::vector<std::string> argv{binary_, "--socket", socket(), "--state-dir", state().string()};
    if (has_config_) {
      argv.push_back("--config");
      argv.push_back(config_path().string());
    }
    SpawnOptions o;
    o.unset_env = {"NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID"};
    log_ = dir_ / ("bgcopyd." + std::to_string(++starts_) + ".log");
    o.stdout_path = log_;
    o.stderr_path = log_;
    process_ = std::make_unique<ChildProcess>(std::move(argv), o);
    ConnectOptions c;
    c.socket_path = socket();
    const bool up =
        wait_until([&] { return !process_->running() || Manager::connect(c).ok(); }, deadline, 5ms);
    if (up && process_->running()) return true;
    process_.reset();
    return false;
  }

  /// SIGKILL and reap. The status, which should say "signal 9".
  ExitStatus kill() {
    process_->kill(SIGKILL);
    return process_->wait();
  }

  /// SIGTERM and wait up to `deadline` (scaled) for the orderly exit; nullopt if it hung
  /// (the daemon is then SIGKILLed).
  std::optional<ExitStatus> stop(std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
    process_->kill(SIGTERM);
    auto st = process_->wait_for(deadline);
    if (!st) kill();
    return st;
  }

  bool running() { return process_ && process_->running(); }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  int starts() const { return starts_; }
  std::string socket() const { return (dir_ / "bgcopyd.sock").string(); }
  std::filesystem::path state() const { return dir_ / "state"; }
  std::filesystem::path config_path() const { return dir_ / "bgcopyd.toml"; }
  /// The log of the latest start (at most its last 8 KiB).
  std::string log() const {
    std::error_code ec;
    if (!std::filesystem::exists(log_, ec)) return "(no log)";
    std::string text = read_file(log_);
    return text.size() > 8192 ? text.substr(text.size() - 8192) : text;
  }
  ConnectOptions connect_options() const {
    ConnectOptions c;
    c.socket_path = socket();
    return c;
  }

 private:
  std::string binary_;
  std::filesystem::path dir_;
  bool has_config_ = false;
  std::unique_ptr<ChildProcess> process_;
  std::filesystem::path log_;
  int starts_ = 0;
};

}  // namespace bgcopy::test
