// libbgcopy against a scripted fake service: transport, error mapping, handle finality,
// request bodies, event subscriptions and wait. Links only the shared library, so it also
// proves the public API is exported.
#include "fake_service.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"
#include <bgcopy/bgcopy.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <future>

namespace bgcopy {
namespace {

using namespace std::chrono_literals;
using test::FakeService;

constexpr const char* kId = "{C775D194-090F-431F-B5FB-8334D00D1CB6}";
constexpr const char* kHealth =
    R"({"status":"ok","version":"0.1.0","api":1,"uid":1000,"mode":"user"})";

JobInfo sample_job(JobState state = JobState::Suspended) {
  JobInfo j;
  j.id = kId;
  j.display_name = "nightly";
  j.state = state;
  j.owner = 1000;
  j.owner_name = "alice";
  return j;
}

std::string result_body(Hresult code, const std::string& message = "") {
  nlohmann::json j;
  j["result"] = {{"code", code},
                 {"hex", hresult_hex(code)},
                 {"name", hresult_name(code)},
                 {"message", message}};
  return j.dump();
}

std::string error_body(Hresult code, const std::string& message) {
  nlohmann::json j{
      {"code", code},       {"hex", hresult_hex(code)},           {"name", hresult_name(code)},
      {"message", message}, {"context", "GENERAL_QUEUE_MANAGER"}, {"file_index", nullptr}};
  return j.dump();
}

class ClientTest : public ::testing::Test {
 protected:
  /// Starts the fake service; /v1/health is always answered.
  void serve(FakeService::Handler handler) {
    service_ = std::make_unique<FakeService>(
        socket_, [handler = std::move(handler)](const FakeService::Request& r) {
          if (r.target == "/v1/health") {
            return FakeService::json(200, kHealth);
          }
          return handler(r);
        });
  }

  Manager connect(std::chrono::milliseconds timeout = 10s) {
    ConnectOptions o;
    o.socket_path = socket_;
    o.request_timeout = timeout;
    auto m = Manager::connect(o);
    EXPECT_TRUE(m.ok()) << m.status().to_string();
    return *m;
  }

  /// Serves one job: GET answers `state_`, actions answer `action_code_`.
  void serve_job() {
    serve([this](const FakeService::Request& r) {
      const std::string job_path = "/v1/jobs/C775D194-090F-431F-B5FB-8334D00D1CB6";
      if (r.method == "POST" && r.target == "/v1/jobs") {
        return FakeService::json(201, to_json_string(sample_job()));
      }
      if (r.method == "GET" && r.target == job_path) {
        return FakeService::json(200, to_json_string(sample_job(state_.load())));
      }
      if (r.method == "POST" && r.target.rfind(job_path + "/", 0) == 0) {
        return FakeService::json(200, result_body(action_code_.load(), "done"));
      }
      if (r.method == "PATCH" && r.target == job_path) {
        return FakeService::json(200, to_json_string(sample_job(state_.load())));
      }
      if (r.target.rfind("/v1/events", 0) == 0) {
        return FakeService::events();
      }
      return FakeService::json(404, error_body(hr::DoEJobNotFound, "no route"));
    });
  }

  test::TempDir dir_;
  std::string socket_ = (dir_.path() / "d.sock").string();
  std::unique_ptr<FakeService> service_;
  std::atomic<JobState> state_{JobState::Suspended};
  std::atomic<Hresult> action_code_{hr::SOk};
};

// --- Result types ---------------------------------------------------------------------------

TEST(ResultTypes, StatusKeepsSuccessCodes) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.code(), hr::SOk);
  Status partial(hr::BgSPartialComplete, "dropped 1 file");
  EXPECT_TRUE(partial.ok());
  EXPECT_TRUE(static_cast<bool>(partial));
  EXPECT_EQ(partial.name(), "BG_S_PARTIAL_COMPLETE");
  Status bad(hr::DoEInvalidState, "cannot resume");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.to_string(), "0x80D02013 DO_E_INVALID_STATE: cannot resume");
  EXPECT_EQ(Status(hr::DoEJobEmpty).to_string(), "0x80D02004 DO_E_JOB_EMPTY");
}

