// A scripted stand-in for bgcopyd on a Unix socket: raw HTTP/1.1 written by hand, so tests of
// libbgcopy control every byte (stale keep-alive connections, garbage, silence, chunked event
// streams) without a real service.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace bgcopy::test {

class FakeService {
 public:
  struct Request {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
  };
  struct Reply {
    std::string bytes;          // the whole answer, as sent
    bool close = false;         // close the connection after sending
    bool silent = false;        // send nothing; keep the connection open until stop
    bool event_stream = false;  // bytes are the header; the connection joins push_event()'s list
  };
  using Handler = std::function<Reply(const Request&)>;

  static Reply json(int status, const std::string& body, bool close = false) {
    static const std::map<int, std::string> reasons{
        {200, "OK"},        {201, "Created"},  {400, "Bad Request"},
        {404, "Not Found"}, {409, "Conflict"}, {500, "Internal Server Error"}};
    auto it = reasons.find(status);
    std::string r = "HTTP/1.1 " + std::to_string(status) + " " +
                    (it == reasons.end() ? std::string("X") : it->second) + "\r\n";
    r += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
    return Reply{r, close, false, false};
  }
  static Reply events() {
    return Reply{
        "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
        false, false, true};
  }

  FakeService(std::string path, Handler handler)
      : path_(std::move(path)), handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof(addr.sun_path)) throw std::runtime_error("socket path too long");
    path_.copy(addr.sun_path, path_.size());
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 16) != 0) {
      throw std::runtime_error("cannot listen on " + path_);
    }
    if (::pipe2(wake_, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~FakeService() { stop(); }
  FakeService(const FakeService&) = delete;
  FakeService& operator=(const FakeService&) = delete;

  void stop() {
    if (stopped_.exchange(true)) return;
    [[maybe_unused]] auto n = ::write(wake_[1], "x", 1);
    acceptor_.join();
    {
      std::lock_guard lock(mu_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_) t.join();
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
    ::unlink(path_.c_str());
  }

  /// Sends one line (a '\n' is added) as a chunk to every open event stream.
  void push_event(const std::string& line) {
    const std::string data = line + "\n";
    char size[32];
    const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    const std::string chunk = std::string(size, static_cast<std::size_t>(n)) + data + "\r\n";
    std::lock_guard lock(mu_);
    for (int fd : stream_fds_) {
      [[maybe_unused]] auto w = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    }
  }

  std::vector<Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::size_t request_count() const {
    std::lock_guard lock(mu_);
    return requests_.size();
  }
  int connections() const { return connections_.load(); }
  std::size_t open_streams() const {
    std::lock_guard lock(mu_);
    return stream_fds_.size();
  }

 private:
  void accept_loop() {
    for (;;) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents != 0) return;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++connections_;
      std::lock_guard lock(mu_);
      open_fds_.push_back(fd);
      workers_.emplace_back([this, fd] { serve(fd); });
    }
  }

  /// Reads one request; false at EOF or on error.
  static bool read_request(int fd, std::string& buffer, Request& req) {
    std::size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
      char tmp[4096];
      const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n <= 0) return false;
      buffer.append(tmp, static_cast<std::size_t>(n));
    }
    const std::string head = buffer.substr(0, end);
    buffer.erase(0, end + 4);
    const auto line_end = head.find("\r\n");
    const std::string start = head.substr(0, line_end);
    const auto sp1 = start.find(' ');
    const auto sp2 = start.find(' ', sp1 + 1);
    req.method = start.substr(0, sp1);
    req.target = start.substr(sp1 + 1, sp2 - sp1 - 1);
    std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      auto e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      const std::string h = head.substr(pos, e - pos);
      const auto colon = h.find(':');
      if (colon != std::string::npos) {
        std::string name = h.substr(0, colon);
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = h.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        req.headers[name] = value;
      }
      pos = e + 2;
    }
    std::size_t length = 0;
    if (auto it = req.headers.find("content-length"); it != req.headers.end()) {
      length = std::stoul(it->second);
    }
    while (buffer.size() < length) {
      char tmp[4096];
      const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n <= 0) return false;
      buffer.append(tmp, static_cast<std::size_t>(n));
    }
    req.body = buffer.substr(0, length);
    buffer.erase(0, length);
    return true;
  }

  void serve(int fd) {
    std::string buffer;
    for (;;) {
      Request req;
      if (!read_request(fd, buffer, req)) break;
      {
        std::lock_guard lock(mu_);
        requests_.push_back(req);
      }
      Reply reply = handler_(req);
      if (reply.silent) {
        char tmp[256];
        while (::recv(fd, tmp, sizeof tmp, 0) > 0) {
        }
        break;
      }
      ::send(fd, reply.bytes.data(), reply.bytes.size(), MSG_NOSIGNAL);
      if (reply.event_stream) {
        {
          std::lock_guard lock(mu_);
          stream_fds_.push_back(fd);
        }
        char tmp[256];
        while (::recv(fd, tmp, sizeof tmp, 0) > 0) {
        }
        std::lock_guard lock(mu_);
        stream_fds_.erase(std::remove(stream_fds_.begin(), stream_fds_.end(), fd),
                          stream_fds_.end());
        break;
      }
      if (reply.close) break;
    }
    std::lock_guard lock(mu_);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
    ::close(fd);
  }

  std::string path_;
  Handler handler_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stopped_{false};
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::thread> workers_;
  std::vector<int> open_fds_;
  std::vector<int> stream_fds_;
  std::vector<Request> requests_;
};

}  // namespace bgcopy::test
