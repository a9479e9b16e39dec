// bgcopyd end to end: a real daemon process per test, its socket and state in the test's own
// temp dir, driven over the Unix-socket API (docs/api.md). Sources are a private nginx or
// file:// URLs. Waiting is always deadline-bounded polling (wait_until), never a sleep.
#include "files.hpp"
#include "nginx_fixture.hpp"
#include "process.hpp"
#include "temp_dir.hpp"
#include "unix_http_client.hpp"
#include "wait.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace bgcopy::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kHexNotFound = "0x80D02003";

// One bgcopyd process over a directory: api.sock, state/, and a log per start.
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

  /// Starts bgcopyd and waits until /v1/health answers. Fails the test (fatally) if it does not.
  void start() {
    std::vector<std::string> argv{BGCOPYD_PATH, "--log-level", "debug"};
    argv.insert(argv.end(), extra_.begin(), extra_.end());
    SpawnOptions o;
    o.env["BGCOPY_SOCKET"] = socket();
    o.env["BGCOPY_STATE_DIR"] = (dir_ / "state").string();
    o.unset_env = {"NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID"};
    log_ = dir_ / ("bgcopyd." + std::to_string(++starts_) + ".log");
    o.stderr_path = log_;
    proc_ = std::make_unique<ChildProcess>(argv, o);
    const bool up = wait_until([&] { return health_ok(socket()) || !proc_->running(); }, 15s);
    ASSERT_TRUE(up && proc_->running()) << "bgcopyd did not come up; log:\n" << log();
  }

  std::string socket() const { return (dir_ / "api.sock").string(); }
  ChildProcess& process() { return *proc_; }
  std::string log() const { return fs::exists(log_) ? read_file(log_) : std::string(); }

 private:
  fs::path dir_;
  std::vector<std::string> extra_;
  std::unique_ptr<ChildProcess> proc_;
  fs::path log_;
  int starts_ = 0;
};

std::string bare(const std::string& id) {
  return id.substr(1, id.size() - 2);
}
std::string job_url(const std::string& id, const std::string& sub = "") {
  return "/v1/jobs/" + bare(id) + (sub.empty() ? "" : "/" + sub);
}

json create_job(UnixHttpClient& c, const std::string& name, const std::string& priority = "") {
  json body{{"display_name", name}};
  if (!priority.empty()) body["priority"] = priority;
  auto r = c.post_json("/v1/jobs", body);
  EXPECT_EQ(r.status, 201) << r.body;
  auto j = r.json();
  EXPECT_EQ(r.header("location"), job_url(j["id"].get<std::string>()));
  return j;
}

json add_file(UnixHttpClient& c, const std::string& id, const std::string& url,
              const fs::path& local, const std::string& sha256 = "") {
  json f{{"remote_url", url}, {"local_path", local.string()}};
  if (!sha256.empty()) f["sha256"] = sha256;
  auto r = c.post_json(job_url(id, "files"), json{{"files", json::array({f})}});
  EXPECT_EQ(r.status, 200) << r.body;
  return r.json();
}

/// Polls GET /v1/jobs/{id} until its state is `state`; returns the last answer.
json wait_state(UnixHttpClient& c, const std::string& id, const std::string& state,
                std::chrono::milliseconds deadline = 30s) {
  json last;
  const bool ok = wait_until(
      [&] {
        auto r = c.get(job_url(id));
        if (r.status != 200) return false;
        last = r.json();
        return last["state"] == state;
      },
      deadline, 20ms);
  EXPECT_TRUE(ok) << "job " << id << " never reached " << state << "; last: " << last.dump();
  return last;
}

void expect_error(const UnixHttpResponse& r, int status, const std::string& name) {
  EXPECT_EQ(r.status, status) << r.body;
  ASSERT_EQ(r.header("content-type"), "application/json") << r.body;
  const json j = r.json();
  EXPECT_EQ(j["name"], name) << r.body;
  for (const char* key : {"code", "hex", "name", "message", "context", "file_index"}) {
    EXPECT_TRUE(j.contains(key)) << key << " missing in " << r.body;
  }
  EXPECT_FALSE(j["message"].get<std::string>().empty());
}

class ApiTest : public ::testing::Test {
 protected:
  TempDir dir_{"bgcopy-api-"};
};

// --- Basics ----------------------------------------------------------------------------------

TEST_F(ApiTest, HealthReportsVersionModeAndCallerUid) {
  Daemon d(dir_.path());
  d.start();
  UnixHttpClient c(d.socket());
  auto r = c.get("/v1/health");
  ASSERT_EQ(r.status, 200);
  const json j = r.json();
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["api"], 1);
  EXPECT_EQ(j["uid"], ::geteuid());
  EXPECT_EQ(j["mode"], "user");
  EXPECT_FALSE(j["version"].get<std::string>().empty());
  EXPECT_EQ(r.header("server").rfind("bgcopyd/", 0), 0U);
  // Keep-alive: a second request reuses the connection.
  EXPECT_EQ(c.get("/v1/health").status, 200);
  EXPECT_EQ(c.connects(), 1);
}

