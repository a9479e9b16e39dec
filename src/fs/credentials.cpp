#include "fs/credentials.hpp"

#include "base/log.hpp"
#include "fs/access.hpp"

#include <sys/syscall.h>

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace bgcopy::fs {
namespace {

// 32-bit ABIs have 16-bit ids in the classic calls; their 32-bit variants carry a suffix.
#if defined(SYS_setfsuid32)
constexpr long kSetFsUid = SYS_setfsuid32;
constexpr long kSetFsGid = SYS_setfsgid32;
constexpr long kSetGroups = SYS_setgroups32;
constexpr long kGetGroups = SYS_getgroups32;
#else
constexpr long kSetFsUid = SYS_setfsuid;
constexpr long kSetFsGid = SYS_setfsgid;
constexpr long kSetGroups = SYS_setgroups;
constexpr long kGetGroups = SYS_getgroups;
#endif

// The kernel's "overflow" id, what it shows for ids it cannot map: owns nothing on a sane system.
constexpr gid_t kNoGroup = 65534;

// setfsuid/setfsgid never report failure; they return the previous value, and an invalid id
// (-1) changes nothing, so the value after a call is read back with -1.
uid_t query_fsuid() {
  return static_cast<uid_t>(syscall(kSetFsUid, static_cast<uid_t>(-1)));
}
gid_t query_fsgid() {
  return static_cast<gid_t>(syscall(kSetFsGid, static_cast<gid_t>(-1)));
}

bool set_fsuid(uid_t uid) {
  syscall(kSetFsUid, uid);
  return query_fsuid() == uid;
}
bool set_fsgid(gid_t gid) {
  syscall(kSetFsGid, gid);
  return query_fsgid() == gid;
}
bool set_groups(const std::vector<gid_t>& groups) {
  return syscall(kSetGroups, groups.size(), groups.data()) == 0;
}

bool get_groups(std::vector<gid_t>& out) {
  const long n = syscall(kGetGroups, 0, nullptr);
  if (n < 0) return false;
  out.resize(static_cast<std::size_t>(n));
  const long m = syscall(kGetGroups, n, out.data());
  if (m < 0) return false;
  out.resize(static_cast<std::size_t>(m));
  return true;
}

Error denied(uid_t owner, const std::string& why) {
  return Error::make(hr::EAccessDenied,
                     "cannot act with the identity of uid " + std::to_string(owner) + ": " + why,
                     ErrorContext::LocalFile);
}

}  // namespace

uid_t current_fsuid() {
  return query_fsuid();
}
gid_t current_fsgid() {
  return query_fsgid();
}

ScopedFsCredentials::ScopedFsCredentials(uid_t owner) {
  if (!acting_for_other_user(owner)) {
    return;
  }
  // The account lookup (NSS: files, maybe a directory service) happens before the switch, with
  // the daemon's own rights.
  const auto who = lookup_user(owner);
  const gid_t gid = who ? who->gid : kNoGroup;
  const std::vector<gid_t> groups = who ? who->groups : std::vector<gid_t>{};
  const int saved_errno = errno;
  saved_uid_ = query_fsuid();
  saved_gid_ = query_fsgid();
  if (!get_groups(saved_groups_)) {
    status_ = denied(owner, "cannot read the thread's groups");
    errno = saved_errno;
    return;
  }
  // Groups and gid first: changing them needs CAP_SETGID, which a non-root fsuid keeps anyway,
  // but this order leaves the thread fully root until the last step.
  active_ = true;
  if (!set_groups(groups) || !set_fsgid(gid) || !set_fsuid(owner)) {
    const int err = errno;
    restore();
    status_ = denied(owner, err != 0 ? std::string(std::strerror(err)) : "refused by the kernel");
  }
  errno = saved_errno;
}

ScopedFsCredentials::~ScopedFsCredentials() {
  const int saved_errno = errno;
  restore();
  errno = saved_errno;
}

void ScopedFsCredentials::restore() noexcept {
  if (!active_) {
    return;
  }
  active_ = false;
  // fsuid first: back to root, the thread regains the capabilities the rest needs.
  if (!set_fsuid(saved_uid_) || !set_fsgid(saved_gid_) || !set_groups(saved_groups_)) {
    // A pool thread left with a user's identity would do the next job's I/O as that user;
    // stopping is the only safe answer (systemd restarts the service, jobs resume).
    log::error("cannot restore the service's own file identity; aborting");
    std::abort();
  }
}

}  // namespace bgcopy::fs
