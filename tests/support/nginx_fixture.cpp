#include "nginx_fixture.hpp"

#include "files.hpp"
#include "free_port.hpp"
#include "wait.hpp"

#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace bgcopy::test {
namespace fs = std::filesystem;
namespace {

constexpr int kStartAttempts = 5;

std::string nginx_binary() {
  const char* env = std::getenv("BGCOPY_NGINX");
  return (env != nullptr && *env != '\0') ? env : "/usr/sbin/nginx";
}

std::string tail(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return "(no " + path.filename().string() + ")";
  }
  std::string text = read_file(path);
  constexpr std::size_t kMax = 4000;
  return text.size() > kMax ? text.substr(text.size() - kMax) : text;
}

// nginx writes bytes it considers unsafe in a log line as \xHH.
std::string unescape(std::string_view field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && field[i + 1] == 'x' &&
        std::isxdigit(static_cast<unsigned char>(field[i + 2])) != 0 &&
        std::isxdigit(static_cast<unsigned char>(field[i + 3])) != 0) {
      out.push_back(static_cast<char>(std::stoi(std::string(field.substr(i + 2, 2)), nullptr, 16)));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

// "\"bytes=0-9\"" -> "bytes=0-9"; "\"-\"" -> "" (nginx logs an empty variable as "-").
std::string unquote(std::string_view field) {
  if (field.size() >= 2 && field.front() == '"' && field.back() == '"') {
    field = field.substr(1, field.size() - 2);
  }
  return field == "-" ? std::string() : unescape(field);
}

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> out;
  for (;;) {
    std::size_t tab = line.find('\t');
    out.push_back(line.substr(0, tab));
    if (tab == std::string_view::npos) {
      return out;
    }
    line.remove_prefix(tab + 1);
  }
}

}  // namespace

bool NginxServer::available() {
  return ::access(nginx_binary().c_str(), X_OK) == 0;
}

NginxServer::NginxServer(NginxOptions options)
    : options_(std::move(options)), dir_("bgcopy-nginx-"), docroot_(dir_.file("html")) {
  fs::create_directories(docroot_);
  fs::create_directories(dir_.file("temp"));
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    port_ = pick_free_port();
    if (start_once()) {
      return;
    }
  }
  throw std::runtime_error("nginx did not start after " + std::to_string(kStartAttempts) +
                           " attempts; error log:\n" + tail(dir_.file("error.log")) +
                           "\nstderr:\n" + tail(dir_.file("nginx.stderr")));
}

NginxServer::~NginxServer() {
  stop();
}

void NginxServer::write_config() const {
  const fs::path& p = dir_.path();
  std::ostringstream c;
  if (::geteuid() == 0) {
    c << "user root;\n";  // Without it nginx switches to "nobody", which cannot read the docroot.
  }
  c << "daemon off;\n"
    << "master_process off;\n"
    << "worker_processes 1;\n"
    << "pid " << (p / "nginx.pid").string() << ";\n"
    << "error_log " << (p / "error.log").string() << " info;\n"
    << "events { worker_connections 256; }\n"
    << "http {\n"
    << "  default_type application/octet-stream;\n"
    << "  sendfile on;\n"
    << "  etag on;\n"
    << "  keepalive_timeout 30s;\n"
    << "  server_tokens off;\n"
    << "  client_body_temp_path " << (p / "temp/client_body").string() << ";\n"
    << "  proxy_temp_path " << (p / "temp/proxy").string() << ";\n"
    << "  fastcgi_temp_path " << (p / "temp/fastcgi").string() << ";\n"
    << "  uwsgi_temp_path " << (p / "temp/uwsgi").string() << ";\n"
    << "  scgi_temp_path " << (p / "temp/scgi").string() << ";\n"
    << "  log_format bgcopy '$request_method\\t$uri\\t$status\\t$body_bytes_sent\\t"
       "\"$http_range\"\\t\"$http_if_range\"\\t\"$args\"';\n"
    << "  access_log " << (p / "access.log").string() << " bgcopy;\n"
    << "  map $arg_limit_rate $bgcopy_limit_rate {\n"
    << "    \"\" " << options_.limit_rate << ";\n"
    << "    default $arg_limit_rate;\n"
    << "  }\n"
    << "  server {\n"
    << "    listen 127.0.0.1:" << port_ << ";\n"
    << "    server_name localhost;\n"
    << "    root " << docroot_.string() << ";\n"
    << "    location / {\n"
    << "      limit_rate $bgcopy_limit_rate;\n"
    << "      limit_rate_after " << options_.limit_rate_after << ";\n"
    << "      " << options_.location_extra << "\n"
    << "    }\n"
    << "  }\n"
    << "}\n";
  write_file(dir_.file("nginx.conf"), c.str());
}

