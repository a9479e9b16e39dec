// Timers (bits-do-spec section 3.4): retry delay, no-progress timeout, Retry-After, maximum
// download time, inactivity retention, monotonic time, next_deadline().
#include "engine_fixture.hpp"

namespace bgcopy::engine::test {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

using TimersTest = EngineTest;

TEST_F(TimersTest, DefaultRetryDelayIsSixHundredSeconds) {
  JobId id = running_job();
  fail(id, true);
  advance_and_tick(seconds(599));
  EXPECT_EQ(state(id), JobState::TransientError);
  advance_and_tick(seconds(1));
  EXPECT_EQ(state(id), JobState::Connecting);
}

TEST_F(TimersTest, ClampedRetryDelayOfFiveSecondsIsUsed) {
  JobId id = running_job();
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().min_retry_delay_s(1)), hr::SOk);
  fail(id, true);
  advance_and_tick(seconds(4));
  EXPECT_EQ(state(id), JobState::TransientError);
  advance_and_tick(seconds(1));
  EXPECT_EQ(state(id), JobState::Connecting);
}

TEST_F(TimersTest, NoProgressTimeoutTurnsTransientErrorIntoError) {
  JobId id = running_job();
  SettingsPatch p;
  p.min_retry_delay_s = 10;
  p.no_progress_timeout_s = 100;
  ASSERT_HR(engine().set_settings(kAlice, id, p), hr::SOk);
  fail(id, true, hr::EHostNotResolved);  // t = 0: the no-progress clock starts
  // Retries that get nowhere.
  for (int i = 0; i < 9; ++i) {
    advance_and_tick(seconds(10));
    ASSERT_EQ(state(id), JobState::Connecting) << "retry " << i;
    advance(seconds(1));
    fail(id, true, hr::EHostNotResolved);
    ASSERT_EQ(state(id), JobState::TransientError);
  }
  // t = 99
  advance_and_tick(seconds(0));
  EXPECT_EQ(state(id), JobState::TransientError);
  sink.events.clear();
  const std::uint32_t errors = rec(id).error_count;
  advance_and_tick(seconds(1));  // t = 100
  JobView v = view(id);
  EXPECT_EQ(v.record.state, JobState::Error);
  EXPECT_EQ(v.record.error_count, errors);  // the timeout is not another failure
  EXPECT_FALSE(v.record.retry_at.has_value());
  auto err = engine().get_error(kAlice, id);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(hr_str(err->error.code), hr_str(hr::DoEDownloadNoProgress));
  EXPECT_EQ(hr::DoEDownloadNoProgress, 0x80D02002U);
  EXPECT_EQ(sink.count(Event::Kind::JobError, id), 1U);
  EXPECT_EQ(store.rows[id].state, JobState::Error);
}

TEST_F(TimersTest, RetryDelayLongerThanNoProgressTimeoutIsNeverRetried) {
  JobId id = running_job();
  SettingsPatch p;
  p.min_retry_delay_s = 300;
  p.no_progress_timeout_s = 120;
  ASSERT_HR(engine().set_settings(kAlice, id, p), hr::SOk);
  fail(id, true);
  advance_and_tick(seconds(119));
  EXPECT_EQ(state(id), JobState::TransientError);
  advance_and_tick(seconds(1));
  EXPECT_EQ(state(id), JobState::Error);
  EXPECT_EQ(hr_str(engine().get_error(kAlice, id)->error.code), hr_str(hr::DoEDownloadNoProgress));
  advance_and_tick(seconds(600));
  EXPECT_EQ(state(id), JobState::Error);
  EXPECT_EQ(transfer.start_count(id), 1U);  // never retried
}

TEST_F(TimersTest, ProgressResetsTheNoProgressClock) {
  JobId id = running_job();
  SettingsPatch p;
  p.min_retry_delay_s = 10;
  p.no_progress_timeout_s = 100;
  ASSERT_HR(engine().set_settings(kAlice, id, p), hr::SOk);
  fail(id, true);  // t = 0
  advance_and_tick(seconds(10));
  ASSERT_EQ(state(id), JobState::Connecting);
  advance(seconds(50));  // t = 60
  connected(id);
  progress(id, 100, false);  // more bytes than before: progress
  EXPECT_FALSE(rec(id).no_progress_since.has_value());
  advance(seconds(20));  // t = 80
  fail(id, true);        // the clock starts again here
  ASSERT_TRUE(rec(id).no_progress_since.has_value());
  EXPECT_EQ(*rec(id).no_progress_since, clock.wall());
  advance_and_tick(seconds(20));  // t = 100: without the progress the timeout fires here
  ASSERT_EQ(state(id), JobState::Connecting);
  advance(seconds(79));  // t = 179
  fail(id, true);
  EXPECT_EQ(state(id), JobState::TransientError);
  advance_and_tick(seconds(1));  // t = 180 = 80 + 100
  EXPECT_EQ(state(id), JobState::Error);
  EXPECT_EQ(hr_str(engine().get_error(kAlice, id)->error.code), hr_str(hr::DoEDownloadNoProgress));
}

