#include "fs/credentials.hpp"

#include "temp_dir.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <future>
#include <string>
#include <thread>

namespace bgcopy::fs {
namespace {

using testing_fs::TempDir;

constexpr uid_t kNobody = 65534;

bool is_root() {
  return geteuid() == 0;
}

TEST(ScopedFsCredentials, IsANoOpWhenActingForOneself) {
  const uid_t before = current_fsuid();
  {
    ScopedFsCredentials as(geteuid());
    EXPECT_TRUE(as.ok());
    EXPECT_FALSE(as.active());
    EXPECT_EQ(current_fsuid(), before);
  }
  EXPECT_EQ(current_fsuid(), before);
}

TEST(ScopedFsCredentials, SwitchesOnlyThisThreadAndRestores) {
  if (!is_root()) GTEST_SKIP() << "needs root to take on another identity";
  std::promise<void> switched;
  std::promise<void> checked;
  std::promise<uid_t> other_fsuid;
  std::thread other([&] {
    switched.get_future().wait();
    other_fsuid.set_value(current_fsuid());
    checked.get_future().wait();
  });
  {
    ScopedFsCredentials as(kNobody);
    ASSERT_TRUE(as.ok()) << as.status().error().message;
    EXPECT_TRUE(as.active());
    EXPECT_EQ(current_fsuid(), kNobody);
    EXPECT_EQ(current_fsgid(), 65534U);
    switched.set_value();
    EXPECT_EQ(other_fsuid.get_future().get(), 0U) << "another thread must stay root";
    checked.set_value();
  }
  other.join();
  EXPECT_EQ(current_fsuid(), 0U);
  EXPECT_EQ(current_fsgid(), getegid());
}

TEST(ScopedFsCredentials, TheKernelJudgesWithTheOwnersRightsAndErrnoSurvives) {
  if (!is_root()) GTEST_SKIP() << "needs root to take on another identity";
  TempDir dir;  // root's 0700 directory
  const std::string path = dir.path() + "/x";
  int fd = -1;
  int err = 0;
  {
    ScopedFsCredentials as(kNobody);
    ASSERT_TRUE(as.ok());
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  }
  err = errno;  // read after the guard is gone: it must keep open's errno
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(err, EACCES);
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
  // Root itself (after the guard) may create it.
  fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
}

TEST(ScopedFsCredentials, SupplementaryGroupsAreTheOwnersAndRestored) {
  if (!is_root()) GTEST_SKIP() << "needs root to take on another identity";
  const int before = getgroups(0, nullptr);
  {
    ScopedFsCredentials as(kNobody);
    ASSERT_TRUE(as.ok());
    gid_t groups[64];
    const int n = getgroups(64, groups);
    ASSERT_GE(n, 0);
    for (int i = 0; i < n; ++i) EXPECT_NE(groups[i], 0U) << "root's group must be gone";
  }
  EXPECT_EQ(getgroups(0, nullptr), before);
}

}  // namespace
}  // namespace bgcopy::fs
