// Hosts the real job service (SQLite store, libcurl transfer, staging files) in-process, in a
// temp dir, for integration tests. Waits are condition polls with deadlines, never sleeps.
#pragma once

#include "daemon/service.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

namespace bgcopy::test {

class ServiceHarness {
 public:
  explicit ServiceHarness(engine::EngineConfig config = test_config())
      : ServiceHarness(config, std::filesystem::path()) {}
  /// With the state (SQLite) in `state_dir` instead of the harness's own temp dir, so a test
  /// can put it on a filesystem it controls.
  ServiceHarness(engine::EngineConfig config, std::filesystem::path state_dir)
      : config_(config), state_(std::move(state_dir)) {
    dest_ = dir_.path() / "dest";
    std::filesystem::create_directories(dest_);
    if (state_.empty()) state_ = dir_.path() / "state";
    open();
  }

  /// Faster timers for tests; production defaults are minutes.
  static engine::EngineConfig test_config() {
    engine::EngineConfig c;
    c.min_retry_delay_floor_s = 1;
    c.checkpoint_ms = 200;
    c.checkpoint_bytes = 256 * 1024;
    c.stall_timeout_s = 2;
    c.connect_timeout_s = 5;
    return c;
  }

  void open() {
    auto s = daemon::Service::open({state_.string(), config_});
    ASSERT_TRUE(s.ok()) << s.error().message;
    service_ = std::move(s).value();
  }
  void close() { service_.reset(); }
  void reopen() {
    close();
    open();
  }

  template <class F>
  auto call(F&& f) {
    return service_->host().call(std::forward<F>(f));
  }

  JobId create(const std::string& name = "job") {
    auto r =
        call([&](engine::Engine& e) { return e.create_job(me_, name, engine::JobType::Download); });
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : JobId{};
  }
  Status add(const JobId& id, std::vector<engine::FileSpec> files) {
    return call([&](engine::Engine& e) { return e.add_files(me_, id, std::move(files)); });
  }
  Status resume(const JobId& id) {
    return call([&](engine::Engine& e) { return e.resume(me_, id); });
  }
  Status suspend(const JobId& id) {
    return call([&](engine::Engine& e) { return e.suspend(me_, id); });
  }
  Result<Hresult> complete(const JobId& id) {
    return call([&](engine::Engine& e) { return e.complete(me_, id); });
  }
  Status set(const JobId& id, const engine::SettingsPatch& p) {
    return call([&](engine::Engine& e) { return e.set_settings(me_, id, p); });
  }
  engine::JobRecord get(const JobId& id) {
    auto r = call([&](engine::Engine& e) { return e.get_job(me_, id); });
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? r->record : engine::JobRecord{};
  }
  engine::JobState state(const JobId& id) { return get(id).state; }

  /// Waits until pred(job) holds; on timeout reports the job's state. `seen` receives the
  /// record pred accepted: a state that lasts only a moment (TRANSIENT_ERROR until its retry)
  /// may be gone by the next get().
  template <class Pred>
  ::testing::AssertionResult wait_for(const JobId& id, Pred pred,
                                      std::chrono::milliseconds deadline = std::chrono::seconds(30),
                                      engine::JobRecord* seen = nullptr) {
    engine::JobRecord last;
    bool ok = wait_until(
        [&] {
          last = get(id);
          return pred(last);
        },
        deadline);
    if (ok) {
      if (seen != nullptr) *seen = last;
      return ::testing::AssertionSuccess();
    }
    auto out = ::testing::AssertionFailure();
    out << "job stuck in " << engine::to_string(last.state) << " bytes "
        << last.bytes_transferred();
    if (last.error) {
      out << " error " << hresult_name(last.error->error.code) << ": " << last.error->error.message;
    }
    return out;
  }
  ::testing::AssertionResult wait_state(
      const JobId& id, engine::JobState s,
      std::chrono::milliseconds deadline = std::chrono::seconds(30),
      engine::JobRecord* seen = nullptr) {
    return wait_for(
        id, [s](const engine::JobRecord& r) { return r.state == s; }, deadline, seen);
  }

  std::string dest(const std::string& name) const { return (dest_ / name).string(); }
  const std::filesystem::path& dest_dir() const { return dest_; }
  const std::filesystem::path& state_dir() const { return state_; }
  bool is_open() const { return service_ != nullptr; }
  const engine::Caller& me() const { return me_; }

 private:
  TempDir dir_;
  engine::EngineConfig config_;
  std::filesystem::path state_;
  std::filesystem::path dest_;
  std::unique_ptr<daemon::Service> service_;
  engine::Caller me_{::getuid()};
};

/// Names in dir that look like staging files.
inline std::vector<std::string> staging_files(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    auto n = e.path().filename().string();
    if (n.find(".bgcopy-") != std::string::npos && n.ends_with(".part")) out.push_back(n);
  }
  return out;
}

}  // namespace bgcopy::test