TEST_F(TimersTest, ProgressWithoutMoreBytesIsNotProgress) {
  JobId id = running_job();
  SettingsPatch p;
  p.min_retry_delay_s = 10;
  p.no_progress_timeout_s = 30;
  ASSERT_HR(engine().set_settings(kAlice, id, p), hr::SOk);
  progress(id, 100, true);
  fail(id, true);  // t = 0, 100 bytes held
  advance_and_tick(seconds(10));
  connected(id);
  progress(id, 100, true);  // the same 100 bytes again
  advance(seconds(1));
  fail(id, true);
  advance_and_tick(seconds(19));  // t = 30
  EXPECT_EQ(state(id), JobState::Error);
}

TEST_F(TimersTest, ZeroNoProgressTimeoutMakesEveryErrorFatal) {
  JobId id = running_job();
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().no_progress_timeout_s(0)), hr::SOk);
  fail(id, /*transient=*/true, hresult_from_http(503));
  EXPECT_EQ(state(id), JobState::Error);
  EXPECT_EQ(rec(id).error_count, 1U);
  EXPECT_EQ(sink.count(Event::Kind::JobError, id), 1U);
  EXPECT_EQ(engine().get_error(kAlice, id)->error.code, hresult_from_http(503));
  advance_and_tick(seconds(3600));
  EXPECT_EQ(state(id), JobState::Error);
}

TEST_F(TimersTest, RetryAfterLongerThanTheRetryDelayIsHonoured) {
  JobId id = running_job();
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().min_retry_delay_s(60)), hr::SOk);
  fail(id, true, hresult_from_http(429), /*retry_after_s=*/120);
  JobView v = view(id);
  EXPECT_EQ(v.record.state, JobState::TransientError);
  EXPECT_EQ(v.wait_reason, WaitReason::RetryAfter);
  EXPECT_TRUE(v.record.retry_after_from_server);
  ASSERT_TRUE(v.record.retry_at.has_value());
  EXPECT_EQ(*v.record.retry_at, clock.wall() + seconds(120));
  EXPECT_EQ(store.rows[id].retry_at, v.record.retry_at);
  advance_and_tick(seconds(60));
  EXPECT_EQ(state(id), JobState::TransientError);
  advance_and_tick(seconds(59));
  EXPECT_EQ(state(id), JobState::TransientError);
  advance_and_tick(seconds(1));
  EXPECT_EQ(state(id), JobState::Connecting);
  EXPECT_EQ(view(id).wait_reason, WaitReason::None);
  EXPECT_FALSE(rec(id).retry_after_from_server);
}

TEST_F(TimersTest, RetryAfterShorterThanTheRetryDelayIsNotUsed) {
  JobId id = running_job();
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().min_retry_delay_s(60)), hr::SOk);
  fail(id, true, hresult_from_http(503), /*retry_after_s=*/10);
  JobView v = view(id);
  EXPECT_EQ(v.wait_reason, WaitReason::BackingOff);
  EXPECT_FALSE(v.record.retry_after_from_server);
  EXPECT_EQ(*v.record.retry_at, clock.wall() + seconds(60));
  advance_and_tick(seconds(10));
  EXPECT_EQ(state(id), JobState::TransientError);
  advance_and_tick(seconds(50));
  EXPECT_EQ(state(id), JobState::Connecting);
}

