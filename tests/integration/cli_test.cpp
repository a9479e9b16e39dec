// The bgcopy command line and libbgcopy against a real bgcopyd: each test starts its own
// service in a temp dir (own socket, own state) and a private nginx as the origin, and drives
// them through the `bgcopy` binary (exit codes, stdout, stderr, as scripts see them) and
// through the library. Waits are deadline-bounded polls; nothing sleeps to synchronise.
#include "files.hpp"
#include "nginx_fixture.hpp"
#include "process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"
#include <bgcopy/bgcopy.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <sys/un.h>

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <regex>

#ifndef BGCOPY_CLI_PATH
#error "BGCOPY_CLI_PATH must name the bgcopy executable"
#endif
#ifndef BGCOPY_DAEMON_PATH
#error "BGCOPY_DAEMON_PATH must name the bgcopyd executable"
#endif

namespace bgcopy::test {
namespace {

using Json = nlohmann::json;

const std::regex kGuidLine(R"(\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}\n)");

struct CliResult {
  ExitStatus status;
  std::string out;
  std::string err;
  int code() const { return status.exited ? status.code : -1; }
};

std::string describe(const std::vector<std::string>& args, const CliResult& r) {
  std::string s = "bgcopy";
  for (const auto& a : args) s += " " + a;
  return s + "\n  -> " + r.status.describe() + "\n  stdout: " + r.out + "\n  stderr: " + r.err;
}

/// True while `pid` exists and is not a zombie.
bool alive(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  return paren == std::string::npos || paren + 2 >= text.size() || text[paren + 2] != 'Z';
}

/// The pid of the process listening on a Unix socket (SO_PEERCRED), or -1.
pid_t listener_pid(const std::string& socket_path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  socket_path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
  pid_t pid = -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) pid = cred.pid;
  }
  ::close(fd);
  return pid;
}

/// A sandbox: temp dir, the service's socket and state dir, and a destination directory.
class Sandbox {
 public:
  Sandbox() {
    std::filesystem::create_directories(dest());
    std::filesystem::create_directories(dir_.path() / "config");
  }
  std::string socket() const { return (dir_.path() / "s.sock").string(); }
  std::filesystem::path state() const { return dir_.path() / "state"; }
  std::filesystem::path dest() const { return dir_.path() / "dest"; }
  std::filesystem::path file(std::string_view name) const { return dir_.file(name); }
  std::map<std::string, std::string> env() const {
    return {{"BGCOPY_SOCKET", socket()},
            {"BGCOPY_STATE_DIR", state().string()},
            {"XDG_CONFIG_HOME", (dir_.path() / "config").string()},
            {"XDG_RUNTIME_DIR", dir_.path().string()},
            {"TZ", "UTC"}};
  }

 private:
  TempDir dir_{"bgcopy-cli-"};
};

