#include "proto/json.hpp"

#include "base/time_format.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace bgcopy::proto {
namespace {

using namespace std::chrono_literals;

SystemTime at(std::string_view text) {
  return *parse_rfc3339(text);
}

JobInfo sample_job() {
  JobInfo j;
  j.id = "{C775D194-090F-431F-B5FB-8334D00D1CB6}";
  j.display_name = "nightly";
  j.state = JobState::TransientError;
  j.priority = JobPriority::High;
  j.owner = 1000;
  j.owner_name = "alice";
  j.bytes_total = std::nullopt;
  j.bytes_transferred = 524288;
  j.files_total = 1;
  j.error_count = 2;
  j.error = ErrorInfo{hresult_from_http(404), ErrorContext::RemoteFile, "not found", 0U,
                      "/home/alice/a.iso"};
  j.created = at("2026-11-24T02:40:57Z");
  j.modified = at("2026-11-24T02:41:03Z");
  j.retry_at = at("2026-11-24T02:51:03Z");
  j.wait_reason = "backing off after an error";
  j.notify_cmdline = {"/usr/bin/notify", "--job", "x y"};
  j.proxy = ProxySettings{ProxyUsage::Override, "http://proxy:3128", "localhost"};
  FileInfo f;
  f.index = 0;
  f.remote_url = "http://host/a.iso";
  f.local_path = "/home/alice/a.iso";
  f.ranges = {{0, 100}, {900, kLengthToEof}};
  f.sha256 = std::string(64, 'a');
  f.bytes_transferred = 524288;
  j.files.push_back(f);
  return j;
}

TEST(ProtoJsonTest, TopLevelStringReadsOneMemberOfTheTopObject) {
  const std::string job = dump(to_json(sample_job()));
  auto id = top_level_string(job, "id");
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(*id, sample_job().id);
  // Members of nested objects and arrays do not count, wherever they come.
  auto top = top_level_string(R"({"a":{"id":"inner"},"b":[{"id":"x"}],"id":"outer"})", "id");
  ASSERT_TRUE(top.ok()) << top.error().message;
  EXPECT_EQ(*top, "outer");
}

TEST(ProtoJsonTest, TopLevelStringRefusesWhatHasNoSuchStringMember) {
  for (const std::string_view text :
       {R"({"id": 5})", R"({"a":{"id":"inner"}})", R"([{"id":"x"}])", R"("id")", R"({})",
        R"({"id":"x"} trailing)", R"({"id":"x")", "", R"({"id":null})"}) {
    auto id = top_level_string(text, "id");
    ASSERT_FALSE(id.ok()) << text;
    EXPECT_EQ(id.error().code, hr::EInvalidArg) << text;
    EXPECT_NE(id.error().message.find("malformed JSON"), std::string::npos) << text;
  }
}

TEST(ProtoJsonTest, JobInfoRoundTrips) {
  const JobInfo in = sample_job();
  const Json j = to_json(in);
  JobInfo out;
  auto st = from_json(j, out);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(out, in);
  // And through text.
  JobInfo out2;
  ASSERT_TRUE(decode(dump(j), out2).ok());
  EXPECT_EQ(out2, in);
}

TEST(ProtoJsonTest, JobInfoMatchesTheDocumentedShape) {
  const Json j = to_json(sample_job());
  EXPECT_EQ(j.begin().key(), "id");  // documented order
  EXPECT_EQ(j["state"], "TRANSIENT_ERROR");
  EXPECT_EQ(j["priority"], "HIGH");
  EXPECT_EQ(j["type"], "DOWNLOAD");
  EXPECT_TRUE(j["bytes_total"].is_null());
  EXPECT_EQ(j["created"], "2026-11-24T02:40:57Z");
  EXPECT_TRUE(j["transfer_completed"].is_null());
  EXPECT_EQ(j["error"]["hex"], "0x80190194");
  EXPECT_EQ(j["error"]["name"], "BG_E_HTTP_ERROR_404");
  EXPECT_EQ(j["error"]["code"], 2149122452U);
  EXPECT_EQ(j["error"]["context"], "REMOTE_FILE");
  EXPECT_EQ(j["error"]["file"], "/home/alice/a.iso");
  EXPECT_EQ(j["files"][0]["ranges"][1]["length"], nullptr);
  EXPECT_EQ(j["files"][0]["ranges"][0]["length"], 100);
  EXPECT_EQ(j["proxy"]["usage"], "OVERRIDE");
  for (const char* key : {"id",
                          "display_name",
                          "description",
                          "type",
                          "state",
                          "priority",
                          "owner",
                          "owner_name",
                          "bytes_total",
                          "bytes_transferred",
                          "files_total",
                          "files_transferred",
                          "error_count",
                          "error",
                          "created",
                          "modified",
                          "transfer_completed",
                          "retry_at",
                          "wait_reason",
                          "notify_flags",
                          "notify_cmdline",
                          "min_retry_delay",
                          "no_progress_timeout",
                          "max_download_time",
                          "proxy",
                          "tls_verify",
                          "files"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  for (const char* key :
       {"index", "remote_url", "local_path", "ranges", "sha256", "bytes_total", "bytes_transferred",
        "transferred", "completed", "verified", "restarts"}) {
    EXPECT_TRUE(j["files"][0].contains(key)) << key;
  }
}

TEST(ProtoJsonTest, ErrorBodyHasTheDocumentedKeys) {
  const Json j = error_body(Error::make(hr::DoEInvalidState, "cannot resume"));
  EXPECT_EQ(j["code"], 2161123347U);
  EXPECT_EQ(j["hex"], "0x80D02013");
  EXPECT_EQ(j["name"], "DO_E_INVALID_STATE");
  EXPECT_EQ(j["message"], "cannot resume");
  EXPECT_EQ(j["context"], "GENERAL_QUEUE_MANAGER");
  EXPECT_TRUE(j["file_index"].is_null());
  ErrorInfo e;
  ASSERT_TRUE(from_json(j, e).ok());
  EXPECT_EQ(e.code, hr::DoEInvalidState);
  EXPECT_EQ(e.context, ErrorContext::GeneralQueueManager);
  EXPECT_EQ(e.message, "cannot resume");
}

TEST(ProtoJsonTest, ResultAndActionResponse) {
  ActionResponse in{CallResult{hr::BgSPartialComplete, "dropped 1 file"}, sample_job()};
  const Json j = to_json(in);
  EXPECT_EQ(j["result"]["name"], "BG_S_PARTIAL_COMPLETE");
  EXPECT_EQ(j["result"]["hex"], "0x00200017");
  ActionResponse out;
  ASSERT_TRUE(from_json(j, out).ok());
  EXPECT_EQ(out, in);
  ActionResponse no_job{CallResult{}, std::nullopt};
  const Json j2 = to_json(no_job);
  EXPECT_FALSE(j2.contains("job"));
  EXPECT_FALSE(j2["result"]["message"].get<std::string>().empty());
  ActionResponse out2;
  ASSERT_TRUE(from_json(j2, out2).ok());
  EXPECT_FALSE(out2.job.has_value());
}

TEST(ProtoJsonTest, EventRoundTrips) {
  JobEvent in{17, EventType::FileTransferred, "{AB}", JobState::Transferring,
              3U, at("2026-11-24T02:40:57Z")};
  const Json j = to_json(in);
  EXPECT_EQ(dump(j), R"({"seq":17,"type":"FileTransferred","job":"{AB}","state":"TRANSFERRING",)"
                     R"("file_index":3,"time":"2026-11-24T02:40:57Z"})");
  JobEvent out;
  ASSERT_TRUE(from_json(j, out).ok());
  EXPECT_EQ(out, in);
}

TEST(ProtoJsonTest, HealthListsAndPatchRoundTrip) {
  Health h{"ok", "0.1.0", 1, 1000, "user"};
  Health h2;
  ASSERT_TRUE(from_json(to_json(h), h2).ok());
  EXPECT_EQ(h2, h);

  JobList l{{sample_job(), sample_job()}};
  JobList l2;
  ASSERT_TRUE(from_json(to_json(l), l2).ok());
  EXPECT_EQ(l2, l);

  FileList fl{sample_job().files};
  FileList fl2;
  ASSERT_TRUE(from_json(to_json(fl), fl2).ok());
  EXPECT_EQ(fl2, fl);

  JobSettingsPatch p;
  p.priority = JobPriority::Low;
  p.notify_cmdline = std::vector<std::string>{"/bin/true"};
  p.proxy = ProxySettings{ProxyUsage::NoProxy, "", ""};
  p.tls_verify = false;
  const Json pj = to_json(p);
  EXPECT_EQ(pj.size(), 4U);
  JobSettingsPatch p2;
  ASSERT_TRUE(from_json(pj, p2).ok());
  EXPECT_EQ(p2.priority, p.priority);
  EXPECT_EQ(p2.notify_cmdline, p.notify_cmdline);
  EXPECT_EQ(p2.proxy, p.proxy);
  EXPECT_EQ(p2.tls_verify, p.tls_verify);
  EXPECT_FALSE(p2.display_name.has_value());
}

TEST(ProtoJsonTest, RequestsDecode) {
  CreateJobRequest c;
  ASSERT_TRUE(decode(R"({"display_name":"x","type":"DOWNLOAD","priority":"foreground"})", c).ok());
  EXPECT_EQ(c.display_name, "x");
  EXPECT_EQ(c.priority, JobPriority::Foreground);
  CreateJobRequest c2;
  ASSERT_TRUE(decode("{}", c2).ok());
  EXPECT_EQ(c2.type, JobType::Download);
  EXPECT_FALSE(c2.priority.has_value());
  EXPECT_TRUE(c2.files.empty());
  EXPECT_FALSE(c2.resume);
  // A whole submission: files and resume in the create request.
  CreateJobRequest c3;
  auto sub = decode(R"({"display_name":"s","files":[{"remote_url":"http://h/a",
      "local_path":"/tmp/a"}],"resume":true})",
                    c3);
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  ASSERT_EQ(c3.files.size(), 1U);
  EXPECT_EQ(c3.files[0].local_path, "/tmp/a");
  EXPECT_TRUE(c3.resume);
  CreateJobRequest c3_back;
  ASSERT_TRUE(from_json(to_json(c3), c3_back).ok());
  EXPECT_EQ(c3_back, c3);

  AddFilesRequest a;
  auto st = decode(R"({"files":[{"remote_url":"http://h/a","local_path":"/tmp/a",
      "ranges":[{"offset":0,"length":10},{"offset":20,"length":null},{"offset":40}]},
      {"remote_url":"file:///x","local_path":"/tmp/b","sha256":null}]})",
                   a);
  ASSERT_TRUE(st.ok()) << st.error().message;
  ASSERT_EQ(a.files.size(), 2U);
  EXPECT_EQ(a.files[0].ranges[1].length, kLengthToEof);
  EXPECT_EQ(a.files[0].ranges[2].length, kLengthToEof);
  EXPECT_FALSE(a.files[1].sha256.has_value());
  AddFilesRequest back;
  ASSERT_TRUE(from_json(to_json(a), back).ok());
  EXPECT_EQ(back, a);
}

