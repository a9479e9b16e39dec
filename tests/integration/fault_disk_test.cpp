// Fault: the disk fills up, under the destination directory and under the state directory. A
// small tmpfs (mounted by the test; root only) stands in for the disk and grows back when
// "space returns".
#include "files.hpp"
#include "mounts.hpp"
#include "origin_fixture.hpp"
#include "service_harness.hpp"
#include "wait.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <optional>

namespace bgcopy::test {
namespace {

using engine::FileSpec;
using engine::JobState;
namespace fs = std::filesystem;

constexpr std::uint64_t kMiB = 1024 * 1024;

class DiskFull : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = mount_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  }
  FaultOrigin origin_;
};

TEST_F(DiskFull, DestinationFullIsTransientKeepsTheDataAndFinishesWhenSpaceReturns) {
  ServiceHarness h;
  std::string why;
  auto disk = TmpfsMount::mount(h.dest_dir(), 2 * kMiB, &why);
  ASSERT_TRUE(disk) << why;
  // An older version already at the final name must survive the whole episode untouched.
  write_file(h.dest("d.bin"), "old version");

  const std::uint64_t size = 3 * kMiB;
  const std::string content = gen_content(size, 41);
  JobId id = h.create("disk-full");
  ASSERT_TRUE(h.add(id, {FileSpec{origin_.url("/gen/" + std::to_string(size) + "?seed=41&key=full"),
                                  h.dest("d.bin"),
                                  {},
                                  sha256_bytes(content)}})
                  .ok());
  engine::SettingsPatch p;
  p.min_retry_delay_s = 1;
  ASSERT_TRUE(h.set(id, p).ok());
  ASSERT_TRUE(h.resume(id).ok());
  engine::JobRecord rec;  // as seen in TRANSIENT_ERROR: it lasts only until the retry (1 s)
  ASSERT_TRUE(h.wait_state(id, JobState::TransientError, std::chrono::seconds(30), &rec));
  ASSERT_TRUE(rec.error.has_value());
  EXPECT_EQ(rec.error->error.code, hresult_from_errno(ENOSPC));
  EXPECT_EQ(rec.error->error.code, 0xC0D0001Cu);
  EXPECT_EQ(rec.error->error.context, ErrorContext::LocalFile);
  EXPECT_EQ(rec.error->error.file_index, 0u);
  const auto staged = staging_files(h.dest_dir());
  ASSERT_EQ(staged.size(), 1u);
  EXPECT_NE(rec.error->error.message.find(staged[0]), std::string::npos)
      << "the message names the staging file: " << rec.error->error.message;
  EXPECT_NE(rec.error->error.message.find("No space left"), std::string::npos)
      << rec.error->error.message;

  EXPECT_EQ(read_file(h.dest("d.bin")), "old version") << "the final name was touched";
  // The staging file holds a clean prefix of the remote file, at least as long as recorded.
  const std::uint64_t held = rec.files[0].bytes_transferred;
  EXPECT_GT(held, kMiB) << "the bytes that fitted were kept";
  EXPECT_LT(held, size);
  const std::string partial = read_file(h.dest_dir() / staged[0]);
  ASSERT_GE(partial.size(), held);
  EXPECT_TRUE(partial.compare(0, held, content, 0, held) == 0) << "staging prefix corrupt";

  RecordProperty("kept_bytes", std::to_string(held));
  disk->resize(16 * kMiB);  // space returns; the next retry resumes
  ASSERT_TRUE(h.wait_state(id, JobState::Transferred, std::chrono::seconds(60)));
  EXPECT_TRUE(h.get(id).files[0].verified);
  EXPECT_GE(h.get(id).error_count, 1u);
  RecordProperty("error_count", std::to_string(h.get(id).error_count));
  ASSERT_TRUE(h.complete(id).ok());
  EXPECT_EQ(sha256_file(h.dest("d.bin")), sha256_bytes(content));
  EXPECT_TRUE(staging_files(h.dest_dir()).empty());
  // The data that fitted was not fetched again: a later request resumed past it.
  // (The origin logs a request after its last byte, possibly after the job took it.)
  const bool resumed = wait_until(
      [&] {
        for (const auto& r : origin_.requests_for("full")) {
          if (r.status == 206 && r.range.starts_with("bytes=") && r.range != "bytes=0-" &&
              !r.if_range.empty()) {
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(5));
  EXPECT_TRUE(resumed) << "no retry resumed from the kept bytes";
}

TEST_F(DiskFull, StateDirFullFailsTheCallThatCannotCommitAndLosesNothing) {
  TempDir root("bgcopy-fault-state-");
  const fs::path state = root.path() / "state";
  fs::create_directories(state);
  std::string why;
  auto disk = TmpfsMount::mount(state, kMiB, &why);
  ASSERT_TRUE(disk) << why;
  ServiceHarness h(ServiceHarness::test_config(), state);

  JobId a = h.create("committed");
  ASSERT_TRUE(h.add(a, {FileSpec{origin_.url("/gen/1000?seed=42"), h.dest("a.bin"), {}, {}}}).ok());
  const std::uint64_t filled = disk->fill(state / "filler");
  ASSERT_GT(filled, 0u);

  // Calls that must commit, until one cannot (a WAL page with room may absorb the first few).
  std::string committed;
  int absorbed = 0;
  std::optional<Error> failure;
  for (int i = 0; i < 500 && !failure; ++i) {
    engine::SettingsPatch p;
    p.description = "description " + std::to_string(i) + " " + std::string(800, 'x');
    if (auto st = h.set(a, p); st) {
      committed = *p.description;
      ++absorbed;
    } else {
      failure = st.error();
    }
  }
  ASSERT_TRUE(failure.has_value()) << "a full disk never failed a commit";
  RecordProperty("commits_absorbed_when_full", absorbed);
  EXPECT_EQ(failure->code, hresult_from_errno(ENOSPC)) << hresult_name(failure->code);
  EXPECT_NE(failure->message.find("full"), std::string::npos) << failure->message;
  EXPECT_EQ(h.get(a).settings.description, committed) << "memory took a change disk refused";

  // A new job cannot be recorded either, and is therefore not created.
  auto b = h.call(
      [&](engine::Engine& e) { return e.create_job(h.me(), "lost", engine::JobType::Download); });
  EXPECT_FALSE(b.ok());
  auto before = h.call([&](engine::Engine& e) { return e.enum_jobs(h.me(), false); });
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->size(), 1u);
  // Reads keep working.
  EXPECT_EQ(h.get(a).files.size(), 1u);

  fs::remove(state / "filler");  // space returns
  engine::SettingsPatch after;
  after.description = "after";
  ASSERT_TRUE(h.set(a, after).ok());
  JobId c = h.create("after");

  h.reopen();  // what was acknowledged is on disk, and nothing else
  auto jobs = h.call([&](engine::Engine& e) { return e.enum_jobs(h.me(), false); });
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ(h.get(a).settings.description, "after");
  EXPECT_EQ(h.get(a).files.size(), 1u);
  EXPECT_EQ(h.get(c).settings.display_name, "after");
}

}  // namespace
}  // namespace bgcopy::test