// `top -H`, `ps -L` and perf tell the daemon's threads apart by these names.
TEST_F(ApiTest, TheDaemonsThreadsAreNamedForWhatTheyDo) {
  Daemon d(dir_.path());
  d.start();
  const auto task_dir = "/proc/" + std::to_string(d.process().pid()) + "/task";
  const std::set<std::string> wanted = {"bgcopy-engine\n", "bgcopy-curl\n", "bgcopy-sync\n",
                                        "bgcopy-api\n", "bgcopy-notify\n"};
  std::set<std::string> names;
  // Each thread names itself first thing; one started just before the daemon answered may
  // not have run yet.
  EXPECT_TRUE(wait_until(
      [&] {
        names.clear();
        for (const auto& task : std::filesystem::directory_iterator(task_dir)) {
          names.insert(read_file((task.path() / "comm").string()));
        }
        return std::includes(names.begin(), names.end(), wanted.begin(), wanted.end());
      },
      10s, 10ms));
  for (const auto& name : wanted) {
    EXPECT_EQ(names.count(name), 1U) << name;
  }
}

TEST_F(ApiTest, DownloadFromNginxThroughTheWholeJobLifecycle) {
  ASSERT_TRUE(NginxServer::available()) << "nginx is required";
  NginxServer nginx;
  const std::string content = gen_content(3 * 1024 * 1024 + 17, 7);
  write_file(nginx.docroot() / "big.bin", content);
  Daemon d(dir_.path());
  d.start();
  UnixHttpClient c(d.socket());

  const json job = create_job(c, "nightly", "FOREGROUND");
  const std::string id = job["id"];
  EXPECT_EQ(job["state"], "SUSPENDED");
  EXPECT_EQ(job["priority"], "FOREGROUND");
  EXPECT_EQ(job["owner"], ::geteuid());
  EXPECT_FALSE(job["owner_name"].get<std::string>().empty());
  EXPECT_EQ(job["wait_reason"], "suspended by the owner");

  const fs::path dest = dir_.file("big.bin");
  const json added = add_file(c, id, nginx.url("/big.bin"), dest, sha256_bytes(content));
  EXPECT_EQ(added["files_total"], 1);
  EXPECT_EQ(added["files"][0]["local_path"], dest.string());

  auto files = c.get(job_url(id, "files"));
  ASSERT_EQ(files.status, 200);
  EXPECT_EQ(files.json()["files"].size(), 1U);
  EXPECT_EQ(files.json()["files"][0]["remote_url"], nginx.url("/big.bin"));

  auto resumed = c.post(job_url(id, "resume"));
  ASSERT_EQ(resumed.status, 200) << resumed.body;
  EXPECT_EQ(resumed.json()["result"]["name"], "S_OK");
  EXPECT_EQ(resumed.json()["job"]["id"], id);

  const json done = wait_state(c, id, "TRANSFERRED");
  EXPECT_EQ(done["bytes_transferred"], content.size());
  EXPECT_EQ(done["bytes_total"], content.size());
  EXPECT_EQ(done["files"][0]["verified"], true);
  EXPECT_TRUE(done["transfer_completed"].is_string());
  EXPECT_FALSE(fs::exists(dest)) << "the final name must not appear before complete";

  auto listed = c.get("/v1/jobs");
  ASSERT_EQ(listed.status, 200);
  bool found = false;
  const json list = listed.json();
  for (const auto& j : list["jobs"]) found = found || j["id"] == id;
  EXPECT_TRUE(found) << listed.body;

  auto completed = c.post(job_url(id, "complete"));
  ASSERT_EQ(completed.status, 200) << completed.body;
  EXPECT_EQ(completed.json()["result"]["name"], "S_OK");
  EXPECT_FALSE(completed.json().contains("job"));
  EXPECT_EQ(sha256_file(dest), sha256_bytes(content));

  auto gone = c.get(job_url(id));
  expect_error(gone, 404, "DO_E_JOB_NOT_FOUND");
  EXPECT_EQ(gone.json()["hex"], kHexNotFound);
}

// More jobs than one batch of the streamed list (256): the answer is chunked, every job is in
// it once, oldest first, and the connection serves the next request.
TEST_F(ApiTest, TheJobListIsStreamedInOrderAcrossBatches) {
  Daemon d(dir_.path());
  d.start();
  UnixHttpClient c(d.socket());
  std::vector<std::string> created;
  for (int i = 0; i < 600; ++i) {
    created.push_back(create_job(c, "j" + std::to_string(i))["id"]);
  }
  const auto listed = c.get("/v1/jobs");
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.header("transfer-encoding"), "chunked");
  EXPECT_EQ(listed.header("content-type"), "application/json");
  const json body = listed.json();
  const json& jobs = body["jobs"];
  std::vector<std::string> ids;
  for (const auto& j : jobs) ids.push_back(j["id"]);
  // Jobs created within one clock tick are ordered by id: compare as sets, then check order by
  // creation time.
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()),
            std::set<std::string>(created.begin(), created.end()));
  EXPECT_EQ(ids.size(), created.size());
  for (std::size_t i = 1; i < jobs.size(); ++i) {
    ASSERT_LE(jobs[i - 1]["created"].get<std::string>(), jobs[i]["created"].get<std::string>())
        << i;
  }
  EXPECT_EQ(c.get("/v1/health").status, 200);
  EXPECT_EQ(c.connects(), 1);  // keep-alive after a chunked answer
}

TEST_F(ApiTest, FileSourceAndBracedLowerCaseIds) {
  const std::string content = "hello from a file:// source\n";
  write_file(dir_.file("src.txt"), content);
  Daemon d(dir_.path());
  d.start();
  UnixHttpClient c(d.socket());
  const std::string id = create_job(c, "file")["id"];
  add_file(c, id, "file://" + dir_.file("src.txt").string(), dir_.file("dst.txt"));
  // {id} may keep its braces (percent-encoded) and be lower-case.
  std::string lower = id;
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto r = c.post("/v1/jobs/%7B" + bare(lower) + "%7D/resume");
  ASSERT_EQ(r.status, 200) << r.body;
  wait_state(c, id, "TRANSFERRED");
  ASSERT_EQ(c.post(job_url(id, "complete")).status, 200);
  EXPECT_EQ(read_file(dir_.file("dst.txt")), content);
}

