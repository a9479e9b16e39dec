#include "fs/local_staging.hpp"

#include "temp_dir.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

namespace bgcopy::fs {
namespace {

using testing_fs::read_file;
using testing_fs::TempDir;
using testing_fs::write_file;

constexpr uid_t kNobody = 65534;

engine::FileRecord record_in(const TempDir& dir, const std::string& name) {
  engine::FileRecord f;
  f.spec.remote_url = "http://example.invalid/" + name;
  f.spec.local_path = dir / name;
  f.staging_name = "." + name + ".bgcopy-{TEST}-0.part";
  return f;
}

std::string staging_of(const engine::FileRecord& f) {
  return f.spec.local_path.substr(0, f.spec.local_path.rfind('/') + 1) + f.staging_name;
}

bool is_root() {
  return geteuid() == 0;
}

class LocalStagingTest : public ::testing::Test {
 protected:
  TempDir dir_;
  LocalStaging staging_;
};

// --- check_destination ---

TEST_F(LocalStagingTest, CheckDestinationAcceptsAWritableDirectory) {
  EXPECT_TRUE(staging_.check_destination(geteuid(), dir_ / "out.bin").ok());
}

TEST_F(LocalStagingTest, CheckDestinationAcceptsAnExistingFileToReplace) {
  write_file(dir_ / "out.bin", "old");
  EXPECT_TRUE(staging_.check_destination(geteuid(), dir_ / "out.bin").ok());
}

TEST_F(LocalStagingTest, CheckDestinationRejectsRelativePaths) {
  const auto st = staging_.check_destination(geteuid(), "relative/out.bin");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, hr::EInvalidArg);
  EXPECT_NE(st.error().message.find("not absolute"), std::string::npos);
}

TEST_F(LocalStagingTest, CheckDestinationRejectsDotDot) {
  const auto st = staging_.check_destination(geteuid(), dir_ / "../out.bin");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, hr::EInvalidArg);
}

TEST_F(LocalStagingTest, CheckDestinationRejectsAMissingParent) {
  const auto st = staging_.check_destination(geteuid(), dir_ / "missing/out.bin");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, hr::EInvalidArg);
  EXPECT_EQ(st.error().context, ErrorContext::LocalFile);
  EXPECT_NE(st.error().message.find("parent directory does not exist: " + (dir_ / "missing")),
            std::string::npos)
      << st.error().message;
}

TEST_F(LocalStagingTest, CheckDestinationRejectsAParentThatIsAFile) {
  write_file(dir_ / "plain", "x");
  const auto st = staging_.check_destination(geteuid(), dir_ / "plain/out.bin");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, hr::EInvalidArg);
}

TEST_F(LocalStagingTest, CheckDestinationRejectsADirectoryAsDestination) {
  ASSERT_EQ(mkdir((dir_ / "sub").c_str(), 0700), 0);
  const auto st = staging_.check_destination(geteuid(), dir_ / "sub");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, hr::EInvalidArg);
}

TEST_F(LocalStagingTest, CheckDestinationDeniesKernelFilesystems) {
  for (const char* path : {"/proc/self/out.bin", "/sys/out.bin", "/dev/out.bin", "/proc/x"}) {
    const auto st = staging_.check_destination(geteuid(), path);
    ASSERT_FALSE(st.ok()) << path;
    EXPECT_EQ(st.error().code, hr::EAccessDenied) << path;
  }
}

TEST_F(LocalStagingTest, CheckDestinationDeniesKernelFilesystemsThroughASymlink) {
  ASSERT_EQ(symlink("/proc/self", (dir_ / "link").c_str()), 0);
  const auto st = staging_.check_destination(geteuid(), dir_ / "link/out.bin");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, hr::EAccessDenied);
}

