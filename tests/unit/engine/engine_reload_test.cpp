// load(): jobs come back from the store after a restart or crash, active ones re-queued,
// partial files cross-checked against their staging files, timers kept.
#include "engine/validate.hpp"
#include "engine_fixture.hpp"

namespace bgcopy::engine::test {
namespace {

using std::chrono::seconds;

class ReloadTest : public EngineTest {
 protected:
  /// A record as the store would hold it; files spec(first)..., 2000 bytes each, none started.
  JobRecord stored(JobState state, int files = 1, int first = 0) {
    JobRecord r;
    r.id = JobId::generate();
    r.owner = kAlice.uid;
    r.state = state;
    r.settings.display_name = "reloaded";
    r.times.created = r.times.modified = clock.wall() - seconds(100 - next_age_++);
    for (int i = 0; i < files; ++i) {
      FileRecord f;
      f.spec = spec(first + i);
      f.staging_name = staging_name_for(f.spec.local_path, r.id, static_cast<std::uint32_t>(i));
      f.bytes_total = 2000;
      r.files.push_back(f);
    }
    return r;
  }
  void put(const JobRecord& r) { store.rows[r.id] = r; }
  void mark_transferred(JobRecord& r, std::size_t i) {
    r.files[i].transferred = true;
    r.files[i].bytes_transferred = 2000;
    staging.sizes[r.files[i].staging_name] = 2000;
  }