// POST /v1/jobs with files and resume: the whole job in one request, or no job at all.
TEST_F(ApiTest, OneRequestSubmitsAWholeJobOrNothing) {
  const std::string content = "submitted in one request\n";
  write_file(dir_.file("src.txt"), content);
  Daemon d(dir_.path());
  d.start();
  UnixHttpClient c(d.socket());
  const json good = {{"remote_url", "file://" + dir_.file("src.txt").string()},
                     {"local_path", dir_.file("dst.txt").string()}};
  const json submit = {{"display_name", "whole"}, {"files", json::array({good})}, {"resume", true}};
  auto r = c.post("/v1/jobs", submit.dump());
  ASSERT_EQ(r.status, 201) << r.body;
  const json job = r.json();
  EXPECT_EQ(job["display_name"], "whole");
  EXPECT_EQ(job["files_total"], 1);
  EXPECT_NE(job["state"], "SUSPENDED");  // resumed before the answer
  const std::string id = job["id"];
  wait_state(c, id, "TRANSFERRED");
  ASSERT_EQ(c.post(job_url(id, "complete")).status, 200);
  EXPECT_EQ(read_file(dir_.file("dst.txt")), content);

  // The second file's directory does not exist: the first file is not kept, nor the job.
  const json bad_file = {{"remote_url", "file://" + dir_.file("src.txt").string()},
                         {"local_path", dir_.file("missing/dst.txt").string()}};
  const json bad = {{"files", json::array({good, bad_file})}, {"resume", true}};
  expect_error(c.post("/v1/jobs", bad.dump()), 400, "E_INVALIDARG");
  EXPECT_TRUE(c.get("/v1/jobs").json()["jobs"].empty());
  // resume without files is refused before anything is made.
  expect_error(c.post("/v1/jobs", R"({"resume":true})"), 400, "E_INVALIDARG");
  EXPECT_TRUE(c.get("/v1/jobs").json()["jobs"].empty());
}

// --- Errors ----------------------------------------------------------------------------------

TEST_F(ApiTest, EveryDocumentedErrorStatus) {
  Daemon d(dir_.path());
  d.start();
  UnixHttpClient c(d.socket());
  const std::string id = create_job(c, "errors")["id"];

  // 404: unknown job, unknown route.
  expect_error(c.get("/v1/jobs/C775D194-090F-431F-B5FB-8334D00D1CB6"), 404, "DO_E_JOB_NOT_FOUND");
  auto route = c.get("/v1/nothing");
  expect_error(route, 404, "BG_E_HTTP_ERROR_404");
  expect_error(c.get(job_url(id, "nothing")), 404, "BG_E_HTTP_ERROR_404");
  // 405 with Allow.
  auto method = c.request("DELETE", job_url(id));
  expect_error(method, 405, "BG_E_HTTP_ERROR_405");
  EXPECT_EQ(method.header("allow"), "GET, PATCH");
  expect_error(c.get(job_url(id, "resume")), 405, "BG_E_HTTP_ERROR_405");
  // 400: a job id that is not a GUID, bad query flag.
  expect_error(c.get("/v1/jobs/not-a-guid"), 400, "E_INVALIDARG");
  expect_error(c.get("/v1/jobs?all_users=maybe"), 400, "E_INVALIDARG");
  // 409: resume with no files (the job stays SUSPENDED), error info when not in error.
  expect_error(c.post(job_url(id, "resume")), 409, "DO_E_JOB_EMPTY");
  EXPECT_EQ(c.get(job_url(id)).json()["state"], "SUSPENDED");
  expect_error(c.get(job_url(id, "error")), 409, "DO_E_ERROR_INFORMATION_UNAVAILABLE");
  // 400 BG_E_STRING_TOO_LONG from the engine's limit (256 characters).
  expect_error(c.patch(job_url(id), json{{"display_name", std::string(300, 'n')}}.dump()), 400,
               "BG_E_STRING_TOO_LONG");
  // 400: a bad range.
  auto range = c.post_json(
      job_url(id, "files"),
      json{{"files",
            {{{"remote_url", "http://127.0.0.1:9/x"},
              {"local_path", dir_.file("r.bin").string()},
              {"ranges", {{{"offset", 0}, {"length", 10}}, {{"offset", 5}, {"length", 10}}}}}}}});
  expect_error(range, 400, "DO_E_OVERLAPPING_RANGES");
  // 501: upload jobs.
  expect_error(c.post_json("/v1/jobs", json{{"display_name", "up"}, {"type", "UPLOAD"}}), 501,
               "E_NOTIMPL");
  // 403 / 200 depending on who we are.
  if (::geteuid() == 0) {
    EXPECT_EQ(c.get("/v1/jobs?all_users=1").status, 200);
    EXPECT_EQ(c.post(job_url(id, "take_ownership")).status, 200);
  } else {
    expect_error(c.get("/v1/jobs?all_users=1"), 403, "E_ACCESSDENIED");
    expect_error(c.post(job_url(id, "take_ownership")), 403, "E_ACCESSDENIED");
  }
  // 409 DO_E_INVALID_STATE through a held id after cancel; 404 for a lookup.
  auto cancelled = c.post(job_url(id, "cancel"));
  ASSERT_EQ(cancelled.status, 200);
  EXPECT_EQ(cancelled.json()["result"]["name"], "S_OK");
  expect_error(c.post(job_url(id, "resume")), 409, "DO_E_INVALID_STATE");
  expect_error(c.get(job_url(id)), 404, "DO_E_JOB_NOT_FOUND");
}