// Each bad body must fail with E_INVALIDARG (or BG_E_STRING_TOO_LONG) naming the field.
struct BadCase {
  const char* body;
  const char* needle;  // must appear in the message
  Hresult code = hr::EInvalidArg;
};

TEST(ProtoJsonTest, BadRequestsNameTheField) {
  const BadCase create_cases[] = {
      {R"([])", "expected a JSON object"},
      {R"({"display_name":5})", "display_name: expected a string"},
      {R"({"type":"SIDEWAYS"})", "type: unknown job type \"SIDEWAYS\""},
      {R"({"priority":2})", "priority: expected priority name"},
      {R"({"dispaly_name":"x"})", "unknown key \"dispaly_name\""},
      {R"({"display_name":null})", "display_name: must not be null"},
      {R"({"resume":true})", "\"resume\": true needs \"files\""},
      {R"({"files":[{"remote_url":"http://h/a"}]})", "local_path"},
      {R"({"files":{}})", "files: expected an array"},
      {R"({"files":[],"resume":"yes"})", "resume: expected"},
  };
  for (const auto& c : create_cases) {
    CreateJobRequest r;
    auto st = decode(c.body, r);
    ASSERT_FALSE(st.ok()) << c.body;
    EXPECT_EQ(st.error().code, c.code) << c.body;
    EXPECT_NE(st.error().message.find(c.needle), std::string::npos)
        << c.body << " -> " << st.error().message;
  }
  const BadCase add_cases[] = {
      {R"({})", "files: missing"},
      {R"({"files":{}})", "files: expected an array"},
      {R"({"files":[{"local_path":"/a"}]})", "files[0].remote_url: missing"},
      {R"({"files":[{"remote_url":"http://h/","local_path":"/a","ranges":[{"offset":-1}]}]})",
       "files[0].ranges[0].offset: must not be negative"},
      {R"({"files":[{"remote_url":"http://h/","local_path":"/a","ranges":[{"offset":1.5}]}]})",
       "files[0].ranges[0].offset: expected a non-negative integer"},
      {R"({"files":[{"remote_url":"http://h/","local_path":"/a","ranges":[{"offset":"1"}]}]})",
       "files[0].ranges[0].offset"},
      {R"({"files":[{"remote_url":"http://h/","local_path":"/a","ranges":[{"offset":0,"len":1}]}]})",
       "files[0].ranges[0]: unknown key \"len\""},
      {R"({"files":[{"remote_url":"http://h/","local_path":"/a","sha256":7}]})",
       "files[0].sha256: expected a string"},
      {R"({"files":[{"remote_url":"http://h/","local_path":"/a","ranges":[{"offset":18446744073709551616}]}]})",
       "files[0].ranges[0].offset"},
  };
  for (const auto& c : add_cases) {
    AddFilesRequest r;
    auto st = decode(c.body, r);
    ASSERT_FALSE(st.ok()) << c.body;
    EXPECT_EQ(st.error().code, c.code) << c.body;
    EXPECT_NE(st.error().message.find(c.needle), std::string::npos)
        << c.body << " -> " << st.error().message;
  }
  const BadCase patch_cases[] = {
      {R"({"notify_flags":4294967296})", "notify_flags: out of range"},
      {R"({"notify_flags":-1})", "notify_flags: must not be negative"},
      {R"({"min_retry_delay":"600"})", "min_retry_delay: expected a non-negative integer"},
      {R"({"tls_verify":"yes"})", "tls_verify: expected true or false"},
      {R"({"notify_cmdline":"/bin/true"})", "notify_cmdline: expected an array"},
      {R"({"notify_cmdline":["/bin/true",3]})", "notify_cmdline[1]: expected a string"},
      {R"({"proxy":{"usage":"SOMETIMES"}})", "proxy.usage: unknown proxy usage"},
      {R"({"proxy":{"list":"x"}})", "proxy.usage: missing"},
      {R"({"colour":"red"})", "unknown key \"colour\""},
      {R"({"description":null})", "description: must not be null"},
  };
  for (const auto& c : patch_cases) {
    JobSettingsPatch r;
    auto st = decode(c.body, r);
    ASSERT_FALSE(st.ok()) << c.body;
    EXPECT_EQ(st.error().code, c.code) << c.body;
    EXPECT_NE(st.error().message.find(c.needle), std::string::npos)
        << c.body << " -> " << st.error().message;
  }
}

TEST(ProtoJsonTest, OversizedStringsAreRejected) {
  JobSettingsPatch p;
  const std::string big(kMaxDisplayNameBytes + 1, 'x');
  auto st = decode(R"({"display_name":")" + big + R"("})", p);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, hr::BgEStringTooLong);
  EXPECT_NE(st.error().message.find("display_name"), std::string::npos);

  AddFilesRequest a;
  const std::string url = "http://h/" + std::string(kMaxRemoteUrlBytes, 'a');
  st = decode(R"({"files":[{"remote_url":")" + url + R"(","local_path":"/a"}]})", a);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("files[0].remote_url"), std::string::npos);

  JobSettingsPatch many;
  std::string argv = R"({"notify_cmdline":[)";
  for (std::size_t i = 0; i <= kMaxNotifyArgs; ++i) argv += (i ? ",\"a\"" : "\"/a\"");
  argv += "]}";
  st = decode(argv, many);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("notify_cmdline"), std::string::npos);
}

