// Composition root of the job service: builds the store, staging, transfer and engine host in
// dependency order and tears them down in reverse. The socket API (when present) sits on top.
#pragma once

#include "base/clock.hpp"
#include "base/unique_fd.hpp"
#include "daemon/engine_host.hpp"
#include "engine/config.hpp"

#include <memory>
#include <string>

namespace bgcopy::store {
class SqliteJobStore;
}
namespace bgcopy::transfer {
class CurlTransfer;
}
namespace bgcopy::fs {
class LocalStaging;
}

namespace bgcopy::daemon {

struct ServiceOptions {
  std::string state_dir;  // created 0700 if missing; holds bgcopy.db and the lock file
  engine::EngineConfig config;
  std::uint32_t connections_per_file = 1;  // bgcopyd.toml [transfer], see config.hpp
  std::uint64_t segment_min_size = std::uint64_t{4} << 20;
};

class Service {
 public:
  /// Opens (or creates) the state directory, takes its lock (one service per state dir),
  /// opens the store, loads every job and starts transferring.
  /// Errors: E_ACCESSDENIED / errno codes for the directory, E_FAIL "already running" when
  /// another process holds the lock, the store's errors.
  static Result<std::unique_ptr<Service>> open(const ServiceOptions& options);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  EngineHost& host() { return *host_; }
  EventHub& events() { return hub_; }
  /// Checkpoints and stops every transfer. Also done by the destructor.
  void stop();

 private:
  Service() = default;

  SystemClock clock_;
  UniqueFd lock_fd_;
  std::unique_ptr<store::SqliteJobStore> store_;
  std::unique_ptr<fs::LocalStaging> staging_;
  EventHub hub_;
  std::unique_ptr<transfer::CurlTransfer> transfer_;
  std::unique_ptr<EngineHost> host_;
};

}  // namespace bgcopy::daemon