TEST(ResultTypes, ResultHoldsValueOrStatus) {
  Result<int> v = 5;
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 5);
  EXPECT_EQ(v.code(), hr::SOk);
  Result<int> partial(7, Status(hr::SFalse, "nothing to do"));
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial.code(), hr::SFalse);
  Result<int> failed = Status(hr::DoEJobNotFound, "gone");
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(failed.code(), hr::DoEJobNotFound);
  EXPECT_EQ(failed.message(), "gone");
  EXPECT_EQ(failed.value_or(9), 9);
  // A success status without a value cannot be built: it becomes E_FAIL.
  Result<int> odd = Status();
  EXPECT_FALSE(odd.ok());
  EXPECT_EQ(odd.code(), hr::EFail);
}

TEST(ResultTypes, ValueOfAFailedResultAborts) {
  Result<int> failed = Status(hr::EFail);
  EXPECT_DEATH({ [[maybe_unused]] int x = failed.value(); }, "");
}

TEST(PublicApi, FreeFunctionsAreExported) {
  EXPECT_EQ(hresult_name(hr::DoEInvalidState), "DO_E_INVALID_STATE");
  EXPECT_EQ(hresult_hex(hr::DoEInvalidState), "0x80D02013");
  EXPECT_FALSE(hresult_message(hr::DoEJobEmpty).empty());
  Hresult code = 0;
  EXPECT_TRUE(hresult_from_name("DO_E_EMPTY", code));
  EXPECT_EQ(code, hr::DoEJobEmpty);
  EXPECT_EQ(state_name(JobState::TransientError), "TRANSIENT_ERROR");
  EXPECT_EQ(priority_name(JobPriority::Low), "LOW");
  EXPECT_EQ(type_name(JobType::UploadReply), "UPLOAD_REPLY");
  EXPECT_EQ(proxy_usage_name(ProxyUsage::NoProxy), "NO_PROXY");
  EXPECT_EQ(context_name(ErrorContext::RemoteFile), "REMOTE_FILE");
  EXPECT_EQ(event_type_name(EventType::JobTransferred), "JobTransferred");
  JobState s{};
  EXPECT_TRUE(parse_state("transient-error", s));
  JobPriority p{};
  EXPECT_TRUE(parse_priority("high", p));
  JobType t{};
  EXPECT_TRUE(parse_type("download", t));
  ProxyUsage u{};
  EXPECT_TRUE(parse_proxy_usage("override", u));
  ErrorContext c{};
  EXPECT_TRUE(parse_context("LOCAL_FILE", c));
  EventType e{};
  EXPECT_TRUE(parse_event_type("JobError", e));
  EXPECT_STREQ(library_version(), BGCOPY_VERSION_STRING);
}

TEST(PublicApi, JsonMatchesTheApiShapes) {
  auto j = nlohmann::json::parse(to_json_string(sample_job(JobState::TransientError)));
  EXPECT_EQ(j["id"], kId);
  EXPECT_EQ(j["state"], "TRANSIENT_ERROR");
  EXPECT_TRUE(j["bytes_total"].is_null());
  EXPECT_TRUE(j["error"].is_null());
  EXPECT_EQ(j["created"], "1970-01-01T00:00:00Z");
  EXPECT_TRUE(j["files"].is_array());
  // Indented output is the same document.
  EXPECT_EQ(nlohmann::json::parse(to_json_string(sample_job(), 2)),
            nlohmann::json::parse(to_json_string(sample_job())));
  // Invalid UTF-8 does not break the output.
  JobInfo bad = sample_job();
  bad.display_name = "\xff\xfe";
  EXPECT_NO_THROW(nlohmann::json::parse(to_json_string(bad)));
}