TEST_F(TimersTest, MaxDownloadTimeEntersErrorAndResumeResetsTheBudget) {
  JobId id = running_job();
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().max_download_time_s(100)), hr::SOk);
  advance_and_tick(seconds(99));
  EXPECT_EQ(state(id), JobState::Transferring);
  sink.events.clear();
  advance_and_tick(seconds(1));
  EXPECT_EQ(state(id), JobState::Error);
  EXPECT_FALSE(transfer.is_running(id));
  EXPECT_EQ(transfer.stop_count(id), 1U);
  auto err = engine().get_error(kAlice, id);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(hr_str(err->error.code), hr_str(hr::BgEMaxDownloadTimeout));
  EXPECT_EQ(hr::BgEMaxDownloadTimeout, 0x80200054U);
  EXPECT_EQ(sink.count(Event::Kind::JobError, id), 1U);
  EXPECT_EQ(rec(id).error_count, 1U);

  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  EXPECT_EQ(rec(id).active_ms, 0U);
  advance_and_tick(seconds(99));
  EXPECT_EQ(state(id), JobState::Connecting);  // a fresh budget
  advance_and_tick(seconds(1));
  EXPECT_EQ(state(id), JobState::Error);
}

TEST_F(TimersTest, MaxDownloadTimeCountsOnlyConnectingAndTransferring) {
  JobId id = running_job();
  SettingsPatch p;
  p.max_download_time_s = 100;
  p.min_retry_delay_s = 500;
  ASSERT_HR(engine().set_settings(kAlice, id, p), hr::SOk);
  advance(seconds(60));
  fail(id, true);                  // 60 s used
  advance_and_tick(seconds(500));  // waiting in TRANSIENT_ERROR does not count
  ASSERT_EQ(state(id), JobState::Connecting);
  advance_and_tick(seconds(39));
  EXPECT_EQ(state(id), JobState::Connecting);
  advance_and_tick(seconds(1));
  EXPECT_EQ(state(id), JobState::Error);
  EXPECT_EQ(hr_str(engine().get_error(kAlice, id)->error.code), hr_str(hr::BgEMaxDownloadTimeout));
}

TEST_F(TimersTest, TimeSpentPreemptedDoesNotCountTowardsMaxDownloadTime) {
  JobId low = running_job();
  ASSERT_HR(engine().set_settings(kAlice, low, Patch().max_download_time_s(100)), hr::SOk);
  advance_and_tick(seconds(60));
  JobId high = make_job(1, kAlice, 10);
  ASSERT_HR(engine().set_settings(kAlice, high, Patch().priority(JobPriority::High)), hr::SOk);
  ASSERT_HR(engine().resume(kAlice, high), hr::SOk);
  ASSERT_EQ(state(low), JobState::Queued);  // preempted
  connected(high);
  advance_and_tick(seconds(200));
  EXPECT_EQ(state(low), JobState::Queued);
  file_done(high);
  ASSERT_EQ(state(low), JobState::Connecting);
  advance_and_tick(seconds(0));
  EXPECT_EQ(state(low), JobState::Connecting);
  advance_and_tick(seconds(39));  // 99 s in CONNECTING/TRANSFERRING
  EXPECT_EQ(state(low), JobState::Connecting);
  advance_and_tick(seconds(1));
  EXPECT_EQ(state(low), JobState::Error);
}

TEST_F(TimersTest, InactivityRetentionCancelsUntouchedJobs) {
  config.inactivity_retention_s = 3600;
  JobId idle = make_job(2);
  JobId errored = make_job(1, kAlice, 40);
  ASSERT_HR(engine().resume(kAlice, errored), hr::SOk);
  fail(errored, false);
  advance_and_tick(seconds(1800));
  JobId recent = make_job(1, kAlice, 20);
  advance_and_tick(seconds(1801));  // idle: 3601 s untouched; recent: 1801 s
  EXPECT_FALSE(exists(idle));
  EXPECT_FALSE(exists(errored));
  EXPECT_TRUE(exists(recent));
  EXPECT_EQ(store.rows.count(idle), 0U);
  EXPECT_EQ(store.rows.count(errored), 0U);
  EXPECT_TRUE(staging.was_removed(spec(0).local_path));
  EXPECT_TRUE(staging.was_removed(spec(1).local_path));
  EXPECT_EQ(sink.last_for(idle)->state, JobState::Cancelled);
  // Cancelled by retention: a held id answers DO_E_INVALID_STATE like any final job.
  EXPECT_HR(engine().resume(kAlice, idle), hr::DoEInvalidState);

  // Touching a job restarts its clock.
  advance_and_tick(seconds(1000));
  ASSERT_HR(engine().set_settings(kAlice, recent, Patch().description(std::string("still here"))),
            hr::SOk);
  advance_and_tick(seconds(3000));
  EXPECT_TRUE(exists(recent));
  advance_and_tick(seconds(601));
  EXPECT_FALSE(exists(recent));
}

