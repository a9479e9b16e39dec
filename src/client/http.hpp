// HTTP/1.1 over the service's Unix socket, with Boost.Beast: one keep-alive connection for
// request/answer calls, and a streaming reader for the chunked event stream. Every blocking
// step is bounded by a deadline (Beast's stream timer), so nothing waits forever.
#pragma once

#include <bgcopy/result.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace bgcopy::client {

enum class Method : std::uint8_t { Get, Post, Patch };

struct HttpAnswer {
  int status = 0;
  std::string body;
};

/// One keep-alive connection, opened on first use and re-opened after a failure. Not
/// thread-safe: the owner serialises calls; only cancel() may come from another thread.
class HttpConnection {
 public:
  HttpConnection(std::string socket_path, std::chrono::milliseconds timeout);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  /// Sends one request and reads the whole answer (any HTTP status). A request that fails on a
  /// reused connection before any byte of the answer arrived (the service closed an idle
  /// connection, or restarted) is sent once more on a fresh connection. Transport failures:
  /// 0xC0D00000 + errno (ETIMEDOUT for the deadline, ECONNRESET when the service closed the
  /// connection), BG_E_INVALID_SERVER_RESPONSE for bad HTTP.
  Result<HttpAnswer> request(Method method, std::string_view target, const std::string& body);

  /// Ends the request in progress, if any, and fails every later one at once with
  /// 0xC0D00000 + ECANCELED. Any thread: it is how a subscription's stop() gets its reader
  /// out of a request to a service that accepted it but does not answer.
  void cancel();

  /// Closes the connection now rather than keeping it for the next request (which opens a new
  /// one): for a caller that asks rarely and should not hold one of the service's connections.
  void disconnect();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// A GET whose answer body is consumed as it arrives, line by line (the event stream).
/// open() and run() are called on one thread; cancel() from any thread.
class HttpLineStream {
 public:
  HttpLineStream(std::string socket_path, std::chrono::milliseconds connect_timeout);
  ~HttpLineStream();
  HttpLineStream(const HttpLineStream&) = delete;
  HttpLineStream& operator=(const HttpLineStream&) = delete;

  /// Connects, sends GET target and reads the answer's header. A non-2xx answer is read whole
  /// and returned (status and body) so the caller can decode the error.
  Result<HttpAnswer> open(std::string_view target);
  /// Reads the body until it ends, fails or cancel() is called, calling on_line for each
  /// complete line (without the '\n'; a trailing '\r' is removed; lines over 1 MiB are
  /// dropped). Returns S_OK when the body ended or cancel() was called, a transport code
  /// otherwise. The connection is closed afterwards; open() may be called again.
  Status run(const std::function<void(std::string_view)>& on_line);
  /// Makes a running or future run() return promptly. Thread-safe; idempotent.
  void cancel();
  bool cancelled() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bgcopy::client