TEST(SocketPath, Precedence) {
  ::unsetenv("BGCOPY_SOCKET");
  ::setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
  ConnectOptions o;
  EXPECT_EQ(Manager::resolve_socket_path(o), "/run/user/4242/bgcopy/bgcopyd.sock");
  o.system = true;
  EXPECT_EQ(Manager::resolve_socket_path(o), "/run/bgcopy/bgcopyd.sock");
  ::setenv("BGCOPY_SOCKET", "/tmp/x.sock", 1);
  EXPECT_EQ(Manager::resolve_socket_path(o), "/tmp/x.sock");
  o.socket_path = "/explicit.sock";
  EXPECT_EQ(Manager::resolve_socket_path(o), "/explicit.sock");
  ::unsetenv("BGCOPY_SOCKET");
  ::setenv("XDG_RUNTIME_DIR", "relative/dir", 1);  // ignored, as bgcopyd ignores it
  o = ConnectOptions{};
  const std::string fallback = Manager::resolve_socket_path(o);
  EXPECT_EQ(fallback.rfind('/', 0), 0U);
  EXPECT_EQ(fallback.find("relative"), std::string::npos) << fallback;
  ::unsetenv("XDG_RUNTIME_DIR");
}

// --- Transport ------------------------------------------------------------------------------

TEST_F(ClientTest, ConnectChecksHealth) {
  serve([](const FakeService::Request&) { return FakeService::json(404, "{}"); });
  auto m = connect();
  auto info = m.service_info();
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->version, "0.1.0");
  EXPECT_EQ(info->api, 1);
  EXPECT_EQ(info->uid, 1000U);
  EXPECT_EQ(info->mode, "user");
  EXPECT_EQ(m.socket_path(), socket_);
  const auto reqs = service_->requests();
  ASSERT_FALSE(reqs.empty());
  EXPECT_EQ(reqs[0].headers.at("host"), "localhost");
  EXPECT_EQ(reqs[0].headers.at("user-agent").rfind("libbgcopy/", 0), 0U);
}

TEST_F(ClientTest, ConnectRefusesAnotherApiVersion) {
  service_ = std::make_unique<FakeService>(socket_, [](const FakeService::Request&) {
    return FakeService::json(200, R"({"status":"ok","version":"9.0.0","api":2})");
  });
  ConnectOptions o;
  o.socket_path = socket_;
  auto m = Manager::connect(o);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.code(), hr::ENotImpl);
}

TEST_F(ClientTest, NothingListeningIsAnErrnoCode) {
  ConnectOptions o;
  o.socket_path = socket_;
  auto m = Manager::connect(o);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.code(), hresult_from_errno(ENOENT)) << m.status().to_string();
  EXPECT_NE(m.message().find(socket_), std::string::npos) << m.message();

  // A socket file with nobody listening: ECONNREFUSED.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  socket_.copy(addr.sun_path, socket_.size());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
  m = Manager::connect(o);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.code(), hresult_from_errno(ECONNREFUSED)) << m.status().to_string();
}

TEST_F(ClientTest, BadTimeoutIsInvalidArg) {
  ConnectOptions o;
  o.socket_path = socket_;
  o.request_timeout = 0ms;
  EXPECT_EQ(Manager::connect(o).code(), hr::EInvalidArg);
}

TEST_F(ClientTest, ErrorBodiesKeepTheirCodeAndMessage) {
  serve([](const FakeService::Request&) {
    return FakeService::json(404, error_body(hr::DoEJobNotFound, "no job {X} here"));
  });
  auto m = connect();
  auto job = m.get_job(kId);
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.code(), hr::DoEJobNotFound);
  EXPECT_EQ(job.message(), "no job {X} here");
  // The id went on the wire without braces.
  EXPECT_EQ(service_->requests().back().target, "/v1/jobs/C775D194-090F-431F-B5FB-8334D00D1CB6");
}

TEST_F(ClientTest, MalformedIdIsRejectedLocally) {
  serve([](const FakeService::Request&) { return FakeService::json(500, "{}"); });
  auto m = connect();
  const auto before = service_->request_count();
  EXPECT_EQ(m.get_job("nightly").code(), hr::EInvalidArg);
  EXPECT_EQ(m.subscribe([](const JobEvent&) {}, std::string("x")).code(), hr::EInvalidArg);
  EXPECT_EQ(m.subscribe(EventCallback{}).code(), hr::EInvalidArg);
  EXPECT_EQ(service_->request_count(), before);
}

