#include "http_client.hpp"

#include "wait.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace bgcopy::test {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

class Socket {
 public:
  Socket() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}
  ~Socket() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

void parse_head(std::string_view head, HttpResponse& out) {
  std::size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  // "HTTP/1.1 206 Partial Content"
  std::size_t sp = status_line.find(' ');
  if (sp != std::string_view::npos && status_line.size() >= sp + 4) {
    out.status = std::atoi(std::string(status_line.substr(sp + 1, 3)).c_str());
  }
  while (eol != std::string_view::npos) {
    std::size_t start = eol + 2;
    eol = head.find("\r\n", start);
    std::string_view line = head.substr(start, eol == std::string_view::npos ? eol : eol - start);
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    out.headers.emplace_back(std::string(trim(line.substr(0, colon))),
                             std::string(trim(line.substr(colon + 1))));
  }
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) {
      return v;
    }
  }
  return {};
}

bool HttpResponse::has_header(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return iequals(h.first, name); });
}

long long HttpResponse::content_length() const {
  if (!has_header("Content-Length")) {
    return -1;
  }
  return std::stoll(header("Content-Length"));
}

bool HttpResponse::complete() const {
  long long len = content_length();
  return len >= 0 && body.size() == static_cast<std::size_t>(len);
}

HttpResponse http_request(int port, std::string_view method, std::string_view target,
                          const HttpHeaders& headers, std::chrono::milliseconds deadline) {
  Socket s;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (s.get() < 0 || ::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("connect 127.0.0.1:" + std::to_string(port) + ": " +
                             std::strerror(errno));
  }
  std::string request = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\n" +
                        "Host: 127.0.0.1:" + std::to_string(port) + "\r\nConnection: close\r\n";
  for (const auto& [name, value] : headers) {
    request += name + ": " + value + "\r\n";
  }
  request += "\r\n";
  std::string_view pending = request;
  while (!pending.empty()) {
    ssize_t n = ::send(s.get(), pending.data(), pending.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      throw std::runtime_error(std::string("send: ") + std::strerror(errno));
    }
    pending.remove_prefix(static_cast<std::size_t>(n));
  }

  HttpResponse out;
  std::string raw;
  const auto end = std::chrono::steady_clock::now() + scaled(deadline);
  std::array<char, 1 << 16> buf{};
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      out.timed_out = true;
      break;
    }
    pollfd pfd{s.get(), POLLIN, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count(), 100)));
    if (ready < 0 && errno != EINTR) {
      throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    }
    if (ready <= 0) {
      continue;
    }
    ssize_t n = ::recv(s.get(), buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {  // EOF, or a reset: either way the server is done with us.
      out.eof = true;
      break;
    }
    raw.append(buf.data(), static_cast<std::size_t>(n));
  }

  std::size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    return out;
  }
  parse_head(std::string_view(raw).substr(0, head_end), out);
  if (method != "HEAD") {
    out.body = raw.substr(head_end + 4);
    long long len = out.content_length();
    if (len >= 0 && out.body.size() > static_cast<std::size_t>(len)) {
      out.body.resize(static_cast<std::size_t>(len));
    }
  }
  return out;
}

}  // namespace bgcopy::test