TEST_F(ApiTest, MalformedJsonIsRejectedAndChangesNothing) {
  Daemon d(dir_.path());
  d.start();
  UnixHttpClient c(d.socket());
  const std::string id = create_job(c, "steady")["id"];
  const json before = c.get(job_url(id)).json();
  const std::size_t jobs_before = c.get("/v1/jobs").json()["jobs"].size();

  const std::vector<std::pair<std::string, std::string>> bad_patches{
      {"{\"description\": \"x\"", "malformed JSON"},
      {"[]", "expected a JSON object"},
      {"{\"priority\": \"URGENT\"}", "priority: unknown priority"},
      {"{\"notify_flags\": -1}", "notify_flags"},
      {"{\"min_retry_delay\": 4294967296}", "min_retry_delay: out of range"},
      {"{\"tls_verify\": \"no\"}", "tls_verify"},
      {"{\"descripton\": \"typo\"}", "unknown key"},
      {"", "malformed JSON"},
  };
  for (const auto& [body, needle] : bad_patches) {
    auto r = c.patch(job_url(id), body);
    expect_error(r, 400, "E_INVALIDARG");
    EXPECT_NE(r.json()["message"].get<std::string>().find(needle), std::string::npos)
        << body << " -> " << r.body;
  }
  expect_error(c.post(job_url(id, "files"), "{\"files\": [{\"remote_url\": 5}]}"), 400,
               "E_INVALIDARG");
  expect_error(c.post(job_url(id, "files"), "{\"files\": "), 400, "E_INVALIDARG");
  expect_error(c.post("/v1/jobs", "{\"display_name\": "), 400, "E_INVALIDARG");
  expect_error(c.post("/v1/jobs", "{\"display_name\": \"x\", \"type\": \"SIDEWAYS\"}"), 400,
               "E_INVALIDARG");

  EXPECT_EQ(c.get(job_url(id)).json(), before);
  EXPECT_EQ(c.get("/v1/jobs").json()["jobs"].size(), jobs_before);
}

TEST_F(ApiTest, OversizedAndMalformedRequestsAreBounded) {
  Daemon d(dir_.path());
  d.start();
  UnixHttpClient c(d.socket());
  const std::string id = create_job(c, "bounded")["id"];

  // 413: a body over 1 MiB, announced by Content-Length ...
  const std::string big(1024 * 1024 + 1, ' ');
  auto r = raw_exchange(d.socket(), "POST " + job_url(id, "files") +
                                        " HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                        std::to_string(big.size()) + "\r\n\r\n" + big);
  ASSERT_TRUE(r.has_value());
  expect_error(*r, 413, "E_INVALIDARG");
  // ... or sent chunked.
  std::string chunked =
      "PATCH " + job_url(id) + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 17; ++i) chunked += "10000\r\n" + std::string(0x10000, ' ') + "\r\n";
  chunked += "0\r\n\r\n";
  r = raw_exchange(d.socket(), chunked);
  ASSERT_TRUE(r.has_value());
  expect_error(*r, 413, "E_INVALIDARG");
  // 431: a header block over 16 KiB.
  r = raw_exchange(d.socket(), "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                   std::string(17 * 1024, 'h') + "\r\n\r\n");
  ASSERT_TRUE(r.has_value());
  expect_error(*r, 431, "E_INVALIDARG");
  // 414: a request target over 8 KiB (within the header limit).
  r = raw_exchange(d.socket(), "GET /v1/health?pad=" + std::string(9 * 1024, 'p') +
                                   " HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r.has_value());
  expect_error(*r, 414, "E_INVALIDARG");
  // 400: not HTTP at all.
  r = raw_exchange(d.socket(), "HELLO THERE\r\n\r\n");
  ASSERT_TRUE(r.has_value());
  expect_error(*r, 400, "E_INVALIDARG");
  // Expect: 100-continue is honoured (curl sends it for larger bodies).
  r = raw_exchange(d.socket(), "PATCH " + job_url(id) +
                                   " HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                                   "Content-Length: 20\r\n\r\n{\"description\":\"ok\"}");
  ASSERT_TRUE(r.has_value());
  // The parser hands back the interim 100 first; the final answer follows on the wire.
  EXPECT_TRUE(r->status == 100 || r->status == 200) << r->status;
  EXPECT_TRUE(wait_until([&] { return c.get(job_url(id)).json()["description"] == "ok"; }, 5s));

  // Nothing above hurt the service or the job.
  EXPECT_EQ(c.get(job_url(id)).json()["files_total"], 0);
  EXPECT_TRUE(health_ok(d.socket()));
}

TEST_F(ApiTest, ForeignUidIsDeniedAndRootIsNot) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root: runs a client as uid 65534 (nobody) with setpriv";
  }
  if (::access("/usr/bin/setpriv", X_OK) != 0 || ::access("/usr/bin/curl", X_OK) != 0) {
    GTEST_SKIP() << "needs /usr/bin/setpriv and /usr/bin/curl";
  }
  // System mode: the socket is 0666 and identity comes from SO_PEERCRED. Let nobody reach it.
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0711), 0);
  Daemon d(dir_.path(), {"--system"});
  d.start();
  UnixHttpClient c(d.socket());
  EXPECT_EQ(c.get("/v1/health").json()["mode"], "system");
  const std::string id = create_job(c, "root's")["id"];

  // curl as nobody; stdout is the body and then the status on its own line.
  auto as_nobody = [&](const std::string& method, const std::string& target) {
    const fs::path out = dir_.file("nobody.out");
    SpawnOptions o;
    o.stdout_path = out;
    auto st = run_process({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           "/usr/bin/curl", "-s", "-X", method, "-w", "\n%{http_code}",
                           "--unix-socket", d.socket(), "http://bgcopyd" + target},
                          o, 20s);
    EXPECT_TRUE(st.success()) << st.describe();
    std::string text = read_file(out);
    const auto nl = text.rfind('\n');
    return std::make_pair(std::stoi(text.substr(nl + 1)), text.substr(0, nl));
  };

  auto [status, body] = as_nobody("GET", job_url(id));
  EXPECT_EQ(status, 403) << body;
  EXPECT_EQ(json::parse(body)["name"], "E_ACCESSDENIED");
  std::tie(status, body) = as_nobody("POST", job_url(id, "cancel"));
  EXPECT_EQ(status, 403) << body;
  std::tie(status, body) = as_nobody("GET", "/v1/jobs");
  EXPECT_EQ(status, 200) << body;
  EXPECT_TRUE(json::parse(body)["jobs"].empty()) << "nobody must not see root's jobs";
  std::tie(status, body) = as_nobody("GET", "/v1/jobs?all_users=1");
  EXPECT_EQ(status, 403) << body;
  std::tie(status, body) = as_nobody("GET", "/v1/health");
  EXPECT_EQ(status, 200);
  EXPECT_EQ(json::parse(body)["uid"], 65534);
  std::tie(status, body) = as_nobody("GET", "/v1/events?job=" + bare(id));
  EXPECT_EQ(status, 403) << body;

  // The job is untouched and root still sees it.
  auto r = c.get(job_url(id));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["state"], "SUSPENDED");
  EXPECT_EQ(c.get("/v1/jobs?all_users=1").status, 200);
}

