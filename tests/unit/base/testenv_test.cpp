// Self-tests of the hermetic test environment. Every integration and crash test trusts these
// fixtures, so each directive of fault_origin.py and each fixture guarantee is pinned here.
#include "files.hpp"
#include "free_port.hpp"
#include "http_client.hpp"
#include "nginx_fixture.hpp"
#include "origin_fixture.hpp"
#include "process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <sstream>

namespace bgcopy::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// --- curl CLI through ChildProcess -------------------------------------------------------------

struct CurlResult {
  ExitStatus exit;
  int http_code = 0;
  std::string body;
  HttpHeaders headers;  // Of the last response.

  std::string header(std::string_view name) const {
    HttpResponse r;
    r.headers = headers;
    return r.header(name);
  }
};

HttpHeaders parse_header_dump(const std::string& dump) {
  // curl -D writes every response's header block; keep the last one.
  HttpHeaders out;
  std::istringstream in(dump);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (line.rfind("HTTP/", 0) == 0) {
      out.clear();
      continue;
    }
    std::size_t colon = line.find(':');
    if (colon == std::string::npos) {
      continue;
    }
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    out.emplace_back(line.substr(0, colon), value);
  }
  return out;
}

CurlResult curl(const TempDir& dir, const std::string& url,
                const std::vector<std::string>& extra = {}) {
  static std::atomic<int> counter{0};
  const std::string tag = std::to_string(counter++);
  const fs::path body = dir.file("curl-body-" + tag);
  const fs::path headers = dir.file("curl-headers-" + tag);
  const fs::path out = dir.file("curl-out-" + tag);
  std::vector<std::string> argv{"curl",        "-sS", "--max-time",     "30", "-o",
                                body.string(), "-D",  headers.string(), "-w", "%{http_code}"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(url);
  SpawnOptions options;
  options.stdout_path = out;
  options.stderr_path = dir.file("curl-err-" + tag);
  CurlResult r;
  r.exit = run_process(argv, options, 60s);
  r.http_code = std::atoi(read_file(out).c_str());
  r.body = fs::exists(body) ? read_file(body) : std::string();
  r.headers = parse_header_dump(fs::exists(headers) ? read_file(headers) : std::string());
  return r;
}

std::string pattern(std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    s[i] = static_cast<char>((i * 7 + i / 251) & 0xFF);
  }
  return s;
}

// --- support library ---------------------------------------------------------------------------

TEST(TempDirTest, CreatesAndRemovesRecursively) {
  fs::path kept;
  {
    TempDir dir;
    kept = dir.path();
    ASSERT_TRUE(fs::is_directory(kept));
    EXPECT_EQ(dir.file("a.txt"), kept / "a.txt");
    fs::create_directories(dir.file("sub/deeper"));
    write_file(dir.file("sub/deeper/x"), "x");
    fs::permissions(dir.file("sub"), fs::perms::owner_read | fs::perms::owner_exec);
  }
  EXPECT_FALSE(fs::exists(kept));
}

TEST(TempDirTest, EachInstanceIsDistinctAndMovable) {
  TempDir a;
  TempDir b;
  EXPECT_NE(a.path(), b.path());
  fs::path where = a.path();
  TempDir c(std::move(a));
  EXPECT_EQ(c.path(), where);
  EXPECT_TRUE(fs::is_directory(where));
}

TEST(WaitTest, WaitUntilReturnsAsSoonAsTheConditionHolds) {
  int calls = 0;
  EXPECT_TRUE(wait_until([&] { return ++calls == 3; }, 5s, 1ms));
  EXPECT_EQ(calls, 3);
}