TEST_F(ClientTest, UnreadableAnswersAreInvalidServerResponse) {
  serve([](const FakeService::Request& r) {
    if (r.target == "/v1/jobs") {
      return FakeService::json(500, "<html>oops</html>");
    }
    if (r.target.rfind("/v1/jobs/", 0) == 0) {
      return FakeService::json(200, R"({"id": 5})");  // not a job
    }
    return FakeService::Reply{"SSH-2.0-OpenSSH\r\n\r\n", true};
  });
  auto m = connect();
  auto jobs = m.enum_jobs();
  EXPECT_EQ(jobs.code(), hr::BgEInvalidServerResponse) << jobs.status().to_string();
  EXPECT_NE(jobs.message().find("500"), std::string::npos) << jobs.message();
  auto job = m.get_job(kId);
  EXPECT_EQ(job.code(), hr::BgEInvalidServerResponse) << job.status().to_string();
  auto sub = m.subscribe([](const JobEvent&) {});
  EXPECT_EQ(sub.code(), hr::BgEInvalidServerResponse) << sub.status().to_string();
}

TEST_F(ClientTest, AJobAnswerMustNameACanonicalJobId) {
  serve([](const FakeService::Request& r) {
    if (r.target == "/v1/jobs") return FakeService::json(200, R"({"id": "not-a-guid"})");
    // A nested "id" is not the job's.
    return FakeService::json(200, R"({"file": {"id": "{C775D194-090F-431F-B5FB-8334D00D1CB6}"}})");
  });
  auto m = connect();
  auto created = m.create_job("x");
  EXPECT_EQ(created.code(), hr::BgEInvalidServerResponse) << created.status().to_string();
  EXPECT_NE(created.message().find("not-a-guid"), std::string::npos) << created.message();
  auto job = m.get_job(kId);
  EXPECT_EQ(job.code(), hr::BgEInvalidServerResponse) << job.status().to_string();
}

TEST_F(ClientTest, EnumJobsJsonPassesTheListOnAsTheServiceWroteIt) {
  const std::string list = R"([{"id":"x","files":[]},{"id":"y","files":[]}])";
  serve([&](const FakeService::Request& r) {
    if (r.target == "/v1/jobs?all_users=1") return FakeService::json(200, "{\"jobs\": []}\n");
    return FakeService::json(200, "{\"jobs\":" + list + "}\n");
  });
  auto m = connect();
  auto text = m.enum_jobs_json();
  ASSERT_TRUE(text.ok()) << text.status().to_string();
  EXPECT_EQ(*text, list);
  // Not the exact form the service writes: refused, not passed on.
  auto other = m.enum_jobs_json(true);
  EXPECT_EQ(other.code(), hr::BgEInvalidServerResponse) << other.status().to_string();
}

TEST_F(ClientTest, EnumJobsJsonRefusesWhatIsNotAJobList) {
  serve([](const FakeService::Request& r) {
    if (r.target == "/v1/jobs") return FakeService::json(200, R"({"id": 5})");
    return FakeService::json(500, "<html>oops</html>");
  });
  auto m = connect();
  EXPECT_EQ(m.enum_jobs_json().code(), hr::BgEInvalidServerResponse);
  EXPECT_EQ(m.enum_jobs_json(true).code(), hr::BgEInvalidServerResponse);
}

TEST_F(ClientTest, StaleKeepAliveConnectionIsReopened) {
  // The service closes after every answer, as one that timed an idle connection out would,
  // without saying so in the answer.
  service_ = std::make_unique<FakeService>(socket_, [](const FakeService::Request& r) {
    if (r.target == "/v1/health") return FakeService::json(200, kHealth, true);
    return FakeService::json(200, R"({"jobs": []})", true);
  });
  auto m = connect();
  for (int i = 0; i < 3; ++i) {
    auto jobs = m.enum_jobs();
    ASSERT_TRUE(jobs.ok()) << jobs.status().to_string();
    EXPECT_TRUE(jobs->empty());
  }
  EXPECT_EQ(service_->request_count(), 4U);
  EXPECT_EQ(service_->connections(), 4);
}