// --- Events ----------------------------------------------------------------------------------

TEST_F(ApiTest, EventStreamDeliversJobTransferredExactlyOncePerJob) {
  Daemon d(dir_.path());
  d.start();
  UnixHttpClient c(d.socket());
  EventStreamClient events(d.socket());

  write_file(dir_.file("src.bin"), gen_content(200 * 1024, 3));
  std::set<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    const std::string id = create_job(c, "ev" + std::to_string(i))["id"];
    add_file(c, id, "file://" + dir_.file("src.bin").string(),
             dir_.file("dst" + std::to_string(i) + ".bin"));
    ASSERT_EQ(c.post(job_url(id, "resume")).status, 200);
    ids.insert(id);
  }
  std::map<std::string, int> transferred;
  std::uint64_t last_seq = 0;
  auto check = [&](const json& e) {
    EXPECT_GT(e["seq"].get<std::uint64_t>(), last_seq) << e.dump();
    last_seq = e["seq"].get<std::uint64_t>();
    EXPECT_EQ(e["time"].get<std::string>().back(), 'Z');
    EXPECT_TRUE(e.contains("file_index"));
    if (e["type"] == "JobTransferred") {
      ++transferred[e["job"]];
      EXPECT_EQ(e["state"], "TRANSFERRED");
    }
  };
  const auto until = std::chrono::steady_clock::now() + scaled(30s);
  while (transferred.size() < ids.size() && std::chrono::steady_clock::now() < until) {
    if (auto e = events.next(1s)) check(*e);
  }
  ASSERT_EQ(transferred.size(), ids.size());

  // A marker after everything: once its event arrives, any duplicate would have too.
  const std::string marker = create_job(c, "marker")["id"];
  ASSERT_EQ(c.patch(job_url(marker), R"({"description":"m"})").status, 200);
  bool seen_marker = false;
  while (!seen_marker) {
    auto e = events.next(10s);
    ASSERT_TRUE(e.has_value()) << "the marker's event never arrived";
    check(*e);
    seen_marker = (*e)["job"] == marker;
  }
  for (const auto& id : ids) EXPECT_EQ(transferred[id], 1) << id;
}

TEST_F(ApiTest, EventStreamCoalescesModificationsAndFiltersByJob) {
  Daemon d(dir_.path());
  d.start();
  UnixHttpClient c(d.socket());
  const std::string busy = create_job(c, "busy")["id"];
  const std::string other = create_job(c, "other")["id"];
  EventStreamClient events(d.socket(), "/v1/events?job=" + bare(busy));

  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(c.patch(job_url(busy), json{{"description", std::to_string(i)}}.dump()).status, 200);
    ASSERT_EQ(c.patch(job_url(other), json{{"description", std::to_string(i)}}.dump()).status, 200);
  }
  const auto storm_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - start)
                            .count();
  // Collect until nothing more comes for a while: the held modification is due 500 ms after
  // the previous one, so 2 s of silence means the stream is drained.
  std::vector<json> got;
  while (auto e = events.next(2s)) got.push_back(*e);
  ASSERT_GE(got.size(), 2U) << "the first change goes out at once, the latest when the window "
                               "ends";
  EXPECT_LE(got.size(), static_cast<std::size_t>(2 + storm_ms / 500)) << storm_ms << " ms";
  for (const auto& e : got) {
    EXPECT_EQ(e["job"], busy) << "?job= must filter";
    EXPECT_EQ(e["type"], "JobModification");
  }

  // Subscribing to an unknown job fails like reading it.
  EXPECT_THROW(EventStreamClient(d.socket(), "/v1/events?job=C775D194-090F-431F-B5FB-8334D00D1CB6"),
               std::runtime_error);
}

