// One local user against another's job on a system-mode bgcopyd: every route of docs/api.md,
// the event stream included, answers "denied" and changes nothing; root sees and acts on all.
#include "hostile_support.hpp"

namespace bgcopy::test::hostile {
namespace {

class MultiUserTest : public SystemModeTest {};

TEST_F(MultiUserTest, EveryCallOnAnotherUsersJobIsDeniedAndChangesNothing) {
  start();
  const fs::path src = nobody_file("src.txt", "payload\n");
  const fs::path d = nobody_dir("d");
  const std::string id = job_with_file(kNobody, "file://" + src.string(), d / "out.txt");
  ASSERT_FALSE(id.empty());
  UnixHttpClient root(socket());
  json info_before = root.get(job_url(id)).json();
  json files_before = root.get(job_url(id, "files")).json();
  ASSERT_EQ(info_before["owner"], kNobody.uid);

  const std::string sock = socket();
  const std::string other_file = (home_ / "stolen.txt").string();
  json files_body{
      {"files", {{{"remote_url", "file://" + src.string()}, {"local_path", other_file}}}}};
  struct Call {
    std::string method;
    std::string target;
    std::string body;
  };
  const std::vector<Call> calls{
      {"GET", job_url(id), ""},
      {"PATCH", job_url(id), R"({"description":"mine now","priority":"FOREGROUND"})"},
      {"PATCH", job_url(id), R"({"notify_cmdline":["/bin/sh","-c","id"]})"},
      {"GET", job_url(id, "files"), ""},
      {"POST", job_url(id, "files"), files_body.dump()},
      {"POST", job_url(id, "resume"), ""},
      {"POST", job_url(id, "suspend"), ""},
      {"POST", job_url(id, "complete"), ""},
      {"POST", job_url(id, "cancel"), ""},
      {"POST", job_url(id, "take_ownership"), ""},
      {"GET", job_url(id, "error"), ""},
      {"GET", "/v1/events?job=" + bare(id), ""},
      {"GET", "/v1/jobs?all_users=1", ""},
  };
  json results = as_user(kStranger, [&] {
    UnixHttpClient c(sock);
    json out = json::array();
    for (const auto& call : calls)
      out.push_back(answer(c.request(call.method, call.target, call.body)));
    out.push_back(answer(c.get("/v1/jobs")));
    return out;
  });
  ASSERT_TRUE(results.is_array()) << results.dump();
  ASSERT_EQ(results.size(), calls.size() + 1);
  for (std::size_t i = 0; i < calls.size(); ++i) {
    SCOPED_TRACE(calls[i].method + " " + calls[i].target);
    EXPECT_EQ(results[i]["status"], 403) << results[i].dump();
    EXPECT_EQ(results[i]["body"]["name"], "E_ACCESSDENIED") << results[i].dump();
  }
  EXPECT_EQ(results.back()["status"], 200);
  EXPECT_TRUE(results.back()["body"]["jobs"].empty()) << "a stranger lists none of nobody's jobs";

  // Nothing changed: same info (modification time included), same files, nothing written.
  EXPECT_EQ(root.get(job_url(id)).json(), info_before);
  EXPECT_EQ(root.get(job_url(id, "files")).json(), files_before);
  EXPECT_FALSE(fs::exists(other_file));
  EXPECT_TRUE(names_in(d).empty());

  // Root sees the job in everyone's list and may act on it.
  json all = root.get("/v1/jobs?all_users=1").json();
  bool listed = false;
  for (const auto& j : all["jobs"]) listed = listed || j["id"] == id;
  EXPECT_TRUE(listed) << all.dump();
  auto patched = root.patch(job_url(id), R"({"description":"set by root"})");
  EXPECT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json()["owner"], kNobody.uid);
  auto taken = root.post(job_url(id, "take_ownership"));
  ASSERT_EQ(taken.status, 200) << taken.body;
  EXPECT_EQ(taken.json()["job"]["owner"], 0);
  // ... and after that nobody is the stranger.
  EXPECT_EQ(call_as(kNobody, "GET", job_url(id))["status"], 403);
}

TEST_F(MultiUserTest, TheEventStreamCarriesNoOtherUsersEvents) {
  start();
  const fs::path src = nobody_file("src.txt", "payload\n");
  const std::string id = job_with_file(kNobody, "file://" + src.string(), nobody_dir("d") / "o");
  ASSERT_FALSE(id.empty());
  const std::string sock = socket();
  const fs::path sync = dir_.file("sync");  // the stranger may write here
  fs::create_directory(sync);
  ASSERT_EQ(::chmod(sync.c_str(), 0777), 0);
  const fs::path ready = sync / "ready";
  const fs::path go = sync / "go";
  // The stranger subscribes to every event it may see and says so; root then changes nobody's
  // job, and only after that the stranger changes a job of its own. Events reach a stream in
  // order and a first JobModification per job is never held back, so a leaked event of
  // nobody's job would arrive before the stranger's own.
  UserProcess stranger(kStranger, [&] {
    EventStreamClient events(sock);
    write_file(ready, "");
    if (!wait_until([&] { return fs::exists(go); }, 15s)) return json{{"exception", "no go"}};
    UnixHttpClient c(sock);
    const std::string own = c.post_json("/v1/jobs", json{{"display_name", "own"}}).json()["id"];
    (void)c.patch(job_url(own), R"({"description":"mine"})");
    json ids = json::array();
    for (int i = 0; i < 20; ++i) {
      auto e = events.next(10s);
      if (!e) break;
      ids.push_back((*e)["job"]);
      if ((*e)["job"] == own) return json{{"own", own}, {"seen", ids}};
    }
    return json{{"exception", "own event never came"}, {"seen", ids}};
  });
  ASSERT_TRUE(wait_until([&] { return fs::exists(ready); }, 15s));
  UnixHttpClient root(socket());
  ASSERT_EQ(root.patch(job_url(id), R"({"description":"by root"})").status, 200);
  write_file(go, "");
  json seen = stranger.result();
  ASSERT_TRUE(seen.contains("own")) << seen.dump();
  EXPECT_EQ(seen["seen"], json::array({seen["own"]})) << "only the stranger's own job";
  EXPECT_EQ(root.get(job_url(id)).json()["description"], "by root");
}

}  // namespace
}  // namespace bgcopy::test::hostile