TEST_F(ClientTest, KeepAliveReusesOneConnection) {
  serve([](const FakeService::Request&) { return FakeService::json(200, R"({"jobs": []})"); });
  auto m = connect();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(m.enum_jobs().ok());
  }
  EXPECT_EQ(service_->connections(), 1);
}

TEST_F(ClientTest, SilentServiceTimesOut) {
  serve([](const FakeService::Request&) { return FakeService::Reply{"", false, true}; });
  auto m = connect(300ms);
  const auto start = std::chrono::steady_clock::now();
  auto jobs = m.enum_jobs();
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(jobs.ok());
  EXPECT_EQ(jobs.code(), hresult_from_errno(ETIMEDOUT)) << jobs.status().to_string();
  EXPECT_LT(took, test::scaled(5s));
  service_->stop();
}

TEST_F(ClientTest, ConcurrentCallsShareTheManager) {
  serve([](const FakeService::Request&) { return FakeService::json(200, R"({"jobs": []})"); });
  auto m = connect();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([m, &ok] {  // copies share the connection
      for (int i = 0; i < 25; ++i) {
        if (m.enum_jobs().ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 100);
}

// --- Jobs -----------------------------------------------------------------------------------

TEST_F(ClientTest, CreateSendsTheDocumentedBody) {
  serve_job();
  auto m = connect();
  auto job = m.create_job("nightly", JobType::Download, JobPriority::High);
  ASSERT_TRUE(job.ok()) << job.status().to_string();
  EXPECT_EQ(job->id(), kId);
  const auto req = service_->requests().back();
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.headers.at("content-type"), "application/json");
  auto body = nlohmann::json::parse(req.body);
  EXPECT_EQ(body["display_name"], "nightly");
  EXPECT_EQ(body["type"], "DOWNLOAD");
  EXPECT_EQ(body["priority"], "HIGH");
}

TEST_F(ClientTest, SubmitJobSendsTheWholeJobInOneRequest) {
  serve_job();
  auto m = connect();
  const auto before = service_->request_count();
  FileSpec a{"http://h/a", "/srv/a", {}, std::nullopt};
  FileSpec b{"http://h/b", "/srv/b", {}, std::string(64, 'e')};
  auto job = m.submit_job("whole", {a, b}, JobPriority::Low);
  ASSERT_TRUE(job.ok()) << job.status().to_string();
  EXPECT_EQ(job->id(), kId);
  ASSERT_EQ(service_->request_count(), before + 1);
  const auto req = service_->requests().back();
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/v1/jobs");
  auto body = nlohmann::json::parse(req.body);
  EXPECT_EQ(body["display_name"], "whole");
  EXPECT_EQ(body["priority"], "LOW");
  ASSERT_EQ(body["files"].size(), 2U);
  EXPECT_EQ(body["files"][1]["local_path"], "/srv/b");
  EXPECT_EQ(body["files"][1]["sha256"], std::string(64, 'e'));
  EXPECT_EQ(body["resume"], true);
  // Without resume the key is left out; without files nothing is sent.
  ASSERT_TRUE(m.submit_job("held", {a}, JobPriority::Normal, false).ok());
  EXPECT_FALSE(nlohmann::json::parse(service_->requests().back().body).contains("resume"));
  const auto sent = service_->request_count();
  auto empty = m.submit_job("empty", {});
  EXPECT_EQ(empty.code(), hr::EInvalidArg);
  EXPECT_EQ(service_->request_count(), sent);
}

TEST_F(ClientTest, AddFileSetSendsEveryFile) {
  serve_job();
  auto job = connect().get_job(kId);
  ASSERT_TRUE(job.ok());
  FileSpec a{"http://h/a", "/srv/a", {}, std::string(64, 'f')};
  FileSpec b{"http://h/b", "/srv/b", {{0, 10}, {100, kLengthToEof}}, std::nullopt};
  ASSERT_TRUE(job->add_file_set({a, b}).ok());
  auto body = nlohmann::json::parse(service_->requests().back().body);
  ASSERT_EQ(body["files"].size(), 2U);
  EXPECT_EQ(body["files"][0]["remote_url"], "http://h/a");
  EXPECT_EQ(body["files"][0]["sha256"], std::string(64, 'f'));
  EXPECT_EQ(body["files"][1]["ranges"][1]["offset"], 100);
  EXPECT_TRUE(body["files"][1]["ranges"][1]["length"].is_null());
  EXPECT_EQ(service_->requests().back().target,
            "/v1/jobs/C775D194-090F-431F-B5FB-8334D00D1CB6/files");

  const auto before = service_->request_count();
  EXPECT_EQ(job->add_file_set({}).code(), hr::EInvalidArg);
  EXPECT_EQ(job->add_file_with_ranges("http://h/c", "/srv/c", {}).code(), hr::DoEInvalidRange);
  EXPECT_EQ(service_->request_count(), before);
}

TEST_F(ClientTest, SettersSendOnlyTheirField) {
  serve_job();
  auto job = connect().get_job(kId);
  ASSERT_TRUE(job.ok());
  ASSERT_TRUE(job->set_min_retry_delay(30s).ok());
  EXPECT_EQ(nlohmann::json::parse(service_->requests().back().body),
            nlohmann::json::parse(R"({"min_retry_delay": 30})"));
  ASSERT_TRUE(job->set_notify_cmdline({"/bin/echo", "hi"}).ok());
  EXPECT_EQ(nlohmann::json::parse(service_->requests().back().body),
            nlohmann::json::parse(R"({"notify_cmdline": ["/bin/echo", "hi"]})"));
  ASSERT_TRUE(job->set_proxy({ProxyUsage::Override, "http://p:3128", ""}).ok());
  EXPECT_EQ(nlohmann::json::parse(service_->requests().back().body)["proxy"]["usage"], "OVERRIDE");
  EXPECT_EQ(service_->requests().back().method, "PATCH");

  const auto before = service_->request_count();
  EXPECT_EQ(job->set_no_progress_timeout(-1s).code(), hr::EInvalidArg);
  EXPECT_EQ(job->set_max_download_time(std::chrono::seconds(1LL << 40)).code(), hr::EInvalidArg);
  EXPECT_EQ(service_->request_count(), before);
}

TEST_F(ClientTest, ActionsReturnTheServiceResultCode) {
  serve_job();
  auto job = connect().get_job(kId);
  ASSERT_TRUE(job.ok());
  auto s = job->resume();
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(service_->requests().back().target,
            "/v1/jobs/C775D194-090F-431F-B5FB-8334D00D1CB6/resume");
  EXPECT_EQ(service_->requests().back().body, "");
  action_code_ = hr::BgSUnableToDeleteFiles;
  s = job->suspend();
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), hr::BgSUnableToDeleteFiles);
}

