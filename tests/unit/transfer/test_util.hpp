// Shared helpers for the transfer tests: a scratch directory, file contents, and an event log
// that the transfer thread appends to while the test thread waits on a condition variable
// with a deadline (never a sleep).
#pragma once

#include "engine/ports.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace bgcopy::transfer::testing {

using Kind = engine::TransferEvent::Kind;

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                       "/bgcopy-transfer-test-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Deterministic, non-repeating-looking content.
inline std::string pattern(std::size_t size, unsigned seed = 1) {
  std::string s(size, '\0');
  std::uint32_t x = 2463534242U ^ seed;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x & 0xFF);
  }
  return s;
}

/// Deadlines stretch with BGCOPY_TEST_TIMEOUT_MULTIPLIER (sanitizer builds).
inline std::chrono::milliseconds scaled(std::chrono::milliseconds d) {
  const char* text = std::getenv("BGCOPY_TEST_TIMEOUT_MULTIPLIER");
  double factor = 1.0;
  if (text != nullptr && *text != '\0') {
    char* end = nullptr;
    const double v = std::strtod(text, &end);
    if (end != text && *end == '\0' && v > 0) {
      factor = v;
    }
  }
  return std::chrono::milliseconds(
      static_cast<std::chrono::milliseconds::rep>(static_cast<double>(d.count()) * factor));
}

class EventLog {
 public:
  void push(engine::TransferEvent ev) {
    {
      std::lock_guard lock(mu_);
      events_.push_back(std::move(ev));
    }
    cv_.notify_all();
  }
  std::function<void(engine::TransferEvent)> sink() {
    return [this](engine::TransferEvent ev) { push(std::move(ev)); };
  }
  /// Waits until pred holds for the events so far, or the (scaled) deadline passes.
  bool wait_for(const std::function<bool(const std::vector<engine::TransferEvent>&)>& pred,
                std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, scaled(deadline), [&] { return pred(events_); });
  }
  bool wait_kind(Kind kind, std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
    return wait_for(
        [kind](const auto& evs) {
          for (const auto& e : evs) {
            if (e.kind == kind) {
              return true;
            }
          }
          return false;
        },
        deadline);
  }
  std::vector<engine::TransferEvent> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  engine::TransferEvent last() const {
    std::lock_guard lock(mu_);
    return events_.empty() ? engine::TransferEvent{} : events_.back();
  }
  std::size_t count(Kind kind) const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& e : events_) {
      n += e.kind == kind ? 1 : 0;
    }
    return n;
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return events_.size();
  }
  void clear() {
    std::lock_guard lock(mu_);
    events_.clear();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<engine::TransferEvent> events_;
};

/// A request for `url` into `dir/name`, staging name as the engine would pick it.
inline engine::TransferRequest make_request(const TempDir& dir, const std::string& url,
                                            const std::string& name = "out.bin") {
  engine::TransferRequest r;
  r.job = JobId({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
  r.transfer_id = 7;
  r.file_index = 0;
  r.owner = 0;
  r.file.spec.remote_url = url;
  r.file.spec.local_path = dir / name;
  r.file.staging_name = "." + name + ".bgcopy-TEST-0.part";
  return r;
}

inline std::string staging_file(const engine::TransferRequest& r) {
  const auto& p = r.file.spec.local_path;
  return p.substr(0, p.rfind('/') + 1) + r.file.staging_name;
}

}  // namespace bgcopy::transfer::testing