 private:
  int next_age_ = 0;
};

TEST_F(ReloadTest, ActiveJobsComeBackQueuedAndAreStarted) {
  config.max_background_jobs = 3;
  JobRecord transferring = stored(JobState::Transferring, 1, 0);
  JobRecord connecting = stored(JobState::Connecting, 1, 1);
  JobRecord queued = stored(JobState::Queued, 1, 2);
  for (const auto& r : {transferring, connecting, queued}) put(r);
  engine();
  EXPECT_EQ(store.load_all_calls, 1);
  EXPECT_EQ(engine().job_count(), 3U);
  for (const auto& r : {transferring, connecting, queued}) {
    SCOPED_TRACE(std::string(to_string(r.state)));
    EXPECT_EQ(store.rows[r.id].state, JobState::Queued);
    EXPECT_EQ(state(r.id), JobState::Connecting);
    EXPECT_EQ(transfer.start_count(r.id), 1U);
    EXPECT_EQ(rec(r.id).owner, kAlice.uid);
  }
}

TEST_F(ReloadTest, ReloadedActiveJobsRespectTheBackgroundSlot) {
  JobRecord older = stored(JobState::Transferring, 1, 0);
  JobRecord newer = stored(JobState::Transferring, 1, 1);
  put(older);
  put(newer);
  engine();
  EXPECT_EQ(state(older.id), JobState::Connecting);  // oldest first
  EXPECT_EQ(state(newer.id), JobState::Queued);
}

TEST_F(ReloadTest, StagingLargerThanTheCheckpointIsCutBackToIt) {
  JobRecord r = stored(JobState::Transferring);
  r.files[0].bytes_transferred = 1000;
  put(r);
  staging.sizes[r.files[0].staging_name] = 1500;  // 500 bytes never synced
  engine();
  ASSERT_EQ(staging.truncated.size(), 1U);
  EXPECT_EQ(staging.truncated[0].first.staging_name, r.files[0].staging_name);
  EXPECT_EQ(staging.truncated[0].second, 1000U);
  TransferRequest req = transfer.last_start(r.id);
  EXPECT_EQ(req.resume_from, 1000U);
  EXPECT_EQ(req.file.bytes_transferred, 1000U);
  EXPECT_EQ(rec(r.id).files[0].bytes_transferred, 1000U);
}

TEST_F(ReloadTest, StagingSmallerThanTheCheckpointWins) {
  JobRecord r = stored(JobState::Transferring);
  r.files[0].bytes_transferred = 1000;
  put(r);
  staging.sizes[r.files[0].staging_name] = 600;
  engine();
  EXPECT_TRUE(staging.truncated.empty());
  EXPECT_EQ(transfer.last_start(r.id).resume_from, 600U);
  EXPECT_EQ(store.rows[r.id].files[0].bytes_transferred, 600U);
}

TEST_F(ReloadTest, MissingStagingRestartsTheFileFromZero) {
  JobRecord r = stored(JobState::Transferring);
  r.files[0].bytes_transferred = 1000;
  put(r);
  engine();
  EXPECT_EQ(transfer.last_start(r.id).resume_from, 0U);
  EXPECT_EQ(store.rows[r.id].files[0].bytes_transferred, 0U);
}

TEST_F(ReloadTest, ASuspendedJobStaysSuspendedWithItsBytesCrossChecked) {
  JobRecord r = stored(JobState::Suspended);
  r.files[0].bytes_transferred = 1000;
  put(r);
  staging.sizes[r.files[0].staging_name] = 700;
  engine();
  EXPECT_EQ(state(r.id), JobState::Suspended);
  EXPECT_TRUE(transfer.starts.empty());
  EXPECT_EQ(rec(r.id).files[0].bytes_transferred, 700U);
  ASSERT_HR(engine().resume(kAlice, r.id), hr::SOk);
  EXPECT_EQ(transfer.last_start(r.id).resume_from, 700U);
}

TEST_F(ReloadTest, ATransferredFileWhoseStagingVanishedIsFetchedAgain) {
  JobRecord r = stored(JobState::Transferred, 2);
  mark_transferred(r, 0);
  mark_transferred(r, 1);
  r.times.transfer_completed = clock.wall();
  staging.sizes.erase(r.files[1].staging_name);
  put(r);
  engine();
  EXPECT_TRUE(staging.was_removed(spec(1).local_path));
  EXPECT_FALSE(staging.was_removed(spec(0).local_path));
  JobRecord after = rec(r.id);
  EXPECT_EQ(after.state, JobState::Connecting);
  EXPECT_TRUE(after.files[0].transferred);
  EXPECT_FALSE(after.files[1].transferred);
  TransferRequest req = transfer.last_start(r.id);
  EXPECT_EQ(req.file_index, 1U);
  EXPECT_EQ(req.resume_from, 0U);
  EXPECT_EQ(store.rows[r.id].state, JobState::Queued);
  EXPECT_FALSE(store.rows[r.id].files[1].transferred);
  EXPECT_EQ(store.rows[r.id].files[1].bytes_transferred, 0U);
}

TEST_F(ReloadTest, ATransferredFileOfTheWrongSizeIsFetchedAgain) {
  JobRecord r = stored(JobState::Transferred, 1);
  mark_transferred(r, 0);
  staging.sizes[r.files[0].staging_name] = 1999;
  put(r);
  engine();
  EXPECT_EQ(state(r.id), JobState::Connecting);
  EXPECT_EQ(transfer.last_start(r.id).resume_from, 0U);
}

TEST_F(ReloadTest, AnIntactTransferredJobStaysTransferredAndCompletes) {
  JobRecord r = stored(JobState::Transferred, 2);
  mark_transferred(r, 0);
  mark_transferred(r, 1);
  put(r);
  const int updates = store.update_calls;
  engine();
  EXPECT_EQ(state(r.id), JobState::Transferred);
  EXPECT_TRUE(transfer.starts.empty());
  EXPECT_EQ(store.update_calls, updates);  // nothing to fix, nothing written
  EXPECT_HR(engine().complete(kAlice, r.id), hr::SOk);
  EXPECT_EQ(staging.finalized.size(), 2U);
}

TEST_F(ReloadTest, CompletedFilesAreNotCheckedOrFetched) {
  // A crash after the first rename of complete: file 0 is at its final name already.
  JobRecord r = stored(JobState::Transferred, 2);
  mark_transferred(r, 0);
  mark_transferred(r, 1);
  r.files[0].completed = true;
  staging.sizes.erase(r.files[0].staging_name);
  put(r);
  engine();
  EXPECT_EQ(state(r.id), JobState::Transferred);
  EXPECT_TRUE(staging.removed.empty());
  EXPECT_HR(engine().complete(kAlice, r.id), hr::SOk);
  ASSERT_EQ(staging.finalized.size(), 1U);
  EXPECT_EQ(staging.finalized[0].spec.local_path, spec(1).local_path);
}

TEST_F(ReloadTest, ARecordedRenameThatDidNotHappenIsFinishedAtLoad) {
  // A crash after complete recorded file 0's rename but before the rename itself.
  JobRecord r = stored(JobState::Transferred, 2);
  mark_transferred(r, 0);
  mark_transferred(r, 1);
  r.files[0].completed = true;
  put(r);
  engine();
  ASSERT_EQ(staging.finalized.size(), 1U);
  EXPECT_EQ(staging.finalized[0].spec.local_path, spec(0).local_path);
  EXPECT_EQ(state(r.id), JobState::Transferred);  // file 1 is still the caller's to complete
  EXPECT_HR(engine().complete(kAlice, r.id), hr::SOk);
  ASSERT_EQ(staging.finalized.size(), 2U);
  EXPECT_EQ(staging.finalized[1].spec.local_path, spec(1).local_path);
}

TEST_F(ReloadTest, ARecordedRenameThatFailsAtLoadIsLeftForCompleteToRetry) {
  JobRecord r = stored(JobState::Transferred, 1);
  mark_transferred(r, 0);
  r.files[0].completed = true;
  staging.finalize_errors[spec(0).local_path] = Error::make(hr::EAccessDenied, "read-only");
  put(r);
  engine();
  EXPECT_FALSE(store.rows[r.id].files[0].completed);
  EXPECT_FALSE(rec(r.id).files[0].completed);
  staging.finalize_errors.clear();
  EXPECT_HR(engine().complete(kAlice, r.id), hr::SOk);
  EXPECT_TRUE(staging.was_finalized(spec(0).local_path));
}

TEST_F(ReloadTest, ATransientErrorJobKeepsItsRetryTimer) {
  JobRecord r = stored(JobState::TransientError);
  r.error_count = 3;
  r.error = ErrorInfo{Error::make(hresult_from_http(503), "busy", ErrorContext::RemoteFile)};
  r.retry_at = clock.wall() + seconds(30);
  r.no_progress_since = clock.wall() - seconds(10);
  put(r);
  engine();
  EXPECT_EQ(state(r.id), JobState::TransientError);
  EXPECT_EQ(engine().next_deadline(), clock.mono() + seconds(30));
  EXPECT_EQ(engine().get_error(kAlice, r.id)->error.code, hresult_from_http(503));
  advance_and_tick(seconds(29));
  EXPECT_EQ(state(r.id), JobState::TransientError);
  EXPECT_TRUE(transfer.starts.empty());
  advance_and_tick(seconds(1));
  EXPECT_EQ(state(r.id), JobState::Connecting);
  EXPECT_EQ(rec(r.id).error_count, 3U);
}

TEST_F(ReloadTest, ATransientErrorJobKeepsItsNoProgressDeadline) {
  JobRecord r = stored(JobState::TransientError);
  r.settings.no_progress_timeout_s = 100;
  r.retry_at = clock.wall() + seconds(500);
  r.no_progress_since = clock.wall() - seconds(90);
  put(r);
  engine();
  advance_and_tick(seconds(9));
  EXPECT_EQ(state(r.id), JobState::TransientError);
  advance_and_tick(seconds(1));
  EXPECT_EQ(state(r.id), JobState::Error);
  EXPECT_EQ(hr_str(engine().get_error(kAlice, r.id)->error.code),
            hr_str(hr::DoEDownloadNoProgress));
}

TEST_F(ReloadTest, ARetryTimeFarInTheFutureIsBoundedByTheRetryDelay) {
  // The wall clock went back while the daemon was down: the retry must not wait for it.
  JobRecord r = stored(JobState::TransientError);
  r.settings.min_retry_delay_s = 60;
  r.retry_at = clock.wall() + seconds(30 * 24 * 3600);
  put(r);
  engine();
  advance_and_tick(seconds(59));
  EXPECT_EQ(state(r.id), JobState::TransientError);
  advance_and_tick(seconds(1));
  EXPECT_EQ(state(r.id), JobState::Connecting);
}

TEST_F(ReloadTest, ARetryTimeInThePastRetriesAtOnce) {
  JobRecord r = stored(JobState::TransientError);
  r.retry_at = clock.wall() - seconds(5);
  put(r);
  engine();
  EXPECT_EQ(engine().next_deadline(), clock.mono());
  engine().tick();
  EXPECT_EQ(state(r.id), JobState::Connecting);
}

TEST_F(ReloadTest, AnErrorJobStaysInErrorWithItsError) {
  JobRecord r = stored(JobState::Error);
  r.error_count = 1;
  r.error = ErrorInfo{Error::make(hresult_from_http(404), "gone", ErrorContext::RemoteFile)};
  put(r);
  engine();
  EXPECT_EQ(state(r.id), JobState::Error);
  EXPECT_EQ(engine().get_error(kAlice, r.id)->error.code, hresult_from_http(404));
  EXPECT_TRUE(transfer.starts.empty());
}

TEST_F(ReloadTest, ALoadFailureIsReturned) {
  store.fail_next(Error::from_errno(EIO, "disk"));
  Engine e(config, clock, store, transfer, staging, sink);
  EXPECT_HR(e.load(), hresult_from_errno(EIO));
  EXPECT_EQ(e.job_count(), 0U);
}

TEST_F(ReloadTest, JobsUntouchedForTheRetentionPeriodAreCancelledAtLoad) {
  config.inactivity_retention_s = 3600;
  JobRecord old = stored(JobState::Suspended, 1, 0);
  old.times.modified = clock.wall() - seconds(3601);
  JobRecord fresh = stored(JobState::Suspended, 1, 1);
  put(old);
  put(fresh);
  engine();
  EXPECT_FALSE(exists(old.id));
  EXPECT_TRUE(exists(fresh.id));
  EXPECT_EQ(store.rows.count(old.id), 0U);
  EXPECT_TRUE(staging.was_removed(spec(0).local_path));
}

TEST_F(ReloadTest, ShutdownRecordsDurableBytesAndTheNextLoadResumes) {
  JobId id = running_job();
  progress(id, 300, true);
  progress(id, 800, false);
  transfer.durable_on_stop[id] = 640;
  engine().shutdown();
  EXPECT_FALSE(transfer.is_running(id));
  EXPECT_EQ(store.rows[id].state, JobState::Transferring);  // left for the next load
  EXPECT_EQ(store.rows[id].files[0].bytes_transferred, 640U);
  EXPECT_LE(store.max_partial_bytes_received(id, 0), 640U);

  staging.sizes[store.rows[id].files[0].staging_name] = 640;
  FakeTransfer transfer2;
  Engine next(config, clock, store, transfer2, staging, sink);
  ASSERT_TRUE(next.load().ok());
  ASSERT_EQ(transfer2.starts.size(), 1U);
  EXPECT_EQ(transfer2.starts[0].job, id);
  EXPECT_EQ(transfer2.starts[0].resume_from, 640U);
}

TEST_F(ReloadTest, RetryTimerSurvivesARestartThroughTheStore) {
  JobId id = running_job();
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().min_retry_delay_s(50)), hr::SOk);
  fail(id, true);
  advance(seconds(20));
  FakeTransfer transfer2;
  Engine next(config, clock, store, transfer2, staging, sink);
  ASSERT_TRUE(next.load().ok());
  clock.advance(seconds(29));
  next.tick();
  EXPECT_TRUE(transfer2.starts.empty());
  clock.advance(seconds(1));
  next.tick();
  EXPECT_EQ(transfer2.starts.size(), 1U);
}

}  // namespace
}  // namespace bgcopy::engine::test
