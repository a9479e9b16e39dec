// Hostile clients of the socket API: oversized, lying and malformed requests get a bounded, clear
// error and change nothing; limits hold for ordinary users; clients that open many connections
// and never read cannot lock others out, grow the daemon's memory, or hold slots for ever.
#include "hostile_support.hpp"

#include <sys/socket.h>

#include <cstring>

namespace bgcopy::test::hostile {
namespace {

void expect_error(const std::optional<UnixHttpResponse>& r, int status, const std::string& name) {
  ASSERT_TRUE(r.has_value()) << "no answer";
  EXPECT_EQ(r->status, status) << r->body;
  EXPECT_EQ(r->header("content-type"), "application/json") << r->body;
  json j = json::parse(r->body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r->body;
  if (!name.empty()) {
    EXPECT_EQ(j["name"], name) << r->body;
  }
  EXPECT_FALSE(j.value("message", "").empty()) << r->body;
  EXPECT_LT(r->body.size(), 4096U) << "an error answer stays small";
}

std::string request(const std::string& method, const std::string& target, const std::string& body,
                    const std::string& extra_headers = "") {
  return method + " " + target + " HTTP/1.1\r\nHost: x\r\n" + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::size_t open_fds(pid_t pid) {
  return names_in("/proc/" + std::to_string(pid) + "/fd").size();
}

class HostileApiTest : public ::testing::Test {
 protected:
  TempDir dir_{"bgcopy-hostile-api-"};
};

TEST_F(HostileApiTest, MalformedAndOversizedRequestsGetClearErrorsAndChangeNothing) {
  write_file(dir_.file("api.toml"), "[api]\nrequest_timeout = 2\n");
  Daemon d(dir_.path(), {"--config", dir_.file("api.toml").string()});
  d.start();
  const std::string sock = d.socket();
  UnixHttpClient c(sock);
  const std::string id = c.post_json("/v1/jobs", json{{"display_name", "steady"}}).json()["id"];
  json list_before = c.get("/v1/jobs").json();
  const std::string job = job_url(id);

  struct Case {
    std::string what;
    std::string bytes;
    int status;
    std::string name = "E_INVALIDARG";
  };
  const std::string deep_array = std::string(200000, '[') + std::string(200000, ']');
  const std::vector<Case> cases{
      {"huge header",
       "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(64 * 1024, 'h') + "\r\n\r\n",
       431},
      {"many headers",
       "GET /v1/health HTTP/1.1\r\nHost: x\r\n" +
           [] {
             std::string h;
             for (int i = 0; i < 2000; ++i) h += "X-" + std::to_string(i) + ": v\r\n";
             return h;
           }() +
           "\r\n",
       431},
      {"announced 1 GiB body",
       "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n{", 413},
      {"body over 1 MiB", request("PATCH", job, std::string(1024 * 1024 + 10, ' ')), 413},
      {"Content-Length shorter than the body",
       "PATCH " + job + " HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{\"description\":\"x\"}",
       400},
      {"chunked garbage",
       "PATCH " + job + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n",
       400},
      {"chunk size overflow",
       "PATCH " + job +
           " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n",
       400},
      {"Content-Length and chunked together",
       "PATCH " + job +
           " HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
           "0\r\n\r\n",
       400},
      {"two Content-Lengths",
       "PATCH " + job + " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
       400},
      {"not HTTP", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400},
      {"invalid JSON", request("POST", "/v1/jobs", "{\"display_name\": "), 400},
      {"JSON of the wrong type", request("POST", "/v1/jobs", "{\"display_name\": 5}"), 400},
      {"array instead of object", request("PATCH", job, "[\"description\"]"), 400},
      {"deeply nested JSON", request("PATCH", job, "{\"description\": " + deep_array + "}"), 400},
      {"unbalanced nesting", request("POST", "/v1/jobs", std::string(500000, '{')), 400},
      {"unknown field (owner)", request("POST", "/v1/jobs", R"({"display_name":"x","owner":0})"),
       400},
      {"unknown field in a file",
       request(
           "POST", job_url(id, "files"),
           R"({"files":[{"remote_url":"file:///etc/hostname","local_path":"/tmp/x","mode":"0777"}]})"),
       400},
      {"display name over the limit",
       request("POST", "/v1/jobs", json{{"display_name", std::string(300, 'n')}}.dump()), 400,
       "BG_E_STRING_TOO_LONG"},
      {"description over the limit",
       request("PATCH", job, json{{"description", std::string(5000, 'd')}}.dump()), 400,
       "BG_E_STRING_TOO_LONG"},
      {"remote URL over the limit",
       request("POST", job_url(id, "files"),
               json{{"files",
                     {{{"remote_url", "http://h/" + std::string(9000, 'u')},
                       {"local_path", (dir_.path() / "u").string()}}}}}
                   .dump()),
       400, "BG_E_STRING_TOO_LONG"},
      {"local path over the limit",
       request("POST", job_url(id, "files"),
               json{{"files",
                     {{{"remote_url", "file:///etc/hostname"},
                       {"local_path", "/" + std::string(5000, 'p')}}}}}
                   .dump()),
       400, "BG_E_STRING_TOO_LONG"},
      {"invalid UTF-8", request("PATCH", job, "{\"description\": \"\xff\xfe\"}"), 400},
      {"number out of range", request("PATCH", job, R"({"min_retry_delay": 1e309})"), 400},
      {"fraction where an integer belongs", request("PATCH", job, R"({"notify_flags": 1.5})"), 400},
      {"NUL in the job id", request("GET", "/v1/jobs/%00", ""), 400},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.what);
    expect_error(raw_exchange(sock, k.bytes, 10s), k.status, k.name);
    ASSERT_TRUE(health_ok(sock)) << "the daemon must keep serving; log:\n" << d.log();
  }

  // A body that never arrives in full: the connection is dropped at the request timeout.
  const int lying = connect_unix(sock);
  ASSERT_GE(lying, 0);
  const std::string partial =
      "PATCH " + job + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"descr";
  ASSERT_EQ(::write(lying, partial.data(), partial.size()), static_cast<ssize_t>(partial.size()));
  EXPECT_TRUE(wait_closed(lying, 10s));
  ::close(lying);

  // Nothing above changed anything.
  EXPECT_EQ(c.get("/v1/jobs").json(), list_before);
  EXPECT_TRUE(health_ok(sock));
}

class HostileSystemApiTest : public SystemModeTest {};

TEST_F(HostileSystemApiTest, JobAndFileLimitsHoldForOrdinaryUsers) {
  write_file(dir_.file("api.toml"), "[limits]\njobs_per_user = 2\nfiles_per_job = 5\n");
  start({"--config", dir_.file("api.toml").string()});
  const fs::path d = nobody_dir("d");
  const std::string sock = socket();
  json r = as_user(kNobody, [&] {
    UnixHttpClient c(sock);
    json out;
    const std::string id = c.post_json("/v1/jobs", json{{"display_name", "a"}}).json()["id"];
    (void)c.post_json("/v1/jobs", json{{"display_name", "b"}});
    out["third_job"] = answer(c.post_json("/v1/jobs", json{{"display_name", "c"}}));
    json files = json::array();
    for (int i = 0; i < 6; ++i) {
      files.push_back({{"remote_url", "file:///etc/hostname"},
                       {"local_path", (d / ("f" + std::to_string(i))).string()}});
    }
    out["six_files"] = answer(c.post_json(job_url(id, "files"), json{{"files", files}}));
    out["job"] = answer(c.get(job_url(id)));
    out["list"] = answer(c.get("/v1/jobs"));
    return out;
  });
  ASSERT_TRUE(r.contains("job")) << r.dump();
  EXPECT_EQ(r["third_job"]["status"], 409) << r.dump();
  EXPECT_EQ(r["third_job"]["body"]["name"], "BG_E_TOO_MANY_JOBS_PER_USER") << r.dump();
  EXPECT_EQ(r["six_files"]["status"], 409) << r.dump();
  EXPECT_EQ(r["six_files"]["body"]["name"], "BG_E_TOO_MANY_FILES_IN_JOB") << r.dump();
  EXPECT_EQ(r["job"]["body"]["files_total"], 0) << "all or nothing";
  EXPECT_EQ(r["list"]["body"]["jobs"].size(), 2U);
  EXPECT_TRUE(names_in(d).empty());
}

TEST_F(HostileSystemApiTest, ClientsThatNeverReadCannotLockOthersOutOrGrowMemory) {
  write_file(dir_.file("api.toml"),
             "[api]\nmax_connections = 12\nmax_connections_per_user = 4\nrequest_timeout = 2\n"
             "write_timeout = 2\n");
  start({"--config", dir_.file("api.toml").string()});
  const pid_t daemon_pid = daemon().process().pid();
  const std::string sock = socket();
  const fs::path d = nobody_dir("d");
  const fs::path sync = dir_.file("sync");
  fs::create_directory(sync);
  ASSERT_EQ(::chmod(sync.c_str(), 0777), 0);

  // A job whose file list answers with about half a megabyte: more than a socket buffers.
  json made = as_user(kNobody, [&] {
    UnixHttpClient c(sock);
    const std::string id = c.post_json("/v1/jobs", json{{"display_name", "big"}}).json()["id"];
    json files = json::array();
    for (int i = 0; i < 1000; ++i) {
      files.push_back(
          {{"remote_url", "http://127.0.0.1:9/" + std::string(150, 'u') + std::to_string(i)},
           {"local_path", (d / (std::string(150, 'f') + std::to_string(i))).string()}});
    }
    auto added = c.post_json(job_url(id, "files"), json{{"files", files}});
    auto listed = c.get(job_url(id, "files"));
    return json{{"id", id}, {"add", added.status}, {"bytes", listed.body.size()}};
  });
  ASSERT_EQ(made.value("add", 0), 200) << made.dump();
  ASSERT_GT(made["bytes"].get<std::size_t>(), 400U * 1024) << made.dump();
  const std::string files_target = job_url(made["id"], "files");

  const std::size_t fds_before = open_fds(daemon_pid);
  const long rss_before = vm_rss_kib(daemon_pid);
  // The hoarder: 8 connections (twice its share), each with 50 pipelined requests for the
  // big answer, and it never reads a byte of them.
  UserProcess hoarder(kNobody, [&] {
    std::vector<int> conns;
    std::string pipelined;
    for (int i = 0; i < 50; ++i)
      pipelined += "GET " + files_target + " HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; i < 8; ++i) {
      const int fd = connect_unix(sock);
      if (fd < 0) return json{{"exception", "connect failed"}};
      (void)::send(fd, pipelined.data(), pipelined.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      conns.push_back(fd);
    }
    write_file(sync / "ready", "");
    // The connections beyond its share are closed at once (they never got an answer, so
    // reading them reads nothing but the close).
    int refused = 0;
    for (int i = 4; i < 8; ++i) refused += wait_closed(conns[static_cast<std::size_t>(i)], 5s);
    wait_until([&] { return fs::exists(sync / "go"); }, 30s);
    for (int fd : conns) ::close(fd);
    return json{{"refused", refused}};
  });
  ASSERT_TRUE(wait_until([&] { return fs::exists(sync / "ready"); }, 15s));

  // While it hoards: another user and root are served at once.
  json other = call_as(kStranger, "GET", "/v1/health");
  EXPECT_EQ(other["status"], 200) << other.dump();
  EXPECT_TRUE(health_ok(sock));
  long rss_peak = vm_rss_kib(daemon_pid);

  // The hoarded connections are dropped at the write timeout: the daemon's descriptors come
  // back to where they were although the hoarder still holds its ends open.
  EXPECT_TRUE(wait_until(
      [&] {
        rss_peak = std::max(rss_peak, vm_rss_kib(daemon_pid));
        return open_fds(daemon_pid) <= fds_before;
      },
      15s))
      << open_fds(daemon_pid) << " descriptors open, " << fds_before << " before";
  // An idle connection (sends nothing) is dropped at the request timeout.
  const int idle = connect_unix(sock);
  ASSERT_GE(idle, 0);
  EXPECT_TRUE(wait_closed(idle, 10s));
  ::close(idle);

  write_file(sync / "go", "");
  json h = hoarder.result();
  EXPECT_EQ(h.value("refused", -1), 4) << h.dump();
  // Bounded: a few answers in flight, not 400 of them (400 x 0.5 MB = 200 MB).
  EXPECT_LT(rss_peak - rss_before, 64L * 1024)
      << rss_before << " KiB before, " << rss_peak << " KiB at the peak";
  EXPECT_TRUE(health_ok(sock));
  EXPECT_EQ(call_as(kNobody, "GET", "/v1/health")["status"], 200) << "slots were given back";
}

}  // namespace
}  // namespace bgcopy::test::hostile