TEST_F(LocalStagingTest, CheckDestinationDeniesANonWritableDirectory) {
  const std::string sub = dir_ / "ro";
  ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
  uid_t owner = geteuid();
  if (is_root()) {
    owner = kNobody;  // root may write anywhere; check on behalf of an ordinary user instead
  } else {
    ASSERT_EQ(chmod(sub.c_str(), 0555), 0);
  }
  const auto st = staging_.check_destination(owner, sub + "/out.bin");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, hr::EAccessDenied);
  EXPECT_EQ(st.error().context, ErrorContext::LocalFile);
}

TEST_F(LocalStagingTest, CheckDestinationForAnotherOwnerHonoursTheirRights) {
  if (!is_root()) {
    GTEST_SKIP() << "needs root to act for another user";
  }
  const std::string sub = dir_ / "shared";
  ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
  ASSERT_EQ(chown(sub.c_str(), kNobody, static_cast<gid_t>(-1)), 0);
  ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
  EXPECT_TRUE(staging_.check_destination(kNobody, sub + "/out.bin").ok());
}

TEST_F(LocalStagingTest, CheckDestinationForAnotherOwnerNeedsSearchOnEveryAncestor) {
  if (!is_root()) {
    GTEST_SKIP() << "needs root to act for another user";
  }
  // A world-writable directory inside root's 0700 directory: nobody cannot reach it.
  const std::string sub = dir_ / "open";
  ASSERT_EQ(mkdir(sub.c_str(), 0777), 0);
  ASSERT_EQ(chmod(sub.c_str(), 0777), 0);
  ASSERT_EQ(chmod(dir_.path().c_str(), 0700), 0);
  const auto st = staging_.check_destination(kNobody, sub + "/out.bin");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, hr::EAccessDenied);
  // Nor through a symlink in a place it can reach.
  TempDir outer;
  ASSERT_EQ(chmod(outer.path().c_str(), 0755), 0);
  const std::string link = outer / "link";
  ASSERT_EQ(symlink(sub.c_str(), link.c_str()), 0);
  EXPECT_FALSE(staging_.check_destination(kNobody, link + "/out.bin").ok());
  // Once the way is open, both names work.
  ASSERT_EQ(chmod(dir_.path().c_str(), 0711), 0);
  EXPECT_TRUE(staging_.check_destination(kNobody, sub + "/out.bin").ok());
  EXPECT_TRUE(staging_.check_destination(kNobody, link + "/out.bin").ok());
}

// --- finalize ---

