// A test fixture that wires an Engine to the fakes and a ManualClock, with helpers that
// create jobs and play a transfer's events. Tests change `config` before the first call to
// engine(); the engine is built (and load()ed) lazily.
#pragma once

#include "base/log.hpp"
#include "engine/engine.hpp"
#include "fakes.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace bgcopy::engine::test {

inline const Caller kAlice{1000};
inline const Caller kBob{1001};
inline const Caller kRoot{0};

inline Hresult code_of(const Status& s) {
  return s ? hr::SOk : s.error().code;
}
inline Hresult code_of(const Result<Hresult>& r) {
  return r ? *r : r.error().code;
}
template <class T>
Hresult code_of(const Result<T>& r) {
  return r ? hr::SOk : r.error().code;
}
inline std::string hr_str(Hresult code) {
  return hresult_hex(code) + " " + hresult_name(code);
}

/// Compares result codes by hex and name, so a failure reads "0x80D02013 DO_E_INVALID_STATE".
#define EXPECT_HR(expr, expected) EXPECT_EQ(hr_str(code_of(expr)), hr_str(expected))
#define ASSERT_HR(expr, expected) ASSERT_EQ(hr_str(code_of(expr)), hr_str(expected))

/// SettingsPatch builder: Patch().priority(JobPriority::High).min_retry_delay_s(5).
class Patch {
 public:
  Patch& display_name(std::string v) {
    p_.display_name = std::move(v);
    return *this;
  }
  Patch& description(std::string v) {
    p_.description = std::move(v);
    return *this;
  }
  Patch& priority(JobPriority v) {
    p_.priority = v;
    return *this;
  }
  Patch& notify_flags(std::uint32_t v) {
    p_.notify_flags = v;
    return *this;
  }
  Patch& notify_cmdline(std::vector<std::string> v) {
    p_.notify_cmdline = std::move(v);
    return *this;
  }
  Patch& min_retry_delay_s(std::uint32_t v) {
    p_.min_retry_delay_s = v;
    return *this;
  }
  Patch& no_progress_timeout_s(std::uint32_t v) {
    p_.no_progress_timeout_s = v;
    return *this;
  }
  Patch& max_download_time_s(std::uint32_t v) {
    p_.max_download_time_s = v;
    return *this;
  }
  Patch& proxy(ProxySettings v) {
    p_.proxy = std::move(v);
    return *this;
  }
  Patch& tls_verify(bool v) {
    p_.tls_verify = v;
    return *this;
  }
  operator const SettingsPatch&() const { return p_; }  // NOLINT(google-explicit-constructor)

 private:
  SettingsPatch p_;
};

