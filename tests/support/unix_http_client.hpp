// A small HTTP/1.1 client over a Unix stream socket for driving bgcopyd's API in tests. Responses
// are parsed with Boost.Beast; every read has a deadline (scaled), so a silent server fails the
// test instead of hanging it. Throws std::runtime_error on connection or protocol failures.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bgcopy::test {

struct UnixHttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
  /// The body parsed as JSON (throws nlohmann::json::parse_error if it is not).
  nlohmann::json json() const;
  /// Header value or "".
  std::string header(std::string_view lower_name) const;
};

class UnixHttpClient {
 public:
  explicit UnixHttpClient(std::string socket_path,
                          std::chrono::milliseconds timeout = std::chrono::seconds(15));
  ~UnixHttpClient();
  UnixHttpClient(const UnixHttpClient&) = delete;
  UnixHttpClient& operator=(const UnixHttpClient&) = delete;

  /// Sends one request on the kept-alive connection (reconnecting when the server closed it)
  /// and reads the response.
  UnixHttpResponse request(std::string_view method, std::string_view target,
                           std::string_view body = {},
                           const std::vector<std::pair<std::string, std::string>>& headers = {});
  UnixHttpResponse get(std::string_view target) { return request("GET", target); }
  UnixHttpResponse post(std::string_view target, std::string_view body = {}) {
    return request("POST", target, body);
  }
  UnixHttpResponse patch(std::string_view target, std::string_view body) {
    return request("PATCH", target, body);
  }
  /// POST with a JSON body.
  UnixHttpResponse post_json(std::string_view target, const nlohmann::json& body) {
    return request("POST", target, body.dump());
  }

  /// True while the current connection is open (the last response allowed keep-alive).
  bool connected() const { return fd_ >= 0; }
  /// Connects afresh; the number of connects made so far.
  int connects() const { return connects_; }

 private:
  void connect();
  void close();

  std::string path_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  int connects_ = 0;
};

/// Opens a new connection, writes `bytes` verbatim, and returns the parsed response (or
/// nullopt when the server closed without answering). For malformed and oversized requests.
std::optional<UnixHttpResponse> raw_exchange(
    const std::string& socket_path, std::string_view bytes,
    std::chrono::milliseconds timeout = std::chrono::seconds(15));

/// Connects and returns the file descriptor (owned by the caller), or -1.
int connect_unix(const std::string& socket_path);

/// Waits (scaled deadline) until the peer closes fd: true if it did (read returned 0 or an
/// error), false if the deadline passed first. Data sent by the peer is discarded.
bool wait_closed(int fd, std::chrono::milliseconds deadline);

/// True if GET /v1/health answers 200 right now.
bool health_ok(const std::string& socket_path);

/// GET /v1/events[?job=...]: reads the chunked stream and hands out one line at a time.
class EventStreamClient {
 public:
  /// Sends the request and reads the response header; throws unless it is 200 and chunked.
  EventStreamClient(const std::string& socket_path, std::string_view target = "/v1/events");
  ~EventStreamClient();
  EventStreamClient(const EventStreamClient&) = delete;
  EventStreamClient& operator=(const EventStreamClient&) = delete;

  /// The next event line as JSON, or nullopt if none arrived before the (scaled) deadline.
  /// Throws if the stream ended.
  std::optional<nlohmann::json> next(std::chrono::milliseconds deadline);
  /// True once the server ended the stream (last chunk or close).
  bool ended() const { return ended_; }

 private:
  bool fill(std::chrono::steady_clock::time_point until);
  bool decode_chunks();

  int fd_ = -1;
  std::string raw_;      // undecoded bytes after the header
  std::string decoded_;  // chunk payload not yet split into lines
  bool ended_ = false;
};

}  // namespace bgcopy::test
