#include "fs/access.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

namespace bgcopy::fs {
namespace {

struct stat dir_stat(uid_t uid, gid_t gid, mode_t perms) {
  struct stat st {};
  st.st_mode = S_IFDIR | perms;
  st.st_uid = uid;
  st.st_gid = gid;
  return st;
}

TEST(Access, OwnerBitsApplyToTheOwnerOnly) {
  const UserIdentity alice{1000, 1000, {1000}};
  EXPECT_TRUE(user_may_access(alice, dir_stat(1000, 1000, 0700), W_OK | X_OK));
  EXPECT_FALSE(user_may_access(alice, dir_stat(1000, 1000, 0500), W_OK | X_OK));
  // The owner class matches first even when "other" would allow it.
  EXPECT_FALSE(user_may_access(alice, dir_stat(1000, 1000, 0077), W_OK | X_OK));
}

TEST(Access, GroupBitsApplyToMembers) {
  const UserIdentity bob{1001, 1001, {1001, 50}};
  EXPECT_TRUE(user_may_access(bob, dir_stat(0, 50, 0770), W_OK | X_OK));
  EXPECT_FALSE(user_may_access(bob, dir_stat(0, 50, 0750), W_OK | X_OK));
  EXPECT_FALSE(user_may_access(bob, dir_stat(0, 51, 0770), W_OK | X_OK));
  EXPECT_TRUE(user_may_access(bob, dir_stat(0, 51, 0773), W_OK | X_OK));
}

TEST(Access, RootPassesModeChecks) {
  const UserIdentity root{0, 0, {0}};
  EXPECT_TRUE(user_may_access(root, dir_stat(1000, 1000, 0000), W_OK | X_OK));
}

TEST(Access, UserCanWriteDirUsesThePasswdDatabase) {
  // nobody (65534) is not the owner of a root-owned 0755 directory and has no write bit.
  EXPECT_FALSE(user_can_write_dir(65534, dir_stat(0, 0, 0755)));
  EXPECT_TRUE(user_can_write_dir(65534, dir_stat(0, 0, 0777)));
  EXPECT_TRUE(user_can_write_dir(65534, dir_stat(65534, 0, 0700)));
  // Not a directory.
  struct stat file {};
  file.st_mode = S_IFREG | 0777;
  EXPECT_FALSE(user_can_write_dir(65534, file));
}

TEST(Access, LookupUserKnowsRoot) {
  const auto root = lookup_user(0);
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ(root->gid, 0U);
}

TEST(Access, ActingForOtherUser) {
  EXPECT_FALSE(acting_for_other_user(0));
  EXPECT_EQ(acting_for_other_user(65534), geteuid() == 0);
}

}  // namespace
}  // namespace bgcopy::fs