inline FileSpec spec(int n) {
  return FileSpec{"https://example.com/file" + std::to_string(n),
                  "/home/alice/dl/file" + std::to_string(n),
                  {},
                  std::nullopt};
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { log::set_level(log::Level::Off); }
  // Every test also checks the scheduler's index never drifted from the jobs it indexes.
  void TearDown() override {
    if (engine_) {
      EXPECT_TRUE(engine_->indexes_consistent());
    }
  }

  Engine& engine() {
    if (!engine_) {
      engine_ = std::make_unique<Engine>(config, clock, store, transfer, staging, sink);
      Status st = engine_->load();
      EXPECT_TRUE(st.ok()) << (st ? "" : st.error().message);
    }
    return *engine_;
  }

  JobId create(const Caller& caller = kAlice, const std::string& name = "job") {
    auto id = engine().create_job(caller, name, JobType::Download);
    EXPECT_TRUE(id.ok()) << (id ? "" : id.error().message);
    return id ? *id : JobId{};
  }

  /// A SUSPENDED job with `files` files (spec(first) ...).
  JobId make_job(int files = 1, const Caller& caller = kAlice, int first = 0) {
    JobId id = create(caller);
    if (files > 0) {
      std::vector<FileSpec> specs;
      for (int i = 0; i < files; ++i) specs.push_back(spec(first + i));
      Status st = engine().add_files(caller, id, specs);
      EXPECT_TRUE(st.ok()) << (st ? "" : st.error().message);
    }
    return id;
  }

  /// A job whose first transfer is connected: TRANSFERRING.
  JobId running_job(int files = 1, const Caller& caller = kAlice) {
    JobId id = make_job(files, caller);
    EXPECT_HR(engine().resume(caller, id), hr::SOk);
    connected(id);
    EXPECT_EQ(state(id), JobState::Transferring);
    return id;
  }

  /// A job whose every file is transferred: TRANSFERRED.
  JobId transferred_job(int files = 1, const Caller& caller = kAlice) {
    JobId id = running_job(files, caller);
    for (int i = 0; i < files; ++i) {
      if (i > 0) connected(id);
      file_done(id);
    }
    EXPECT_EQ(state(id), JobState::Transferred);
    return id;
  }

  JobView view(const JobId& id) {
    auto v = engine().get_job(kRoot, id);
    EXPECT_TRUE(v.ok()) << "job " << id.to_string() << " not found";
    return v ? *v : JobView{};
  }
  JobRecord rec(const JobId& id) { return view(id).record; }
  JobState state(const JobId& id) { return rec(id).state; }
  bool exists(const JobId& id) { return engine().get_job(kRoot, id).ok(); }

  // ---- a transfer's events, addressed to the job's current transfer ----

  TransferEvent event_for(const JobId& id, TransferEvent::Kind kind) {
    TransferRequest req = transfer.last_start(id);
    TransferEvent ev;
    ev.job = id;
    ev.transfer_id = req.transfer_id;
    ev.file_index = req.file_index;
    ev.kind = kind;
    ev.validators = Validators{"\"v1\"", ""};
    return ev;
  }
  void connected(const JobId& id, std::optional<std::uint64_t> total = 1000) {
    TransferEvent ev = event_for(id, TransferEvent::Kind::Connected);
    ev.bytes_total = total;
    engine().on_transfer_event(ev);
  }
  void progress(const JobId& id, std::uint64_t bytes, bool durable) {
    TransferEvent ev = event_for(id, TransferEvent::Kind::Progress);
    ev.bytes_transferred = bytes;
    ev.durable = durable;
    if (durable) transfer.synced[id] = bytes;
    engine().on_transfer_event(ev);
  }
  /// FileDone; with durable=false (before the final sync) a Synced must follow, echoing the
  /// returned transfer id.
  std::uint64_t file_done(const JobId& id, std::uint64_t bytes = 1000, bool durable = true) {
    TransferEvent ev = event_for(id, TransferEvent::Kind::FileDone);
    ev.bytes_transferred = bytes;
    ev.bytes_total = bytes;
    ev.durable = durable;
    transfer.finished(id);
    engine().on_transfer_event(ev);
    return ev.transfer_id;
  }
  std::uint64_t file_done_unsynced(const JobId& id) { return file_done(id, 1000, false); }
  void synced(const JobId& id, std::uint64_t transfer_id, std::uint32_t file_index,
              std::uint64_t bytes = 1000, std::optional<Error> error = std::nullopt) {
    TransferEvent ev;
    ev.job = id;
    ev.kind = TransferEvent::Kind::Synced;
    ev.transfer_id = transfer_id;
    ev.file_index = file_index;
    ev.bytes_transferred = bytes;
    ev.durable = !error;
    ev.error = std::move(error);
    engine().on_transfer_event(ev);
  }
  /// The transfer failed after syncing what it held (the engine's current byte count).
  void fail(const JobId& id, bool transient, Hresult code = hresult_from_http(503),
            std::optional<std::uint32_t> retry_after_s = std::nullopt) {
    TransferEvent ev = event_for(id, TransferEvent::Kind::Failed);
    ev.bytes_transferred = rec(id).files.at(ev.file_index).bytes_transferred;
    ev.durable = true;
    ev.error = Error::make(code, "simulated failure", ErrorContext::RemoteFile);
    ev.transient = transient;
    ev.retry_after_s = retry_after_s;
    transfer.finished(id);
    engine().on_transfer_event(ev);
  }

  void advance(std::chrono::seconds s) { clock.advance(s); }
  void advance_and_tick(std::chrono::seconds s) {
    clock.advance(s);
    engine().tick();
  }

  EngineConfig config;
  ManualClock clock;
  FakeStore store;
  FakeTransfer transfer;
  FakeStaging staging;
  RecordingSink sink;

 private:
  std::unique_ptr<Engine> engine_;
};

}  // namespace bgcopy::engine::test
