// A private nginx on 127.0.0.1 serving a per-test docroot: the "real server" for range,
// If-Range and throttled transfers.
#pragma once

#include "process.hpp"
#include "temp_dir.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bgcopy::test {

struct NginxOptions {
  /// Bandwidth limit per response in bytes/s for location /; 0 = unlimited. A request can
  /// override it with the query parameter ?limit_rate=N (nginx ignores the query otherwise).
  std::uint64_t limit_rate = 0;
  /// Bytes sent at full speed before limit_rate applies.
  std::uint64_t limit_rate_after = 0;
  /// Extra directives placed inside `location / { ... }`.
  std::string location_extra;
};

class NginxServer {
 public:
  struct AccessLogEntry {
    std::string method;
    std::string uri;  ///< $uri: normalised path, no query.
    int status = 0;
    std::uint64_t bytes_sent = 0;  ///< $body_bytes_sent
    std::string range;             ///< Range request header, "" if absent.
    std::string if_range;          ///< If-Range request header, "" if absent.
    std::string args;              ///< $args: the query string, "" if none.
  };

  /// True if the nginx binary ($BGCOPY_NGINX, else /usr/sbin/nginx) is executable.
  static bool available();

  /// Starts nginx on a free port and waits (up to 10 s, scaled) until it accepts connections.
  /// Throws std::runtime_error, with nginx's error log, if it cannot be started.
  explicit NginxServer(NginxOptions options = {});
  ~NginxServer();
  NginxServer(const NginxServer&) = delete;
  NginxServer& operator=(const NginxServer&) = delete;

  int port() const { return port_; }
  /// "http://127.0.0.1:PORT" + path; a missing leading '/' is added.
  std::string url(std::string_view path) const;
  /// Files here are served at url("/relative/path").
  const std::filesystem::path& docroot() const { return docroot_; }
  /// Parses the access log; one entry per finished request, in order.
  std::vector<AccessLogEntry> access_log() const;
  /// access_log() once it has at least `n` entries, or after 5 s (scaled): nginx logs a
  /// request after its last byte is sent, which the client may already have used.
  std::vector<AccessLogEntry> access_log_at_least(std::size_t n) const;
  /// Stops nginx (SIGTERM, then SIGKILL after 5 s). Idempotent.
  void stop();
  /// Starts nginx again on the same port (the URLs stay valid). Throws if the port was taken.
  void restart();
  /// The same with new options, e.g. a throttle lifted (the URLs stay valid).
  void restart(NginxOptions options);
  bool running();

 private:
  void write_config() const;
  bool start_once();

  NginxOptions options_;
  TempDir dir_;
  std::filesystem::path docroot_;
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

}  // namespace bgcopy::test