TEST(WaitTest, WaitUntilGivesUpAtTheDeadline) {
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(wait_until([] { return false; }, 50ms, 5ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
}

TEST(WaitTest, ScaledHonoursTheMultiplier) {
  const char* old = std::getenv("BGCOPY_TEST_TIMEOUT_MULTIPLIER");
  std::string saved = old ? old : "";
  ::setenv("BGCOPY_TEST_TIMEOUT_MULTIPLIER", "2.5", 1);
  EXPECT_EQ(scaled(100ms), 250ms);
  ::setenv("BGCOPY_TEST_TIMEOUT_MULTIPLIER", "nonsense", 1);
  EXPECT_EQ(scaled(100ms), 100ms);
  ::unsetenv("BGCOPY_TEST_TIMEOUT_MULTIPLIER");
  EXPECT_EQ(scaled(100ms), 100ms);
  if (old != nullptr) {
    ::setenv("BGCOPY_TEST_TIMEOUT_MULTIPLIER", saved.c_str(), 1);
  }
}

TEST(FilesTest, Sha256KnownVectors) {
  EXPECT_EQ(sha256_bytes(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_bytes("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  TempDir dir;
  write_file(dir.file("abc"), "abc");
  EXPECT_EQ(sha256_file(dir.file("abc")), sha256_bytes("abc"));
  const std::string big = pattern(300000);
  write_file(dir.file("big"), big);
  EXPECT_EQ(sha256_file(dir.file("big")), sha256_bytes(big));
}

TEST(FilesTest, ReadWriteSizeAndListing) {
  TempDir dir;
  write_file(dir.file("b"), std::string("x\0y", 3));
  write_file(dir.file(".hidden"), "");
  fs::create_directory(dir.file("a"));
  EXPECT_EQ(read_file(dir.file("b")), std::string("x\0y", 3));
  EXPECT_EQ(file_size(dir.file("b")), 3u);
  EXPECT_EQ(file_size(dir.file(".hidden")), 0u);
  EXPECT_EQ(list_dir(dir.path()), (std::vector<std::string>{".hidden", "a", "b"}));
  write_file(dir.file("b"), "z");  // Truncates.
  EXPECT_EQ(read_file(dir.file("b")), "z");
  EXPECT_THROW(read_file(dir.file("missing")), std::runtime_error);
  EXPECT_THROW(file_size(dir.file("missing")), std::runtime_error);
}

TEST(FilesTest, GeneratorIsDeterministicAndSliceable) {
  // Pinned so that a change to either twin of the generator is caught even if both change.
  EXPECT_EQ(sha256_bytes(gen_content(1000, 7)),
            "259070bdb628b765611a865b8bac637fd67ddcd235761377c7fb5f333ad3479b");
  const std::string full = gen_content(10000, 3);
  EXPECT_EQ(full.size(), 10000u);
  EXPECT_EQ(gen_content(10000, 3), full);
  EXPECT_NE(gen_content(10000, 4), full);
  EXPECT_EQ(gen_content(77, 3), full.substr(0, 77));
  EXPECT_EQ(gen_slice(3, 31, 70), full.substr(31, 70));
  EXPECT_EQ(gen_slice(3, 9990, 10), full.substr(9990, 10));
  EXPECT_EQ(gen_slice(3, 64, 0), "");
  EXPECT_EQ(gen_content(0, 3), "");
}

TEST(ProcessTest, ReportsExitCodes) {
  ExitStatus ok = run_process({"true"});
  EXPECT_TRUE(ok.success()) << ok.describe();
  ExitStatus three = run_process({"sh", "-c", "exit 3"});
  EXPECT_TRUE(three.exited);
  EXPECT_EQ(three.code, 3);
  EXPECT_FALSE(three.success());
  EXPECT_THROW(ChildProcess({"/nonexistent/binary"}), std::runtime_error);
}

TEST(ProcessTest, RedirectsOutputAndAddsEnvironment) {
  TempDir dir;
  SpawnOptions options;
  options.env["BGCOPY_PROCESS_TEST"] = "hello";
  options.unset_env.push_back("HOME");
  options.stdout_path = dir.file("out");
  options.stderr_path = dir.file("err");
  options.cwd = dir.path();
  ExitStatus s = run_process(
      {"sh", "-c", "echo \"$BGCOPY_PROCESS_TEST ${HOME:-nohome}\"; pwd; echo oops >&2"}, options);
  ASSERT_TRUE(s.success()) << s.describe();
  EXPECT_EQ(read_file(dir.file("out")),
            "hello nohome\n" + fs::canonical(dir.path()).string() + "\n");
  EXPECT_EQ(read_file(dir.file("err")), "oops\n");
}

TEST(ProcessTest, KillWaitAndRunning) {
  ChildProcess child({"sleep", "60"});
  EXPECT_GT(child.pid(), 0);
  EXPECT_TRUE(child.running());
  EXPECT_FALSE(child.wait_for(20ms).has_value());
  ASSERT_TRUE(child.kill(SIGTERM));
  auto status = child.wait_for(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->signaled);
  EXPECT_EQ(status->signal, SIGTERM);
  EXPECT_FALSE(child.running());
  EXPECT_FALSE(child.kill(SIGTERM));  // Already reaped: never signals a recycled pid.
  EXPECT_EQ(child.wait().signal, SIGTERM);
}

TEST(ProcessTest, DestructorKillsAndReaps) {
  pid_t pid = 0;
  {
    ChildProcess child({"sleep", "60"});
    pid = child.pid();
  }
  EXPECT_NE(::kill(pid, 0), 0);  // Reaped, so the pid no longer exists (or is not ours yet).
}

TEST(ProcessTest, RunProcessKillsAtTheDeadline) {
  ExitStatus s = run_process({"sleep", "60"}, {}, 100ms);
  EXPECT_TRUE(s.timed_out);
  EXPECT_TRUE(s.signaled);
}

TEST(FreePortTest, PickedPortsAreBindableAndClosed) {
  int port = pick_free_port();
  EXPECT_GT(port, 0);
  EXPECT_LT(port, 65536);
  EXPECT_FALSE(port_accepts(port));
}

// --- nginx -------------------------------------------------------------------------------------

class NginxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!NginxServer::available()) {
      GTEST_SKIP() << "nginx is not installed";
    }
  }
  TempDir dir_;
};

TEST_F(NginxTest, ServesFilesAndRanges) {
  NginxServer nginx;
  const std::string data = pattern(200000);
  write_file(nginx.docroot() / "file.bin", data);
  EXPECT_EQ(nginx.url("file.bin"),
            "http://127.0.0.1:" + std::to_string(nginx.port()) + "/file.bin");

  CurlResult full = curl(dir_, nginx.url("/file.bin"));
  ASSERT_TRUE(full.exit.success()) << full.exit.describe();
  EXPECT_EQ(full.http_code, 200);
  EXPECT_EQ(full.body, data);
  EXPECT_FALSE(full.header("ETag").empty());
  EXPECT_FALSE(full.header("Last-Modified").empty());

  CurlResult part = curl(dir_, nginx.url("/file.bin"), {"-H", "Range: bytes=100-199"});
  ASSERT_TRUE(part.exit.success()) << part.exit.describe();
  EXPECT_EQ(part.http_code, 206);
  EXPECT_EQ(part.body, data.substr(100, 100));
  EXPECT_EQ(part.header("Content-Range"), "bytes 100-199/200000");

  ASSERT_TRUE(wait_until([&] { return nginx.access_log().size() >= 2; }, 10s));
  auto log = nginx.access_log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].method, "GET");
  EXPECT_EQ(log[0].uri, "/file.bin");
  EXPECT_EQ(log[0].status, 200);
  EXPECT_EQ(log[0].bytes_sent, 200000u);
  EXPECT_EQ(log[0].range, "");
  EXPECT_EQ(log[1].status, 206);
  EXPECT_EQ(log[1].bytes_sent, 100u);
  EXPECT_EQ(log[1].range, "bytes=100-199");
  EXPECT_EQ(log[1].if_range, "");
}

