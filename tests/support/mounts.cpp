#include "mounts.hpp"

#include "temp_dir.hpp"

#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace bgcopy::test {
namespace fs = std::filesystem;
namespace {

std::string size_option(std::uint64_t bytes) {
  return "size=" + std::to_string(bytes) + ",mode=0755";
}

std::string errno_text(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}

}  // namespace

std::string mount_unavailable_reason() {
  if (::geteuid() != 0) {
    return "needs root (mount(2))";
  }
  TempDir probe("bgcopy-mount-probe-");
  if (::mount("tmpfs", probe.path().c_str(), "tmpfs", 0, size_option(64 * 1024).c_str()) != 0) {
    return errno_text("mount -t tmpfs refused", errno);
  }
  (void)::umount2(probe.path().c_str(), MNT_DETACH);
  return {};
}

std::optional<TmpfsMount> TmpfsMount::mount(const fs::path& where, std::uint64_t bytes,
                                            std::string* why) {
  if (::mount("tmpfs", where.c_str(), "tmpfs", 0, size_option(bytes).c_str()) != 0) {
    if (why != nullptr) {
      *why = errno_text("mount -t tmpfs on " + where.string(), errno);
    }
    return std::nullopt;
  }
  return TmpfsMount(where);
}

TmpfsMount::~TmpfsMount() {
  if (!path_.empty()) {
    (void)::umount2(path_.c_str(), MNT_DETACH);
  }
}

TmpfsMount::TmpfsMount(TmpfsMount&& other) noexcept : path_(std::move(other.path_)) {
  other.path_.clear();
}

void TmpfsMount::resize(std::uint64_t bytes) {
  if (::mount("tmpfs", path_.c_str(), "tmpfs", MS_REMOUNT, size_option(bytes).c_str()) != 0) {
    throw std::runtime_error(errno_text("remount of " + path_.string(), errno));
  }
}

std::uint64_t TmpfsMount::fill(const fs::path& filler) {
  const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw std::runtime_error(errno_text("open " + filler.string(), errno));
  }
  std::uint64_t written = 0;
  for (std::size_t chunk : {std::size_t{64} * 1024, std::size_t{4096}, std::size_t{1}}) {
    const std::vector<char> zeros(chunk, '\0');
    for (;;) {
      const ssize_t n = ::write(fd, zeros.data(), zeros.size());
      if (n <= 0) {
        break;  // ENOSPC: try a smaller chunk for the last partial page
      }
      written += static_cast<std::uint64_t>(n);
    }
  }
  ::close(fd);
  return written;
}

std::optional<ReadOnlyBind> ReadOnlyBind::bind(const fs::path& dir, std::string* why) {
  if (::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    if (why != nullptr) {
      *why = errno_text("bind mount of " + dir.string(), errno);
    }
    return std::nullopt;
  }
  ReadOnlyBind out(dir);
  if (::mount(nullptr, dir.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
    if (why != nullptr) {
      *why = errno_text("read-only remount of " + dir.string(), errno);
    }
    return std::nullopt;  // out's destructor unmounts the bind
  }
  return out;
}

ReadOnlyBind::~ReadOnlyBind() {
  restore();
}

ReadOnlyBind::ReadOnlyBind(ReadOnlyBind&& other) noexcept : path_(std::move(other.path_)) {
  other.path_.clear();
}

void ReadOnlyBind::restore() {
  if (!path_.empty()) {
    (void)::umount2(path_.c_str(), MNT_DETACH);
    path_.clear();
  }
}

int set_immutable(const fs::path& path, bool on) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return errno;
  }
  int flags = 0;
  int err = 0;
  if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
    err = errno;
  } else {
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    if (::ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0) {
      err = errno;
    }
  }
  ::close(fd);
  return err;
}

std::string immutable_unsupported_reason(const fs::path& dir) {
  if (::geteuid() != 0) {
    return "needs root (FS_IMMUTABLE_FL)";
  }
  const fs::path probe = dir / ".immutable-probe";
  const int fd = ::open(probe.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return errno_text("cannot create " + probe.string(), errno);
  }
  std::string why;
  if (const int err = set_immutable(probe, true); err != 0) {
    why = errno_text("chattr +i not supported on " + dir.string(), err);
  } else {
    if (::pwrite(fd, "x", 1, 0) == 1) {
      why = "the filesystem of " + dir.string() + " lets open descriptors write immutable files";
    }
    (void)set_immutable(probe, false);
  }
  ::close(fd);
  std::error_code ec;
  fs::remove(probe, ec);
  return why;
}

}  // namespace bgcopy::test
