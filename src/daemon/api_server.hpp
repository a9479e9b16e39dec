// The local API (docs/api.md): HTTP/1.1 + JSON on a Unix stream socket, served by Boost.Beast
// on an io_context and threads of its own (never the engine thread). Callers are identified by
// SO_PEERCRED; every engine access goes through EngineHost::call.
//
// Bounded by design: header block 16 KiB (431), body 1 MiB (413), request target 8 KiB (414),
// a deadline to receive each request (a client that never finishes one is disconnected), a
// deadline for each write, a cap on simultaneous connections and a lower one per caller uid
// (beyond them new connections are closed, so one local user cannot take every slot), and a
// bounded queue per event-stream subscriber.
//
// Boost stays inside the .cpp: this header is safe to include anywhere.
#pragma once

#include "base/error.hpp"
#include "base/unique_fd.hpp"
#include "daemon/engine_host.hpp"
#include "daemon/paths.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace bgcopy::daemon {

struct ApiOptions {
  Mode mode = Mode::User;
  std::string version;  // for /v1/health and the Server header
  unsigned threads = 2;
  std::size_t max_connections = 256;
  std::size_t max_connections_per_uid = 64;         // root is held only to max_connections
  std::chrono::milliseconds read_timeout{30'000};   // to receive one whole request (or idle)
  std::chrono::milliseconds write_timeout{30'000};  // to send one response or event chunk
  std::size_t event_queue_capacity = 1024;          // per event-stream subscriber
  std::chrono::milliseconds coalesce_window{500};   // JobModification, per job per subscriber
};

class ApiServer {
 public:
  /// host and hub must outlive the server.
  ApiServer(EngineHost& host, EventHub& hub, ApiOptions options);
  ~ApiServer();  // stop()
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  /// Starts serving on an already listening Unix stream socket (ours or systemd's) with
  /// options.threads threads. Errors: E_INVALIDARG if called twice; errno codes from asio.
  Status start(UniqueFd listening);

  /// Stops accepting, drops every connection (event streams included) and joins the threads.
  /// Idempotent; returns within the time the slowest in-flight engine call takes.
  void stop();

  /// Connections currently open (for tests and the status line).
  std::size_t connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace bgcopy::daemon