TEST_F(NginxTest, HonoursIfRangeAndLogsIt) {
  NginxServer nginx;
  const std::string data = pattern(5000);
  write_file(nginx.docroot() / "f", data);
  HttpResponse head = http_request(nginx.port(), "HEAD", "/f");
  ASSERT_EQ(head.status, 200);
  const std::string etag = head.header("ETag");
  ASSERT_FALSE(etag.empty());

  CurlResult match =
      curl(dir_, nginx.url("/f"), {"-H", "Range: bytes=4000-", "-H", "If-Range: " + etag});
  EXPECT_EQ(match.http_code, 206);
  EXPECT_EQ(match.body, data.substr(4000));

  CurlResult stale =
      curl(dir_, nginx.url("/f"), {"-H", "Range: bytes=4000-", "-H", "If-Range: \"0-stale\""});
  EXPECT_EQ(stale.http_code, 200);
  EXPECT_EQ(stale.body, data);

  ASSERT_TRUE(wait_until([&] { return nginx.access_log().size() >= 3; }, 10s));
  auto log = nginx.access_log();
  EXPECT_EQ(log[0].method, "HEAD");
  EXPECT_EQ(log[1].if_range, etag);  // Quotes arrive unescaped.
  EXPECT_EQ(log[1].range, "bytes=4000-");
  EXPECT_EQ(log[2].if_range, "\"0-stale\"");
  EXPECT_EQ(log[2].status, 200);
}

