// A minimal HTTP/1.1 client over a raw loopback socket, for checking test servers byte by byte
// (short bodies, dropped connections, stalls) where curl would hide the details.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bgcopy::test {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;          ///< 0 if no status line arrived.
  HttpHeaders headers;     ///< In arrival order.
  std::string body;        ///< Everything after the header block, up to Content-Length.
  bool eof = false;        ///< The server closed the connection.
  bool timed_out = false;  ///< The deadline passed before the server closed.

  /// First header with that name (case-insensitive), or "".
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  /// Content-Length as sent, or -1.
  long long content_length() const;
  /// True when a Content-Length was sent and exactly that many body bytes arrived.
  bool complete() const;
};

/// Sends "METHOD target HTTP/1.1" with Host and "Connection: close" plus `headers` to
/// 127.0.0.1:port and reads until the server closes or `deadline` (scaled) passes.
/// Throws std::runtime_error if the connection cannot be made.
HttpResponse http_request(int port, std::string_view method, std::string_view target,
                          const HttpHeaders& headers = {},
                          std::chrono::milliseconds deadline = std::chrono::seconds(15));

}  // namespace bgcopy::test