TEST(ProtoJsonTest, MalformedJsonIsInvalidArgAndNeverThrows) {
  for (const char* text : {"", "{", "{\"a\":}", "[1,2", "nul", "{} x", "\xff\xfe"}) {
    CreateJobRequest r;
    auto st = decode(text, r);
    ASSERT_FALSE(st.ok()) << text;
    EXPECT_EQ(st.error().code, hr::EInvalidArg);
    EXPECT_EQ(st.error().message.rfind("malformed JSON", 0), 0U) << st.error().message;
  }
  std::string deep(100, '[');
  deep += std::string(100, ']');
  auto j = parse_json(deep);
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.error().message.find("nested"), std::string::npos);
  // Brackets inside strings do not count.
  EXPECT_TRUE(parse_json("{\"a\":\"" + std::string(100, '[') + "\"}").ok());
}

TEST(ProtoJsonTest, ResponsesIgnoreUnknownKeys) {
  Json j = to_json(sample_job());
  j["added_later"] = {{"x", 1}};
  j["files"][0]["also_new"] = true;
  JobInfo out;
  ASSERT_TRUE(from_json(j, out).ok());
  EXPECT_EQ(out, sample_job());
}

TEST(ProtoJsonTest, DumpReplacesInvalidUtf8) {
  Json j = std::string(
      "a\xff"
      "b");
  EXPECT_EQ(dump(j),
            "\"a\xEF\xBF\xBD"
            "b\"");
}

}  // namespace
}  // namespace bgcopy::proto
