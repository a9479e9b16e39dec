// The staging port on the local filesystem. Staging and final names live in the destination's
// parent directory and are always reached through a descriptor of that directory (openat,
// renameat, unlinkat, fstatat with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW), so a symlink planted at
// the final or staging name is never followed.
//
// When the daemon runs as root for another owner, every path walk and every call that opens,
// creates, renames or deletes a name runs with the owner's filesystem identity
// (ScopedFsCredentials), so the kernel applies the owner's rights at the moment of the call: a
// parent directory swapped for a symlink after add time leads only where the owner could write
// anyway. The mode-bit checks of access.hpp run on the opened directory as defence in depth.
//
// Thread-safety: the object is stateless; every member may be called from any thread.
#pragma once

#include "base/error.hpp"
#include "base/unique_fd.hpp"
#include "engine/ports.hpp"

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace bgcopy::fs {

class LocalStaging final : public engine::StagingPort {
 public:
  /// Errors: E_INVALIDARG (syntax, missing parent, parent not a directory, destination is a
  /// directory), E_ACCESSDENIED (/proc, /sys, /dev, or the owner may not write the parent),
  /// 0xC0D00000 + errno for other failures. Context LOCAL_FILE.
  Status check_destination(uid_t owner, const std::string& local_path) override;
  /// Per file: sets the mtime (remote_mtime) and, for another owner, the owner; fsyncs;
  /// renames; fsyncs the directory, batched per 128 files (metadata of all, then the syncs,
  /// then the renames, then one sync per directory). Repeating it after a crash that followed
  /// a rename succeeds: a missing staging file is fine when the final name holds a regular
  /// file of bytes_total bytes with that mtime. A directory sync that fails after the renames
  /// is logged, not reported (the files are in place; a retry could not rename them again).
  /// Errors, for the first file that failed: 0xC0D00000 + errno (context LOCAL_FILE) naming
  /// the path; E_ACCESSDENIED when the owner lost write access to the directory; E_INVALIDARG
  /// for a missing parent.
  Finalized finalize_all(uid_t owner, std::span<const engine::FileRecord* const> files) override;
  Status remove(uid_t owner, const engine::FileRecord& file) override;
  std::optional<std::uint64_t> staging_size(const engine::FileRecord& file) override;
  /// Cuts the file to `size` bytes and syncs it; never grows it, and never cuts bytes that its
  /// segment map (segment_map.hpp) names as durable. A missing file is fine when size is 0.
  Status truncate(uid_t owner, const engine::FileRecord& file, std::uint64_t size) override;

 private:
  struct Prepared;
  Result<Prepared> prepare_final(uid_t owner, const engine::FileRecord& file,
                                 std::map<std::string, UniqueFd>& dirs) const;
};

/// Opens the parent directory of local_path (following symlinks in the path, as any program
/// would). When acting for another owner, fails with E_ACCESSDENIED unless the owner may write
/// the directory that was actually opened.
Result<UniqueFd> open_parent_dir(const std::string& local_path, uid_t owner);

/// Opens (creating with mode 0600 if needed) the staging file for writing, relative to the
/// parent directory's descriptor, never following a symlink. The file must be a regular file
/// with a single link, owned by the owner or by this process. When acting for another owner,
/// the file is handed to the owner (and the owner's primary group).
/// Errors: E_INVALIDARG (bad staging name, not a regular file), E_ACCESSDENIED (owner checks),
/// 0xC0D00000 + errno (context LOCAL_FILE) for I/O failures.
Result<UniqueFd> open_staging_for_write(const engine::FileRecord& file, uid_t owner);

/// Opens the existing staging file read-only (O_NOFOLLOW, as the owner), e.g. to hash it.
Result<UniqueFd> open_staging_for_read(const engine::FileRecord& file, uid_t owner);

/// The mode of a delivered file: 0666 less the service's umask, as any program of the owner
/// would create it. Read once (from /proc, so no thread ever sees a changed umask).
mode_t delivered_mode();

/// Gives a finished staging file what complete would give it: the delivered mode and, when
/// known, the remote modification time. The caller then syncs the file with fsync (the
/// metadata must become durable with the data), and complete finds nothing left to change or
/// sync in it: a job of many small files then pays no second flush per file. Staging files
/// stay 0600 until every byte is in. `shown` names the file in errors.
Status seal_staging(int fd, std::optional<std::int64_t> remote_mtime, const std::string& shown);

}  // namespace bgcopy::fs