TEST_F(ClientTest, CompleteMakesTheHandleFinal) {
  serve_job();
  auto job = connect().get_job(kId);
  ASSERT_TRUE(job.ok());
  const Job copy = *job;
  action_code_ = hr::BgSPartialComplete;
  auto s = job->complete();
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(s.code(), hr::BgSPartialComplete);
  EXPECT_EQ(s.message(), "done");

  const auto before = service_->request_count();
  EXPECT_EQ(job->id(), kId);
  auto st = job->state();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, JobState::Acknowledged);
  EXPECT_EQ(*copy.state(), JobState::Acknowledged) << "copies are the same handle";
  EXPECT_EQ(job->resume().code(), hr::DoEInvalidState);
  EXPECT_EQ(job->cancel().code(), hr::DoEInvalidState);
  EXPECT_EQ(job->complete().code(), hr::DoEInvalidState);
  EXPECT_EQ(job->add_file("http://h/a", "/a").code(), hr::DoEInvalidState);
  EXPECT_EQ(job->set_priority(JobPriority::Low).code(), hr::DoEInvalidState);
  EXPECT_EQ(job->info().code(), hr::DoEInvalidState);
  EXPECT_EQ(job->wait(1s).code(), hr::DoEInvalidState);
  EXPECT_EQ(copy.suspend().code(), hr::DoEInvalidState);
  EXPECT_NE(job->resume().message().find("ACKNOWLEDGED"), std::string::npos);
  EXPECT_EQ(service_->request_count(), before) << "a final handle asks nothing";
}

