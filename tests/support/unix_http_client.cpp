#include "unix_http_client.hpp"

#include "wait.hpp"

// clang-format off
// Boost 1.74's asio headers use std::exchange without including <utility>, so it must come
// before any Boost header.
#include <utility>
// clang-format on

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <sys/socket.h>
#include <sys/un.h>

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace bgcopy::test {
namespace {

namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("send failed: ") + std::strerror(errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads what is available within the deadline. Returns bytes read, 0 on EOF, -1 on timeout.
ssize_t read_some(int fd, char* buf, std::size_t size, Clock::time_point until) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) return -1;
    pollfd p{fd, POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (rc < 0 && errno != EINTR) {
      throw std::runtime_error(std::string("poll failed: ") + std::strerror(errno));
    }
    if (rc <= 0) continue;
    const ssize_t n = ::recv(fd, buf, size, 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      if (errno == ECONNRESET) return 0;
      throw std::runtime_error(std::string("recv failed: ") + std::strerror(errno));
    }
    return n;
  }
}

// Reads one response from fd. nullopt if the server closed before sending anything; throws on
// timeout or a malformed response.
std::optional<UnixHttpResponse> read_response(int fd, Clock::time_point until, bool* keep_alive) {
  http::response_parser<http::string_body> parser;
  parser.body_limit(64U << 20);
  std::string pending;
  char buf[65536];
  bool got_any = false;
  for (;;) {
    // Feed whatever is pending first.
    while (!pending.empty() && !parser.is_done()) {
      boost::system::error_code ec;
      const std::size_t used = parser.put(boost::asio::buffer(pending), ec);
      if (ec == http::error::need_more) break;
      if (ec) throw std::runtime_error("malformed HTTP response: " + ec.message());
      pending.erase(0, used);
      if (used == 0) break;
    }
    if (parser.is_done()) break;
    const ssize_t n = read_some(fd, buf, sizeof buf, until);
    if (n < 0) throw std::runtime_error("timed out waiting for the HTTP response");
    if (n == 0) {
      if (!got_any) return std::nullopt;
      boost::system::error_code ec;
      parser.put_eof(ec);
      if (ec) throw std::runtime_error("connection closed mid-response: " + ec.message());
      break;
    }
    got_any = true;
    pending.append(buf, static_cast<std::size_t>(n));
  }
  const auto& res = parser.get();
  UnixHttpResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out.headers[name] = std::string(field.value());
  }
  out.body = res.body();
  if (keep_alive != nullptr) *keep_alive = res.keep_alive();
  return out;
}

std::string build_request(std::string_view method, std::string_view target, std::string_view body,
                          const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string req;
  req.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: bgcopyd\r\n");
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    req.append(k).append(": ").append(v).append("\r\n");
    has_type = has_type || k == "Content-Type";
  }
  if (!body.empty() || method == "POST" || method == "PATCH") {
    if (!has_type) req.append("Content-Type: application/json\r\n");
    req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  req.append("\r\n").append(body);
  return req;
}

}  // namespace

nlohmann::json UnixHttpResponse::json() const {
  return nlohmann::json::parse(body);
}

std::string UnixHttpResponse::header(std::string_view lower_name) const {
  auto it = headers.find(std::string(lower_name));
  return it == headers.end() ? std::string() : it->second;
}

int connect_unix(const std::string& socket_path) {
  sockaddr_un addr{};
  if (socket_path.size() >= sizeof(addr.sun_path)) return -1;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  // sockaddr_un is layout-compatible with sockaddr by design of the sockets API.
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool wait_closed(int fd, std::chrono::milliseconds deadline) {
  const auto until = Clock::now() + scaled(deadline);
  char buf[4096];
  for (;;) {
    const ssize_t n = read_some(fd, buf, sizeof buf, until);
    if (n == 0) return true;
    if (n < 0) return false;
  }
}

UnixHttpClient::UnixHttpClient(std::string socket_path, std::chrono::milliseconds timeout)
    : path_(std::move(socket_path)), timeout_(timeout) {}

UnixHttpClient::~UnixHttpClient() {
  close();
}

void UnixHttpClient::connect() {
  fd_ = connect_unix(path_);
  if (fd_ < 0) {
    throw std::runtime_error("cannot connect to " + path_ + ": " + std::strerror(errno));
  }
  ++connects_;
}

void UnixHttpClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

UnixHttpResponse UnixHttpClient::request(
    std::string_view method, std::string_view target, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  const std::string req = build_request(method, target, body, headers);
  // A kept-alive connection may have been closed by the server since; retry once on a new one.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = fd_ >= 0;
    if (!reused) connect();
    try {
      write_all(fd_, req);
    } catch (const std::runtime_error&) {
      close();
      if (reused) continue;
      throw;
    }
    bool keep_alive = false;
    auto res = read_response(fd_, Clock::now() + scaled(timeout_), &keep_alive);
    if (!res) {
      close();
      if (reused) continue;
      throw std::runtime_error("server closed the connection without answering " +
                               std::string(method) + " " + std::string(target));
    }
    if (!keep_alive) close();
    return *res;
  }
  throw std::runtime_error("cannot send " + std::string(method) + " " + std::string(target));
}