TEST_F(TimersTest, InactivityRetentionSparesARunningJob) {
  config.inactivity_retention_s = 3600;
  JobId id = running_job();
  advance_and_tick(seconds(7200));
  EXPECT_TRUE(exists(id));
  EXPECT_EQ(state(id), JobState::Transferring);
}

TEST_F(TimersTest, AWallClockJumpNeitherFiresNorDelaysARetry) {
  JobId id = running_job();
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().min_retry_delay_s(60)), hr::SOk);
  fail(id, true);
  clock.jump_wall(hours(24));  // forwards: must not fire early
  engine().tick();
  EXPECT_EQ(state(id), JobState::TransientError);
  advance_and_tick(seconds(59));
  EXPECT_EQ(state(id), JobState::TransientError);
  clock.jump_wall(-hours(48));  // backwards: must not postpone
  advance_and_tick(seconds(1));
  EXPECT_EQ(state(id), JobState::Connecting);
}

TEST_F(TimersTest, AWallClockJumpDoesNotMoveTheNoProgressTimeout) {
  JobId id = running_job();
  SettingsPatch p;
  p.min_retry_delay_s = 600;
  p.no_progress_timeout_s = 30;
  ASSERT_HR(engine().set_settings(kAlice, id, p), hr::SOk);
  fail(id, true);
  clock.jump_wall(hours(1));
  advance_and_tick(seconds(29));
  EXPECT_EQ(state(id), JobState::TransientError);
  clock.jump_wall(-hours(2));
  advance_and_tick(seconds(1));
  EXPECT_EQ(state(id), JobState::Error);
}

TEST_F(TimersTest, NextDeadlineIsTheEarliestPendingTimer) {
  engine();
  const MonoTime t0 = clock.mono();
  // Only the periodic retention check is pending.
  ASSERT_TRUE(engine().next_deadline().has_value());
  EXPECT_GT(*engine().next_deadline(), t0);

  JobId a = running_job();
  SettingsPatch p;
  p.min_retry_delay_s = 30;
  p.no_progress_timeout_s = 20;
  ASSERT_HR(engine().set_settings(kAlice, a, p), hr::SOk);
  fail(a, true);
  EXPECT_EQ(engine().next_deadline(), t0 + seconds(20));  // no-progress before retry

  ASSERT_HR(engine().set_settings(kAlice, a, Patch().no_progress_timeout_s(1000)), hr::SOk);
  ASSERT_HR(engine().resume(kAlice, a), hr::SOk);
  connected(a);
  fail(a, true);
  EXPECT_EQ(engine().next_deadline(), t0 + seconds(30));  // the retry

  JobId b = make_job(1, kAlice, 10);
  ASSERT_HR(engine().set_settings(kAlice, b, Patch().max_download_time_s(12)), hr::SOk);
  ASSERT_HR(engine().resume(kAlice, b), hr::SOk);
  ASSERT_EQ(state(b), JobState::Connecting);
  EXPECT_EQ(engine().next_deadline(), t0 + seconds(12));  // b's download-time budget

  // Ticking at the deadline fires it, and the next one is the retry.
  clock.advance(seconds(12));
  engine().tick();
  EXPECT_EQ(state(b), JobState::Error);
  EXPECT_EQ(engine().next_deadline(), t0 + seconds(30));
}

TEST_F(TimersTest, NextDeadlineIncludesTheTimeSliceOnlyWhenAnEqualJobWaits) {
  config.time_slice_s = 40;
  engine();
  const MonoTime t0 = clock.mono();
  JobId a = running_job();
  // Alone: no slice deadline, only the retention check (60 s).
  ASSERT_TRUE(engine().next_deadline().has_value());
  EXPECT_GT(*engine().next_deadline(), t0 + seconds(40));
  JobId b = make_job(1, kAlice, 10);
  ASSERT_HR(engine().resume(kAlice, b), hr::SOk);
  EXPECT_EQ(engine().next_deadline(), t0 + seconds(40));
  (void)a;
}

TEST_F(TimersTest, TickWithNothingDueChangesNothing) {
  JobId a = running_job();
  JobId s = make_job(1, kAlice, 5);
  const std::size_t starts = transfer.starts.size();
  const int writes = store.mutating_calls();
  advance_and_tick(seconds(1));
  EXPECT_EQ(state(a), JobState::Transferring);
  EXPECT_EQ(state(s), JobState::Suspended);
  EXPECT_EQ(transfer.starts.size(), starts);
  EXPECT_EQ(store.mutating_calls(), writes);
}

}  // namespace
}  // namespace bgcopy::engine::test