TEST_F(ClientTest, CancelMakesTheHandleFinal) {
  serve_job();
  auto job = connect().get_job(kId);
  ASSERT_TRUE(job.ok());
  ASSERT_TRUE(job->cancel().ok());
  EXPECT_EQ(*job->state(), JobState::Cancelled);
  EXPECT_EQ(job->resume().code(), hr::DoEInvalidState);
}

TEST_F(ClientTest, FailedCompleteLeavesTheHandleUsable) {
  serve([](const FakeService::Request& r) {
    if (r.target.find("/complete") != std::string::npos) {
      return FakeService::json(500, error_body(hresult_from_errno(EXDEV), "rename failed"));
    }
    return FakeService::json(200, to_json_string(sample_job(JobState::Transferred)));
  });
  auto job = connect().get_job(kId);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->complete().code(), hresult_from_errno(EXDEV));
  EXPECT_EQ(*job->state(), JobState::Transferred);
}

// --- Events ---------------------------------------------------------------------------------

std::string event_line(const char* type, const std::string& job, const char* state,
                       std::uint64_t seq) {
  JobEvent e;
  e.seq = seq;
  parse_event_type(type, e.type);
  e.job_id = job;
  parse_state(state, e.state);
  return to_json_string(e);
}

TEST_F(ClientTest, SubscriptionDeliversEventsUntilStopped) {
  serve_job();
  auto m = connect();
  std::mutex mu;
  std::vector<JobEvent> seen;
  auto sub = m.subscribe(
      [&](const JobEvent& e) {
        std::lock_guard lock(mu);
        seen.push_back(e);
      },
      std::string("c775d194-090f-431f-b5fb-8334d00d1cb6"));
  ASSERT_TRUE(sub.ok()) << sub.status().to_string();
  EXPECT_TRUE(sub->active());
  EXPECT_EQ(service_->requests().back().target,
            "/v1/events?job=C775D194-090F-431F-B5FB-8334D00D1CB6");
  ASSERT_TRUE(test::wait_until([&] { return service_->open_streams() == 1; }, 5s));

  service_->push_event("");          // keep-alive line: ignored
  service_->push_event("not json");  // ignored
  service_->push_event(event_line("JobModification", "{00000000-0000-0000-0000-000000000001}",
                                  "QUEUED", 1));  // another job: filtered out
  service_->push_event(event_line("JobTransferred", kId, "TRANSFERRED", 2));
  ASSERT_TRUE(test::wait_until(
      [&] {
        std::lock_guard lock(mu);
        return !seen.empty();
      },
      5s));
  sub->stop();
  EXPECT_FALSE(sub->active());
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].type, EventType::JobTransferred);
  EXPECT_EQ(seen[0].job_id, kId);
  EXPECT_EQ(seen[0].state, JobState::Transferred);
  EXPECT_EQ(seen[0].seq, 2U);
}

TEST_F(ClientTest, SubscriptionErrorsMeanNoCallback) {
  serve([](const FakeService::Request&) {
    return FakeService::json(404, error_body(hr::DoEJobNotFound, "no such job"));
  });
  auto m = connect();
  std::atomic<int> calls{0};
  auto sub = m.subscribe([&](const JobEvent&) { ++calls; }, std::string(kId));
  ASSERT_FALSE(sub.ok());
  EXPECT_EQ(sub.code(), hr::DoEJobNotFound) << sub.status().to_string();
  EXPECT_EQ(calls.load(), 0);
}

