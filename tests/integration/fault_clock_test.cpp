// Fault: the wall clock jumps (an administrator, NTP stepping, a bad RTC after reboot). The
// engine runs against the real SQLite store with a ManualClock whose wall and monotonic faces
// move independently; transfers and staging are in-memory fakes. Timers (retry, no-progress,
// maximum download time, inactivity retention) must follow monotonic time while the times
// users see (created, modified, retry_at) stay wall-clock times. "After a restart" the
// monotonic clock starts over (as after a reboot), so the persisted wall-clock targets are
// turned back into monotonic deadlines clamped to [0, configured length].
#include "base/log.hpp"
#include "engine/engine.hpp"
#include "fakes.hpp"
#include "store/sqlite_job_store.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace bgcopy::test {
namespace {

using engine::JobState;
using std::chrono::hours;
using std::chrono::seconds;

const engine::Caller kUser{1000};

class ClockJump : public ::testing::Test {
 protected:
  void SetUp() override {
    log::set_level(log::Level::Off);
    config_.min_retry_delay_floor_s = 1;
    config_.max_background_jobs = 8;  // every job here runs at once; slots are not the topic
    config_.inactivity_retention_s = 2 * 24 * 3600;  // two days: a one-day jump stays inside
    start(clock_);
  }

  /// (Re)starts the engine over the same database, as a daemon restart does.
  void start(const Clock& clock) {
    engine_.reset();
    store_.reset();
    auto s = store::SqliteJobStore::open((dir_.path() / "bgcopy.db").string());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
    transfer_.running.clear();
    engine_ = std::make_unique<engine::Engine>(config_, clock, *store_, transfer_, staging_, sink_);
    ASSERT_TRUE(engine_->load().ok());
  }

  /// A job with one file; TRANSFERRING when `run`, else SUSPENDED.
  JobId job(int n, bool run, const engine::SettingsPatch& patch = {}) {
    auto id = engine_->create_job(kUser, "clock", engine::JobType::Download);
    EXPECT_TRUE(id.ok());
    engine::FileSpec f{"https://example.com/f" + std::to_string(n),
                       "/home/u/f" + std::to_string(n),
                       {},
                       std::nullopt};
    EXPECT_TRUE(engine_->add_files(kUser, *id, {f}).ok());
    EXPECT_TRUE(engine_->set_settings(kUser, *id, patch).ok());
    if (run) {
      EXPECT_TRUE(engine_->resume(kUser, *id).ok());
      play(*id, engine::TransferEvent::Kind::Connected);
      EXPECT_EQ(state(*id), JobState::Transferring);
    }
    return *id;
  }
  void play(const JobId& id, engine::TransferEvent::Kind kind, bool transient = true) {
    const engine::TransferRequest req = transfer_.last_start(id);
    engine::TransferEvent ev;
    ev.job = id;
    ev.transfer_id = req.transfer_id;
    ev.file_index = req.file_index;
    ev.kind = kind;
    ev.bytes_total = 1000;
    ev.validators = engine::Validators{"\"v1\"", ""};
    if (kind == engine::TransferEvent::Kind::Failed) {
      ev.durable = true;
      ev.error = Error::make(hresult_from_http(503), "simulated 503", ErrorContext::RemoteFile);
      ev.transient = transient;
      transfer_.finished(id);
    }
    engine_->on_transfer_event(ev);
  }
  engine::JobRecord rec(const JobId& id) {
    auto v = engine_->get_job(kUser, id);
    EXPECT_TRUE(v.ok()) << "job " << id.to_string() << " is gone";
    return v ? v->record : engine::JobRecord{};
  }
  JobState state(const JobId& id) { return rec(id).state; }
  bool exists(const JobId& id) { return engine_->get_job(kUser, id).ok(); }
  void tick_after(ManualClock& clock, seconds s) {
    clock.advance(s);
    engine_->tick();
  }

  static engine::SettingsPatch retry(std::uint32_t delay_s, std::uint32_t no_progress_s) {
    engine::SettingsPatch p;
    p.min_retry_delay_s = delay_s;
    p.no_progress_timeout_s = no_progress_s;
    return p;
  }