TEST_F(NginxTest, LimitRateThrottlesSoTransfersCanBeInterrupted) {
  NginxOptions options;
  options.limit_rate = 10000;
  NginxServer nginx(options);
  write_file(nginx.docroot() / "big", pattern(4000000));
  // At 10 kB/s 4 MB take ~400 s, so the 300 ms read (even scaled) must come back incomplete.
  HttpResponse slow = http_request(nginx.port(), "GET", "/big", {}, 300ms);
  EXPECT_TRUE(slow.timed_out);
  EXPECT_EQ(slow.status, 200);
  EXPECT_LT(slow.body.size(), 4000000u);
  EXPECT_EQ(slow.body, pattern(slow.body.size()));
  // ?limit_rate=0 lifts the limit for one request.
  HttpResponse fast = http_request(nginx.port(), "GET", "/big?limit_rate=0");
  EXPECT_TRUE(fast.complete());
  EXPECT_EQ(fast.body.size(), 4000000u);
}

TEST_F(NginxTest, StopRestartKeepsThePort) {
  NginxServer nginx;
  write_file(nginx.docroot() / "x", "x");
  const int port = nginx.port();
  EXPECT_TRUE(port_accepts(port));
  nginx.stop();
  EXPECT_FALSE(nginx.running());
  EXPECT_FALSE(port_accepts(port));
  nginx.restart();
  EXPECT_EQ(nginx.port(), port);
  EXPECT_EQ(http_request(port, "GET", "/x").body, "x");
}

TEST_F(NginxTest, ParallelServersGetDistinctPorts) {
  NginxServer a;
  NginxServer b;
  EXPECT_NE(a.port(), b.port());
  EXPECT_NE(a.docroot(), b.docroot());
}

// --- fault_origin.py ---------------------------------------------------------------------------

class OriginTest : public ::testing::Test {
 protected:
  TempDir dir_;
  FaultOrigin origin_;
};

TEST_F(OriginTest, GenMatchesTheCppGenerator) {
  CurlResult r = curl(dir_, origin_.url("/gen/100000?seed=7"));
  ASSERT_TRUE(r.exit.success()) << r.exit.describe();
  EXPECT_EQ(r.http_code, 200);
  EXPECT_EQ(r.body.size(), 100000u);
  EXPECT_EQ(sha256_bytes(r.body), sha256_bytes(gen_content(100000, 7)));
  EXPECT_EQ(r.header("ETag"), "\"g-7-100000\"");
  EXPECT_FALSE(r.header("Last-Modified").empty());

  CurlResult again = curl(dir_, origin_.url("/gen/100000?seed=7"));
  EXPECT_EQ(again.body, r.body);
  EXPECT_EQ(curl(dir_, origin_.url("/gen/1k")).body, gen_content(1024, 0));
  EXPECT_EQ(curl(dir_, origin_.url("/gen/0?seed=1")).body, "");
  EXPECT_NE(curl(dir_, origin_.url("/gen/1000?seed=8")).body, gen_content(1000, 7));
  EXPECT_EQ(curl(dir_, origin_.url("/gen/nope")).http_code, 400);
}