TEST_F(ClientTest, StopFromInsideTheCallback) {
  serve_job();
  auto m = connect();
  std::atomic<int> calls{0};
  auto sub = std::make_unique<Subscription>();
  Subscription* self = sub.get();
  auto opened = m.subscribe([&calls, self](const JobEvent&) {
    ++calls;
    self->stop();
  });
  ASSERT_TRUE(opened.ok());
  *sub = std::move(*opened);
  ASSERT_TRUE(test::wait_until([&] { return service_->open_streams() == 1; }, 5s));
  service_->push_event(event_line("JobModification", kId, "QUEUED", 1));
  ASSERT_TRUE(test::wait_until([&] { return !sub->active(); }, 5s));
  service_->push_event(event_line("JobModification", kId, "QUEUED", 2));
  EXPECT_EQ(calls.load(), 1);
  sub.reset();
}

// After a reconnect the subscription reads the job again (resync). A service that accepts
// that read and never answers must not hold stop() for the request timeout.
TEST_F(ClientTest, StopDoesNotWaitForAResyncTheServiceNeverAnswers) {
  std::atomic<int> streams{0};
  std::atomic<int> resyncs{0};
  serve([&](const FakeService::Request& r) {
    if (r.target.rfind("/v1/events", 0) == 0) {
      if (++streams == 1) {  // the first stream ends at once: the client reconnects
        return FakeService::Reply{
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            true, false, false};
      }
      return FakeService::events();
    }
    ++resyncs;
    return FakeService::Reply{"", false, true, false};  // silence
  });
  auto m = connect(60s);
  auto sub = m.subscribe([](const JobEvent&) {}, std::string(kId));
  ASSERT_TRUE(sub.ok()) << sub.status().to_string();
  ASSERT_TRUE(test::wait_until([&] { return resyncs.load() == 1; }, 10s));
  auto stopped = std::async(std::launch::async, [&] { sub->stop(); });
  // Without cancellation stop() waits out the 60 s request timeout.
  EXPECT_EQ(stopped.wait_for(10s), std::future_status::ready);
  stopped.wait();
  EXPECT_FALSE(sub->active());
}

TEST_F(ClientTest, DestroyingASubscriptionEndsTheStream) {
  serve_job();
  auto m = connect();
  {
    auto sub = m.subscribe([](const JobEvent&) {});
    ASSERT_TRUE(sub.ok());
    ASSERT_TRUE(test::wait_until([&] { return service_->open_streams() == 1; }, 5s));
  }
  EXPECT_TRUE(test::wait_until([&] { return service_->open_streams() == 0; }, 5s));
}

TEST_F(ClientTest, WaitEndsOnTheRecordAfterAnEvent) {
  serve_job();
  state_ = JobState::Transferring;
  auto job = connect().get_job(kId);
  ASSERT_TRUE(job.ok());
  std::thread flip([&] {
    ASSERT_TRUE(test::wait_until([&] { return service_->open_streams() == 1; }, 5s));
    state_ = JobState::Transferred;
    service_->push_event(event_line("JobTransferred", kId, "TRANSFERRED", 1));
  });
  auto st = job->wait(test::scaled(30s));
  flip.join();
  ASSERT_TRUE(st.ok()) << st.status().to_string();
  EXPECT_EQ(*st, JobState::Transferred);
}

TEST_F(ClientTest, WaitReturnsTheCurrentStateOnTimeout) {
  serve_job();
  state_ = JobState::TransientError;
  auto job = connect().get_job(kId);
  ASSERT_TRUE(job.ok());
  auto st = job->wait(300ms);
  ASSERT_TRUE(st.ok()) << st.status().to_string();
  EXPECT_EQ(*st, JobState::TransientError);
  state_ = JobState::Error;
  st = job->wait(0ms);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, JobState::Error);
}

}  // namespace
}  // namespace bgcopy
