#include "daemon/listen_socket.hpp"

#include "base/log.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bgcopy::daemon {
namespace {

bool fill_address(const std::string& path, sockaddr_un& addr) {
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return false;
  }
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return true;
}

const sockaddr* as_sockaddr(const sockaddr_un& addr) {
  // The sockets API takes the generic type; sockaddr_un is layout-compatible by design.
  return reinterpret_cast<const sockaddr*>(&addr);
}

}  // namespace

SocketProbe probe_socket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    return SocketProbe::Absent;
  }
  if (!S_ISSOCK(st.st_mode)) {
    return SocketProbe::NotASocket;
  }
  sockaddr_un addr{};
  if (!fill_address(path, addr)) {
    return SocketProbe::NotASocket;
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return SocketProbe::Live;  // cannot tell; assume the worst and never delete
  }
  if (::connect(fd.get(), as_sockaddr(addr), sizeof addr) == 0) {
    return SocketProbe::Live;
  }
  // ECONNREFUSED: nobody listens. EAGAIN: a listener whose backlog is full is alive.
  return errno == ECONNREFUSED ? SocketProbe::Stale : SocketProbe::Live;
}

Result<UniqueFd> listen_unix(const std::string& path, mode_t mode, int backlog) {
  sockaddr_un addr{};
  if (!fill_address(path, addr)) {
    return Error::make(hr::EInvalidArg, "socket path too long (at most " +
                                            std::to_string(sizeof(addr.sun_path) - 1) +
                                            " bytes): " + path);
  }
  switch (probe_socket(path)) {
    case SocketProbe::Live:
      return Error::make(hr::EFail, "another bgcopyd is already serving " + path);
    case SocketProbe::NotASocket:
      return Error::make(hr::EInvalidArg, path + " exists and is not a socket; not touching it");
    case SocketProbe::Stale:
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return Error::from_errno(errno, "cannot remove stale socket " + path);
      }
      break;
    case SocketProbe::Absent:
      break;
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) {
    return Error::from_errno(errno, "cannot create a Unix socket");
  }
  // Bind with a private umask so the socket is never reachable with wider rights than `mode`,
  // even for the instant before chmod.
  const mode_t old_mask = ::umask(0177);
  const int rc = ::bind(fd.get(), as_sockaddr(addr), sizeof addr);
  const int bind_errno = errno;
  ::umask(old_mask);
  if (rc != 0) {
    if (bind_errno == EADDRINUSE) {
      return Error::make(hr::EFail, "another bgcopyd is already serving " + path);
    }
    return Error::from_errno(bind_errno, "cannot bind " + path);
  }
  if (::chmod(path.c_str(), mode) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return Error::from_errno(err, "cannot set the mode of " + path);
  }
  if (::listen(fd.get(), backlog) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return Error::from_errno(err, "cannot listen on " + path);
  }
  return fd;
}

Result<std::optional<UniqueFd>> activated_socket() {
  const int n = sd_listen_fds(1);
  if (n <= 0) {
    return std::optional<UniqueFd>{};
  }
  if (n != 1) {
    for (int i = 0; i < n; ++i) ::close(SD_LISTEN_FDS_START + i);
    return Error::make(hr::EInvalidArg, "systemd passed " + std::to_string(n) +
                                            " sockets; bgcopyd takes exactly one");
  }
  UniqueFd fd(SD_LISTEN_FDS_START);
  if (sd_is_socket_unix(fd.get(), SOCK_STREAM, 1, nullptr, 0) <= 0) {
    return Error::make(hr::EInvalidArg,
                       "the socket systemd passed is not a listening Unix stream socket");
  }
  const int flags = ::fcntl(fd.get(), F_GETFD);
  if (flags >= 0) {
    ::fcntl(fd.get(), F_SETFD, flags | FD_CLOEXEC);
  }
  return std::optional<UniqueFd>(std::move(fd));
}

void notify_ready(std::string_view status) {
  const std::string msg = "READY=1\nSTATUS=" + std::string(status);
  const int rc = sd_notify(0, msg.c_str());
  if (rc < 0) {
    log::warn(std::string("sd_notify(READY=1) failed: ") + std::strerror(-rc));
  }
}

void notify_stopping() {
  sd_notify(0, "STOPPING=1\nSTATUS=Shutting down");
}

}  // namespace bgcopy::daemon