bool NginxServer::start_once() {
  write_config();
  std::error_code ec;
  fs::remove(dir_.file("nginx.pid"), ec);
  SpawnOptions spawn;
  spawn.stdout_path = dir_.file("nginx.stdout");
  spawn.stderr_path = dir_.file("nginx.stderr");
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{nginx_binary(), "-p", dir_.path().string() + "/", "-c",
                               dir_.file("nginx.conf").string(), "-e",
                               dir_.file("error.log").string()},
      spawn);
  // nginx writes its pid file only after it has bound the listening socket, so pid file +
  // alive + connect means this nginx, not some other process, owns the port.
  bool up = wait_until(
      [&] {
        return !process_->running() ||
               (fs::exists(dir_.file("nginx.pid")) && port_accepts(port_) && process_->running());
      },
      std::chrono::seconds(10));
  if (up && process_->running()) {
    return true;
  }
  process_.reset();  // Kills and reaps whatever is left.
  return false;
}

std::string NginxServer::url(std::string_view path) const {
  std::string out = "http://127.0.0.1:" + std::to_string(port_);
  if (path.empty() || path.front() != '/') {
    out += '/';
  }
  out += path;
  return out;
}

std::vector<NginxServer::AccessLogEntry> NginxServer::access_log_at_least(std::size_t n) const {
  std::vector<AccessLogEntry> out;
  wait_until(
      [&] {
        out = access_log();
        return out.size() >= n;
      },
      std::chrono::seconds(5));
  return out;
}

std::vector<NginxServer::AccessLogEntry> NginxServer::access_log() const {
  std::vector<AccessLogEntry> out;
  std::error_code ec;
  if (!fs::exists(dir_.file("access.log"), ec)) {
    return out;
  }
  std::istringstream in(read_file(dir_.file("access.log")));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string_view> f = split_tabs(line);
    if (f.size() < 7) {
      continue;  // A line still being written.
    }
    AccessLogEntry e;
    e.method = std::string(f[0]);
    e.uri = unescape(f[1]);
    e.status = std::atoi(std::string(f[2]).c_str());
    e.bytes_sent = std::strtoull(std::string(f[3]).c_str(), nullptr, 10);
    e.range = unquote(f[4]);
    e.if_range = unquote(f[5]);
    e.args = unquote(f[6]);
    out.push_back(std::move(e));
  }
  return out;
}

bool NginxServer::running() {
  return process_ && process_->running();
}

void NginxServer::stop() {
  if (!process_) {
    return;
  }
  if (process_->running()) {
    process_->kill(SIGTERM);  // Fast shutdown: does not wait for throttled responses.
    if (!process_->wait_for(std::chrono::seconds(5))) {
      process_->kill(SIGKILL);
      process_->wait();
    }
  }
  process_.reset();
}

void NginxServer::restart(NginxOptions options) {
  stop();
  options_ = std::move(options);
  restart();
}

void NginxServer::restart() {
  stop();
  if (!start_once()) {
    throw std::runtime_error("nginx did not restart on port " + std::to_string(port_) +
                             "; error log:\n" + tail(dir_.file("error.log")));
  }
}

}  // namespace bgcopy::test