TEST_F(OriginTest, ServesFilesFromRoot) {
  const std::string data = pattern(70000);
  fs::create_directories(origin_.root() / "dir");
  write_file(origin_.root() / "dir" / "a.bin", data);
  CurlResult r = curl(dir_, origin_.url("dir/a.bin"));
  EXPECT_EQ(r.http_code, 200);
  EXPECT_EQ(r.body, data);
  EXPECT_EQ(r.header("Accept-Ranges"), "bytes");
  EXPECT_EQ(r.header("ETag").rfind("\"f-", 0), 0u);
  EXPECT_EQ(curl(dir_, origin_.url("/dir/missing")).http_code, 404);
  // Nothing outside the root is reachable: dot segments normalise inside it, symlinks out of it
  // are refused.
  EXPECT_EQ(http_request(origin_.port(), "GET", "/%2e%2e/%2e%2e/etc/passwd").status, 404);
  fs::create_directory_symlink("/etc", origin_.root() / "escape");
  EXPECT_EQ(http_request(origin_.port(), "GET", "/escape/passwd").status, 403);

  HttpResponse head = http_request(origin_.port(), "HEAD", "/dir/a.bin");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.content_length(), 70000);
  EXPECT_EQ(head.body, "");
}

TEST_F(OriginTest, RangesAndUnsatisfiableRanges) {
  const std::string data = gen_content(1000, 5);
  const std::string url = origin_.url("/gen/1000?seed=5");
  CurlResult mid = curl(dir_, url, {"-H", "Range: bytes=10-19"});
  EXPECT_EQ(mid.http_code, 206);
  EXPECT_EQ(mid.body, data.substr(10, 10));
  EXPECT_EQ(mid.header("Content-Range"), "bytes 10-19/1000");

  CurlResult open_ended = curl(dir_, url, {"-H", "Range: bytes=990-"});
  EXPECT_EQ(open_ended.http_code, 206);
  EXPECT_EQ(open_ended.body, gen_slice(5, 990, 10));

  CurlResult suffix = curl(dir_, url, {"-H", "Range: bytes=-5"});
  EXPECT_EQ(suffix.http_code, 206);
  EXPECT_EQ(suffix.body, data.substr(995));

  CurlResult clamped = curl(dir_, url, {"-H", "Range: bytes=900-5000"});
  EXPECT_EQ(clamped.http_code, 206);
  EXPECT_EQ(clamped.header("Content-Range"), "bytes 900-999/1000");

  CurlResult beyond = curl(dir_, url, {"-H", "Range: bytes=1000-"});
  EXPECT_EQ(beyond.http_code, 416);
  EXPECT_EQ(beyond.header("Content-Range"), "bytes */1000");

  CurlResult multi = curl(dir_, url, {"-H", "Range: bytes=0-1,5-6"});
  EXPECT_EQ(multi.http_code, 200);  // Multi-range is ignored, as RFC 9110 allows.
  EXPECT_EQ(multi.body, data);

  ASSERT_TRUE(wait_until([&] { return origin_.requests().size() >= 6; }, 10s));
  auto log = origin_.requests();
  EXPECT_EQ(log[0].range, "bytes=10-19");
  EXPECT_EQ(log[0].status, 206);
  EXPECT_EQ(log[0].bytes_sent, 10u);
  EXPECT_EQ(log[4].status, 416);
}

TEST_F(OriginTest, IfRangeWithEtagAndDate) {
  const std::string url = origin_.url("/gen/1000?seed=5");
  HttpResponse head = http_request(origin_.port(), "HEAD", "/gen/1000?seed=5");
  const std::string etag = head.header("ETag");
  const std::string date = head.header("Last-Modified");
  ASSERT_FALSE(etag.empty());
  ASSERT_FALSE(date.empty());

  auto ranged = [&](const std::string& if_range) {
    return curl(dir_, url, {"-H", "Range: bytes=500-", "-H", "If-Range: " + if_range});
  };
  EXPECT_EQ(ranged(etag).http_code, 206);
  EXPECT_EQ(ranged("\"g-5-999\"").http_code, 200);
  EXPECT_EQ(ranged("W/" + etag).http_code, 200);  // Weak tags never match.
  EXPECT_EQ(ranged(date).http_code, 206);
  CurlResult old_date = ranged("Mon, 01 Jan 2001 00:00:00 GMT");
  EXPECT_EQ(old_date.http_code, 200);
  EXPECT_EQ(old_date.body, gen_content(1000, 5));

  ASSERT_TRUE(wait_until([&] { return origin_.requests().size() >= 6; }, 10s));
  auto log = origin_.requests();
  EXPECT_EQ(log[1].if_range, etag);
  EXPECT_EQ(log[1].range, "bytes=500-");
  EXPECT_EQ(log[1].bytes_sent, 500u);
  EXPECT_EQ(log[5].if_range, "Mon, 01 Jan 2001 00:00:00 GMT");
}

