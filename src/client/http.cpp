#include "client/http.hpp"

#include <bgcopy/version.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <array>
#include <atomic>
#include <cerrno>
#include <limits>
#include <optional>
#include <system_error>
#include <utility>

namespace bgcopy::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using Protocol = asio::local::stream_protocol;
using Stream = beast::basic_stream<Protocol, asio::io_context::executor_type>;

constexpr std::uint64_t kMaxAnswerBytes = std::uint64_t{4} << 30;  // a 100,000-job list fits
constexpr std::size_t kMaxLineBytes = std::size_t{1} << 20;
constexpr std::string_view kUserAgent = "libbgcopy/" BGCOPY_VERSION_STRING;

/// Runs the io_context until the operation started by `start` (and its timer) is done.
template <class Start>
beast::error_code run_op(asio::io_context& ioc, Start&& start) {
  beast::error_code result = asio::error::would_block;
  std::forward<Start>(start)(
      [&result](beast::error_code ec, auto&&... /*ignored*/) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

http::verb verb_of(Method m) {
  switch (m) {
    case Method::Get:
      return http::verb::get;
    case Method::Post:
      return http::verb::post;
    case Method::Patch:
      return http::verb::patch;
  }
  return http::verb::get;
}

http::request<http::string_body> make_request(Method method, std::string_view target,
                                              std::string body) {
  http::request<http::string_body> req{verb_of(method),
                                       beast::string_view(target.data(), target.size()), 11};
  req.set(http::field::host, "localhost");
  req.set(http::field::user_agent, beast::string_view(kUserAgent.data(), kUserAgent.size()));
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
  }
  req.body() = std::move(body);
  req.keep_alive(true);
  req.prepare_payload();
  return req;
}

/// Errors after which a request on a reused connection may be sent again: the peer had
/// closed (or was closing) the connection before it read our request.
bool is_stale_connection(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted;
}

/// Opens a fresh stream on `path` within the stream's current deadline.
beast::error_code connect_stream(asio::io_context& ioc, std::optional<Stream>& stream,
                                 const std::string& path, std::chrono::milliseconds timeout) {
  stream.reset();
  stream.emplace(ioc.get_executor());
  Protocol::endpoint endpoint;
  try {
    endpoint = Protocol::endpoint(path);
  } catch (const boost::system::system_error& e) {
    return e.code();  // path longer than sun_path
  }
  stream->expires_after(timeout);
  return run_op(ioc, [&](auto handler) { stream->async_connect(endpoint, std::move(handler)); });
}

/// Turns a socket/HTTP error into the library's codes: errno values become
/// 0xC0D00000 + errno, a timeout ETIMEDOUT, a protocol violation BG_E_INVALID_SERVER_RESPONSE.
/// `what` starts the message ("cannot connect to bgcopyd at /run/...").
Status transport_status(const beast::error_code& ec, std::string_view what) {
  std::string message(what);
  message += ": ";
  if (ec == beast::error::timeout) {
    message += "timed out";
    return Status(hresult_from_errno(ETIMEDOUT), std::move(message));
  }
  if (ec == asio::error::eof || ec == http::error::end_of_stream ||
      ec == http::error::partial_message) {
    message += "bgcopyd closed the connection";
    return Status(hresult_from_errno(ECONNRESET), std::move(message));
  }
  if (ec.category() == beast::error_code(http::error::bad_version).category()) {
    message += "not a valid HTTP answer (" + ec.message() + ")";
    return Status(hr::BgEInvalidServerResponse, std::move(message));
  }
  message += ec.message();
  if (ec.category() == boost::system::system_category() ||
      ec.category() == boost::system::generic_category()) {
    return Status(hresult_from_errno(ec.value()), std::move(message));
  }
  return Status(hr::EFail, std::move(message));
}

/// cancel() of both classes: sets the flag, then ends the operation in progress. The posted
/// handler runs on the thread inside run_op, if any (the operation ends with
/// operation_aborted); otherwise it waits in the queue and the next call sees the flag first.
void cancel_on(asio::io_context& ioc, std::optional<Stream>& stream, std::atomic<bool>& flag) {
  flag.store(true);
  asio::post(ioc, [&stream] {
    if (stream) {
      beast::error_code ignored;
      stream->socket().cancel(ignored);
      stream->socket().shutdown(Protocol::socket::shutdown_both, ignored);
    }
  });
}

}  // namespace

