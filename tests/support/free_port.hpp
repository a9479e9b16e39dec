// Loopback port selection for servers that cannot report the port they bound themselves.
#pragma once

namespace bgcopy::test {

/// A TCP port on 127.0.0.1 that was free a moment ago: binds port 0, reads the port, closes.
/// Another process may take it before the caller binds, so callers retry on a bind failure.
/// Throws std::runtime_error if no socket can be bound.
int pick_free_port();

/// True if a TCP connect to 127.0.0.1:port succeeds right now.
bool port_accepts(int port);

}  // namespace bgcopy::test