TEST_F(OriginTest, NoValidatorsOmitsEtagAndDefeatsIfRange) {
  HttpResponse r =
      http_request(origin_.port(), "GET", "/gen/100?no_validators=1", {{"Range", "bytes=0-9"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_FALSE(r.has_header("ETag"));
  EXPECT_FALSE(r.has_header("Last-Modified"));
  HttpResponse guarded = http_request(origin_.port(), "GET", "/gen/100?no_validators=1",
                                      {{"Range", "bytes=0-9"}, {"If-Range", "\"g-0-100\""}});
  EXPECT_EQ(guarded.status, 200);
  EXPECT_EQ(guarded.body.size(), 100u);
}

TEST_F(OriginTest, FailFirstCountsPerKey) {
  const std::string target = "/gen/100?seed=1&fail_first=2&fail_status=503&retry_after=7";
  HttpResponse first = http_request(origin_.port(), "GET", target);
  EXPECT_EQ(first.status, 503);
  EXPECT_EQ(first.header("Retry-After"), "7");
  EXPECT_EQ(curl(dir_, origin_.url(target)).http_code, 503);
  CurlResult third = curl(dir_, origin_.url(target));
  EXPECT_EQ(third.http_code, 200);
  EXPECT_EQ(third.body, gen_content(100, 1));

  const std::string key = "/gen/100?seed=1&retry_after=7";  // fail_* parameters removed.
  ASSERT_TRUE(wait_until([&] { return origin_.requests_for(key).size() == 3; }, 10s));
  auto log = origin_.requests_for(key);
  EXPECT_EQ(log[0].n, 1);
  EXPECT_EQ(log[2].n, 3);
  EXPECT_EQ(log[2].status, 200);
  EXPECT_EQ(log[0].target, target);
  EXPECT_EQ(origin_.stats().at(key), 3);

  // A different query is a different key; an explicit key= shares a counter across URLs.
  EXPECT_EQ(curl(dir_, origin_.url("/gen/100?seed=2&fail_first=1")).http_code, 503);
  EXPECT_EQ(curl(dir_, origin_.url("/gen/5?key=shared&fail_first=1")).http_code, 503);
  EXPECT_EQ(curl(dir_, origin_.url("/gen/6?key=shared&fail_first=1")).http_code, 200);
  EXPECT_EQ(origin_.stats().at("shared"), 2);

  origin_.reset_counters();
  EXPECT_TRUE(origin_.stats().empty());
  EXPECT_EQ(curl(dir_, origin_.url(target)).http_code, 503);  // Counting starts over.
}

TEST_F(OriginTest, StatusDirective) {
  CurlResult nf = curl(dir_, origin_.url("/gen/100?status=404"));
  EXPECT_EQ(nf.http_code, 404);
  HttpResponse busy = http_request(origin_.port(), "GET", "/x?status=429&retry_after=3");
  EXPECT_EQ(busy.status, 429);
  EXPECT_EQ(busy.header("Retry-After"), "3");
  EXPECT_TRUE(busy.complete());
  HttpResponse moved = http_request(origin_.port(), "GET", "/x?status=302&location=/gen/10");
  EXPECT_EQ(moved.status, 302);
  EXPECT_EQ(moved.header("Location"), "/gen/10");
}

TEST_F(OriginTest, IgnoreRangeAlwaysSendsEverything) {
  CurlResult r =
      curl(dir_, origin_.url("/gen/1000?seed=2&ignore_range=1"), {"-H", "Range: bytes=100-199"});
  EXPECT_EQ(r.http_code, 200);
  EXPECT_EQ(r.body, gen_content(1000, 2));
  EXPECT_TRUE(r.header("Content-Range").empty());
  EXPECT_TRUE(r.header("Accept-Ranges").empty());
  ASSERT_TRUE(wait_until([&] { return origin_.requests().size() == 1; }, 10s));
  EXPECT_EQ(origin_.requests()[0].range, "bytes=100-199");
  EXPECT_EQ(origin_.requests()[0].bytes_sent, 1000u);
}

TEST_F(OriginTest, DropAfterCutsTheFirstResponsesOnly) {
  const std::string target = "/gen/50000?seed=4&drop_after=1234&drop_times=2";
  HttpResponse first = http_request(origin_.port(), "GET", target);
  EXPECT_EQ(first.status, 200);
  EXPECT_TRUE(first.eof);
  EXPECT_FALSE(first.complete());
  EXPECT_EQ(first.content_length(), 50000);
  EXPECT_EQ(first.body, gen_slice(4, 0, 1234));

  CurlResult second = curl(dir_, origin_.url(target));
  EXPECT_EQ(second.exit.code, 18) << second.exit.describe();  // CURLE_PARTIAL_FILE
  EXPECT_EQ(second.body.size(), 1234u);

  CurlResult third = curl(dir_, origin_.url(target));
  ASSERT_TRUE(third.exit.success()) << third.exit.describe();
  EXPECT_EQ(third.body, gen_content(50000, 4));

  ASSERT_TRUE(wait_until([&] { return origin_.requests().size() == 3; }, 10s));
  auto log = origin_.requests();
  EXPECT_EQ(log[0].outcome, "drop");
  EXPECT_EQ(log[0].bytes_sent, 1234u);
  EXPECT_EQ(log[1].outcome, "drop");
  EXPECT_EQ(log[2].outcome, "complete");
}

TEST_F(OriginTest, DropAfterAppliesToRangedResumes) {
  // fail_first gates first: fail once, then drop once, then succeed.
  const std::string target = "/gen/10000?seed=9&fail_first=1&drop_after=100";
  EXPECT_EQ(http_request(origin_.port(), "GET", target).status, 503);
  HttpResponse cut = http_request(origin_.port(), "GET", target, {{"Range", "bytes=5000-"}});
  EXPECT_EQ(cut.status, 206);
  EXPECT_EQ(cut.body, gen_slice(9, 5000, 100));
  EXPECT_FALSE(cut.complete());
  HttpResponse rest = http_request(origin_.port(), "GET", target, {{"Range", "bytes=5100-"}});
  EXPECT_EQ(rest.status, 206);
  EXPECT_TRUE(rest.complete());
  EXPECT_EQ(rest.body, gen_slice(9, 5100, 4900));
}

TEST_F(OriginTest, WrongLengthPromisesMoreThanItSends) {
  HttpResponse r = http_request(origin_.port(), "GET", "/gen/2000?seed=1&wrong_length=1");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.eof);
  EXPECT_GT(r.content_length(), 2000);
  EXPECT_EQ(r.body, gen_content(2000, 1));
  EXPECT_FALSE(r.complete());
  CurlResult c = curl(dir_, origin_.url("/gen/2000?seed=1&wrong_length=1"));
  EXPECT_EQ(c.exit.code, 18) << c.exit.describe();
}

TEST_F(OriginTest, StallAfterHoldsTheConnection) {
  HttpResponse r =
      http_request(origin_.port(), "GET", "/gen/100000?seed=3&stall_after=777", {}, 300ms);
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.eof);
  EXPECT_EQ(r.body, gen_slice(3, 0, 777));
  ASSERT_TRUE(wait_until([&] { return !origin_.requests().empty(); }, 10s));
  EXPECT_EQ(origin_.requests()[0].outcome, "stall");
  EXPECT_EQ(origin_.requests()[0].bytes_sent, 777u);
  // stall_times limits it like drop_times does.
  const std::string once = "/gen/1000?seed=3&stall_after=10&stall_times=1";
  EXPECT_TRUE(http_request(origin_.port(), "GET", once, {}, 200ms).timed_out);
  EXPECT_TRUE(http_request(origin_.port(), "GET", once).complete());
}

TEST_F(OriginTest, RateThrottlesTheBody) {
  // 200 kB at 2 kB/s take ~100 s; a 300 ms read (even scaled) must come back short.
  HttpResponse slow =
      http_request(origin_.port(), "GET", "/gen/200000?seed=1&rate=2000", {}, 300ms);
  EXPECT_TRUE(slow.timed_out);
  EXPECT_LT(slow.body.size(), 200000u);
  EXPECT_EQ(slow.body, gen_slice(1, 0, slow.body.size()));
  HttpResponse fast = http_request(origin_.port(), "GET", "/gen/20000?seed=1&rate=1000000");
  EXPECT_TRUE(fast.complete());
  EXPECT_EQ(fast.body, gen_content(20000, 1));
}

TEST_F(OriginTest, ChangeAfterSwitchesContentAndValidators) {
  const std::string target = "/gen/3000?seed=10&change_after=1&drop_after=1000";
  HttpResponse first = http_request(origin_.port(), "GET", target);
  EXPECT_EQ(first.header("ETag"), "\"g-10-3000\"");
  EXPECT_EQ(first.body, gen_slice(10, 0, 1000));
  HttpResponse resumed = http_request(origin_.port(), "GET", target,
                                      {{"Range", "bytes=1000-"}, {"If-Range", "\"g-10-3000\""}});
  EXPECT_EQ(resumed.status, 200);  // The validator changed, so the whole new body comes back.
  EXPECT_EQ(resumed.header("ETag"), "\"g-11-3000\"");
  EXPECT_EQ(resumed.body, gen_content(3000, 11));
}

TEST_F(OriginTest, RestartKeepsThePortAndClearsCounters) {
  const int port = origin_.port();
  EXPECT_EQ(curl(dir_, origin_.url("/gen/1?fail_first=1")).http_code, 503);
  origin_.restart();
  EXPECT_EQ(origin_.port(), port);
  EXPECT_TRUE(origin_.running());
  EXPECT_EQ(curl(dir_, origin_.url("/gen/1?fail_first=1")).http_code, 503);
  origin_.stop();
  EXPECT_FALSE(origin_.running());
  EXPECT_FALSE(port_accepts(port));
}

TEST(OriginScriptTest, WritesPortFileAndExitsCleanlyOnSigterm) {
  TempDir dir;
  fs::create_directory(dir.file("root"));
  SpawnOptions options;
  options.stderr_path = dir.file("stderr");
  ChildProcess child({"python3", FaultOrigin::script_path().string(), "--root",
                      dir.file("root").string(), "--port-file", dir.file("port").string()},
                     options);
  ASSERT_TRUE(wait_until([&] { return fs::exists(dir.file("port")) || !child.running(); }, 15s));
  ASSERT_TRUE(child.running()) << read_file(dir.file("stderr"));
  const int port = std::atoi(read_file(dir.file("port")).c_str());
  EXPECT_TRUE(port_accepts(port));
  EXPECT_EQ(list_dir(dir.path()), (std::vector<std::string>{"port", "root", "stderr"}));

  // Without --log, request lines go to stderr.
  EXPECT_EQ(http_request(port, "GET", "/gen/10").status, 200);
  ASSERT_TRUE(wait_until(
      [&] {
        return read_file(dir.file("stderr")).find("\"target\": \"/gen/10\"") != std::string::npos;
      },
      10s));

  // Even with a stalled response in flight, SIGTERM ends the process promptly and cleanly.
  ChildProcess client({"curl", "-s", "--max-time", "60", "-o", "/dev/null",
                       "http://127.0.0.1:" + std::to_string(port) + "/gen/1000?stall_after=1"});
  ASSERT_TRUE(wait_until(
      [&] { return read_file(dir.file("stderr")).find("\"stall\"") != std::string::npos; }, 10s));
  ASSERT_TRUE(child.kill(SIGTERM));
  auto status = child.wait_for(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->success()) << status->describe() << "\n" << read_file(dir.file("stderr"));
}

}  // namespace
}  // namespace bgcopy::test
