// Runs tests/testenv/fault_origin.py: an HTTP/1.1 origin whose misbehaviour is chosen per
// request by query parameters (see the script's docstring for the directives).
#pragma once

#include "process.hpp"
#include "temp_dir.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bgcopy::test {

class FaultOrigin {
 public:
  /// One line of the origin's JSON-lines request log.
  struct Request {
    std::string method;
    std::string target;    ///< Path + query as sent.
    std::string key;       ///< Counter key (key=NAME, or target without fail_* parameters).
    int n = 0;             ///< 1-based ordinal of this request for its key.
    std::string range;     ///< Range header, "" if absent.
    std::string if_range;  ///< If-Range header, "" if absent.
    int status = 0;
    std::uint64_t bytes_sent = 0;
    std::string outcome;  ///< "complete", "drop", "stall", "wrong_length" or "aborted".
  };

  /// $BGCOPY_SOURCE_DIR/tests/testenv/fault_origin.py, else the configure-time source dir.
  static std::filesystem::path script_path();

  /// Starts the origin ($BGCOPY_PYTHON, else python3 from PATH) with a fresh root directory
  /// and waits (up to 15 s, scaled) for its port file. Throws std::runtime_error on failure.
  FaultOrigin();
  ~FaultOrigin();
  FaultOrigin(const FaultOrigin&) = delete;
  FaultOrigin& operator=(const FaultOrigin&) = delete;

  int port() const { return port_; }
  /// "http://127.0.0.1:PORT" + path_and_query; a missing leading '/' is added.
  std::string url(std::string_view path_and_query) const;
  /// Files here are served at url("/relative/path").
  const std::filesystem::path& root() const { return root_; }
  /// Requests the origin has finished with (stalls: once the stall began), in log order.
  std::vector<Request> requests() const;
  /// The same, only those whose key equals `key`.
  std::vector<Request> requests_for(std::string_view key) const;
  /// requests() (or requests_for(key) with a key) once at least `n` are logged, or after 5 s
  /// (scaled): a request is logged after its last byte is sent, which can be after the client
  /// has already received that byte and moved on.
  std::vector<Request> requests_at_least(std::size_t n, std::string_view key = {}) const;
  /// GET /__stats: request count per key.
  std::map<std::string, int> stats() const;
  /// POST /__reset: clears the per-key counters (the log is kept).
  void reset_counters() const;
  /// SIGTERM, wait up to 5 s (scaled), then SIGKILL. Idempotent.
  void stop();
  /// SIGKILL: the origin dies mid-response, as after a crash. Idempotent.
  void kill();
  /// Starts again on the same port, with counters cleared. Throws if the port was taken.
  void restart();
  bool running();

 private:
  bool start(int port);

  TempDir dir_;
  std::filesystem::path root_;
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

}  // namespace bgcopy::test
