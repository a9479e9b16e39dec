// Fault: the destination directory disappears or turns read-only while a job uses it. Removing
// it is an ERROR on the file (fatal: BITS reports a missing directory as an error on the file,
// and docs/errors.md classifies a missing parent as E_INVALIDARG); read-only is ERRNO_EROFS,
// fatal. Either way the message names the path, nothing is written elsewhere, and once the
// directory is back the job resumes and finishes. Read-only is a read-only bind mount (root
// only): mode bits would not stop a daemon running as root.
#include "files.hpp"
#include "mounts.hpp"
#include "origin_fixture.hpp"
#include "service_harness.hpp"

#include <gtest/gtest.h>

#include <cerrno>

namespace bgcopy::test {
namespace {

using engine::FileSpec;
using engine::JobState;
namespace fs = std::filesystem;

class DestinationFault : public ::testing::Test {
 protected:
  JobId start(ServiceHarness& h, const std::string& url, const std::string& dest,
              const std::string& content) {
    JobId id = h.create("dest-fault");
    EXPECT_TRUE(h.add(id, {FileSpec{url, dest, {}, sha256_bytes(content)}}).ok());
    engine::SettingsPatch p;
    p.min_retry_delay_s = 1;
    EXPECT_TRUE(h.set(id, p).ok());
    EXPECT_TRUE(h.resume(id).ok());
    return id;
  }
  FaultOrigin origin_;
};

TEST_F(DestinationFault, DirectoryRemovedMidTransferIsAnErrorNamingItAndResumesOnceBack) {
  ServiceHarness h;
  const fs::path sub = h.dest_dir() / "sub";
  fs::create_directories(sub);
  const std::uint64_t size = 1536 * 1024;
  const std::string content = gen_content(size, 51);
  // Throttled (about 2 s) so the directory goes while bytes are still arriving.
  const std::string url =
      origin_.url("/gen/" + std::to_string(size) + "?seed=51&rate=750000&key=rm");
  JobId id = start(h, url, (sub / "r.bin").string(), content);
  ASSERT_TRUE(h.wait_for(id, [](const engine::JobRecord& r) {
    return r.state == JobState::Transferring && r.bytes_transferred() >= 256 * 1024;
  }));
  fs::remove_all(sub);

  ASSERT_TRUE(h.wait_state(id, JobState::Error, std::chrono::seconds(20)));
  const auto rec = h.get(id);
  ASSERT_TRUE(rec.error.has_value());
  EXPECT_EQ(rec.error->error.code, hr::EInvalidArg) << rec.error->error.message;
  EXPECT_EQ(rec.error->error.context, ErrorContext::LocalFile);
  EXPECT_EQ(rec.error->error.file_index, 0u);
  EXPECT_NE(rec.error->error.message.find(sub.string()), std::string::npos)
      << "the message names the directory: " << rec.error->error.message;
  EXPECT_EQ(rec.files[0].bytes_transferred, 0u) << "bytes that went with the directory count";
  EXPECT_TRUE(list_dir(h.dest_dir()).empty()) << "something was written elsewhere";

  fs::create_directories(sub);  // the directory is back
  ASSERT_TRUE(h.resume(id).ok());
  ASSERT_TRUE(h.wait_state(id, JobState::Transferred, std::chrono::seconds(30)));
  ASSERT_TRUE(h.complete(id).ok());
  EXPECT_EQ(sha256_file(sub / "r.bin"), sha256_bytes(content));
  EXPECT_EQ(list_dir(sub), std::vector<std::string>{"r.bin"});
}

class ReadOnlyDestination : public DestinationFault {
 protected:
  void SetUp() override {
    if (auto why = mount_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  }
};

TEST_F(ReadOnlyDestination, MidTransferTheReopenFailsWithEROFSAndResumesOnceWritable) {
  ServiceHarness h;
  const fs::path sub = h.dest_dir() / "ro";
  fs::create_directories(sub);
  const std::uint64_t size = 600000;
  const std::uint64_t first = 200000;
  const std::string content = gen_content(size, 52);
  // The first answer (throttled: about half a second) drops the connection after `first`
  // bytes, so the retry must reopen the staging file.
  const std::string url = origin_.url("/gen/" + std::to_string(size) +
                                      "?seed=52&rate=400000&drop_after=" + std::to_string(first) +
                                      "&drop_times=1&key=ro");
  JobId id = start(h, url, (sub / "r.bin").string(), content);
  // TRANSFERRING: the staging file is open and bytes are arriving.
  ASSERT_TRUE(h.wait_state(id, JobState::Transferring));
  std::string why;
  auto ro = ReadOnlyBind::bind(sub, &why);
  ASSERT_TRUE(ro) << why;

  ASSERT_TRUE(h.wait_state(id, JobState::Error, std::chrono::seconds(20)));
  const auto rec = h.get(id);
  ASSERT_TRUE(rec.error.has_value());
  EXPECT_EQ(rec.error->error.code, hresult_from_errno(EROFS)) << rec.error->error.message;
  EXPECT_EQ(rec.error->error.context, ErrorContext::LocalFile);
  EXPECT_NE(rec.error->error.message.find(sub.string()), std::string::npos)
      << "the message names the path: " << rec.error->error.message;
  EXPECT_EQ(rec.files[0].bytes_transferred, first) << "the bytes written before are kept";
  EXPECT_EQ(list_dir(h.dest_dir()), std::vector<std::string>{"ro"});
  EXPECT_EQ(staging_files(sub).size(), 1u);
  EXPECT_FALSE(fs::exists(sub / "r.bin"));

  ro->restore();
  ASSERT_TRUE(h.resume(id).ok());
  ASSERT_TRUE(h.wait_state(id, JobState::Transferred, std::chrono::seconds(30)));
  ASSERT_TRUE(h.complete(id).ok());
  EXPECT_EQ(sha256_file(sub / "r.bin"), sha256_bytes(content));
  // The origin logs a request once it is done with it, which may be just after the client.
  ASSERT_TRUE(
      wait_until([&] { return origin_.requests_for("ro").size() >= 2; }, std::chrono::seconds(5)));
  const auto reqs = origin_.requests_for("ro");
  EXPECT_EQ(reqs[0].outcome, "drop");
  EXPECT_EQ(reqs.back().range, "bytes=" + std::to_string(first) + "-")
      << "the resume continued from the kept bytes";
}

TEST_F(ReadOnlyDestination, CompleteIntoAReadOnlyDirectoryFailsAndCanBeRetried) {
  ServiceHarness h;
  const std::string content = gen_content(200000, 53);
  JobId id = start(h, origin_.url("/gen/200000?seed=53"), h.dest("c.bin"), content);
  ASSERT_TRUE(h.wait_state(id, JobState::Transferred));
  std::string why;
  auto ro = ReadOnlyBind::bind(h.dest_dir(), &why);
  ASSERT_TRUE(ro) << why;

  auto done = h.complete(id);
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().code, hresult_from_errno(EROFS)) << done.error().message;
  EXPECT_NE(done.error().message.find(h.dest_dir().string()), std::string::npos)
      << done.error().message;
  EXPECT_EQ(h.state(id), JobState::Transferred) << "complete can be retried";
  EXPECT_FALSE(fs::exists(h.dest("c.bin")));

  ro->restore();
  auto again = h.complete(id);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(sha256_file(h.dest("c.bin")), sha256_bytes(content));
  EXPECT_TRUE(staging_files(h.dest_dir()).empty());
}

}  // namespace
}  // namespace bgcopy::test
