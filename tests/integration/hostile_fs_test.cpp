// Hostile file-system input against a system-mode bgcopyd acting for uid 65534 (nobody): a
// destination directory swapped for a symlink between add and complete, symlinks and hard
// links planted at the final and staging names, non-normalised paths, kernel pseudo
// filesystems, and sources or destinations the owner may not use (ACLs included). Every case
// asserts what the service refused and that nothing appeared or changed where it must not.
#include "hostile_support.hpp"

#include <sys/stat.h>
#include <sys/xattr.h>

#include <cstdint>
#include <cstring>

namespace bgcopy::test::hostile {
namespace {

/// A POSIX access ACL in the kernel's xattr format: owner rw-, `user` with `user_perm`, group
/// and mask and other as given. Sets it on `path`; false when the filesystem has no ACLs.
bool set_acl(const fs::path& path, unsigned user_obj, uid_t user, unsigned user_perm,
             unsigned group, unsigned mask, unsigned other) {
  struct Entry {
    std::uint16_t tag;
    std::uint16_t perm;
    std::uint32_t id;
  };
  constexpr std::uint32_t kVersion = 2;
  constexpr std::uint32_t kNoId = 0xFFFFFFFF;
  const Entry entries[] = {{0x01, static_cast<std::uint16_t>(user_obj), kNoId},
                           {0x02, static_cast<std::uint16_t>(user_perm), user},
                           {0x04, static_cast<std::uint16_t>(group), kNoId},
                           {0x10, static_cast<std::uint16_t>(mask), kNoId},
                           {0x20, static_cast<std::uint16_t>(other), kNoId}};
  std::string blob(reinterpret_cast<const char*>(&kVersion), sizeof kVersion);
  blob.append(reinterpret_cast<const char*>(entries), sizeof entries);
  return ::setxattr(path.c_str(), "system.posix_acl_access", blob.data(), blob.size(), 0) == 0;
}

class HostileFsTest : public SystemModeTest {};

TEST_F(HostileFsTest, ParentSwappedForASymlinkBeforeCompleteWritesNothingThere) {
  start();
  const fs::path src = nobody_file("src.txt", "payload\n");
  const fs::path d = nobody_dir("d");
  const std::string id = job_with_file(kNobody, "file://" + src.string(), d / "out.txt");
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(call_as(kNobody, "POST", job_url(id, "resume"))["status"], 200);
  wait_state(id, "TRANSFERRED");

  // Swap d for a symlink to root's private directory, then to the service's own state
  // directory (the Microsoft DO lesson: never write downloads where the service keeps state).
  for (const fs::path& target : {secret_, daemon().state_dir()}) {
    SCOPED_TRACE(target.string());
    const auto before = names_in(target);
    fs::rename(d, home_ / "d.real");
    fs::create_directory_symlink(target, d);
    json r = call_as(kNobody, "POST", job_url(id, "complete"));
    EXPECT_EQ(r["status"], 403) << r.dump();
    EXPECT_EQ(r["body"]["name"], "E_ACCESSDENIED") << r.dump();
    EXPECT_NE(r["body"]["message"].get<std::string>().find("may not"), std::string::npos)
        << r.dump();
    EXPECT_EQ(names_in(target), before) << "nothing may appear in " << target;
    fs::remove(d);
    fs::rename(home_ / "d.real", d);
    // The job stays where complete can be retried.
    EXPECT_EQ(wait_state(id, "TRANSFERRED")["files_transferred"], 1);
  }
  EXPECT_EQ(read_file(secret_ / "victim"), "root's data\n");

  // Back in place, complete delivers the file to its owner.
  json r = call_as(kNobody, "POST", job_url(id, "complete"));
  ASSERT_EQ(r["status"], 200) << r.dump();
  EXPECT_EQ(r["body"]["result"]["name"], "S_OK");
  EXPECT_EQ(read_file(d / "out.txt"), "payload\n");
  struct stat st {};
  ASSERT_EQ(::stat((d / "out.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kNobody.uid);
}

TEST_F(HostileFsTest, SymlinksAndHardLinksPlantedAtFinalAndStagingNamesAreNotFollowed) {
  start();
  const fs::path src = nobody_file("src.txt", "payload\n");
  const fs::path d = nobody_dir("d");
  const fs::path victim = secret_ / "victim";
  struct stat victim_before {};
  ASSERT_EQ(::stat(victim.c_str(), &victim_before), 0);

  // A symlink at the staging name: the transfer refuses to write through it.
  const std::string a = job_with_file(kNobody, "file://" + src.string(), d / "a.txt");
  ASSERT_FALSE(a.empty());
  const fs::path a_staging = d / staging_name((d / "a.txt").string(), a);
  fs::create_symlink(victim, a_staging);
  ASSERT_EQ(call_as(kNobody, "POST", job_url(a, "resume"))["status"], 200);
  wait_state(a, "ERROR");
  EXPECT_TRUE(fs::is_symlink(a_staging));

  // A hard link to root's file at the staging name (root can make one even where
  // protected_hardlinks stops users): as the owner, the service cannot open it for writing.
  const std::string b = job_with_file(kNobody, "file://" + src.string(), d / "b.txt");
  ASSERT_FALSE(b.empty());
  const fs::path b_staging = d / staging_name((d / "b.txt").string(), b);
  fs::create_hard_link(victim, b_staging);
  ASSERT_EQ(call_as(kNobody, "POST", job_url(b, "resume"))["status"], 200);
  json b_job = wait_state(b, "ERROR");
  EXPECT_FALSE(b_job["error"].is_null()) << b_job.dump();
  // Cancel as the owner: unlinkat with the owner's rights removes the link nobody owns? No:
  // the link lives in nobody's directory, so removing the name is theirs to do; root's inode
  // stays intact either way.
  ASSERT_EQ(call_as(kNobody, "POST", job_url(b, "cancel"))["status"], 200);

  // A symlink at the final name: complete replaces the link, never what it points to.
  const std::string c = job_with_file(kNobody, "file://" + src.string(), d / "c.txt");
  ASSERT_FALSE(c.empty());
  ASSERT_EQ(call_as(kNobody, "POST", job_url(c, "resume"))["status"], 200);
  wait_state(c, "TRANSFERRED");
  fs::create_symlink(victim, d / "c.txt");
  json r = call_as(kNobody, "POST", job_url(c, "complete"));
  EXPECT_EQ(r["status"], 200) << r.dump();
  EXPECT_FALSE(fs::is_symlink(d / "c.txt"));
  EXPECT_EQ(read_file(d / "c.txt"), "payload\n");

  struct stat victim_after {};
  ASSERT_EQ(::stat(victim.c_str(), &victim_after), 0);
  EXPECT_EQ(read_file(victim), "root's data\n");
  EXPECT_EQ(victim_after.st_size, victim_before.st_size);
  EXPECT_EQ(victim_after.st_uid, 0U);
  EXPECT_EQ(victim_after.st_mode & 07777, 0600U);
  EXPECT_EQ(victim_after.st_mtim.tv_sec, victim_before.st_mtim.tv_sec);
  EXPECT_EQ(victim_after.st_mtim.tv_nsec, victim_before.st_mtim.tv_nsec);
}

TEST_F(HostileFsTest, MalformedAndPseudoFilesystemDestinationsAreRefusedAndCreateNothing) {
  start();
  const fs::path src = nobody_file("src.txt", "payload\n");
  const fs::path d = nobody_dir("d");
  fs::create_directory_symlink("/proc/self", d / "proclink");
  const std::string sock = socket();
  const std::string url = "file://" + src.string();
  const std::string ds = d.string();
  const std::vector<std::pair<std::string, std::string>> cases{
      // E_INVALIDARG: not absolute, not normalised, NUL, over-long.
      {"relative/out.txt", "E_INVALIDARG"},
      {"out.txt", "E_INVALIDARG"},
      {ds + "/../d/out.txt", "E_INVALIDARG"},
      {ds + "/./out.txt", "E_INVALIDARG"},
      {ds + "//out.txt", "E_INVALIDARG"},
      {ds + "/", "E_INVALIDARG"},
      {ds + "/out" + std::string(1, '\0') + ".txt", "E_INVALIDARG"},
      {ds + "/" + std::string(256, 'n'), "E_INVALIDARG"},
      {"/" + std::string(4200, 'p'), "BG_E_STRING_TOO_LONG"},  // the API's field limit
      {ds + "/missing/out.txt", "E_INVALIDARG"},
      {ds, "E_INVALIDARG"},  // a directory
      // E_ACCESSDENIED: kernel pseudo filesystems, by name and through a symlink ...
      {"/proc/self/out.txt", "E_ACCESSDENIED"},
      {"/sys/kernel/out.txt", "E_ACCESSDENIED"},
      {"/dev/shm/out.txt", "E_ACCESSDENIED"},
      {"/dev/out.txt", "E_ACCESSDENIED"},
      {ds + "/proclink/out.txt", "E_ACCESSDENIED"},
      // ... and places nobody may not write: root's directory, the service's state.
      {(secret_ / "out.txt").string(), "E_ACCESSDENIED"},
      {(daemon().state_dir() / "bgcopy.db").string(), "E_ACCESSDENIED"},
      {"/etc/out.txt", "E_ACCESSDENIED"},
  };
  const auto state_before = names_in(daemon().state_dir());
  json results = as_user(kNobody, [&] {
    UnixHttpClient c(sock);
    auto created = c.post_json("/v1/jobs", json{{"display_name", "paths"}});
    const std::string id = created.json()["id"];
    json out = json::array();
    for (const auto& [path, _] : cases) {
      if (path.empty()) continue;
      json files{{"files", {{{"remote_url", url}, {"local_path", path}}}}};
      out.push_back(answer(c.post_json(job_url(id, "files"), files)));
    }
    return json{{"id", id}, {"results", out}, {"job", answer(c.get(job_url(id)))}};
  });
  ASSERT_TRUE(results.contains("results")) << results.dump();
  std::size_t i = 0;
  for (const auto& [path, name] : cases) {
    if (path.empty()) continue;
    const json& r = results["results"][i++];
    SCOPED_TRACE(path.substr(0, 120));
    EXPECT_EQ(r["status"], name == "E_ACCESSDENIED" ? 403 : 400) << r.dump();
    EXPECT_EQ(r["body"]["name"], name) << r.dump();
    EXPECT_FALSE(r["body"]["message"].get<std::string>().empty());
  }
  EXPECT_EQ(results["job"]["body"]["files_total"], 0) << results.dump();
  EXPECT_EQ(names_in(d), std::vector<std::string>{"proclink"});
  EXPECT_EQ(names_in(secret_), std::vector<std::string>{"victim"});
  EXPECT_EQ(names_in(daemon().state_dir()), state_before);
}

TEST_F(HostileFsTest, SourcesAndDestinationsTheOwnerMayNotUseAreDeniedAclsIncluded) {
  start();
  const fs::path d = nobody_dir("d");
  // Mode bits would let nobody read this file ("other" r--), but an ACL entry denies nobody:
  // only the kernel, judging with nobody's identity, sees that.
  const fs::path acl_src = home_ / "acl-src.txt";
  write_file(acl_src, "acl protected\n");
  ASSERT_EQ(::chmod(acl_src.c_str(), 0644), 0);
  const bool acls = set_acl(acl_src, 6, kNobody.uid, 0, 4, 4, 4);
  // Likewise a directory every "other" may write, except nobody.
  const fs::path acl_dir = home_ / "acl-dir";
  fs::create_directory(acl_dir);
  ASSERT_EQ(::chmod(acl_dir.c_str(), 0777), 0);
  const bool dir_acls = acls && set_acl(acl_dir, 7, kNobody.uid, 5, 7, 7, 7);

  struct Source {
    std::string url;
    std::string out;
  };
  std::vector<Source> sources{{"file://" + (secret_ / "victim").string(), "victim.txt"},
                              {"file:///proc/self/status", "status.txt"},
                              {"file:///proc/self/environ", "environ.txt"}};
  if (acls) sources.push_back({"file://" + acl_src.string(), "acl.txt"});
  for (const auto& s : sources) {
    SCOPED_TRACE(s.url);
    const std::string id = job_with_file(kNobody, s.url, d / s.out);
    ASSERT_FALSE(id.empty());
    ASSERT_EQ(call_as(kNobody, "POST", job_url(id, "resume"))["status"], 200);
    json job = wait_state(id, "ERROR");
    json err = call_as(kNobody, "GET", job_url(id, "error"));
    EXPECT_EQ(err["status"], 200) << err.dump();
    EXPECT_EQ(err["body"]["name"], "E_ACCESSDENIED") << err.dump() << job.dump();
    EXPECT_FALSE(fs::exists(d / s.out));
    ASSERT_EQ(call_as(kNobody, "POST", job_url(id, "cancel"))["status"], 200);
    EXPECT_EQ(names_in(d), std::vector<std::string>{}) << "cancel removed the empty staging file";
  }

  if (!dir_acls) GTEST_SKIP() << "the temp filesystem has no POSIX ACLs";
  const std::string sock = socket();
  json r = as_user(kNobody, [&] {
    UnixHttpClient c(sock);
    const std::string id = c.post_json("/v1/jobs", json::object()).json()["id"];
    json files{{"files",
                {{{"remote_url", "file:///etc/hostname"},
                  {"local_path", (acl_dir / "out.txt").string()}}}}};
    return answer(c.post_json(job_url(id, "files"), files));
  });
  EXPECT_EQ(r["status"], 403) << r.dump();
  EXPECT_EQ(r["body"]["name"], "E_ACCESSDENIED") << r.dump();
  EXPECT_TRUE(names_in(acl_dir).empty());
}

}  // namespace
}  // namespace bgcopy::test::hostile
