#include "fs/batch_sync.hpp"

#include "temp_dir.hpp"

#include <gtest/gtest.h>
#include <linux/magic.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <string>
#include <vector>

namespace bgcopy::fs {
namespace {

// A fake filesystem layout for sync_all: descriptor -> (device, filesystem type), with
// scripted failures. The calls are plain function pointers, so the state is global; each test
// resets it.
struct FakeFs {
  std::map<int, std::pair<dev_t, long>> files;
  std::map<int, int> fsync_errno;     // fd -> errno its fsync fails with
  std::map<dev_t, int> syncfs_errno;  // device -> errno its syncfs fails with
  int eintr_left = 0;                 // the next calls fail with EINTR this many times
  std::vector<int> fsynced;
  std::vector<dev_t> syncfsed;
};
FakeFs fake;

bool interrupted() {
  if (fake.eintr_left > 0) {
    --fake.eintr_left;
    errno = EINTR;
    return true;
  }
  return false;
}

const SyncCalls kFakeCalls{
    [](int fd) {
      if (interrupted()) return -1;
      fake.fsynced.push_back(fd);
      if (auto e = fake.fsync_errno.find(fd); e != fake.fsync_errno.end()) {
        errno = e->second;
        return -1;
      }
      return 0;
    },
    [](int fd) {
      if (interrupted()) return -1;
      const dev_t dev = fake.files.at(fd).first;
      fake.syncfsed.push_back(dev);
      if (auto e = fake.syncfs_errno.find(dev); e != fake.syncfs_errno.end()) {
        errno = e->second;
        return -1;
      }
      return 0;
    },
    [](int fd, struct stat* st) {
      *st = {};
      st->st_dev = fake.files.at(fd).first;
      return 0;
    },
    [](int fd, struct statfs* st) {
      *st = {};
      st->f_type = fake.files.at(fd).second;
      return 0;
    },
};

constexpr long kNfs = 0x6969;  // NFS_SUPER_MAGIC

class BatchSyncTest : public ::testing::Test {
 protected:
  void SetUp() override { fake = FakeFs{}; }
};

TEST_F(BatchSyncTest, OneSyncfsPerFilesystemWithSeveralFilesAndFsyncForTheRest) {
  fake.files = {{10, {1, EXT4_SUPER_MAGIC}},
                {11, {1, EXT4_SUPER_MAGIC}},
                {12, {1, EXT4_SUPER_MAGIC}},
                {13, {2, EXT4_SUPER_MAGIC}},
                {14, {3, kNfs}},
                {15, {3, kNfs}}};
  const std::vector<int> fds{10, 11, 12, 13, 14, 15};
  EXPECT_EQ(sync_all(fds, kFakeCalls), std::vector<int>(6, 0));
  EXPECT_EQ(fake.syncfsed, std::vector<dev_t>{1});
  // Device 2 has one file (a syncfs would flush the whole filesystem for it); NFS is not
  // trusted to be covered by syncfs.
  std::sort(fake.fsynced.begin(), fake.fsynced.end());
  EXPECT_EQ(fake.fsynced, (std::vector<int>{13, 14, 15}));
}

TEST_F(BatchSyncTest, AFailedSyncfsFallsBackToOneFsyncPerFileWhichNamesTheFailure) {
  fake.files = {
      {10, {1, EXT4_SUPER_MAGIC}}, {11, {1, EXT4_SUPER_MAGIC}}, {12, {1, EXT4_SUPER_MAGIC}}};
  fake.syncfs_errno[1] = EIO;
  fake.fsync_errno[11] = EIO;
  EXPECT_EQ(sync_all(std::vector<int>{10, 11, 12}, kFakeCalls), (std::vector<int>{0, EIO, 0}));
  EXPECT_EQ(fake.syncfsed, std::vector<dev_t>{1});
  EXPECT_EQ(fake.fsynced, (std::vector<int>{10, 11, 12}));
}

TEST_F(BatchSyncTest, ASingleFileIsFsyncedWithoutLookingAtItsFilesystem) {
  // fd 10 is unknown to the fake: a stat of it would throw.
  EXPECT_EQ(sync_all(std::vector<int>{10}, kFakeCalls), std::vector<int>{0});
  EXPECT_EQ(fake.fsynced, std::vector<int>{10});
  EXPECT_TRUE(fake.syncfsed.empty());
}

TEST_F(BatchSyncTest, InterruptedCallsAreRetried) {
  fake.files = {{10, {1, TMPFS_MAGIC}}, {11, {1, TMPFS_MAGIC}}, {12, {2, kNfs}}};
  fake.eintr_left = 2;  // the syncfs, twice
  EXPECT_EQ(sync_all(std::vector<int>{10, 11, 12}, kFakeCalls), std::vector<int>(3, 0));
  EXPECT_EQ(fake.syncfsed, std::vector<dev_t>{1});
  EXPECT_EQ(fake.fsynced, std::vector<int>{12});
}

TEST_F(BatchSyncTest, OnlyFilesystemsWhoseSyncfsWritesFilesBackQualify) {
  EXPECT_TRUE(syncfs_covers_files(EXT4_SUPER_MAGIC));
  EXPECT_TRUE(syncfs_covers_files(BTRFS_SUPER_MAGIC));
  EXPECT_TRUE(syncfs_covers_files(0x58465342));  // XFS
  EXPECT_FALSE(syncfs_covers_files(kNfs));
  EXPECT_FALSE(syncfs_covers_files(FUSE_SUPER_MAGIC));
  EXPECT_FALSE(syncfs_covers_files(OVERLAYFS_SUPER_MAGIC));
}

TEST_F(BatchSyncTest, RealFilesAreSyncedWithoutError) {
  testing_fs::TempDir dir;
  std::vector<int> fds;
  for (int i = 0; i < 3; ++i) {
    const std::string path = dir / ("f" + std::to_string(i));
    const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "data", 4), 4);
    fds.push_back(fd);
  }
  fds.push_back(-1);  // a bad descriptor fails on its own
  const auto result = sync_all(fds);
  EXPECT_EQ(result, (std::vector<int>{0, 0, 0, EBADF}));
  for (const int fd : fds) {
    if (fd >= 0) ::close(fd);
  }
}

}  // namespace
}  // namespace bgcopy::fs