/// A bgcopyd of our own, started and stopped by the test.
class Daemon {
 public:
  explicit Daemon(const Sandbox& box) : box_(box) {
    SpawnOptions o;
    o.env = box.env();
    o.stderr_path = box.file("bgcopyd.log");
    o.stdout_path = box.file("bgcopyd.out");
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{BGCOPY_DAEMON_PATH, "--socket", box.socket(), "--state-dir",
                                 box.state().string()},
        o);
    ConnectOptions c;
    c.socket_path = box.socket();
    const bool up = wait_until([&] { return process_->running() && Manager::connect(c).ok(); },
                               std::chrono::seconds(20));
    if (!up) {
      ADD_FAILURE() << "bgcopyd did not come up:\n" << log();
    }
  }
  ~Daemon() {
    process_->kill(SIGTERM);
    if (!process_->wait_for(std::chrono::seconds(15))) {
      ADD_FAILURE() << "bgcopyd did not stop on SIGTERM";
    }
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  std::string log() const {
    try {
      return read_file(box_.file("bgcopyd.log"));
    } catch (...) {
      return "(no log)";
    }
  }

 private:
  const Sandbox& box_;
  std::unique_ptr<ChildProcess> process_;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!NginxServer::available()) {
      GTEST_SKIP() << "nginx not available";
    }
    nginx_ = std::make_unique<NginxServer>();
    daemon_ = std::make_unique<Daemon>(box_);
  }

  /// Runs `bgcopy args...` in the destination directory; auto-start off unless asked.
  CliResult bgcopy(const std::vector<std::string>& args, bool autostart = false) {
    SpawnOptions o;
    o.env = box_.env();
    if (!autostart) o.env["BGCOPY_NO_AUTOSTART"] = "1";
    const auto n = std::to_string(++runs_);
    o.stdout_path = box_.file("cli" + n + ".out");
    o.stderr_path = box_.file("cli" + n + ".err");
    o.cwd = box_.dest();
    std::vector<std::string> argv{BGCOPY_CLI_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    CliResult r;
    r.status = run_process(argv, o, std::chrono::seconds(60));
    r.out = read_file(o.stdout_path);
    r.err = read_file(o.stderr_path);
    return r;
  }

  /// Expects exit 0 and returns stdout.
  std::string ok(const std::vector<std::string>& args) {
    auto r = bgcopy(args);
    EXPECT_EQ(r.code(), 0) << describe(args, r);
    return r.out;
  }

  /// Expects the documented failure: exit 1, nothing on stdout, one stderr line starting with
  /// "bgcopy: <what> failed: <hex> <name>: ".
  void expect_failure(const std::vector<std::string>& args, const std::string& what, Hresult code) {
    auto r = bgcopy(args);
    EXPECT_EQ(r.code(), 1) << describe(args, r);
    EXPECT_EQ(r.out, "") << describe(args, r);
    const std::string prefix =
        "bgcopy: " + what + " failed: " + hresult_hex(code) + " " + hresult_name(code) + ": ";
    EXPECT_EQ(r.err.rfind(prefix, 0), 0U) << "expected prefix: " << prefix << "\n"
                                          << describe(args, r);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << describe(args, r);
  }

  std::string create(const std::string& name) {
    auto out = ok({"create", name});
    EXPECT_TRUE(std::regex_match(out, kGuidLine)) << out;
    return out.substr(0, out.size() - 1);
  }

  /// Puts `size` generated bytes at /name on the origin; returns the URL.
  std::string origin_file(const std::string& name, std::uint64_t size, std::uint64_t seed) {
    write_file(nginx_->docroot() / name, gen_content(size, seed));
    return nginx_->url("/" + name);
  }

  Json info_json(const std::string& job) { return Json::parse(ok({"info", job, "--json"})); }

  Manager manager() {
    ConnectOptions c;
    c.socket_path = box_.socket();
    auto m = Manager::connect(c);
    EXPECT_TRUE(m.ok()) << m.status().to_string();
    return *m;
  }

  Sandbox box_;
  std::unique_ptr<NginxServer> nginx_;
  std::unique_ptr<Daemon> daemon_;
  int runs_ = 0;
};

// --- The whole lifecycle --------------------------------------------------------------------

TEST_F(CliTest, CreateAddResumeWaitComplete) {
  const std::string content = gen_content(3'000'000, 7);
  const std::string url = origin_file("a.bin", content.size(), 7);
  const std::string id = create("nightly");
  EXPECT_EQ(ok({"list"}), id + " 'nightly' SUSPENDED 0 / 0 0 / 0\n");

  // By name, with a relative path (made absolute against the CLI's cwd) and a checksum.
  EXPECT_EQ(ok({"add", "nightly", url, "a.bin", "--sha256", sha256_bytes(content)}), "");
  auto j = info_json(id);
  EXPECT_EQ(j["state"], "SUSPENDED");
  ASSERT_EQ(j["files"].size(), 1U);
  EXPECT_EQ(j["files"][0]["local_path"], (box_.dest() / "a.bin").string());

  EXPECT_EQ(ok({"resume", id}), "");
  EXPECT_EQ(ok({"wait", "nightly", "--timeout", "60"}), "TRANSFERRED\n");
  auto files = ok({"files", id});
  EXPECT_EQ(files, "0 3000000 / 3000000 VERIFIED " + url + " -> " +
                       (box_.dest() / "a.bin").string() + "\n");
  j = info_json(id);
  EXPECT_EQ(j["state"], "TRANSFERRED");
  EXPECT_EQ(j["files"][0]["verified"], true);
  EXPECT_FALSE(std::filesystem::exists(box_.dest() / "a.bin")) << "nothing final before complete";

  auto r = bgcopy({"complete", id});
  EXPECT_EQ(r.code(), 0) << describe({"complete", id}, r);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(sha256_file(box_.dest() / "a.bin"), sha256_bytes(content));
  EXPECT_EQ(list_dir(box_.dest()), std::vector<std::string>{"a.bin"}) << "no staging left";
  EXPECT_EQ(ok({"list"}), "");
  expect_failure({"info", id}, "info", hr::DoEJobNotFound);
}

