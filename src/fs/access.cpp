#include "fs/access.hpp"

#include <linux/magic.h>
#include <sys/statfs.h>

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>

namespace bgcopy::fs {

std::optional<UserIdentity> lookup_user(uid_t uid) {
  long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(hint > 0 ? static_cast<std::size_t>(hint) : 4096);
  passwd pw{};
  passwd* found = nullptr;
  for (;;) {
    const int rc = getpwuid_r(uid, &pw, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (1U << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc != 0 || found == nullptr) {
      return std::nullopt;
    }
    break;
  }
  UserIdentity id{uid, pw.pw_gid, {}};
  int count = 32;
  for (;;) {
    std::vector<gid_t> groups(static_cast<std::size_t>(count));
    int n = count;
    if (getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) >= 0) {
      groups.resize(static_cast<std::size_t>(n));
      id.groups = std::move(groups);
      break;
    }
    // getgrouplist stores the needed count in n when the buffer was too small.
    if (n <= count || n > 65536) {
      id.groups = {pw.pw_gid};
      break;
    }
    count = n;
  }
  if (std::find(id.groups.begin(), id.groups.end(), id.gid) == id.groups.end()) {
    id.groups.push_back(id.gid);
  }
  return id;
}

namespace {

UserIdentity identity_of(uid_t uid) {
  auto who = lookup_user(uid);
  return who ? *who : UserIdentity{uid, static_cast<gid_t>(-1), {}};
}

// Search permission on every ancestor of the absolute `path`, "/" included.
bool may_search_ancestors(const UserIdentity& id, const std::string& path) {
  if (path.empty() || path.front() != '/') {
    return false;
  }
  struct stat st {};
  for (std::size_t pos = 0; pos != std::string::npos; pos = path.find('/', pos + 1)) {
    const std::string dir = pos == 0 ? "/" : path.substr(0, pos);
    if (::stat(dir.c_str(), &st) != 0 || !user_may_access(id, st, X_OK)) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool user_may_access(const UserIdentity& who, const struct stat& st, int want) {
  const mode_t mode = st.st_mode;
  if (who.uid == 0) {
    // Root bypasses read/write checks; execute needs at least one x bit on non-directories.
    if ((want & X_OK) != 0 && !S_ISDIR(mode) && (mode & (S_IXUSR | S_IXGRP | S_IXOTH)) == 0) {
      return false;
    }
    return true;
  }
  int shift = 0;  // "other"
  if (st.st_uid == who.uid) {
    shift = 6;
  } else if (std::find(who.groups.begin(), who.groups.end(), st.st_gid) != who.groups.end()) {
    shift = 3;
  }
  const auto granted = static_cast<int>((mode >> shift) & 07);
  return (granted & want) == want;
}

bool user_can_write_dir(uid_t uid, const struct stat& st) {
  if (!S_ISDIR(st.st_mode)) {
    return false;
  }
  // An unknown uid still has an identity for the kernel; it simply belongs to no group.
  return user_may_access(identity_of(uid), st, W_OK | X_OK);
}

bool user_can_read_path(uid_t uid, const std::string& path) {
  const UserIdentity id = identity_of(uid);
  struct stat st {};
  return may_search_ancestors(id, path) && ::stat(path.c_str(), &st) == 0 &&
         user_may_access(id, st, R_OK);
}

bool user_can_reach_dir(uid_t uid, const std::string& dir, const std::string& resolved) {
  const UserIdentity id = identity_of(uid);
  return may_search_ancestors(id, dir) && (resolved.empty() || may_search_ancestors(id, resolved));
}

bool on_kernel_pseudo_fs(int fd) {
  struct statfs sfs {};
  if (fstatfs(fd, &sfs) != 0) {
    return false;
  }
  switch (static_cast<unsigned long>(sfs.f_type)) {
    case PROC_SUPER_MAGIC:
    case SYSFS_MAGIC:
    case DEVPTS_SUPER_MAGIC:
    case CGROUP_SUPER_MAGIC:
    case CGROUP2_SUPER_MAGIC:
    case DEBUGFS_MAGIC:
    case SECURITYFS_MAGIC:
    case TRACEFS_MAGIC:
      return true;
    default:
      return false;
  }
}

bool acting_for_other_user(uid_t owner) {
  return geteuid() == 0 && owner != 0;
}

}  // namespace bgcopy::fs