// --- Process lifecycle -----------------------------------------------------------------------

TEST_F(ApiTest, SigtermExitsZeroWithinTwoSecondsDuringTransfers) {
  ASSERT_TRUE(NginxServer::available());
  NginxOptions slow;
  slow.limit_rate = 256 * 1024;
  NginxServer nginx(slow);
  write_file(nginx.docroot() / "slow.bin", gen_content(8 * 1024 * 1024, 11));
  Daemon d(dir_.path());
  d.start();
  UnixHttpClient c(d.socket());
  const std::string id = create_job(c, "slow", "FOREGROUND")["id"];
  add_file(c, id, nginx.url("/slow.bin"), dir_.file("slow.bin"));
  ASSERT_EQ(c.post(job_url(id, "resume")).status, 200);
  wait_state(c, id, "TRANSFERRING");
  EventStreamClient events(d.socket());  // an open stream must not hold shutdown up
  UnixHttpClient idle(d.socket());
  ASSERT_EQ(idle.get("/v1/health").status, 200);  // and neither must a kept-alive connection

  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(d.process().kill(SIGTERM));
  auto st = d.process().wait_for(2s);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(st.has_value()) << "bgcopyd still running 2 s after SIGTERM; log:\n" << d.log();
  EXPECT_TRUE(st->success()) << st->describe() << "\n" << d.log();
  EXPECT_LT(took, scaled(2s));
  EXPECT_FALSE(fs::exists(d.socket())) << "the socket file is removed on a clean exit";
}

TEST_F(ApiTest, KillNineMidTransferResumesFromTheCheckpoint) {
  ASSERT_TRUE(NginxServer::available());
  NginxOptions slow;
  slow.limit_rate = 1024 * 1024;
  NginxServer nginx(slow);
  const std::string content = gen_content(8 * 1024 * 1024 + 5, 21);
  write_file(nginx.docroot() / "resume.bin", content);
  Daemon d(dir_.path());
  d.start();
  UnixHttpClient c(d.socket());
  const std::string id = create_job(c, "crashy", "FOREGROUND")["id"];
  add_file(c, id, nginx.url("/resume.bin"), dir_.file("resume.bin"), sha256_bytes(content));
  ASSERT_EQ(c.post(job_url(id, "resume")).status, 200);
  // Well past the first checkpoint (1 MiB or 1 s): the count is live, and the checkpoint's
  // flush and record (slow under a sanitizer) get 1.5 s to land before the kill.
  ASSERT_TRUE(wait_until(
      [&] { return c.get(job_url(id)).json()["bytes_transferred"] >= 2560 * 1024; }, 30s, 20ms));

  ASSERT_TRUE(d.process().kill(SIGKILL));
  ASSERT_TRUE(d.process().wait_for(10s).has_value());
  EXPECT_TRUE(fs::exists(d.socket())) << "a killed daemon leaves its socket behind";

  d.start();  // the stale socket is replaced
  UnixHttpClient c2(d.socket());
  wait_state(c2, id, "TRANSFERRED", 60s);

  bool ranged = false;
  for (const auto& e : nginx.access_log()) {
    if (e.uri == "/resume.bin" && e.range.rfind("bytes=", 0) == 0 && e.range != "bytes=0-") {
      ranged = true;
    }
  }
  EXPECT_TRUE(ranged) << "the restarted daemon must continue with a Range request";
  ASSERT_EQ(c2.post(job_url(id, "complete")).status, 200);
  EXPECT_EQ(sha256_file(dir_.file("resume.bin")), sha256_bytes(content));
}

TEST_F(ApiTest, LiveDaemonIsNeverDisplacedAndStaleSocketIsReplaced) {
  Daemon first(dir_.path());
  first.start();

  // A second daemon on the same socket (another state dir) refuses to start.
  TempDir other{"bgcopy-api-other-"};
  const fs::path log = other.file("second.log");
  SpawnOptions o;
  o.env["BGCOPY_SOCKET"] = first.socket();
  o.env["BGCOPY_STATE_DIR"] = other.file("state").string();
  o.stderr_path = log;
  auto st = run_process({BGCOPYD_PATH}, o, 15s);
  EXPECT_TRUE(st.exited && st.code == 1) << st.describe();
  EXPECT_NE(read_file(log).find("already serving"), std::string::npos) << read_file(log);
  EXPECT_TRUE(health_ok(first.socket())) << "the live daemon must keep serving";

  // A second daemon on the same state dir (another socket) refuses too.
  o.env["BGCOPY_SOCKET"] = other.file("s.sock").string();
  o.env["BGCOPY_STATE_DIR"] = dir_.file("state").string();
  st = run_process({BGCOPYD_PATH}, o, 15s);
  EXPECT_TRUE(st.exited && st.code == 1) << st.describe();

  // After a crash, the stale socket file is removed and a new daemon serves.
  ASSERT_TRUE(first.process().kill(SIGKILL));
  ASSERT_TRUE(first.process().wait_for(10s).has_value());
  ASSERT_TRUE(fs::exists(first.socket()));
  first.start();

  // Something that is not a socket is never removed.
  const fs::path plain = other.file("plain");
  write_file(plain, "not a socket");
  o.env["BGCOPY_SOCKET"] = plain.string();
  o.env["BGCOPY_STATE_DIR"] = other.file("state2").string();
  st = run_process({BGCOPYD_PATH}, o, 15s);
  EXPECT_TRUE(st.exited && st.code == 1) << st.describe();
  EXPECT_EQ(read_file(plain), "not a socket");
}