// --- HttpConnection ------------------------------------------------------------------------

struct HttpConnection::Impl {
  std::string path;
  std::chrono::milliseconds timeout;
  asio::io_context ioc{1};
  std::optional<Stream> stream;
  beast::flat_buffer buffer;
  std::atomic<bool> cancelled{false};

  void close() {
    if (stream) {
      beast::error_code ignored;
      stream->socket().close(ignored);
      stream.reset();
    }
    buffer.clear();
  }
};

HttpConnection::HttpConnection(std::string socket_path, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->path = std::move(socket_path);
  impl_->timeout = timeout;
}

HttpConnection::~HttpConnection() {
  impl_->close();
}

Result<HttpAnswer> HttpConnection::request(Method method, std::string_view target,
                                           const std::string& body) {
  Impl& c = *impl_;
  const auto cancelled = [&c] {
    c.close();
    return Status(hresult_from_errno(ECANCELED), "request to bgcopyd cancelled");
  };
  for (int attempt = 0;; ++attempt) {
    if (c.cancelled.load()) {
      return cancelled();
    }
    const bool reused = c.stream.has_value();
    if (!reused) {
      if (auto ec = connect_stream(c.ioc, c.stream, c.path, c.timeout)) {
        if (c.cancelled.load()) {
          return cancelled();
        }
        c.close();
        return transport_status(ec, "cannot connect to bgcopyd at " + c.path);
      }
    }
    c.stream->expires_after(c.timeout);
    auto req = make_request(method, target, body);  // a copy: a retry sends it again
    auto ec =
        run_op(c.ioc, [&](auto handler) { http::async_write(*c.stream, req, std::move(handler)); });
    if (ec) {
      if (c.cancelled.load()) {
        return cancelled();
      }
      c.close();
      if (reused && attempt == 0 && is_stale_connection(ec)) {
        continue;
      }
      return transport_status(ec, "cannot send a request to bgcopyd");
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxAnswerBytes);
    ec = run_op(c.ioc, [&](auto handler) {
      http::async_read(*c.stream, c.buffer, parser, std::move(handler));
    });
    if (ec) {
      if (c.cancelled.load()) {
        return cancelled();
      }
      const bool nothing_arrived = !parser.got_some();
      c.close();
      if (reused && attempt == 0 && nothing_arrived && is_stale_connection(ec)) {
        continue;
      }
      return transport_status(ec, "no answer from bgcopyd");
    }
    auto res = parser.release();
    if (!res.keep_alive()) {
      c.close();
    } else {
      c.stream->expires_never();
    }
    return HttpAnswer{static_cast<int>(res.result_int()), std::move(res.body())};
  }
}

void HttpConnection::disconnect() {
  impl_->close();
}

void HttpConnection::cancel() {
  cancel_on(impl_->ioc, impl_->stream, impl_->cancelled);
}

// --- HttpLineStream ------------------------------------------------------------------------

struct HttpLineStream::Impl {
  std::string path;
  std::chrono::milliseconds timeout;
  asio::io_context ioc{1};
  std::optional<Stream> stream;
  beast::flat_buffer buffer;
  std::optional<http::response_parser<http::buffer_body>> parser;
  std::atomic<bool> cancelled{false};

  void close() {
    if (stream) {
      beast::error_code ignored;
      stream->socket().close(ignored);
      stream.reset();
    }
    parser.reset();
    buffer.clear();
  }