TEST_F(CliTest, HumanInfoIsReadable) {
  const std::string id = create("readable");
  ok({"add", id, nginx_->url("/none"), "x.bin"});
  ok({"set", id, "description", "for humans"});
  const std::string out = ok({"info", "readable"});
  EXPECT_EQ(out.rfind("Job " + id + " 'readable'\n", 0), 0U) << out;
  for (const char* needle :
       {"  state:                SUSPENDED\n", "  type:                 DOWNLOAD\n",
        "  files:                0 / 1\n", "  bytes:                0 / UNKNOWN\n",
        "  description:          'for humans'\n", "  error:                none\n",
        "Files (1):\n"}) {
    EXPECT_NE(out.find(needle), std::string::npos) << needle << "\n" << out;
  }
}

TEST_F(CliTest, JsonOutputsAreTheApiObjects) {
  const std::string id = create("json");
  ok({"add", id, nginx_->url("/x"), (box_.dest() / "x").string()});
  auto list = Json::parse(ok({"list", "--json"}));
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.size(), 1U);
  auto info = info_json(id);
  for (const char* key :
       {"id", "display_name", "type", "state", "priority", "owner", "bytes_total",
        "bytes_transferred", "files_total", "files_transferred", "error_count", "error", "created",
        "modified", "transfer_completed", "retry_at", "files"}) {
    EXPECT_TRUE(info.contains(key)) << key;
  }
  EXPECT_EQ(info["id"], id);
  EXPECT_TRUE(info["bytes_total"].is_null());
  EXPECT_TRUE(info["error"].is_null());
  EXPECT_TRUE(std::regex_match(info["created"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  EXPECT_EQ(list[0]["id"], id);
  auto files = Json::parse(ok({"files", id, "--json"}));
  ASSERT_TRUE(files.is_array());
  ASSERT_EQ(files.size(), 1U);
  for (const char* key :
       {"remote_url", "local_path", "bytes_total", "bytes_transferred", "completed", "verified"}) {
    EXPECT_TRUE(files[0].contains(key)) << key;
  }
  // The CLI prints what the library reads, which is what the service sent.
  auto job = manager().get_job(id);
  ASSERT_TRUE(job.ok());
  auto direct = job->info();
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(Json::parse(to_json_string(*direct)), info);
}

TEST_F(CliTest, RangesDownloadTheListedBytesInOrder) {
  const std::uint64_t size = 200'000;
  const std::string url = origin_file("r.bin", size, 3);
  const std::string id = create("ranges");
  ok({"add", id, url, "r.part", "--range", "1000:100,0:10,150000:eof"});
  ok({"resume", id});
  ASSERT_EQ(ok({"wait", id, "--timeout", "60"}), "TRANSFERRED\n");
  ok({"complete", id});
  EXPECT_EQ(read_file(box_.dest() / "r.part"),
            gen_slice(3, 1000, 100) + gen_slice(3, 0, 10) + gen_slice(3, 150000, size - 150000));
}

TEST_F(CliTest, AddSetAllOrNone) {
  const std::string id = create("set");
  const auto list = box_.file("list.txt");
  write_file(list, "# two files\nhttp://h.invalid/a " + (box_.dest() / "a").string() +
                       "\n\nhttp://h.invalid/b\t" + (box_.dest() / "b c").string() + "\n");
  EXPECT_EQ(ok({"add-set", id, list.string()}), "");
  auto files = Json::parse(ok({"files", id, "--json"}));
  ASSERT_EQ(files.size(), 2U);
  EXPECT_EQ(files[1]["local_path"], (box_.dest() / "b c").string());

  write_file(list,
             "http://h.invalid/c " + (box_.dest() / "c").string() + "\nhttp://h.invalid/d d\n");
  expect_failure({"add-set", id, list.string()}, "add-set", hr::EInvalidArg);
  EXPECT_EQ(Json::parse(ok({"files", id, "--json"})).size(), 2U) << "nothing added";
}

TEST_F(CliTest, SetChangesSettings) {
  const std::string id = create("settings");
  ok({"set", id, "priority", "low"});
  ok({"set", id, "display-name", "renamed"});
  ok({"set", "renamed", "min-retry-delay", "30"});
  ok({"set", "renamed", "no-progress-timeout", "1h"});
  ok({"set", "renamed", "notify-flags", "0x1"});
  ok({"set", "renamed", "notify-cmdline", "/bin/echo 'job done'"});
  ok({"set", "renamed", "proxy", "override", "http://127.0.0.1:9", "<local>"});
  auto j = info_json(id);
  EXPECT_EQ(j["priority"], "LOW");
  EXPECT_EQ(j["display_name"], "renamed");
  EXPECT_EQ(j["min_retry_delay"], 30);
  EXPECT_EQ(j["no_progress_timeout"], 3600);
  EXPECT_EQ(j["notify_flags"], 1);
  EXPECT_EQ(j["notify_cmdline"], Json::array({"/bin/echo", "job done"}));
  EXPECT_EQ(j["proxy"]["usage"], "OVERRIDE");
  EXPECT_EQ(j["proxy"]["list"], "http://127.0.0.1:9");
}

TEST_F(CliTest, SuspendAndCancel) {
  const std::string id = create("c");
  ok({"add", id, nginx_->url("/nothing-yet"), "c.bin"});
  ok({"suspend", id});
  EXPECT_EQ(info_json(id)["state"], "SUSPENDED");
  EXPECT_EQ(ok({"cancel", id}), "");
  EXPECT_EQ(ok({"list"}), "");
  EXPECT_TRUE(list_dir(box_.dest()).empty());
  expect_failure({"resume", id}, "resume", hr::DoEJobNotFound);
}

// --- Error paths of SPEC section 4 ----------------------------------------------------------

TEST_F(CliTest, ResumeOfAnEmptyJobFails) {
  const std::string id = create("empty");
  auto r = bgcopy({"resume", id});
  EXPECT_EQ(r.code(), 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("bgcopy: resume failed: 0x80D02004 DO_E_JOB_EMPTY: ", 0), 0U) << r.err;
  EXPECT_EQ(info_json(id)["state"], "SUSPENDED");
}

TEST_F(CliTest, UnknownJob) {
  expect_failure({"resume", "no-such-job"}, "resume", hr::DoEJobNotFound);
  expect_failure({"info", "{00000000-0000-4000-8000-000000000000}"}, "info", hr::DoEJobNotFound);
  expect_failure({"cancel", "00000000-0000-4000-8000-000000000000"}, "cancel", hr::DoEJobNotFound);
  expect_failure({"wait", "ghost", "--timeout", "1"}, "wait", hr::DoEJobNotFound);
}

TEST_F(CliTest, AmbiguousName) {
  const std::string a = create("twin");
  const std::string b = create("twin");
  auto r = bgcopy({"info", "twin"});
  EXPECT_EQ(r.code(), 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("bgcopy: info failed: 0x80070057 E_INVALIDARG: ", 0), 0U) << r.err;
  EXPECT_NE(r.err.find("ambiguous"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(a), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(b), std::string::npos) << r.err;
  // Ids still work, braces and case optional.
  std::string lower = a.substr(1, 36);
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  EXPECT_EQ(info_json(lower)["id"], a);
}

TEST_F(CliTest, BadRanges) {
  const std::string id = create("r");
  auto r = bgcopy({"add", id, nginx_->url("/r"), "r", "--range", "0:abc"});
  EXPECT_EQ(r.code(), 2) << r.err;
  EXPECT_EQ(r.out, "");
  expect_failure({"add", id, nginx_->url("/r"), "r", "--range", "0:100,50:100"}, "add",
                 hr::DoEOverlappingRanges);
  expect_failure({"add", id, nginx_->url("/r"), "r", "--range", "0:0"}, "add", hr::DoEInvalidRange);
  EXPECT_EQ(info_json(id)["files_total"], 0);
}

TEST_F(CliTest, UsageErrorsExit2AndChangeNothing) {
  const std::vector<std::vector<std::string>> cases{
      {"create"},
      {"create", "--priority", "urgent", "x"},
      {"add", "x"},
      {"set", "x", "colour", "red"},
      {"wait", "x", "--timeout", "later"},
      {"transfer", "http://h/a"},
      {"list", "--bogus"},
      {"explode"},
  };
  for (const auto& args : cases) {
    auto r = bgcopy(args);
    EXPECT_EQ(r.code(), 2) << describe(args, r);
    EXPECT_EQ(r.out, "") << describe(args, r);
  }
  EXPECT_EQ(ok({"list"}), "");
}

TEST_F(CliTest, WaitOutcomes) {
  // ERROR: exit 1 with the job's error.
  const std::string bad = create("bad");
  ok({"add", bad, nginx_->url("/missing.bin"), "m.bin"});
  ok({"resume", bad});
  auto r = bgcopy({"wait", bad, "--timeout", "60"});
  EXPECT_EQ(r.code(), 1) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("bgcopy: job " + bad + " failed: 0x80190194 BG_E_HTTP_ERROR_404: ", 0), 0U)
      << r.err;
  // Timeout: exit 3, the state on stderr.
  const std::string idle = create("idle");
  ok({"add", idle, nginx_->url("/x"), "x"});
  r = bgcopy({"wait", idle, "--timeout", "0.2"});
  EXPECT_EQ(r.code(), 3) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("SUSPENDED"), std::string::npos) << r.err;
}

TEST_F(CliTest, MonitorOneJobEndsWithIt) {
  const std::string url = origin_file("m.bin", 10'000, 1);
  const std::string id = create("mon");
  ok({"add", id, url, "m.bin"});
  ok({"resume", id});
  auto r = bgcopy({"monitor", id});
  EXPECT_EQ(r.code(), 0) << r.err;
  EXPECT_NE(r.out.find(id + " 'mon' TRANSFERRED 100.0%"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "no ANSI codes when not a terminal";

  const std::string bad = create("monbad");
  ok({"add", bad, nginx_->url("/missing"), "missing"});
  ok({"resume", bad});
  r = bgcopy({"monitor", bad});
  EXPECT_EQ(r.code(), 1) << r.err;
  EXPECT_NE(r.err.find("BG_E_HTTP_ERROR_404"), std::string::npos) << r.err;
}

// --- transfer -------------------------------------------------------------------------------

TEST_F(CliTest, TransferTwoFiles) {
  const std::string a = gen_content(500'000, 11);
  const std::string b = gen_content(70'000, 12);
  const std::string url_a = origin_file("a", a.size(), 11);
  const std::string url_b = origin_file("b", b.size(), 12);
  std::filesystem::create_directories(box_.dest() / "sub");
  auto r =
      bgcopy({"transfer", url_a, "first.bin", url_b, (box_.dest() / "sub/second.bin").string()});
  EXPECT_EQ(r.code(), 0) << r.err;
  EXPECT_EQ(r.out, "Transfer complete.\n");
  EXPECT_EQ(read_file(box_.dest() / "first.bin"), a);
  EXPECT_EQ(read_file(box_.dest() / "sub" / "second.bin"), b);
  EXPECT_EQ(ok({"list"}), "") << "the job is completed and gone";
}

TEST_F(CliTest, TransferWithChecksum) {
  const std::string a = gen_content(1000, 5);
  const std::string url = origin_file("c", a.size(), 5);
  auto r = bgcopy({"transfer", "--sha256", sha256_bytes(a), url, "c.bin"});
  EXPECT_EQ(r.code(), 0) << r.err;
  EXPECT_EQ(read_file(box_.dest() / "c.bin"), a);

  r = bgcopy({"transfer", "--sha256", std::string(64, '0'), url, "wrong.bin"});
  EXPECT_EQ(r.code(), 1) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("bgcopy: transfer failed: 0x80200053 BG_E_VALIDATION_FAILED"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(box_.dest() / "wrong.bin"));
}

TEST_F(CliTest, TransferErrorCancelsTheJob) {
  auto r = bgcopy({"transfer", nginx_->url("/missing.iso"), "missing.iso"});
  EXPECT_EQ(r.code(), 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("bgcopy: transfer failed: 0x80190194 BG_E_HTTP_ERROR_404: "),
            std::string::npos)
      << r.err;
  EXPECT_EQ(ok({"list"}), "") << "cancelled";
  EXPECT_TRUE(list_dir(box_.dest()).empty()) << "no staging file left";
}

TEST_F(CliTest, InterruptedTransferIsSuspended) {
  // 1 MiB at 64 KiB/s: long enough to interrupt in the middle.
  const std::string url = origin_file("slow.bin", 1 << 20, 9) + "?limit_rate=65536";
  SpawnOptions o;
  o.env = box_.env();
  o.env["BGCOPY_NO_AUTOSTART"] = "1";
  o.stdout_path = box_.file("t.out");
  o.stderr_path = box_.file("t.err");
  o.cwd = box_.dest();
  ChildProcess transfer({BGCOPY_CLI_PATH, "transfer", "--name", "slow", url, "slow.bin"}, o);
  auto m = manager();
  std::string id;
  ASSERT_TRUE(wait_until(
      [&] {
        auto jobs = m.enum_jobs();
        if (!jobs || jobs->empty() || jobs->front().bytes_transferred == 0) return false;
        id = jobs->front().id;
        return true;
      },
      std::chrono::seconds(30)));
  ASSERT_TRUE(transfer.kill(SIGINT));
  auto status = transfer.wait_for(std::chrono::seconds(30));
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->exited && status->code == 130) << status->describe();
  EXPECT_EQ(read_file(box_.file("t.out")), "");
  const std::string err = read_file(box_.file("t.err"));
  EXPECT_NE(err.find("bgcopy resume " + id), std::string::npos) << err;
  auto j = info_json(id);
  EXPECT_EQ(j["state"], "SUSPENDED");
  EXPECT_GT(j["bytes_transferred"].get<std::uint64_t>(), 0U) << "what was downloaded is kept";
  ok({"cancel", "slow"});
}

// --- Auto-start -----------------------------------------------------------------------------

TEST(CliAutostart, StartsTheUserServiceWhenTheSocketIsDead) {
  Sandbox box;
  SpawnOptions o;
  o.env = box.env();
  o.unset_env = {"BGCOPY_NO_AUTOSTART"};
  o.stdout_path = box.file("out");
  o.stderr_path = box.file("err");
  // A stale socket file from a dead service: nothing listens on it.
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    box.socket().copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
  }
  auto status = run_process({BGCOPY_CLI_PATH, "create", "auto"}, o, std::chrono::seconds(60));
  const std::string out = read_file(box.file("out"));
  EXPECT_TRUE(status.success()) << status.describe() << "\n" << read_file(box.file("err"));
  EXPECT_TRUE(std::regex_match(out, kGuidLine)) << out;

  const pid_t pid = listener_pid(box.socket());
  ASSERT_GT(pid, 0) << "nothing listens on the socket";
  // The service is not our child: stop it by its pid however the test ends.
  struct StopOnExit {
    pid_t pid;
    ~StopOnExit() {
      if (alive(pid)) {
        ::kill(pid, SIGTERM);
        wait_until([this] { return !alive(pid); }, std::chrono::seconds(15));
      }
    }
  } stop_on_exit{pid};
  EXPECT_TRUE(std::filesystem::exists(box.state() / "bgcopyd.log"));
  // The service outlives the command and keeps the job.
  ConnectOptions c;
  c.socket_path = box.socket();
  auto m = Manager::connect(c);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  auto jobs = m->enum_jobs();
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1U);
  EXPECT_EQ(jobs->front().display_name, "auto");

  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  EXPECT_TRUE(wait_until([&] { return !alive(pid); }, std::chrono::seconds(15)))
      << "bgcopyd (pid " << pid << ") did not stop on SIGTERM";
}

TEST(CliAutostart, NotWhenDisabled) {
  Sandbox box;
  SpawnOptions o;
  o.env = box.env();
  o.env["BGCOPY_NO_AUTOSTART"] = "1";
  o.stdout_path = box.file("out");
  o.stderr_path = box.file("err");
  auto status = run_process({BGCOPY_CLI_PATH, "list"}, o, std::chrono::seconds(30));
  EXPECT_TRUE(status.exited && status.code == 1) << status.describe();
  EXPECT_EQ(read_file(box.file("err")).rfind("bgcopy: list failed: 0xC0D00002 ERRNO_ENOENT: ", 0),
            0U);
  EXPECT_EQ(listener_pid(box.socket()), -1);
}

// --- libbgcopy against the real service -----------------------------------------------------

TEST_F(CliTest, LibraryLifecycleAndFinalHandles) {
  const std::string content = gen_content(123'456, 21);
  const std::string url = origin_file("lib.bin", content.size(), 21);
  auto m = manager();
  auto job = m.create_job("lib");
  ASSERT_TRUE(job.ok()) << job.status().to_string();
  auto other = m.get_job(job->id());  // a second handle on the same job
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(job->resume().code(), hr::DoEJobEmpty);
  ASSERT_TRUE(job->add_file(url, (box_.dest() / "lib.bin").string()).ok());
  auto files = job->enum_files();
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 1U);
  ASSERT_TRUE(job->resume().ok());
  auto state = job->wait(scaled(std::chrono::seconds(60)));
  ASSERT_TRUE(state.ok()) << state.status().to_string();
  ASSERT_EQ(*state, JobState::Transferred);
  auto progress = job->progress();
  ASSERT_TRUE(progress.ok());
  EXPECT_EQ(progress->bytes_transferred, content.size());
  EXPECT_EQ(progress->bytes_total, content.size());
  EXPECT_EQ(job->error().code(), hr::DoEErrorInformationUnavailable);

  auto done = job->complete();
  ASSERT_TRUE(done.ok()) << done.to_string();
  EXPECT_EQ(done.code(), hr::SOk);
  EXPECT_EQ(read_file(box_.dest() / "lib.bin"), content);
  // This handle saw it: final state, mutations refused locally.
  EXPECT_EQ(*job->state(), JobState::Acknowledged);
  EXPECT_EQ(job->resume().code(), hr::DoEInvalidState);
  // Lookups of final jobs answer not-found.
  EXPECT_EQ(m.get_job(job->id()).code(), hr::DoEJobNotFound);
  EXPECT_EQ(other->info().code(), hr::DoEJobNotFound);
  // A still-held handle that did not see it: the service refuses the change.
  EXPECT_EQ(other->resume().code(), hr::DoEInvalidState);
  EXPECT_EQ(other->set_priority(JobPriority::Low).code(), hr::DoEInvalidState);
}

TEST_F(CliTest, JobTransferredIsDeliveredExactlyOnce) {
  auto m = manager();
  auto job = m.create_job("once");
  auto sentinel = m.create_job("sentinel");
  ASSERT_TRUE(job.ok() && sentinel.ok());
  ASSERT_TRUE(
      job->add_file(origin_file("o.bin", 300'000, 4), (box_.dest() / "o.bin").string()).ok());
  ASSERT_TRUE(
      sentinel->add_file(origin_file("s.bin", 10, 5), (box_.dest() / "s.bin").string()).ok());

  std::mutex mu;
  std::vector<JobEvent> events;
  auto sub = m.subscribe([&](const JobEvent& e) {
    std::lock_guard lock(mu);
    events.push_back(e);
  });
  ASSERT_TRUE(sub.ok()) << sub.status().to_string();
  const auto count = [&](const std::string& id, EventType type) {
    std::lock_guard lock(mu);
    return std::count_if(events.begin(), events.end(),
                         [&](const JobEvent& e) { return e.job_id == id && e.type == type; });
  };
  ASSERT_TRUE(job->resume().ok());
  ASSERT_TRUE(wait_until([&] { return count(job->id(), EventType::JobTransferred) >= 1; },
                         std::chrono::seconds(60)));
  EXPECT_EQ(*job->state(), JobState::Transferred) << "the event matches the record";
  // Events arrive in order: once the sentinel's JobTransferred is here, any duplicate of the
  // first job's would have arrived before it.
  ASSERT_TRUE(sentinel->resume().ok());
  ASSERT_TRUE(wait_until([&] { return count(sentinel->id(), EventType::JobTransferred) >= 1; },
                         std::chrono::seconds(60)));
  EXPECT_EQ(count(job->id(), EventType::JobTransferred), 1);
  EXPECT_EQ(count(sentinel->id(), EventType::JobTransferred), 1);
  {
    std::lock_guard lock(mu);
    for (std::size_t i = 1; i < events.size(); ++i) {
      EXPECT_LT(events[i - 1].seq, events[i].seq) << "increasing sequence numbers";
    }
  }
  sub->stop();
  EXPECT_TRUE(job->complete().ok());
  EXPECT_TRUE(sentinel->cancel().ok());
}

TEST_F(CliTest, SubscriptionsResyncAfterTheServiceRestarts) {
  // A change during a reconnect gap has no event of its own; a subscription makes up for it
  // with one JobModification (seq 0) per job it covers, carrying the job's state once it is
  // connected again. Both kinds: one job's stream and the manager-wide one.
  auto m = manager();
  auto job = m.create_job("resync");
  ASSERT_TRUE(job.ok()) << job.status().to_string();
  struct Seen {
    std::mutex mu;
    std::vector<JobEvent> events;
    EventCallback callback() {
      return [this](const JobEvent& e) {
        std::lock_guard lock(mu);
        events.push_back(e);
      };
    }
    std::size_t count() {
      std::lock_guard lock(mu);
      return events.size();
    }
  };
  Seen of_job;
  Seen of_all;
  auto job_sub = job->subscribe(of_job.callback());
  ASSERT_TRUE(job_sub.ok()) << job_sub.status().to_string();
  auto all_sub = m.subscribe(of_all.callback());
  ASSERT_TRUE(all_sub.ok()) << all_sub.status().to_string();

  daemon_.reset();  // SIGTERM and wait: the streams break, the subscriptions keep retrying
  daemon_ = std::make_unique<Daemon>(box_);
  for (Seen* seen : {&of_job, &of_all}) {
    const char* which = seen == &of_job ? "job stream" : "manager stream";
    ASSERT_TRUE(wait_until([&] { return seen->count() >= 1; }, std::chrono::seconds(30)))
        << which << ": no resync event after the restart";
    std::lock_guard lock(seen->mu);
    ASSERT_EQ(seen->events.size(), 1U) << which << ": a suspended job changes nothing by itself";
    EXPECT_EQ(seen->events[0].seq, 0U) << which;
    EXPECT_EQ(seen->events[0].type, EventType::JobModification) << which;
    EXPECT_EQ(seen->events[0].job_id, job->id()) << which;
    EXPECT_EQ(seen->events[0].state, JobState::Suspended) << which;
  }
  EXPECT_TRUE(job_sub->active());
  EXPECT_TRUE(all_sub->active());

  // And the reopened streams carry the service's events again.
  ASSERT_TRUE(job->set_description("after the restart").ok());
  for (Seen* seen : {&of_job, &of_all}) {
    ASSERT_TRUE(wait_until([&] { return seen->count() >= 2; }, std::chrono::seconds(10)));
    std::lock_guard lock(seen->mu);
    EXPECT_GT(seen->events[1].seq, 0U);
    EXPECT_EQ(seen->events[1].job_id, job->id());
  }
  job_sub->stop();
  all_sub->stop();
  EXPECT_TRUE(job->cancel().ok());
}

}  // namespace
}  // namespace bgcopy::test