TEST_F(ApiTest, SocketActivationAndReadinessNotification) {
  const char* activate = "/usr/bin/systemd-socket-activate";
  if (::access(activate, X_OK) != 0) {
    GTEST_SKIP() << "needs systemd-socket-activate (package systemd)";
  }
  // Stand-in for systemd's notification socket.
  const fs::path notify_path = dir_.file("notify.sock");
  const int notify_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(notify_fd, 0);
  struct Close {
    int fd;
    ~Close() { ::close(fd); }
  } close_notify{notify_fd};
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, notify_path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(notify_fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);

  const std::string sock = dir_.file("activated.sock").string();
  SpawnOptions o;
  o.stderr_path = dir_.file("activate.log");
  // systemd-socket-activate passes only the variables it is told to.
  ChildProcess proc({activate, "-l", sock, "-E", "NOTIFY_SOCKET=" + notify_path.string(), "-E",
                     "BGCOPY_STATE_DIR=" + dir_.file("state").string(), BGCOPYD_PATH},
                    o);
  // The first connection makes it exec bgcopyd with the listening socket as fd 3.
  ASSERT_TRUE(wait_until([&] { return health_ok(sock); }, 15s)) << read_file(o.stderr_path);
  // bgcopyd logs this line after it starts serving, so an answer can come before the line.
  EXPECT_TRUE(wait_until(
      [&] {
        return read_file(o.stderr_path).find("serving on a socket from systemd") !=
               std::string::npos;
      },
      10s))
      << read_file(o.stderr_path);

  std::string ready;
  ASSERT_TRUE(wait_until(
      [&] {
        char buf[512];
        const ssize_t n = ::recv(notify_fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) ready.assign(buf, static_cast<std::size_t>(n));
        return ready.find("READY=1") != std::string::npos;
      },
      10s));

  ASSERT_TRUE(proc.kill(SIGTERM));
  auto st = proc.wait_for(5s);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->success()) << st->describe();
  EXPECT_TRUE(fs::exists(sock)) << "an activated socket belongs to systemd and is left alone";
}

TEST_F(ApiTest, IdleAndSlowClientsAreCutOffAndConnectionsAreCapped) {
  write_file(dir_.file("api.toml"), "[api]\nrequest_timeout = 1\nmax_connections = 3\n");
  Daemon d(dir_.path(), {"--config", dir_.file("api.toml").string()});
  d.start();

  // A client that never finishes its request is disconnected.
  const int slow = connect_unix(d.socket());
  ASSERT_GE(slow, 0);
  ASSERT_EQ(::write(slow, "GET /v1/hea", 11), 11);
  EXPECT_TRUE(wait_closed(slow, 10s)) << "a half-sent request must not hold a connection";
  ::close(slow);

  // With three connections open, a fourth is closed at once (long before the idle timeout
  // would free a slot).
  write_file(dir_.file("api.toml"), "[api]\nmax_connections = 3\n");
  ASSERT_TRUE(d.process().kill(SIGTERM));
  ASSERT_TRUE(d.process().wait_for(10s).has_value());
  d.start();
  std::vector<std::unique_ptr<UnixHttpClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<UnixHttpClient>(d.socket()));
    ASSERT_EQ(held.back()->get("/v1/health").status, 200);  // accepted and kept alive
  }
  const int extra = connect_unix(d.socket());
  ASSERT_GE(extra, 0);
  EXPECT_TRUE(wait_closed(extra, 10s));
  ::close(extra);
  EXPECT_EQ(held.front()->get("/v1/health").status, 200);
  EXPECT_EQ(held.front()->connects(), 1) << "held connections keep working";
  held.clear();
  EXPECT_TRUE(wait_until([&] { return health_ok(d.socket()); }, 10s));
}

// --- Notify command line ---------------------------------------------------------------------

