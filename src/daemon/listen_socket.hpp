// The API's listening socket: probing for a live daemon, removing a stale socket file, binding,
// and the systemd hooks (socket activation, readiness). libsystemd stays inside the .cpp.
#pragma once

#include "base/error.hpp"
#include "base/unique_fd.hpp"

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace bgcopy::daemon {

enum class SocketProbe : std::uint8_t {
  Absent,      // nothing at the path
  Live,        // something accepts connections there
  Stale,       // a socket file nobody listens on (a crashed daemon's)
  NotASocket,  // some other kind of file: never removed
};

/// Looks at path without following a final symlink and, for a socket, tries to connect.
SocketProbe probe_socket(const std::string& path);

/// Binds and listens on a Unix stream socket at path, then sets its mode (0600 in user mode,
/// 0666 in system mode where SO_PEERCRED tells callers apart). A stale socket file is removed
/// first; a live one is left alone.
/// Errors: E_FAIL "another bgcopyd is already serving PATH" when something answers there;
/// E_INVALIDARG when the path is too long for sockaddr_un or is not a socket;
/// 0xC0D00000 + errno for other failures.
Result<UniqueFd> listen_unix(const std::string& path, mode_t mode, int backlog = 128);

/// The listening socket passed by systemd socket activation, if exactly one Unix stream socket
/// was passed. Errors: E_INVALIDARG when fds were passed but not one listening Unix stream
/// socket. nullopt when not socket-activated.
Result<std::optional<UniqueFd>> activated_socket();

/// sd_notify wrappers; no-ops when not run by systemd (NOTIFY_SOCKET unset).
void notify_ready(std::string_view status);
void notify_stopping();

}  // namespace bgcopy::daemon
