// Permission checks on behalf of another user. A system-mode daemon runs as root but must never
// touch a path with more rights than the job's owner has (SPEC section 5), so before it creates
// or renames anything for an owner it evaluates the owner's rights from the mode bits.
//
// Limitation: POSIX ACLs and capabilities of the owner are not considered; mode bits, owner and
// group membership are.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace bgcopy::fs {

/// A user's uid, primary gid and every group it belongs to (from the passwd/group databases).
struct UserIdentity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // includes gid
};

/// nullopt when the passwd database has no such uid.
std::optional<UserIdentity> lookup_user(uid_t uid);

/// Whether `who` may access an object with this stat for every bit of `want` (R_OK, W_OK, X_OK)
/// by the classic owner/group/other rule: only the first matching class counts. uid 0 passes
/// everything except execute on a file with no execute bit.
bool user_may_access(const UserIdentity& who, const struct stat& st, int want);

/// Whether `uid` may create and rename entries in the directory described by `st` (write and
/// search). An unknown uid only gets the "other" bits.
bool user_can_write_dir(uid_t uid, const struct stat& st);

/// Whether `uid` may read the regular file at the absolute `path`: search permission on every
/// ancestor directory and read permission on the file itself (symlinks are followed, as open()
/// would). False if anything along the way cannot be stat'ed.
bool user_can_read_path(uid_t uid, const std::string& path);

/// Whether `uid` may search every ancestor directory of the absolute `dir` (as written, symlinks
/// followed) and, unless empty, of `resolved` (the same directory with symlinks resolved), i.e.
/// whether the owner could reach it by name at all. `dir` itself is not checked.
bool user_can_reach_dir(uid_t uid, const std::string& dir, const std::string& resolved);

/// True when the open descriptor is on a kernel pseudo filesystem (proc, sysfs, devpts, cgroup,
/// debugfs, securityfs, tracefs): never a destination nor a source, whatever name led there.
bool on_kernel_pseudo_fs(int fd);

/// True when this process runs as root and acts for someone else, i.e. when permission checks
/// and chown on the owner's behalf are needed.
bool acting_for_other_user(uid_t owner);

}  // namespace bgcopy::fs
