// Shared by the hostile-input tests (hostile_fs_test, hostile_api_test, multi_user_test): a real
// bgcopyd per test in the test's temp dir, and clients that run as another uid in a forked
// child. Waits are deadline-bounded polls, never sleeps.
#pragma once

#include "files.hpp"
#include "process.hpp"
#include "temp_dir.hpp"
#include "unix_http_client.hpp"
#include "wait.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bgcopy::test::hostile {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

/// A uid/gid pair a client process switches to.
struct Identity {
  uid_t uid;
  gid_t gid;
};
inline constexpr Identity kNobody{65534, 65534};
// No passwd entry: the service must treat an unknown uid like any other stranger.
inline constexpr Identity kStranger{64123, 64123};

/// One bgcopyd process: api.sock, state/ and a log per start in `dir`.
class Daemon {
 public:
  explicit Daemon(fs::path dir, std::vector<std::string> extra_args = {})
      : dir_(std::move(dir)), extra_(std::move(extra_args)) {}
  ~Daemon() {
    if (proc_ && proc_->running()) {
      proc_->kill(SIGKILL);
      proc_->wait_for(10s);
    }
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  /// Starts bgcopyd and waits until /v1/health answers; fails the test (fatally) otherwise.
  void start() {
    std::vector<std::string> argv{BGCOPYD_PATH, "--log-level", "debug"};
    argv.insert(argv.end(), extra_.begin(), extra_.end());
    SpawnOptions o;
    o.env["BGCOPY_SOCKET"] = socket();
    o.env["BGCOPY_STATE_DIR"] = state_dir().string();
    o.unset_env = {"NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID"};
    log_ = dir_ / ("bgcopyd." + std::to_string(++starts_) + ".log");
    o.stderr_path = log_;
    proc_ = std::make_unique<ChildProcess>(argv, o);
    const bool up = wait_until([&] { return health_ok(socket()) || !proc_->running(); }, 15s);
    ASSERT_TRUE(up && proc_->running()) << "bgcopyd did not come up; log:\n" << log();
  }

  std::string socket() const { return (dir_ / "api.sock").string(); }
  fs::path state_dir() const { return dir_ / "state"; }
  ChildProcess& process() { return *proc_; }
  std::string log() const { return fs::exists(log_) ? read_file(log_) : std::string(); }

 private:
  fs::path dir_;
  std::vector<std::string> extra_;
  std::unique_ptr<ChildProcess> proc_;
  fs::path log_;
  int starts_ = 0;
};

inline std::string bare(const std::string& id) {
  return id.substr(1, id.size() - 2);
}
inline std::string job_url(const std::string& id, const std::string& sub = "") {
  return "/v1/jobs/" + bare(id) + (sub.empty() ? "" : "/" + sub);
}

/// {"status": n, "body": parsed JSON, or the raw text when it is not JSON}.
inline json answer(const UnixHttpResponse& r) {
  json body = json::parse(r.body, nullptr, false);
  return json{{"status", r.status}, {"body", body.is_discarded() ? json(r.body) : body}};
}

/// The staging file name the engine gives file `index` of job `id` (engine/validate.cpp).
inline std::string staging_name(const std::string& local_path, const std::string& id,
                                unsigned index = 0) {
  std::string hex;
  for (char c : id) {
    if (c != '{' && c != '}' && c != '-') hex.push_back(c);
  }
  return "." + fs::path(local_path).filename().string() + ".bgcopy-" + hex + "-" +
         std::to_string(index) + ".part";
}

/// Runs `fn` in a forked child that has switched to `who` (no supplementary groups); result()
/// returns the JSON it produced. An exception in the child comes back as {"exception": what}.
/// The child's result travels through a pipe; it is killed if it outlives the (scaled)
/// deadline. Only the forking thread survives a fork, so start it while the test is
/// single-threaded.
class UserProcess {
 public:
  UserProcess(Identity who, const std::function<json()>& fn) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ < 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      return;
    }
    if (pid_ == 0) {
      ::close(fds[0]);
      json out;
      if (::setgroups(0, nullptr) != 0 || ::setgid(who.gid) != 0 || ::setuid(who.uid) != 0 ||
          ::getuid() != who.uid) {
        out = json{{"exception", "cannot switch to uid " + std::to_string(who.uid)}};
      } else {
        try {
          out = fn();
        } catch (const std::exception& e) {
          out = json{{"exception", e.what()}};
        }
      }
      const std::string text = out.dump();
      std::size_t done = 0;
      while (done < text.size()) {
        const ssize_t n = ::write(fds[1], text.data() + done, text.size() - done);
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
      }
      ::_exit(0);
    }
    ::close(fds[1]);
    fd_ = fds[0];
  }
  ~UserProcess() { (void)result(1ms); }
  UserProcess(const UserProcess&) = delete;
  UserProcess& operator=(const UserProcess&) = delete;

  /// Waits for the child's answer (once; later calls return the same).
  json result(std::chrono::milliseconds deadline = 30s) {
    if (done_) return out_;
    done_ = true;
    if (pid_ <= 0 || fd_ < 0) return out_ = json{{"exception", "fork failed"}};
    std::string text;
    const auto end = std::chrono::steady_clock::now() + scaled(deadline);
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[65536];
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd_);
    ::kill(pid_, SIGKILL);  // harmless when it has already exited
    int status = 0;
    ::waitpid(pid_, &status, 0);
    out_ = json::parse(text, nullptr, false);
    if (out_.is_discarded()) out_ = json{{"exception", "no answer from the child: " + text}};
    return out_;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  bool done_ = false;
  json out_;
};