std::optional<UnixHttpResponse> raw_exchange(const std::string& socket_path, std::string_view bytes,
                                             std::chrono::milliseconds timeout) {
  const int fd = connect_unix(socket_path);
  if (fd < 0) throw std::runtime_error("cannot connect to " + socket_path);
  struct Close {
    int fd;
    ~Close() { ::close(fd); }
  } guard{fd};
  try {
    write_all(fd, bytes);
  } catch (const std::runtime_error&) {
    // The server may answer (413) and close before reading everything; read what it said.
  }
  return read_response(fd, Clock::now() + scaled(timeout), nullptr);
}

bool health_ok(const std::string& socket_path) {
  try {
    UnixHttpClient c(socket_path, std::chrono::seconds(2));
    return c.get("/v1/health").status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

EventStreamClient::EventStreamClient(const std::string& socket_path, std::string_view target) {
  fd_ = connect_unix(socket_path);
  if (fd_ < 0) throw std::runtime_error("cannot connect to " + socket_path);
  write_all(fd_, build_request("GET", target, {}, {}));
  // Read the header block by hand: the body is an endless chunked stream.
  const auto until = Clock::now() + scaled(std::chrono::seconds(10));
  std::string head;
  char buf[4096];
  std::size_t end = std::string::npos;
  while ((end = head.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = read_some(fd_, buf, sizeof buf, until);
    if (n <= 0) throw std::runtime_error("event stream: no response header");
    head.append(buf, static_cast<std::size_t>(n));
  }
  raw_ = head.substr(end + 4);
  head.resize(end);
  if (head.rfind("HTTP/1.1 200", 0) != 0) {
    throw std::runtime_error("event stream refused: " + head.substr(0, head.find("\r\n")));
  }
  std::string lower = head;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower.find("transfer-encoding: chunked") == std::string::npos) {
    throw std::runtime_error("event stream is not chunked");
  }
}

EventStreamClient::~EventStreamClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool EventStreamClient::decode_chunks() {
  // Moves complete chunks from raw_ to decoded_. Returns false on the last chunk.
  for (;;) {
    const std::size_t eol = raw_.find("\r\n");
    if (eol == std::string::npos) return true;
    const std::size_t size = std::stoul(raw_.substr(0, eol), nullptr, 16);
    if (size == 0) return false;
    if (raw_.size() < eol + 2 + size + 2) return true;
    if (raw_.compare(eol + 2 + size, 2, "\r\n") != 0) {
      throw std::runtime_error("event stream: bad chunk framing");
    }
    decoded_.append(raw_, eol + 2, size);
    raw_.erase(0, eol + 2 + size + 2);
  }
}

bool EventStreamClient::fill(Clock::time_point until) {
  char buf[16384];
  const ssize_t n = read_some(fd_, buf, sizeof buf, until);
  if (n < 0) return false;
  if (n == 0) {
    ended_ = true;
    return false;
  }
  raw_.append(buf, static_cast<std::size_t>(n));
  if (!decode_chunks()) ended_ = true;
  return true;
}

std::optional<nlohmann::json> EventStreamClient::next(std::chrono::milliseconds deadline) {
  const auto until = Clock::now() + scaled(deadline);
  for (;;) {
    const std::size_t nl = decoded_.find('\n');
    if (nl != std::string::npos) {
      auto j = nlohmann::json::parse(decoded_.substr(0, nl));
      decoded_.erase(0, nl + 1);
      return j;
    }
    if (ended_) throw std::runtime_error("event stream ended");
    if (!fill(until)) {
      if (ended_) throw std::runtime_error("event stream ended");
      return std::nullopt;
    }
  }
}

}  // namespace bgcopy::test
