// Fault: the database becomes read-only under a running service. chmod would not stop root and
// a read-only remount is refused while SQLite holds its files open for writing, so the test sets
// the immutable flag (chattr +i) on bgcopy.db and its WAL: the kernel then refuses every write,
// even through descriptors opened before (ext4 and most disk filesystems; the test skips where
// the flag is not enforced, e.g. tmpfs).
#include "files.hpp"
#include "mounts.hpp"
#include "origin_fixture.hpp"
#include "service_harness.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <vector>

namespace bgcopy::test {
namespace {

using engine::FileSpec;
using engine::JobState;
namespace fs = std::filesystem;

/// Makes files immutable; clears the flag again however the test ends.
class Immutable {
 public:
  explicit Immutable(std::vector<fs::path> files) : files_(std::move(files)) {}
  ~Immutable() { set(false); }
  Immutable(const Immutable&) = delete;
  Immutable& operator=(const Immutable&) = delete;
  int set(bool on) {
    int first_error = 0;
    for (const auto& f : files_) {
      const int err = set_immutable(f, on);
      if (first_error == 0) first_error = err;
    }
    return first_error;
  }

 private:
  std::vector<fs::path> files_;
};

TEST(StoreFault, ReadOnlyDatabaseFailsCommitsChangesNothingAndRecovers) {
  ServiceHarness h;
  if (auto why = immutable_unsupported_reason(h.state_dir()); !why.empty()) GTEST_SKIP() << why;
  FaultOrigin origin;

  JobId a = h.create("before");
  ASSERT_TRUE(h.add(a, {FileSpec{origin.url("/gen/1000?seed=71"), h.dest("a.bin"), {}, {}}}).ok());
  engine::SettingsPatch before;
  before.description = "before";
  ASSERT_TRUE(h.set(a, before).ok());
  const fs::path db = h.state_dir() / "bgcopy.db";
  ASSERT_TRUE(fs::exists(db.string() + "-wal")) << "expected WAL mode";
  Immutable lock({db, db.string() + "-wal"});
  ASSERT_EQ(lock.set(true), 0);

  // Every call that must commit fails, with the store's error, and changes nothing.
  engine::SettingsPatch after;
  after.description = "after";
  auto st = h.set(a, after);
  ASSERT_FALSE(st.ok()) << "a commit succeeded on an immutable database";
  EXPECT_EQ(st.error().context, ErrorContext::GeneralQueueManager);
  // SQLITE_IOERR_WRITE: the kernel's EPERM when SQLite kept it, else EIO; never E_FAIL.
  EXPECT_TRUE(st.error().code == hresult_from_errno(EPERM) ||
              st.error().code == hresult_from_errno(EIO))
      << hresult_name(st.error().code) << ": " << st.error().message;
  EXPECT_NE(st.error().message.find("I/O error"), std::string::npos) << st.error().message;
  EXPECT_FALSE(st.error().message.empty());
  const Hresult code = st.error().code;
  EXPECT_EQ(h.get(a).settings.description, "before");

  auto resumed = h.resume(a);
  EXPECT_FALSE(resumed.ok());
  EXPECT_EQ(h.state(a), JobState::Suspended) << "the job moved although nothing was recorded";
  auto created = h.call(
      [&](engine::Engine& e) { return e.create_job(h.me(), "lost", engine::JobType::Download); });
  EXPECT_FALSE(created.ok());
  if (!created.ok()) {
    EXPECT_EQ(created.error().code, code);
  }

  // Reads are served from memory meanwhile.
  auto jobs = h.call([&](engine::Engine& e) { return e.enum_jobs(h.me(), false); });
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ(jobs->size(), 1u);
  EXPECT_EQ(h.get(a).settings.display_name, "before");

  // Writable again: a restart finds exactly what the service showed, then writes work.
  ASSERT_EQ(lock.set(false), 0);
  h.reopen();
  jobs = h.call([&](engine::Engine& e) { return e.enum_jobs(h.me(), false); });
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ(h.get(a).settings.description, "before");
  EXPECT_EQ(h.state(a), JobState::Suspended);
  ASSERT_TRUE(h.set(a, after).ok());
  ASSERT_TRUE(h.resume(a).ok());
  ASSERT_TRUE(h.wait_state(a, JobState::Transferred));
  h.reopen();
  EXPECT_EQ(h.get(a).settings.description, "after");
  EXPECT_EQ(h.state(a), JobState::Transferred);
}

TEST(StoreFault, ReadOnlyDatabaseWhileRunningNeverReportsAnUnrecordedFinish) {
  ServiceHarness h;
  if (auto why = immutable_unsupported_reason(h.state_dir()); !why.empty()) GTEST_SKIP() << why;
  FaultOrigin origin;
  const std::uint64_t size = 1024 * 1024;
  JobId a = h.create("running");
  // About 1.5 s of transfer, so the database turns read-only while it runs.
  ASSERT_TRUE(
      h.add(a, {FileSpec{origin.url("/gen/" + std::to_string(size) + "?seed=72&rate=700000"),
                         h.dest("r.bin"),
                         {},
                         {}}})
          .ok());
  engine::SettingsPatch p;
  p.min_retry_delay_s = 1;
  ASSERT_TRUE(h.set(a, p).ok());
  ASSERT_TRUE(h.resume(a).ok());
  ASSERT_TRUE(h.wait_state(a, JobState::Transferring));
  const fs::path db = h.state_dir() / "bgcopy.db";
  Immutable lock({db, db.string() + "-wal"});
  ASSERT_EQ(lock.set(true), 0);

  // The finished file cannot be recorded: the job must not claim TRANSFERRED.
  engine::JobRecord seen;  // as seen in TRANSIENT_ERROR: it lasts only until the retry (1 s)
  ASSERT_TRUE(h.wait_state(a, JobState::TransientError, std::chrono::seconds(20), &seen));
  ASSERT_TRUE(seen.error.has_value());
  EXPECT_EQ(seen.error->error.context, ErrorContext::GeneralQueueManager);
  // Retries while the database stays read-only fail the same way; none may skip to TRANSFERRED
  // on the strength of the unrecorded finish.
  ASSERT_TRUE(h.wait_for(
      a,
      [](const engine::JobRecord& r) {
        return r.state == JobState::Transferred || r.error_count >= 2;
      },
      std::chrono::seconds(20)));
  EXPECT_NE(h.state(a), JobState::Transferred) << "TRANSFERRED without a record of it";

  ASSERT_EQ(lock.set(false), 0);
  ASSERT_TRUE(h.wait_state(a, JobState::Transferred, std::chrono::seconds(30)));
  h.reopen();
  EXPECT_EQ(h.state(a), JobState::Transferred) << "the finish was recorded once writable";
  ASSERT_TRUE(h.complete(a).ok());
  EXPECT_EQ(sha256_file(h.dest("r.bin")), sha256_bytes(gen_content(size, 72)));
}

}  // namespace
}  // namespace bgcopy::test