TEST_F(LocalStagingTest, FinalizeRenamesSetsMtimeAndLeavesNoStagingFile) {
  auto f = record_in(dir_, "file.bin");
  write_file(staging_of(f), "payload");
  f.remote_mtime = 1'000'000'000;  // 2001-09-09
  ASSERT_TRUE(staging_.finalize(geteuid(), f).ok());
  EXPECT_EQ(read_file(f.spec.local_path), "payload");
  struct stat st {};
  ASSERT_EQ(stat(f.spec.local_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'000'000'000);
  EXPECT_NE(access(staging_of(f).c_str(), F_OK), 0);
  EXPECT_FALSE(staging_.staging_size(f).has_value());
}

mode_t current_umask() {
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return mask;
}

struct stat stat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st;
}

TEST_F(LocalStagingTest, DeliveredModeIsWhatAProgramOfTheOwnerWouldCreate) {
  EXPECT_EQ(delivered_mode(), static_cast<mode_t>(0666 & ~current_umask()));
}

TEST_F(LocalStagingTest, SealGivesAFinishedStagingFileTheDeliveredModeAndTheRemoteTime) {
  auto f = record_in(dir_, "file.bin");
  auto fd = open_staging_for_write(f, geteuid());
  ASSERT_TRUE(fd.ok()) << fd.error().message;
  ASSERT_EQ(stat_of(staging_of(f)).st_mode & 07777, 0600U) << "private while incomplete";
  ASSERT_TRUE(seal_staging(fd->get(), 1'000'000'000, "file.bin").ok());
  const auto st = stat_of(staging_of(f));
  EXPECT_EQ(st.st_mode & 07777, delivered_mode());
  EXPECT_EQ(st.st_mtim.tv_sec, 1'000'000'000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 0);
}

TEST_F(LocalStagingTest, ASealedFileOpenedForWritingAgainIsPrivateAgain) {
  // A crash between the seal and the record: the file is fetched again into the same name.
  auto f = record_in(dir_, "file.bin");
  {
    auto fd = open_staging_for_write(f, geteuid());
    ASSERT_TRUE(fd.ok()) << fd.error().message;
    ASSERT_TRUE(seal_staging(fd->get(), std::nullopt, "file.bin").ok());
  }
  ASSERT_EQ(stat_of(staging_of(f)).st_mode & 07777, delivered_mode());
  auto again = open_staging_for_write(f, geteuid());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(stat_of(staging_of(f)).st_mode & 07777, 0600U);
}

TEST_F(LocalStagingTest, FinalizeOfASealedFilePlacesItWithItsMetadata) {
  auto f = record_in(dir_, "file.bin");
  {
    auto fd = open_staging_for_write(f, geteuid());
    ASSERT_TRUE(fd.ok()) << fd.error().message;
    ASSERT_EQ(::write(fd->get(), "payload", 7), 7);
    ASSERT_TRUE(seal_staging(fd->get(), 1'000'000'000, "file.bin").ok());
  }
  f.remote_mtime = 1'000'000'000;
  ASSERT_TRUE(staging_.finalize(geteuid(), f).ok());
  EXPECT_EQ(read_file(f.spec.local_path), "payload");
  const auto st = stat_of(f.spec.local_path);
  EXPECT_EQ(st.st_mode & 07777, delivered_mode());
  EXPECT_EQ(st.st_mtim.tv_sec, 1'000'000'000);
  EXPECT_NE(access(staging_of(f).c_str(), F_OK), 0);
}

TEST_F(LocalStagingTest, FinalizeStillSetsWhatASealLeftDifferent) {
  // Sealed with another time (or never sealed: mode 0600): finalize sets what the record says.
  auto sealed = record_in(dir_, "sealed.bin");
  auto unsealed = record_in(dir_, "unsealed.bin");
  {
    auto fd = open_staging_for_write(sealed, geteuid());
    ASSERT_TRUE(fd.ok()) << fd.error().message;
    ASSERT_TRUE(seal_staging(fd->get(), 900'000'000, "sealed.bin").ok());
    ASSERT_TRUE(open_staging_for_write(unsealed, geteuid()).ok());
  }
  sealed.remote_mtime = 1'000'000'000;
  const engine::FileRecord* batch[] = {&sealed, &unsealed};
  const auto done = staging_.finalize_all(geteuid(), batch);
  ASSERT_TRUE(done.status.ok()) << done.status.error().message;
  EXPECT_EQ(stat_of(sealed.spec.local_path).st_mtim.tv_sec, 1'000'000'000);
  EXPECT_EQ(stat_of(unsealed.spec.local_path).st_mode & 07777, delivered_mode());
}

TEST_F(LocalStagingTest, FinalizeAllPlacesEveryFileAcrossChunksAndDirectories) {
  // More than one chunk (128) and two directories, in an interleaved order.
  ASSERT_EQ(mkdir((dir_ / "sub").c_str(), 0755), 0);
  std::vector<engine::FileRecord> files;
  for (int i = 0; i < 300; ++i) {
    files.push_back(record_in(dir_, (i % 2 == 0 ? "sub/f" : "f") + std::to_string(i)));
    files.back().staging_name = ".f" + std::to_string(i) + ".bgcopy-{TEST}-0.part";
    files.back().remote_mtime = 1'000'000'000 + i;
    write_file(staging_of(files.back()), "data " + std::to_string(i));
  }
  std::vector<const engine::FileRecord*> batch;
  for (const auto& f : files) batch.push_back(&f);
  const auto done = staging_.finalize_all(geteuid(), batch);
  ASSERT_TRUE(done.status.ok()) << done.status.error().message;
  EXPECT_EQ(done.done, files.size());
  for (int i = 0; i < 300; ++i) {
    const auto& f = files[static_cast<std::size_t>(i)];
    EXPECT_EQ(read_file(f.spec.local_path), "data " + std::to_string(i));
    struct stat st {};
    ASSERT_EQ(stat(f.spec.local_path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mtim.tv_sec, 1'000'000'000 + i);
    EXPECT_NE(access(staging_of(f).c_str(), F_OK), 0);
  }
}

TEST_F(LocalStagingTest, FinalizeAllStopsAtTheFirstFailureAndPlacesOnlyThoseBefore) {
  std::vector<engine::FileRecord> files;
  for (int i = 0; i < 5; ++i) {
    files.push_back(record_in(dir_, "f" + std::to_string(i)));
    if (i != 2) write_file(staging_of(files.back()), "data");  // the third has no staging file
  }
  std::vector<const engine::FileRecord*> batch;
  for (const auto& f : files) batch.push_back(&f);
  const auto done = staging_.finalize_all(geteuid(), batch);
  EXPECT_EQ(done.done, 2U);
  ASSERT_FALSE(done.status.ok());
  EXPECT_NE(done.status.error().message.find(staging_of(files[2])), std::string::npos)
      << done.status.error().message;
  EXPECT_EQ(read_file(files[0].spec.local_path), "data");
  EXPECT_EQ(read_file(files[1].spec.local_path), "data");
  for (std::size_t i : {3U, 4U}) {
    EXPECT_NE(access(files[i].spec.local_path.c_str(), F_OK), 0) << i;
    EXPECT_EQ(access(staging_of(files[i]).c_str(), F_OK), 0) << "left for a retry: " << i;
  }
  // A retry of the rest (after the cause is fixed) finishes the job; the placed ones are
  // recognised as already placed.
  write_file(staging_of(files[2]), "data");
  files[0].bytes_total = 4;
  files[1].bytes_total = 4;
  const auto again = staging_.finalize_all(geteuid(), batch);
  ASSERT_TRUE(again.status.ok()) << again.status.error().message;
  EXPECT_EQ(again.done, 5U);
}

TEST_F(LocalStagingTest, FinalizeWithoutRemoteMtimeKeepsTheFileTime) {
  auto f = record_in(dir_, "file.bin");
  write_file(staging_of(f), "payload");
  ASSERT_TRUE(staging_.finalize(geteuid(), f).ok());
  struct stat st {};
  ASSERT_EQ(stat(f.spec.local_path.c_str(), &st), 0);
  EXPECT_GT(st.st_mtim.tv_sec, 1'600'000'000);
}

TEST_F(LocalStagingTest, FinalizeReplacesAnExistingFile) {
  auto f = record_in(dir_, "file.bin");
  write_file(f.spec.local_path, "old contents");
  write_file(staging_of(f), "new");
  ASSERT_TRUE(staging_.finalize(geteuid(), f).ok());
  EXPECT_EQ(read_file(f.spec.local_path), "new");
}

TEST_F(LocalStagingTest, FinalizeReplacesASymlinkAtTheFinalNameWithoutFollowingIt) {
  TempDir elsewhere;
  const std::string target = elsewhere / "victim";
  write_file(target, "must stay");
  auto f = record_in(dir_, "file.bin");
  ASSERT_EQ(symlink(target.c_str(), f.spec.local_path.c_str()), 0);
  write_file(staging_of(f), "payload");
  ASSERT_TRUE(staging_.finalize(geteuid(), f).ok());
  struct stat st {};
  ASSERT_EQ(lstat(f.spec.local_path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(read_file(f.spec.local_path), "payload");
  EXPECT_EQ(read_file(target), "must stay");
}

TEST_F(LocalStagingTest, FinalizeRefusesAStagingNameThatIsASymlink) {
  TempDir elsewhere;
  const std::string target = elsewhere / "victim";
  write_file(target, "secret");
  auto f = record_in(dir_, "file.bin");
  ASSERT_EQ(symlink(target.c_str(), staging_of(f).c_str()), 0);
  const auto st = staging_.finalize(geteuid(), f);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, hresult_from_errno(ELOOP));
  EXPECT_EQ(access(f.spec.local_path.c_str(), F_OK), -1);
  EXPECT_EQ(read_file(target), "secret");
}

TEST_F(LocalStagingTest, FinalizeOfAMissingStagingFileNamesThePath) {
  auto f = record_in(dir_, "file.bin");
  const auto st = staging_.finalize(geteuid(), f);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, hresult_from_errno(ENOENT));
  EXPECT_EQ(st.error().context, ErrorContext::LocalFile);
  EXPECT_NE(st.error().message.find(f.staging_name), std::string::npos) << st.error().message;
}

TEST_F(LocalStagingTest, FinalizeRepeatedAfterTheRenameSucceeds) {
  auto f = record_in(dir_, "file.bin");
  write_file(staging_of(f), "payload");
  f.bytes_total = 7;
  f.remote_mtime = 1'000'000'000;
  ASSERT_TRUE(staging_.finalize(geteuid(), f).ok());
  // The caller crashed before recording it and calls again.
  EXPECT_TRUE(staging_.finalize(geteuid(), f).ok());
  EXPECT_EQ(read_file(f.spec.local_path), "payload");
}

TEST_F(LocalStagingTest, FinalizeRepeatedDoesNotAdoptAForeignFile) {
  auto f = record_in(dir_, "file.bin");
  f.bytes_total = 7;
  write_file(f.spec.local_path, "something else entirely");
  const auto st = staging_.finalize(geteuid(), f);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, hresult_from_errno(ENOENT));
  f.bytes_total.reset();  // nothing to compare with: never assume
  write_file(f.spec.local_path, "1234567");
  EXPECT_FALSE(staging_.finalize(geteuid(), f).ok());
}

TEST_F(LocalStagingTest, FinalizeHandsTheFileToItsOwner) {
  if (!is_root()) {
    GTEST_SKIP() << "needs root to act for another user";
  }
  ASSERT_EQ(chmod(dir_.path().c_str(), 0777), 0);
  auto f = record_in(dir_, "file.bin");
  {
    // As in a transfer: the staging file is created with the owner's identity.
    auto fd = open_staging_for_write(f, kNobody);
    ASSERT_TRUE(fd.ok()) << fd.error().message;
    ASSERT_EQ(::write(fd->get(), "payload", 7), 7);
  }
  const auto done = staging_.finalize(kNobody, f);
  ASSERT_TRUE(done.ok()) << done.error().message;
  struct stat st {};
  ASSERT_EQ(stat(f.spec.local_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kNobody);
  EXPECT_EQ(st.st_gid, 65534U);
}

TEST_F(LocalStagingTest, ASealedFileMayNotReplaceAnotherUsersFileInAStickyDirectory) {
  // The sticky-directory rule is checked for every file, also for one that finalize need not
  // touch because it was sealed when it finished.
  if (!is_root()) {
    GTEST_SKIP() << "needs root to act for another user";
  }
  ASSERT_EQ(chmod(dir_.path().c_str(), 01777), 0);
  auto f = record_in(dir_, "file.bin");
  write_file(f.spec.local_path, "root's");  // owned by root
  {
    auto fd = open_staging_for_write(f, kNobody);
    ASSERT_TRUE(fd.ok()) << fd.error().message;
    ASSERT_EQ(::write(fd->get(), "payload", 7), 7);
    ASSERT_TRUE(seal_staging(fd->get(), std::nullopt, "file.bin").ok());
  }
  const auto done = staging_.finalize(kNobody, f);
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().code, hr::EAccessDenied) << done.error().message;
  EXPECT_EQ(read_file(f.spec.local_path), "root's");
}

TEST_F(LocalStagingTest, FinalizeForAnOwnerWhoLostWriteAccessIsDenied) {
  if (!is_root()) {
    GTEST_SKIP() << "needs root to act for another user";
  }
  auto f = record_in(dir_, "file.bin");  // dir_ is root's 0700 directory
  write_file(staging_of(f), "payload");
  const auto st = staging_.finalize(kNobody, f);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, hr::EAccessDenied);
  EXPECT_EQ(access(f.spec.local_path.c_str(), F_OK), -1);
}

// --- remove, staging_size, truncate ---

TEST_F(LocalStagingTest, RemoveDeletesTheStagingFile) {
  auto f = record_in(dir_, "file.bin");
  write_file(staging_of(f), "x");
  ASSERT_TRUE(staging_.remove(geteuid(), f).ok());
  EXPECT_NE(access(staging_of(f).c_str(), F_OK), 0);
}

TEST_F(LocalStagingTest, RemoveOfAMissingFileIsSuccess) {
  auto f = record_in(dir_, "file.bin");
  EXPECT_TRUE(staging_.remove(geteuid(), f).ok());
  f.spec.local_path = dir_ / "no-such-dir/file.bin";
  EXPECT_TRUE(staging_.remove(geteuid(), f).ok());
}

TEST_F(LocalStagingTest, RemoveDoesNotTouchTheFinalFile) {
  auto f = record_in(dir_, "file.bin");
  write_file(f.spec.local_path, "final");
  ASSERT_TRUE(staging_.remove(geteuid(), f).ok());
  EXPECT_EQ(read_file(f.spec.local_path), "final");
}

TEST_F(LocalStagingTest, StagingSizeReportsRegularFilesOnly) {
  auto f = record_in(dir_, "file.bin");
  EXPECT_FALSE(staging_.staging_size(f).has_value());
  write_file(staging_of(f), "12345");
  EXPECT_EQ(staging_.staging_size(f), std::optional<std::uint64_t>(5));
  ASSERT_EQ(unlink(staging_of(f).c_str()), 0);
  write_file(dir_ / "target", "123456789");
  ASSERT_EQ(symlink((dir_ / "target").c_str(), staging_of(f).c_str()), 0);
  EXPECT_FALSE(staging_.staging_size(f).has_value());
  ASSERT_EQ(unlink(staging_of(f).c_str()), 0);
  ASSERT_EQ(mkdir(staging_of(f).c_str(), 0700), 0);
  EXPECT_FALSE(staging_.staging_size(f).has_value());
}

TEST_F(LocalStagingTest, TruncateCutsButNeverGrows) {
  auto f = record_in(dir_, "file.bin");
  write_file(staging_of(f), "0123456789");
  ASSERT_TRUE(staging_.truncate(geteuid(), f, 4).ok());
  EXPECT_EQ(read_file(staging_of(f)), "0123");
  ASSERT_TRUE(staging_.truncate(geteuid(), f, 100).ok());
  EXPECT_EQ(staging_.staging_size(f), std::optional<std::uint64_t>(4));
  ASSERT_TRUE(staging_.truncate(geteuid(), f, 0).ok());
  EXPECT_EQ(staging_.staging_size(f), std::optional<std::uint64_t>(0));
}

TEST_F(LocalStagingTest, TruncateOfAMissingFile) {
  auto f = record_in(dir_, "file.bin");
  EXPECT_TRUE(staging_.truncate(geteuid(), f, 0).ok());
  const auto st = staging_.truncate(geteuid(), f, 10);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, hresult_from_errno(ENOENT));
}

TEST_F(LocalStagingTest, TruncateDoesNotFollowASymlink) {
  auto f = record_in(dir_, "file.bin");
  write_file(dir_ / "target", "0123456789");
  ASSERT_EQ(symlink((dir_ / "target").c_str(), staging_of(f).c_str()), 0);
  EXPECT_FALSE(staging_.truncate(geteuid(), f, 0).ok());
  EXPECT_EQ(read_file(dir_ / "target"), "0123456789");
}

// --- open_staging_for_write ---

TEST_F(LocalStagingTest, OpenForWriteCreatesAPrivateFile) {
  auto f = record_in(dir_, "file.bin");
  auto fd = open_staging_for_write(f, geteuid());
  ASSERT_TRUE(fd.ok()) << fd.error().message;
  ASSERT_EQ(::write(fd->get(), "abc", 3), 3);
  struct stat st {};
  ASSERT_EQ(fstat(fd->get(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  EXPECT_EQ(read_file(staging_of(f)), "abc");
}

TEST_F(LocalStagingTest, OpenForWriteKeepsExistingData) {
  auto f = record_in(dir_, "file.bin");
  write_file(staging_of(f), "resume me");
  auto fd = open_staging_for_write(f, geteuid());
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(staging_.staging_size(f), std::optional<std::uint64_t>(9));
}

TEST_F(LocalStagingTest, OpenForWriteRefusesASymlink) {
  auto f = record_in(dir_, "file.bin");
  write_file(dir_ / "target", "x");
  ASSERT_EQ(symlink((dir_ / "target").c_str(), staging_of(f).c_str()), 0);
  auto fd = open_staging_for_write(f, geteuid());
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().code, hresult_from_errno(ELOOP));
}

TEST_F(LocalStagingTest, OpenForWriteRefusesAHardLink) {
  auto f = record_in(dir_, "file.bin");
  write_file(dir_ / "target", "x");
  ASSERT_EQ(link((dir_ / "target").c_str(), staging_of(f).c_str()), 0);
  auto fd = open_staging_for_write(f, geteuid());
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().code, hr::EAccessDenied);
}

TEST_F(LocalStagingTest, OpenForWriteRefusesAFifoWithoutBlocking) {
  auto f = record_in(dir_, "file.bin");
  ASSERT_EQ(mkfifo(staging_of(f).c_str(), 0600), 0);
  auto fd = open_staging_for_write(f, geteuid());
  ASSERT_FALSE(fd.ok());
}

TEST_F(LocalStagingTest, OpenForWriteRejectsAStagingNameWithASlash) {
  auto f = record_in(dir_, "file.bin");
  f.staging_name = "../escape.part";
  auto fd = open_staging_for_write(f, geteuid());
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().code, hr::EInvalidArg);
}

TEST_F(LocalStagingTest, OpenForWriteGivesTheFileToAnotherOwner) {
  if (!is_root()) {
    GTEST_SKIP() << "needs root to act for another user";
  }
  ASSERT_EQ(chmod(dir_.path().c_str(), 0777), 0);
  auto f = record_in(dir_, "file.bin");
  auto fd = open_staging_for_write(f, kNobody);
  ASSERT_TRUE(fd.ok()) << fd.error().message;
  struct stat st {};
  ASSERT_EQ(fstat(fd->get(), &st), 0);
  EXPECT_EQ(st.st_uid, kNobody);
  // Reopening the file it now owns is fine.
  fd->reset();
  EXPECT_TRUE(open_staging_for_write(f, kNobody).ok());
}

TEST_F(LocalStagingTest, OpenForWriteForAnOwnerWithoutWriteAccessIsDenied) {
  if (!is_root()) {
    GTEST_SKIP() << "needs root to act for another user";
  }
  auto f = record_in(dir_, "file.bin");
  auto fd = open_staging_for_write(f, kNobody);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().code, hr::EAccessDenied);
  EXPECT_NE(access(staging_of(f).c_str(), F_OK), 0);
}

}  // namespace
}  // namespace bgcopy::fs
