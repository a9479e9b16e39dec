// The owner's identity for file operations, per thread. A system-mode daemon runs as root; when
// it creates, renames, deletes or opens a file for a job's owner, the kernel must judge that
// operation with the owner's rights (mode bits, ACLs, every directory of the path walk), not
// with root's. Checking permissions ourselves and then acting as root leaves a window in which
// a path can be swapped; acting as the owner leaves none.
//
// Linux keeps credentials per thread. The raw setfsuid/setfsgid/setgroups system calls change
// only the calling thread (glibc's setgroups() would change every thread of the process), so a
// transfer or API thread can take on an owner's identity for a few calls and give it back while
// the rest of the daemon stays root. A non-root fsuid also drops the filesystem capabilities
// (CAP_DAC_OVERRIDE, CAP_FOWNER, ...) of the thread until fsuid is root again.
#pragma once

#include "base/error.hpp"

#include <sys/types.h>

#include <vector>

namespace bgcopy::fs {

/// While alive, the calling thread's filesystem uid, gid and supplementary groups are those of
/// `owner` (from the passwd/group databases; an owner without an account gets gid 65534 and no
/// supplementary groups). Does nothing unless acting_for_other_user(owner), i.e. unless this
/// process is root and the owner is not. Must be destroyed on the thread that created it.
///
/// Check ok() before touching any file: when the switch fails nothing is switched and every
/// file operation must be refused. The destructor restores the previous identity and keeps
/// errno, so `{ ScopedFsCredentials as(owner); fd = open(...); }` still reports open's errno;
/// if restoring ever failed the process aborts rather than run on with a stranger's identity.
class ScopedFsCredentials {
 public:
  explicit ScopedFsCredentials(uid_t owner);
  ~ScopedFsCredentials();
  ScopedFsCredentials(const ScopedFsCredentials&) = delete;
  ScopedFsCredentials& operator=(const ScopedFsCredentials&) = delete;

  /// False when the identity could not be taken on. Error: E_ACCESSDENIED (context LOCAL_FILE).
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  /// True while the thread runs with the owner's identity (false for a no-op guard).
  bool active() const { return active_; }

 private:
  void restore() noexcept;

  Status status_;
  bool active_ = false;
  uid_t saved_uid_ = 0;
  gid_t saved_gid_ = 0;
  std::vector<gid_t> saved_groups_;
};

/// The calling thread's current filesystem uid and gid (for tests and assertions).
uid_t current_fsuid();
gid_t current_fsgid();

}  // namespace bgcopy::fs
