#include "origin_fixture.hpp"

#include "files.hpp"
#include "http_client.hpp"
#include "wait.hpp"

#include <nlohmann/json.hpp>

#include <signal.h>

#include <cstdlib>
#include <stdexcept>

#ifndef BGCOPY_TESTSUPPORT_SOURCE_DIR
#error "BGCOPY_TESTSUPPORT_SOURCE_DIR must name the project source directory"
#endif

namespace bgcopy::test {
namespace fs = std::filesystem;
namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? std::string(v) : fallback;
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

}  // namespace

fs::path FaultOrigin::script_path() {
  return fs::path(env_or("BGCOPY_SOURCE_DIR", BGCOPY_TESTSUPPORT_SOURCE_DIR)) / "tests" /
         "testenv" / "fault_origin.py";
}

FaultOrigin::FaultOrigin() : dir_("bgcopy-origin-"), root_(dir_.file("root")) {
  fs::create_directories(root_);
  if (!start(0)) {
    throw std::runtime_error("fault_origin.py did not start (" + script_path().string() +
                             "); stderr:\n" + tail(dir_.file("origin.stderr")));
  }
}

FaultOrigin::~FaultOrigin() {
  stop();
}

bool FaultOrigin::start(int port) {
  const fs::path port_file = dir_.file("port");
  std::error_code ec;
  fs::remove(port_file, ec);
  SpawnOptions spawn;
  spawn.stdout_path = dir_.file("origin.stdout");
  spawn.stderr_path = dir_.file("origin.stderr");
  spawn.env["PYTHONDONTWRITEBYTECODE"] = "1";
  std::vector<std::string> argv{env_or("BGCOPY_PYTHON", "python3"),
                                "-u",
                                script_path().string(),
                                "--root",
                                root_.string(),
                                "--port-file",
                                port_file.string(),
                                "--log",
                                dir_.file("requests.jsonl").string()};
  if (port != 0) {
    argv.push_back("--port");
    argv.push_back(std::to_string(port));
  }
  process_ = std::make_unique<ChildProcess>(std::move(argv), spawn);
  bool ready = wait_until([&] { return !process_->running() || fs::exists(port_file); },
                          std::chrono::seconds(15));
  if (!ready || !process_->running()) {
    process_.reset();
    return false;
  }
  port_ = std::atoi(read_file(port_file).c_str());
  return port_ > 0;
}

std::string FaultOrigin::url(std::string_view path_and_query) const {
  std::string out = "http://127.0.0.1:" + std::to_string(port_);
  if (path_and_query.empty() || path_and_query.front() != '/') {
    out += '/';
  }
  out += path_and_query;
  return out;
}

std::vector<FaultOrigin::Request> FaultOrigin::requests() const {
  std::vector<Request> out;
  const fs::path log = dir_.file("requests.jsonl");
  std::error_code ec;
  if (!fs::exists(log, ec)) {
    return out;
  }
  std::string text = read_file(log);
  std::size_t pos = 0;
  for (std::size_t eol; (eol = text.find('\n', pos)) != std::string::npos; pos = eol + 1) {
    auto j = nlohmann::json::parse(text.begin() + static_cast<std::ptrdiff_t>(pos),
                                   text.begin() + static_cast<std::ptrdiff_t>(eol), nullptr,
                                   /*allow_exceptions=*/false);
    if (!j.is_object()) {
      continue;
    }
    Request r;
    r.method = j.value("method", "");
    r.target = j.value("target", "");
    r.key = j.value("key", "");
    r.n = j.value("n", 0);
    r.range = j.value("range", "");
    r.if_range = j.value("if_range", "");
    r.status = j.value("status", 0);
    r.bytes_sent = j.value("bytes", std::uint64_t{0});
    r.outcome = j.value("outcome", "");
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<FaultOrigin::Request> FaultOrigin::requests_at_least(std::size_t n,
                                                                 std::string_view key) const {
  std::vector<Request> out;
  wait_until(
      [&] {
        out = key.empty() ? requests() : requests_for(key);
        return out.size() >= n;
      },
      std::chrono::seconds(5));
  return out;
}

std::vector<FaultOrigin::Request> FaultOrigin::requests_for(std::string_view key) const {
  std::vector<Request> out;
  for (auto& r : requests()) {
    if (r.key == key) {
      out.push_back(std::move(r));
    }
  }
  return out;
}

std::map<std::string, int> FaultOrigin::stats() const {
  HttpResponse r = http_request(port_, "GET", "/__stats");
  if (r.status != 200) {
    throw std::runtime_error("GET /__stats answered " + std::to_string(r.status));
  }
  return nlohmann::json::parse(r.body).get<std::map<std::string, int>>();
}

void FaultOrigin::reset_counters() const {
  HttpResponse r = http_request(port_, "POST", "/__reset", {{"Content-Length", "0"}});
  if (r.status != 200) {
    throw std::runtime_error("POST /__reset answered " + std::to_string(r.status));
  }
}

bool FaultOrigin::running() {
  return process_ && process_->running();
}

void FaultOrigin::stop() {
  if (!process_) {
    return;
  }
  if (process_->running()) {
    process_->kill(SIGTERM);
    if (!process_->wait_for(std::chrono::seconds(5))) {
      process_->kill(SIGKILL);
      process_->wait();
    }
  }
  process_.reset();
}

void FaultOrigin::kill() {
  if (process_ && process_->running()) {
    process_->kill(SIGKILL);
    process_->wait();
  }
}

void FaultOrigin::restart() {
  stop();
  if (!start(port_)) {
    throw std::runtime_error("fault_origin.py did not restart on port " + std::to_string(port_) +
                             "; stderr:\n" + tail(dir_.file("origin.stderr")));
  }
}

}  // namespace bgcopy::test