TEST_F(ApiTest, NotifyCommandLineRunsWithItsArgvAndNoShell) {
  ASSERT_TRUE(NginxServer::available());
  NginxServer nginx;
  const fs::path script = dir_.file("notify.sh");
  write_file(script,
             "#!/bin/sh\n"
             "out=\"$1\"; shift\n"
             "{ for a in \"$@\"; do printf '%s\\n' \"$a\"; done\n"
             "  printf 'ENV %s %s %s %s\\n' \"$BGCOPY_JOB_ID\" \"$BGCOPY_JOB_STATE\" \"$USER\" "
             "\"$PWD\"; } > \"$out.tmp\" && mv \"$out.tmp\" \"$out\"\n");
  ASSERT_EQ(::chmod(script.c_str(), 0755), 0);
  write_file(dir_.file("src.txt"), "payload\n");

  Daemon d(dir_.path());
  d.start();
  UnixHttpClient c(d.socket());
  auto job_with_notify = [&](const std::string& name, const std::string& url, unsigned flags,
                             const fs::path& out) {
    const std::string id = create_job(c, name)["id"];
    add_file(c, id, url, dir_.file(name + ".dst"));
    json patch{{"notify_flags", flags},
               {"notify_cmdline", {script.string(), out.string(), "two words", "$HOME", "*"}}};
    auto r = c.patch(job_url(id), patch.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["notify_cmdline"].size(), 5U);
    return id;
  };
  const std::string file_url = "file://" + dir_.file("src.txt").string();

  // DISABLE wins over TRANSFERRED: this one must never run.
  const fs::path disabled_out = dir_.file("disabled.out");
  const std::string disabled = job_with_notify("disabled", file_url, 0x1 | 0x4, disabled_out);
  ASSERT_EQ(c.post(job_url(disabled, "resume")).status, 200);
  wait_state(c, disabled, "TRANSFERRED");

  const fs::path ok_out = dir_.file("ok.out");
  const std::string ok = job_with_notify("ok", file_url, 0x1, ok_out);
  ASSERT_EQ(c.post(job_url(ok, "resume")).status, 200);
  wait_state(c, ok, "TRANSFERRED");
  ASSERT_TRUE(wait_until([&] { return fs::exists(ok_out); }, 15s)) << d.log();
  const std::string user =
      ::geteuid() == 0 ? "root" : std::string(std::getenv("USER") ? std::getenv("USER") : "");
  std::string expected = "two words\n$HOME\n*\nENV " + ok + " TRANSFERRED ";
  EXPECT_EQ(read_file(ok_out).rfind(expected, 0), 0U) << read_file(ok_out);
  EXPECT_NE(read_file(ok_out).find(" /\n"), std::string::npos) << "runs in /";

  // ERROR with the ERROR flag: a 404 is fatal.
  const fs::path err_out = dir_.file("err.out");
  const std::string err = job_with_notify("err", nginx.url("/missing.bin"), 0x2, err_out);
  ASSERT_EQ(c.post(job_url(err, "resume")).status, 200);
  const json failed = wait_state(c, err, "ERROR");
  EXPECT_EQ(failed["error"]["name"], "BG_E_HTTP_ERROR_404");
  EXPECT_EQ(failed["error"]["file"], dir_.file("err.dst").string());
  auto e = c.get(job_url(err, "error"));
  ASSERT_EQ(e.status, 200);
  EXPECT_EQ(e.json()["context"], "REMOTE_FILE");
  ASSERT_TRUE(wait_until([&] { return fs::exists(err_out); }, 15s)) << d.log();
  EXPECT_NE(read_file(err_out).find("ENV " + err + " ERROR "), std::string::npos)
      << read_file(err_out);

  // Notifications run in event order, so the disabled job's turn has long passed.
  EXPECT_FALSE(fs::exists(disabled_out));
}

TEST_F(ApiTest, SystemModeRunsNotifyAsTheJobOwnerAndWritesTheirFiles) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root: a system-mode daemon serving uid 65534 (nobody)";
  }
  if (::access("/usr/bin/setpriv", X_OK) != 0 || ::access("/usr/bin/curl", X_OK) != 0) {
    GTEST_SKIP() << "needs /usr/bin/setpriv and /usr/bin/curl";
  }
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0711), 0);
  const fs::path home = dir_.file("nobody");
  fs::create_directory(home);
  ASSERT_EQ(::chown(home.c_str(), 65534, 65534), 0);
  write_file(home / "src.txt", "for nobody\n");
  ASSERT_EQ(::chown((home / "src.txt").c_str(), 65534, 65534), 0);
  const fs::path script = dir_.file("whoami.sh");
  write_file(script, "#!/bin/sh\nid -u > \"$1.tmp\" && mv \"$1.tmp\" \"$1\"\n");
  ASSERT_EQ(::chmod(script.c_str(), 0755), 0);

  Daemon d(dir_.path(), {"--system"});
  d.start();
  auto as_nobody = [&](const std::string& method, const std::string& target,
                       const std::string& body) {
    const fs::path out = dir_.file("nobody.out");
    SpawnOptions o;
    o.stdout_path = out;
    std::vector<std::string> argv{"/usr/bin/setpriv",
                                  "--reuid=65534",
                                  "--regid=65534",
                                  "--clear-groups",
                                  "/usr/bin/curl",
                                  "-s",
                                  "-X",
                                  method,
                                  "--unix-socket",
                                  d.socket(),
                                  "http://bgcopyd" + target};
    if (!body.empty()) {
      argv.push_back("-d");
      argv.push_back(body);
    }
    auto st = run_process(argv, o, 20s);
    EXPECT_TRUE(st.success()) << st.describe();
    return json::parse(read_file(out));
  };
  const json job = as_nobody("POST", "/v1/jobs", R"({"display_name":"mine"})");
  ASSERT_EQ(job["owner"], 65534) << job.dump();
  const std::string id = job["id"];
  json files{{"files",
              {{{"remote_url", "file://" + (home / "src.txt").string()},
                {"local_path", (home / "dst.txt").string()}}}}};
  ASSERT_EQ(as_nobody("POST", job_url(id, "files"), files.dump())["files_total"], 1);
  const fs::path out = home / "uid.out";
  json patch{{"notify_cmdline", {script.string(), out.string()}}};
  ASSERT_EQ(as_nobody("PATCH", job_url(id), patch.dump())["notify_cmdline"].size(), 2U);
  ASSERT_EQ(as_nobody("POST", job_url(id, "resume"), "")["result"]["name"], "S_OK");

  UnixHttpClient root(d.socket());  // root sees every job
  wait_state(root, id, "TRANSFERRED");
  ASSERT_TRUE(wait_until([&] { return fs::exists(out); }, 15s)) << d.log();
  EXPECT_EQ(read_file(out), "65534\n");
  struct stat st {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534U) << "the notify program ran as the owner";

  ASSERT_EQ(as_nobody("POST", job_url(id, "complete"), "")["result"]["name"], "S_OK");
  ASSERT_EQ(::stat((home / "dst.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534U) << "the downloaded file belongs to the job's owner";
  EXPECT_EQ(read_file(home / "dst.txt"), "for nobody\n");
}

}  // namespace
}  // namespace bgcopy::test
