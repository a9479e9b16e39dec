#include "fs/local_staging.hpp"

#include "base/log.hpp"
#include "fs/access.hpp"
#include "fs/credentials.hpp"
#include "fs/paths.hpp"
#include "fs/segment_map.hpp"

#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <span>
#include <vector>

namespace bgcopy::fs {
namespace {

Error access_denied(std::string message) {
  return Error::make(hr::EAccessDenied, std::move(message), ErrorContext::LocalFile);
}

Error invalid(std::string message) {
  return Error::make(hr::EInvalidArg, std::move(message), ErrorContext::LocalFile);
}

// check_destination answers "not allowed" with the code BITS uses; the I/O calls keep the errno
// code so the transfer side can tell EACCES from EROFS.
Error as_access_denied(Error e) {
  const int err = errno_of(e.code);
  if (err == EACCES || err == EPERM) {
    e.code = hr::EAccessDenied;
  }
  return e;
}

// The rename would hand the owner a name in a sticky directory (e.g. /tmp) that belongs to
// someone else; the kernel would refuse the owner itself, so refuse on its behalf.
bool sticky_blocks_replace(int dir_fd, const struct stat& dir_st, const std::string& name,
                           uid_t owner) {
  if ((dir_st.st_mode & S_ISVTX) == 0 || dir_st.st_uid == owner) {
    return false;
  }
  struct stat target {};
  if (fstatat(dir_fd, name.c_str(), &target, AT_SYMLINK_NOFOLLOW) != 0) {
    return false;
  }
  return target.st_uid != owner;
}

}  // namespace

namespace {

// Opens `dir` the way the owner would: the whole path walk (symlinks included) is done with the
// owner's identity, so the kernel applies the owner's rights, ACLs included, to every directory
// on the way, at the moment of the open. The O_PATH descriptor is then re-opened through "." as
// the service, only to get a descriptor that fsync accepts; it names the same directory.
Result<UniqueFd> open_dir_as_owner(const std::string& dir, uid_t owner) {
  UniqueFd path_fd;
  {
    ScopedFsCredentials as_owner(owner);
    if (!as_owner.ok()) {
      return as_owner.status().error();
    }
    path_fd.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (path_fd.valid() && faccessat(path_fd.get(), ".", W_OK | X_OK, AT_EACCESS) != 0) {
      const int err = errno;
      if (err == EACCES || err == EPERM) {
        return access_denied("uid " + std::to_string(owner) + " may not write to " + dir);
      }
      // EROFS and friends are reported below by the service's own check.
    }
  }
  if (!path_fd.valid()) {
    return Error::from_errno(errno, "cannot open directory " + dir);
  }
  UniqueFd fd(openat(path_fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    return Error::from_errno(errno, "cannot open directory " + dir);
  }
  return fd;
}

}  // namespace

Result<UniqueFd> open_parent_dir(const std::string& local_path, uid_t owner) {
  const auto dir = staging_dir(local_path);
  const bool for_other = acting_for_other_user(owner);
  auto opened = for_other ? open_dir_as_owner(dir, owner) : [&]() -> Result<UniqueFd> {
    UniqueFd own(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!own.valid()) {
      return Error::from_errno(errno, "cannot open directory " + dir);
    }
    return own;
  }();
  if (!opened) {
    Error e = std::move(opened).error();
    const int err = errno_of(e.code);
    if (err == ENOENT) {
      return invalid("parent directory does not exist: " + dir);
    }
    if (err == ENOTDIR) {
      return invalid("parent is not a directory: " + dir);
    }
    if (err == EACCES || err == EPERM) {
      return access_denied("uid " + std::to_string(owner) + " may not reach " + dir);
    }
    return e;
  }
  UniqueFd fd = std::move(opened).value();
  if (on_kernel_pseudo_fs(fd.get())) {
    return access_denied("destination is on a kernel pseudo filesystem: " + dir);
  }
  if (for_other) {
    // Defence in depth behind the kernel's own check above: the same question from the mode
    // bits, on what was opened. (It cannot see ACLs, so an ACL-only grant is refused.)
    struct stat st {};
    if (fstat(fd.get(), &st) != 0) {
      return Error::from_errno(errno, "cannot stat directory " + dir);
    }
    if (!user_can_write_dir(owner, st)) {
      return access_denied("uid " + std::to_string(owner) + " may not write to " + dir);
    }
    // Write permission on the directory is worth nothing if the owner cannot reach it.
    std::array<char, PATH_MAX> resolved{};
    const auto self = "/proc/self/fd/" + std::to_string(fd.get());
    const ssize_t n = ::readlink(self.c_str(), resolved.data(), resolved.size() - 1);
    const std::string real = n > 0 ? std::string(resolved.data(), static_cast<std::size_t>(n)) : "";
    if (!user_can_reach_dir(owner, dir, real)) {
      return access_denied("uid " + std::to_string(owner) + " may not reach " + dir);
    }
  }
  return fd;
}

Status LocalStaging::check_destination(uid_t owner, const std::string& local_path) {
  BGCOPY_TRY(check_path_syntax(local_path));
  if (is_pseudo_fs_path(local_path)) {
    return access_denied("destination is under /proc, /sys or /dev: " + local_path);
  }
  auto dir = open_parent_dir(local_path, owner);
  if (!dir) {
    return as_access_denied(std::move(dir).error());
  }
  const auto dir_name = staging_dir(local_path);
  // The daemon itself must be able to create files there (this also reports EROFS); when it
  // acts for itself this is the whole check, with the effective ids as the kernel uses them.
  if (faccessat(dir->get(), ".", W_OK | X_OK, AT_EACCESS) != 0) {
    const int err = errno;
    if (err == EACCES || err == EPERM) {
      return access_denied("no write permission on directory " + dir_name);
    }
    return Error::from_errno(err, "cannot write to directory " + dir_name);
  }
  const auto name = base_name(local_path);
  struct stat st {};
  if (fstatat(dir->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
    return invalid("destination is a directory: " + local_path);
  }
  return {};
}

Result<UniqueFd> open_staging_for_write(const engine::FileRecord& file, uid_t owner) {
  BGCOPY_TRY(check_staging_name(file.staging_name));
  auto dir = open_parent_dir(file.spec.local_path, owner);
  if (!dir) {
    return std::move(dir).error();
  }
  const auto shown = staging_path(file);
  // O_NONBLOCK: a FIFO planted at the staging name must not block the curl thread in open().
  // Created as the owner, so it is theirs from the start.
  UniqueFd fd;
  {
    ScopedFsCredentials as_owner(owner);
    if (!as_owner.ok()) {
      return as_owner.status().error();
    }
    fd.reset(openat(dir->get(), file.staging_name.c_str(),
                    O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0600));
  }
  if (!fd.valid()) {
    return Error::from_errno(errno, "cannot open staging file " + shown);
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) {
    return Error::from_errno(errno, "cannot stat staging file " + shown);
  }
  if (!S_ISREG(st.st_mode)) {
    return invalid("staging file is not a regular file: " + shown);
  }
  // A pre-existing hard link or someone else's file at our name is not ours to write through.
  if (st.st_nlink != 1 || (st.st_uid != owner && st.st_uid != geteuid())) {
    return access_denied("refusing to write through foreign staging file " + shown);
  }
  const int flags = fcntl(fd.get(), F_GETFL);
  if (flags >= 0) {
    (void)fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  }
  // Sealed once (seal_staging) but written again, e.g. refetched after a crash that came
  // before its record: private again until every byte is in.
  if ((st.st_mode & 07777) != 0600 && fchmod(fd.get(), 0600) != 0) {
    return Error::from_errno(errno, "cannot make staging file " + shown + " private");
  }
  if (acting_for_other_user(owner) && st.st_uid != owner) {
    const auto who = lookup_user(owner);
    const gid_t gid = who ? who->gid : static_cast<gid_t>(-1);
    if (fchown(fd.get(), owner, gid) != 0) {
      return Error::from_errno(errno, "cannot give staging file " + shown + " to its owner");
    }
  }
  return fd;
}

Result<UniqueFd> open_staging_for_read(const engine::FileRecord& file, uid_t owner) {
  BGCOPY_TRY(check_staging_name(file.staging_name));
  auto dir = open_parent_dir(file.spec.local_path, owner);
  if (!dir) {
    return std::move(dir).error();
  }
  UniqueFd fd;
  {
    ScopedFsCredentials as_owner(owner);
    if (!as_owner.ok()) {
      return as_owner.status().error();
    }
    fd.reset(openat(dir->get(), file.staging_name.c_str(),
                    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  }
  if (!fd.valid()) {
    return Error::from_errno(errno, "cannot open staging file " + staging_path(file));
  }
  return fd;
}

namespace {

// A finalize that already renamed the file but whose caller never recorded it (a crash in
// between) must succeed when repeated: the staging name is gone and the final name holds a file
// that matches the record.
bool already_finalized(int dir_fd, const engine::FileRecord& file, const std::string& name) {
  struct stat st {};
  if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
      !file.bytes_total || static_cast<std::uint64_t>(st.st_size) != *file.bytes_total) {
    return false;
  }
  return !file.remote_mtime || st.st_mtim.tv_sec == static_cast<time_t>(*file.remote_mtime);
}

}  // namespace

namespace {

// umask(2) can only be read by setting it, which would change it for every thread for a
// moment; /proc/self/status (Linux 4.7+) reads it without that.
mode_t read_umask() {
  if (std::FILE* f = std::fopen("/proc/self/status", "re")) {
    char line[256];
    unsigned mask = 0;
    bool found = false;
    while (std::fgets(line, sizeof line, f) != nullptr) {
      if (std::sscanf(line, "Umask: %o", &mask) == 1) {
        found = true;
        break;
      }
    }
    std::fclose(f);
    if (found) {
      return static_cast<mode_t>(mask & 0777);
    }
  }
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return mask;
}

}  // namespace

mode_t delivered_mode() {
  static const mode_t mode = static_cast<mode_t>(0666 & ~read_umask());
  return mode;
}

Status seal_staging(int fd, std::optional<std::int64_t> remote_mtime, const std::string& shown) {
  // The ordinary mode a program of the owner would create (0666 less the service's umask).
  if (fchmod(fd, delivered_mode()) != 0) {
    return Error::from_errno(errno, "cannot set the mode of " + shown);
  }
  if (remote_mtime) {
    std::array<timespec, 2> times{};
    times[0].tv_nsec = UTIME_NOW;
    times[1].tv_sec = static_cast<time_t>(*remote_mtime);
    if (futimens(fd, times.data()) != 0) {
      return Error::from_errno(errno, "cannot set the modification time of " + shown);
    }
  }
  return {};
}

// One file of a finalize batch, prepared for its rename: metadata set, not yet synced.
struct LocalStaging::Prepared {
  const engine::FileRecord* file = nullptr;
  int dir_fd = -1;  // borrowed from the batch's directory cache
  // The staging file, to sync before the rename; invalid when an earlier finalize renamed it
  // already, or when it was sealed and has nothing left to make durable.
  UniqueFd fd;
  bool already = false;
};

Result<LocalStaging::Prepared> LocalStaging::prepare_final(
    uid_t owner, const engine::FileRecord& file, std::map<std::string, UniqueFd>& dirs) const {
  BGCOPY_TRY(check_staging_name(file.staging_name));
  const auto& final_path = file.spec.local_path;
  const auto parent = final_path.substr(0, final_path.find_last_of('/') + 1);
  auto cached = dirs.find(parent);
  if (cached == dirs.end()) {
    auto dir = open_parent_dir(final_path, owner);
    if (!dir) {
      return std::move(dir).error();
    }
    cached = dirs.emplace(parent, std::move(*dir)).first;
  }
  Prepared out;
  out.file = &file;
  out.dir_fd = cached->second.get();
  const auto shown = staging_path(file);
  const auto name = base_name(final_path);
  {
    ScopedFsCredentials as_owner(owner);
    if (!as_owner.ok()) {
      return as_owner.status().error();
    }
    out.fd.reset(openat(out.dir_fd, file.staging_name.c_str(),
                        O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  }
  if (!out.fd.valid()) {
    const int err = errno;
    if (err == ENOENT && already_finalized(out.dir_fd, file, name)) {
      out.already = true;
      return out;
    }
    return Error::from_errno(err, "cannot open staging file " + shown);
  }
  struct stat st {};
  if (fstat(out.fd.get(), &st) != 0) {
    return Error::from_errno(errno, "cannot stat staging file " + shown);
  }
  if (!S_ISREG(st.st_mode)) {
    return invalid("staging file is not a regular file: " + shown);
  }
  const bool for_other = acting_for_other_user(owner);
  if (for_other) {
    // Checked for every file, sealed or not: the rename must not replace another user's file.
    struct stat dir_st {};
    if (fstat(out.dir_fd, &dir_st) != 0) {
      return Error::from_errno(errno, "cannot stat directory of " + final_path);
    }
    if (sticky_blocks_replace(out.dir_fd, dir_st, name, owner)) {
      return access_denied("cannot replace " + final_path +
                           ": it belongs to another user in a sticky directory");
    }
  }
  // Sealed when it finished (seal_staging, then fsync): time, mode and owner are already
  // right and durable, as the data is for every file recorded transferred. Nothing to change,
  // so nothing to sync again.
  const bool time_right =
      !file.remote_mtime ||
      (st.st_mtim.tv_sec == static_cast<time_t>(*file.remote_mtime) && st.st_mtim.tv_nsec == 0);
  const bool owner_right = !for_other || st.st_uid == owner;
  if (time_right && owner_right && (st.st_mode & 07777) == delivered_mode()) {
    out.fd.reset();
    return out;
  }
  // Not sealed (or since changed): what the seal would have done, and the owner, now; the
  // fsync in finalize_all makes them durable together with the data.
  BGCOPY_TRY(seal_staging(out.fd.get(), file.remote_mtime, shown));
  if (for_other) {
    const auto who = lookup_user(owner);
    const gid_t gid = who ? who->gid : static_cast<gid_t>(-1);
    if (fchown(out.fd.get(), owner, gid) != 0) {
      return Error::from_errno(errno, "cannot give " + shown + " to its owner");
    }
  }
  return out;
}

engine::StagingPort::Finalized LocalStaging::finalize_all(
    uid_t owner, std::span<const engine::FileRecord* const> files) {
  // Bounded so a job of many files never holds more than this many descriptors at once.
  constexpr std::size_t kChunk = 128;
  Finalized out;
  for (std::size_t start = 0; start < files.size(); start += kChunk) {
    const auto chunk = files.subspan(start, std::min(kChunk, files.size() - start));
    std::map<std::string, UniqueFd> dirs;
    std::vector<Prepared> ready;
    ready.reserve(chunk.size());
    Status failure;  // of file ready.size(), when set
    // 1. Every file's metadata before any sync: the first fsync then commits them all in one
    //    journal transaction, and the rest find nothing left to write (the data was synced
    //    when the file finished).
    for (const auto* file : chunk) {
      auto prepared = prepare_final(owner, *file, dirs);
      if (!prepared) {
        failure = std::move(prepared).error();
        break;
      }
      ready.push_back(std::move(*prepared));
    }
    // 2. Sync each file: nothing may be renamed into place before its bytes are durable.
    for (std::size_t i = 0; i < ready.size(); ++i) {
      if (ready[i].fd.valid() && fsync(ready[i].fd.get()) != 0) {
        failure =
            Error::from_errno(errno, "cannot sync staging file " + staging_path(*ready[i].file));
        ready.resize(i);
        break;
      }
    }
    // 3. Rename, in order, as the owner: the kernel applies their write permission and the
    //    sticky-directory rule.
    std::size_t placed = 0;
    for (; placed < ready.size(); ++placed) {
      Prepared& p = ready[placed];
      p.fd.reset();
      if (p.already) continue;
      const auto& final_path = p.file->spec.local_path;
      ScopedFsCredentials as_owner(owner);
      if (!as_owner.ok()) {
        failure = as_owner.status();
        break;
      }
      if (renameat(p.dir_fd, p.file->staging_name.c_str(), p.dir_fd,
                   base_name(final_path).c_str()) != 0) {
        failure = Error::from_errno(errno,
                                    "cannot rename " + staging_path(*p.file) + " to " + final_path);
        break;
      }
    }
    // 4. One sync per directory that gained a name. The renames are done and visible: failing
    //    now would leave the caller retrying renames that cannot happen again, so report
    //    success and leave a trace.
    std::vector<int> synced;
    for (std::size_t i = 0; i < placed; ++i) {
      const int dir_fd = ready[i].dir_fd;
      if (std::find(synced.begin(), synced.end(), dir_fd) != synced.end()) continue;
      synced.push_back(dir_fd);
      if (fsync(dir_fd) != 0 && fsync(dir_fd) != 0) {
        log::warn("cannot sync directory of " + ready[i].file->spec.local_path +
                  " after the rename: " + std::strerror(errno));
      }
    }
    out.done += placed;
    if (!failure) {
      out.status = std::move(failure);
      return out;
    }
  }
  return out;
}

Status LocalStaging::remove(uid_t owner, const engine::FileRecord& file) {
  BGCOPY_TRY(check_staging_name(file.staging_name));
  auto dir = open_parent_dir(file.spec.local_path, owner);
  if (!dir) {
    // A directory that is gone took the staging file with it.
    if (dir.error().code == hr::EInvalidArg) {
      return {};
    }
    return std::move(dir).error();
  }
  ScopedFsCredentials as_owner(owner);
  if (!as_owner.ok()) {
    return as_owner.status().error();
  }
  if (unlinkat(dir->get(), file.staging_name.c_str(), 0) != 0 && errno != ENOENT) {
    return Error::from_errno(errno, "cannot delete staging file " + staging_path(file));
  }
  return {};
}

std::optional<std::uint64_t> LocalStaging::staging_size(const engine::FileRecord& file) {
  if (!check_staging_name(file.staging_name)) {
    return std::nullopt;
  }
  // One stat by path, not open_parent_dir's open + fstatfs + fstatat + close: load() asks
  // this for every unfinished file, and with 100,000 jobs those syscalls were half of the
  // daemon's start-up. The answer is advisory (it decides between resume, cut back and fetch
  // again); everything that writes or removes goes through the directory descriptor.
  struct stat st {};
  if (::lstat(staging_path(file).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(st.st_size);
}

Status LocalStaging::truncate(uid_t owner, const engine::FileRecord& file, std::uint64_t size) {
  BGCOPY_TRY(check_staging_name(file.staging_name));
  auto dir = open_parent_dir(file.spec.local_path, owner);
  if (!dir) {
    return std::move(dir).error();
  }
  const auto shown = staging_path(file);
  UniqueFd fd;
  {
    // As the owner: a hard link planted at the staging name cannot make root cut someone
    // else's file.
    ScopedFsCredentials as_owner(owner);
    if (!as_owner.ok()) {
      return as_owner.status().error();
    }
    fd.reset(openat(dir->get(), file.staging_name.c_str(),
                    O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  }
  if (!fd.valid()) {
    const int err = errno;
    if (err == ENOENT && size == 0) {
      return {};  // nothing to cut
    }
    return Error::from_errno(err, "cannot open staging file " + shown);
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return invalid("staging file is not a regular file: " + shown);
  }
  // A segmented download's map (segment_map.hpp) vouches for synced bytes past the recorded
  // prefix; keep them, the transfer checks the map against the remote version before using it.
  if (const auto map = read_segment_map(fd.get())) {
    size = std::max(size, map->held_end());
  }
  // Only ever cut: growing would turn a hole into "transferred" zero bytes.
  if (static_cast<std::uint64_t>(st.st_size) > size &&
      ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    return Error::from_errno(errno, "cannot truncate staging file " + shown);
  }
  if (fsync(fd.get()) != 0) {
    return Error::from_errno(errno, "cannot sync staging file " + shown);
  }
  return {};
}

}  // namespace bgcopy::fs