/// UserProcess(who, fn).result(deadline).
inline json as_user(Identity who, const std::function<json()>& fn,
                    std::chrono::milliseconds deadline = 30s) {
  return UserProcess(who, fn).result(deadline);
}

/// Resident set size of a process in KiB (0 if unreadable).
inline long vm_rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

/// Names in a directory, sorted (empty if it does not exist).
inline std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

/// A test that needs root: a system-mode daemon serving other uids. The temp dir is made
/// traversable (0711) so other uids reach the socket; `home` belongs to nobody, `secret` is
/// root's 0700 directory holding `victim` (root's 0600 file).
class SystemModeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: a system-mode daemon serving other uids";
    ASSERT_EQ(::chmod(dir_.path().c_str(), 0711), 0);
    home_ = dir_.file("home");
    fs::create_directory(home_);
    ASSERT_EQ(::chown(home_.c_str(), kNobody.uid, kNobody.gid), 0);
    ASSERT_EQ(::chmod(home_.c_str(), 0755), 0);
    secret_ = dir_.file("secret");
    fs::create_directory(secret_);
    ASSERT_EQ(::chmod(secret_.c_str(), 0700), 0);
    write_file(secret_ / "victim", "root's data\n");
    ASSERT_EQ(::chmod((secret_ / "victim").c_str(), 0600), 0);
  }

  /// A file in home owned by nobody.
  fs::path nobody_file(const std::string& name, const std::string& content) {
    const fs::path p = home_ / name;
    write_file(p, content);
    EXPECT_EQ(::chown(p.c_str(), kNobody.uid, kNobody.gid), 0);
    return p;
  }
  /// A directory in home owned by nobody.
  fs::path nobody_dir(const std::string& name) {
    const fs::path p = home_ / name;
    fs::create_directory(p);
    EXPECT_EQ(::chown(p.c_str(), kNobody.uid, kNobody.gid), 0);
    return p;
  }

  void start(std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), "--system");
    daemon_ = std::make_unique<Daemon>(dir_.path(), extra);
    daemon_->start();
  }
  Daemon& daemon() { return *daemon_; }
  std::string socket() const { return daemon_->socket(); }

  /// As `who`: creates a job with one file and returns its id ("" and a failure otherwise).
  std::string job_with_file(Identity who, const std::string& url, const fs::path& local) {
    const std::string sock = socket();
    json r = as_user(who, [&] {
      UnixHttpClient c(sock);
      auto created = c.post_json("/v1/jobs", json{{"display_name", "hostile"}});
      if (created.status != 201) return answer(created);
      const std::string id = created.json()["id"];
      json files{{"files", {{{"remote_url", url}, {"local_path", local.string()}}}}};
      auto added = c.post_json(job_url(id, "files"), files);
      return json{{"id", id}, {"add", answer(added)}};
    });
    EXPECT_TRUE(r.contains("id")) << r.dump();
    if (!r.contains("id")) return "";
    EXPECT_EQ(r["add"]["status"], 200) << r.dump();
    return r["id"];
  }

  /// As `who`: one request; returns answer().
  json call_as(Identity who, const std::string& method, const std::string& target,
               const std::string& body = "") {
    const std::string sock = socket();
    return as_user(who, [&] {
      UnixHttpClient c(sock);
      return answer(c.request(method, target, body));
    });
  }

  /// Polls (as root, who sees every job) until the job is in `state`; returns the job.
  json wait_state(const std::string& id, const std::string& state,
                  std::chrono::milliseconds deadline = 30s) {
    UnixHttpClient root(socket());
    json last;
    const bool ok = wait_until(
        [&] {
          auto r = root.get(job_url(id));
          if (r.status != 200) return false;
          last = r.json();
          return last["state"] == state;
        },
        deadline, 20ms);
    EXPECT_TRUE(ok) << "job never reached " << state << "; last: " << last.dump();
    return last;
  }

  TempDir dir_{"bgcopy-hostile-"};
  fs::path home_;
  fs::path secret_;
  std::unique_ptr<Daemon> daemon_;
};

}  // namespace bgcopy::test::hostile