  TempDir dir_;
  engine::EngineConfig config_;
  ManualClock clock_;
  std::unique_ptr<store::SqliteJobStore> store_;
  engine::test::FakeTransfer transfer_;
  engine::test::FakeStaging staging_;
  engine::test::RecordingSink sink_;
  std::unique_ptr<engine::Engine> engine_;
};

TEST_F(ClockJump, ForwardDayFiresNoTimerAndUserTimesStayWall) {
  const JobId backoff = job(1, true, retry(60, 600));
  play(backoff, engine::TransferEvent::Kind::Failed);
  ASSERT_EQ(state(backoff), JobState::TransientError);
  const WallTime shown_retry = *rec(backoff).retry_at;
  EXPECT_EQ(shown_retry, clock_.wall() + seconds(60)) << "retry_at is shown in wall time";

  engine::SettingsPatch budget;
  budget.max_download_time_s = 120;
  const JobId running = job(2, true, budget);
  const JobId idle = job(3, false);

  clock_.jump_wall(hours(25));  // more than a day: past the retry, the budget, and half the
  engine_->tick();              // retention period
  EXPECT_EQ(state(backoff), JobState::TransientError) << "a wall jump fired the retry";
  EXPECT_EQ(state(running), JobState::Transferring) << "a wall jump used up the download budget";
  EXPECT_TRUE(exists(idle));

  tick_after(clock_, seconds(59));
  EXPECT_EQ(state(backoff), JobState::TransientError);
  tick_after(clock_, seconds(1));  // 60 s of monotonic time
  EXPECT_EQ(state(backoff), JobState::Connecting);

  tick_after(clock_, seconds(59));  // running: 119 s of monotonic time
  EXPECT_EQ(state(running), JobState::Transferring);
  tick_after(clock_, seconds(1));
  EXPECT_EQ(state(running), JobState::Error);
  EXPECT_EQ(rec(running).error->error.code, hr::BgEMaxDownloadTimeout);

  // What users see follows the (jumped) wall clock.
  engine::SettingsPatch touch;
  touch.description = "x";
  ASSERT_TRUE(engine_->set_settings(kUser, idle, touch).ok());
  EXPECT_EQ(rec(idle).times.modified, clock_.wall());
}

TEST_F(ClockJump, BackwardDayPostponesNoTimer) {
  const JobId backoff = job(1, true, retry(60, 90));
  play(backoff, engine::TransferEvent::Kind::Failed);
  clock_.jump_wall(-hours(24));
  tick_after(clock_, seconds(60));
  EXPECT_EQ(state(backoff), JobState::Connecting) << "the retry waited for the wall clock";
  play(backoff, engine::TransferEvent::Kind::Failed);  // t = 60 s: still no byte
  clock_.jump_wall(-hours(24));
  tick_after(clock_, seconds(30));  // 90 s since the first error
  EXPECT_EQ(state(backoff), JobState::Error);
  EXPECT_EQ(rec(backoff).error->error.code, hr::DoEDownloadNoProgress);
}

TEST_F(ClockJump, RetentionFollowsMonotonicTimeWhileRunning) {
  const JobId idle = job(1, false);
  clock_.jump_wall(hours(24 * 365));  // a year ahead: every job looks abandoned by wall time
  tick_after(clock_, seconds(61));    // past the once-a-minute retention check
  EXPECT_TRUE(exists(idle)) << "a wall-clock jump cancelled a job";
  // Two days of real (monotonic) idleness still cancel it.
  tick_after(clock_, seconds(2 * 24 * 3600));
  EXPECT_FALSE(exists(idle));
  EXPECT_TRUE(staging_.was_removed("/home/u/f1"));
}

TEST_F(ClockJump, PersistedRetryResumesWithTheRemainingDelayAfterARestart) {
  const JobId a = job(1, true, retry(60, 600));
  play(a, engine::TransferEvent::Kind::Failed);
  // A reboot 20 s later: a new monotonic clock, the wall clock went on.
  ManualClock boot;
  boot.jump_wall(clock_.wall() - boot.wall() + seconds(20));
  start(boot);
  ASSERT_EQ(state(a), JobState::TransientError);
  tick_after(boot, seconds(39));
  EXPECT_EQ(state(a), JobState::TransientError) << "fired before the remaining 40 s";
  tick_after(boot, seconds(1));
  EXPECT_EQ(state(a), JobState::Connecting);
}

TEST_F(ClockJump, AfterARestartAWallJumpBackIsBoundedByTheConfiguredDelays) {
  const JobId a = job(1, true, retry(60, 600));
  play(a, engine::TransferEvent::Kind::Failed);
  // Rebooted with the clock a day behind: the persisted retry_at is a day (and 60 s) ahead.
  ManualClock boot;
  boot.jump_wall(clock_.wall() - boot.wall() - hours(24));
  start(boot);
  ASSERT_EQ(state(a), JobState::TransientError);
  EXPECT_TRUE(exists(a));
  tick_after(boot, seconds(59));
  EXPECT_EQ(state(a), JobState::TransientError);
  tick_after(boot, seconds(1));  // at most min_retry_delay, not a day
  EXPECT_EQ(state(a), JobState::Connecting);
}

TEST_F(ClockJump, AfterARestartAWallJumpForwardRetriesAtOnceButKeepsTheJob) {
  const JobId a = job(1, true, retry(60, 3 * 24 * 3600));
  play(a, engine::TransferEvent::Kind::Failed);
  // Rebooted with the clock a day ahead: the retry is overdue, the job is not abandoned
  // (retention is two days) and the no-progress timeout (three days) has not run out.
  ManualClock boot;
  boot.jump_wall(clock_.wall() - boot.wall() + hours(24));
  start(boot);
  engine_->tick();
  EXPECT_EQ(state(a), JobState::Connecting);
}

}  // namespace
}  // namespace bgcopy::test