  /// Reads the next piece of the body into `chunk`. Returns the bytes read (0 at the end of
  /// the body) or an error.
  beast::error_code read_some(std::array<char, 16384>& chunk, std::size_t& n) {
    auto& body = parser->get().body();
    body.data = chunk.data();
    body.size = chunk.size();
    auto ec = run_op(ioc, [&](auto handler) {
      http::async_read_some(*stream, buffer, *parser, std::move(handler));
    });
    if (ec == http::error::need_buffer) {
      ec = {};
    }
    n = chunk.size() - body.size;
    return ec;
  }
};

HttpLineStream::HttpLineStream(std::string socket_path, std::chrono::milliseconds connect_timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->path = std::move(socket_path);
  impl_->timeout = connect_timeout;
}

HttpLineStream::~HttpLineStream() {
  impl_->close();
}

Result<HttpAnswer> HttpLineStream::open(std::string_view target) {
  Impl& c = *impl_;
  c.close();
  const auto cancelled = [&c] {
    c.close();
    return Status(hresult_from_errno(ECANCELED), "event stream cancelled");
  };
  if (c.cancelled.load()) {
    return cancelled();
  }
  if (auto ec = connect_stream(c.ioc, c.stream, c.path, c.timeout)) {
    c.close();
    return transport_status(ec, "cannot connect to bgcopyd at " + c.path);
  }
  if (c.cancelled.load()) {
    return cancelled();
  }
  c.stream->expires_after(c.timeout);
  auto req = make_request(Method::Get, target, {});
  auto ec =
      run_op(c.ioc, [&](auto handler) { http::async_write(*c.stream, req, std::move(handler)); });
  if (ec) {
    c.close();
    return transport_status(ec, "cannot send a request to bgcopyd");
  }
  if (c.cancelled.load()) {
    return cancelled();
  }
  c.parser.emplace();
  // Not boost::none: Boost 1.74 compares a Content-Length against an empty optional as "over".
  c.parser->body_limit(std::numeric_limits<std::uint64_t>::max());
  ec = run_op(c.ioc, [&](auto handler) {
    http::async_read_header(*c.stream, c.buffer, *c.parser, std::move(handler));
  });
  if (ec) {
    c.close();
    return transport_status(ec, "no answer from bgcopyd");
  }
  HttpAnswer answer{static_cast<int>(c.parser->get().result_int()), {}};
  if (answer.status >= 200 && answer.status < 300) {
    c.stream->expires_never();
    return answer;
  }
  // An error answer: read its (small, bounded) body for the caller to decode.
  std::array<char, 16384> chunk{};
  while (!c.parser->is_done() && answer.body.size() < kMaxLineBytes) {
    std::size_t n = 0;
    ec = c.read_some(chunk, n);
    answer.body.append(chunk.data(), n);
    if (ec) {
      break;
    }
  }
  c.close();
  return answer;
}

Status HttpLineStream::run(const std::function<void(std::string_view)>& on_line) {
  Impl& c = *impl_;
  if (!c.stream || !c.parser) {
    return Status(hr::EFail, "event stream is not open");
  }
  std::array<char, 16384> chunk{};
  std::string pending;
  bool skipping = false;  // inside a line that was too long
  Status result;
  while (!c.cancelled.load()) {
    if (c.parser->is_done()) {
      break;
    }
    std::size_t n = 0;
    auto ec = c.read_some(chunk, n);
    for (std::size_t i = 0; i < n; ++i) {
      const char ch = chunk[i];
      if (ch == '\n') {
        if (!skipping) {
          std::string_view line(pending);
          if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
          }
          on_line(line);
        }
        pending.clear();
        skipping = false;
      } else if (!skipping) {
        pending.push_back(ch);
        if (pending.size() > kMaxLineBytes) {
          pending.clear();
          skipping = true;
        }
      }
    }
    if (ec) {
      if (!c.cancelled.load() && ec != asio::error::operation_aborted) {
        result = transport_status(ec, "event stream from bgcopyd broke");
      }
      break;
    }
  }
  c.close();
  return result;
}

void HttpLineStream::cancel() {
  cancel_on(impl_->ioc, impl_->stream, impl_->cancelled);
}

bool HttpLineStream::cancelled() const {
  return impl_->cancelled.load();
}

}  // namespace bgcopy::client
