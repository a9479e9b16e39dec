// The download rows of the job transition table (bits-do-spec section 3.2).
#include "engine_fixture.hpp"

#include <gmock/gmock.h>

namespace bgcopy::engine::test {
namespace {

using std::chrono::seconds;
using ::testing::ElementsAre;

using TransitionsTest = EngineTest;

TEST_F(TransitionsTest, CreateMakesAnEmptySuspendedNormalJobOwnedByTheCaller) {
  clock.advance(seconds(42));
  JobId id = create(kAlice, "nightly update");
  JobView v = view(id);
  EXPECT_EQ(v.record.state, JobState::Suspended);
  EXPECT_EQ(v.record.settings.priority, JobPriority::Normal);
  EXPECT_EQ(v.record.owner, kAlice.uid);
  EXPECT_EQ(v.record.type, JobType::Download);
  EXPECT_EQ(v.record.settings.display_name, "nightly update");
  EXPECT_TRUE(v.record.files.empty());
  EXPECT_EQ(v.record.error_count, 0U);
  EXPECT_EQ(v.record.times.created, clock.wall());
  EXPECT_EQ(v.record.times.modified, clock.wall());
  EXPECT_FALSE(v.record.times.transfer_completed.has_value());
  EXPECT_EQ(v.wait_reason, WaitReason::SuspendedByOwner);
  EXPECT_EQ(v.record.settings.notify_flags, notify::Default);
  EXPECT_EQ(v.record.settings.min_retry_delay_s, 600U);
  EXPECT_EQ(v.record.settings.no_progress_timeout_s, 1'209'600U);
  ASSERT_EQ(store.rows.count(id), 1U);
  EXPECT_EQ(store.rows[id].state, JobState::Suspended);
  EXPECT_EQ(store.insert_calls, 1);
  EXPECT_TRUE(transfer.starts.empty());
}

TEST_F(TransitionsTest, CreateGivesEveryJobADistinctId) {
  JobId a = create();
  JobId b = create();
  EXPECT_NE(a, b);
  EXPECT_FALSE(a.is_nil());
}

TEST_F(TransitionsTest, CreateRejectsUploadTypes) {
  EXPECT_HR(engine().create_job(kAlice, "up", JobType::Upload), hr::ENotImpl);
  EXPECT_HR(engine().create_job(kAlice, "up", JobType::UploadReply), hr::ENotImpl);
  EXPECT_EQ(engine().job_count(), 0U);
}

TEST_F(TransitionsTest, ResumeWithFilesQueuesAndTheSchedulerConnects) {
  JobId id = make_job(1);
  EXPECT_HR(engine().resume(kAlice, id), hr::SOk);
  // QUEUED was recorded (store and event) before the scheduler picked the job.
  EXPECT_TRUE(sink.saw_state(id, JobState::Queued));
  EXPECT_EQ(state(id), JobState::Connecting);
  EXPECT_EQ(view(id).wait_reason, WaitReason::None);
  ASSERT_EQ(transfer.start_count(id), 1U);
  TransferRequest req = transfer.last_start(id);
  EXPECT_EQ(req.file_index, 0U);
  EXPECT_EQ(req.resume_from, 0U);
  EXPECT_EQ(req.owner, kAlice.uid);
  EXPECT_EQ(req.file.spec, spec(0));
  EXPECT_NE(req.transfer_id, 0U);
  EXPECT_EQ(store.rows[id].state, JobState::Queued);
}

TEST_F(TransitionsTest, ConnectedMovesConnectingToTransferring) {
  JobId id = make_job(1);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  ASSERT_EQ(state(id), JobState::Connecting);
  connected(id, 1234);
  JobRecord r = rec(id);
  EXPECT_EQ(r.state, JobState::Transferring);
  EXPECT_EQ(r.files[0].bytes_total, 1234U);
  EXPECT_EQ(r.files[0].validators.etag, "\"v1\"");
}

TEST_F(TransitionsTest, ResumeWithoutFilesFailsWithJobEmptyAndStaysSuspended) {
  JobId id = create();
  EXPECT_HR(engine().resume(kAlice, id), hr::DoEJobEmpty);
  EXPECT_EQ(hr::DoEJobEmpty, 0x80D02004U);
  EXPECT_EQ(state(id), JobState::Suspended);
  EXPECT_TRUE(transfer.starts.empty());
}

TEST_F(TransitionsTest, ResumeFromErrorQueuesAndRetriesAtOnce) {
  JobId id = running_job();
  fail(id, /*transient=*/false, hresult_from_http(404));
  ASSERT_EQ(state(id), JobState::Error);
  sink.events.clear();
  EXPECT_HR(engine().resume(kAlice, id), hr::SOk);
  EXPECT_TRUE(sink.saw_state(id, JobState::Queued));
  EXPECT_EQ(state(id), JobState::Connecting);
  EXPECT_EQ(transfer.start_count(id), 2U);
}

TEST_F(TransitionsTest, ResumeFromTransientErrorQueuesWithoutWaitingForTheRetryDelay) {
  JobId id = running_job();
  fail(id, /*transient=*/true);
  ASSERT_EQ(state(id), JobState::TransientError);
  sink.events.clear();
  EXPECT_HR(engine().resume(kAlice, id), hr::SOk);
  EXPECT_TRUE(sink.saw_state(id, JobState::Queued));
  EXPECT_EQ(state(id), JobState::Connecting);
  EXPECT_FALSE(rec(id).retry_at.has_value());
  EXPECT_EQ(transfer.start_count(id), 2U);
}

TEST_F(TransitionsTest, ResumeOnAnActiveJobSucceedsAndChangesNothing) {
  config.max_background_jobs = 1;
  JobId blocker = running_job();
  JobId queued = make_job(1);
  ASSERT_HR(engine().resume(kAlice, queued), hr::SOk);
  ASSERT_EQ(state(queued), JobState::Queued);
  EXPECT_EQ(view(queued).wait_reason, WaitReason::WaitingForSlot);

  JobId connecting = create(kAlice);
  ASSERT_HR(engine().add_files(kAlice, connecting, {spec(7)}), hr::SOk);
  ASSERT_HR(engine().set_settings(kAlice, connecting, Patch().priority(JobPriority::Foreground)),
            hr::SOk);
  ASSERT_HR(engine().resume(kAlice, connecting), hr::SOk);
  ASSERT_EQ(state(connecting), JobState::Connecting);

  const std::size_t starts = transfer.starts.size();
  const std::size_t stops = transfer.stops.size();
  for (const JobId& id : {blocker, queued, connecting}) {
    JobState before = state(id);
    EXPECT_HR(engine().resume(kAlice, id), hr::SOk);
    EXPECT_EQ(state(id), before);
  }
  EXPECT_EQ(state(blocker), JobState::Transferring);
  EXPECT_EQ(transfer.starts.size(), starts);
  EXPECT_EQ(transfer.stops.size(), stops);
}

TEST_F(TransitionsTest, TransientFailureCountsAnErrorAndRetriesAfterMinRetryDelay) {
  JobId id = running_job();
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().min_retry_delay_s(60)), hr::SOk);
  fail(id, /*transient=*/true, hresult_from_http(503));
  JobView v = view(id);
  EXPECT_EQ(v.record.state, JobState::TransientError);
  EXPECT_EQ(v.record.error_count, 1U);
  EXPECT_EQ(v.wait_reason, WaitReason::BackingOff);
  ASSERT_TRUE(v.record.retry_at.has_value());
  EXPECT_EQ(*v.record.retry_at, clock.wall() + seconds(60));
  EXPECT_EQ(sink.count(Event::Kind::JobError, id), 0U);  // transient errors never notify
  auto err = engine().get_error(kAlice, id);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->error.code, hresult_from_http(503));
  EXPECT_EQ(err->error.file_index, 0U);

  advance_and_tick(seconds(59));
  EXPECT_EQ(state(id), JobState::TransientError);
  EXPECT_EQ(transfer.start_count(id), 1U);
  advance_and_tick(seconds(1));
  EXPECT_EQ(state(id), JobState::Connecting);
  EXPECT_EQ(transfer.start_count(id), 2U);
  EXPECT_FALSE(rec(id).retry_at.has_value());
}

TEST_F(TransitionsTest, AFailedRetryCountsAnotherError) {
  JobId id = running_job();
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().min_retry_delay_s(5)), hr::SOk);
  fail(id, true);
  advance_and_tick(seconds(5));
  ASSERT_EQ(state(id), JobState::Connecting);
  fail(id, true);
  EXPECT_EQ(state(id), JobState::TransientError);
  EXPECT_EQ(rec(id).error_count, 2U);
}

TEST_F(TransitionsTest, FatalFailureEntersErrorAndNotifies) {
  JobId id = running_job();
  sink.events.clear();
  fail(id, /*transient=*/false, hresult_from_http(404));
  JobView v = view(id);
  EXPECT_EQ(v.record.state, JobState::Error);
  EXPECT_EQ(v.record.error_count, 1U);
  EXPECT_EQ(v.wait_reason, WaitReason::NeedsAction);
  EXPECT_FALSE(v.record.retry_at.has_value());
  EXPECT_EQ(sink.count(Event::Kind::JobError, id), 1U);
  auto err = engine().get_error(kAlice, id);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->error.code, 0x80190194U);
  EXPECT_EQ(err->error.context, ErrorContext::RemoteFile);
  EXPECT_EQ(store.rows[id].state, JobState::Error);
  // ERROR is not retried by time.
  advance_and_tick(seconds(7 * 24 * 3600));
  EXPECT_EQ(state(id), JobState::Error);
  EXPECT_EQ(transfer.start_count(id), 1U);
}

TEST_F(TransitionsTest, FailedWithoutAnErrorObjectStillEntersError) {
  JobId id = running_job();
  TransferEvent ev = event_for(id, TransferEvent::Kind::Failed);
  transfer.finished(id);
  engine().on_transfer_event(ev);
  EXPECT_EQ(state(id), JobState::Error);
  auto err = engine().get_error(kAlice, id);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->error.code, hr::EFail);
}

TEST_F(TransitionsTest, LastFileDoneEntersTransferredAndNotifies) {
  JobId id = running_job(2);
  clock.advance(seconds(10));
  file_done(id, 1000);
  EXPECT_EQ(state(id), JobState::Connecting);  // on to file 1
  EXPECT_EQ(sink.count(Event::Kind::JobTransferred, id), 0U);
  EXPECT_EQ(sink.count(Event::Kind::FileTransferred, id), 1U);
  connected(id, 500);
  clock.advance(seconds(10));
  file_done(id, 500);
  JobView v = view(id);
  EXPECT_EQ(v.record.state, JobState::Transferred);
  EXPECT_EQ(v.wait_reason, WaitReason::NeedsAction);
  ASSERT_TRUE(v.record.times.transfer_completed.has_value());
  EXPECT_EQ(*v.record.times.transfer_completed, clock.wall());
  EXPECT_EQ(sink.count(Event::Kind::JobTransferred, id), 1U);
  EXPECT_EQ(sink.count(Event::Kind::FileTransferred, id), 2U);
  EXPECT_EQ(v.record.files_transferred(), 2U);
  EXPECT_EQ(v.record.bytes_transferred(), 1500U);
  EXPECT_EQ(v.record.bytes_total(), 1500U);
  EXPECT_TRUE(v.record.files[0].transferred);
  EXPECT_FALSE(v.record.files[0].completed);
  EXPECT_EQ(store.rows[id].state, JobState::Transferred);
  EXPECT_FALSE(transfer.is_running(id));
}

TEST_F(TransitionsTest, FileDoneRecordsVerification) {
  JobId id = running_job();
  TransferEvent ev = event_for(id, TransferEvent::Kind::FileDone);
  ev.bytes_transferred = 1000;
  ev.verified = true;
  ev.durable = true;
  ev.remote_mtime = 1'700'000'000;
  transfer.finished(id);
  engine().on_transfer_event(ev);
  JobRecord r = rec(id);
  EXPECT_TRUE(r.files[0].verified);
  EXPECT_EQ(r.files[0].remote_mtime, 1'700'000'000);
  EXPECT_TRUE(store.rows[id].files[0].verified);
}

TEST_F(TransitionsTest, ResumeOnATransferredJobSucceedsAndChangesNothing) {
  JobId id = transferred_job();
  EXPECT_HR(engine().resume(kAlice, id), hr::SOk);
  EXPECT_EQ(state(id), JobState::Transferred);
  EXPECT_EQ(transfer.start_count(id), 1U);
}

TEST_F(TransitionsTest, FilesAddedToATransferredJobAreFetchedOnResume) {
  JobId id = transferred_job();
  ASSERT_HR(engine().add_files(kAlice, id, {spec(5)}), hr::SOk);
  EXPECT_EQ(state(id), JobState::Transferred);
  EXPECT_HR(engine().resume(kAlice, id), hr::SOk);
  EXPECT_EQ(state(id), JobState::Connecting);
  EXPECT_EQ(transfer.last_start(id).file_index, 1U);
}

// ---- Suspend from every non-final state ----

enum class Start {
  Queued,
  Connecting,
  Transferring,
  Error,
  TransientError,
  Transferred,
  Suspended
};

std::string start_name(Start s) {
  switch (s) {
    case Start::Queued:
      return "Queued";
    case Start::Connecting:
      return "Connecting";
    case Start::Transferring:
      return "Transferring";
    case Start::Error:
      return "Error";
    case Start::TransientError:
      return "TransientError";
    case Start::Transferred:
      return "Transferred";
    case Start::Suspended:
      return "Suspended";
  }
  return "Unknown";
}
void PrintTo(Start s, std::ostream* os) {
  *os << start_name(s);
}

class SuspendTest : public EngineTest, public ::testing::WithParamInterface<Start> {
 protected:
  JobId drive(Start s) {
    switch (s) {
      case Start::Queued: {
        running_job();  // holds the only background slot
        JobId id = make_job(1, kAlice, 10);
        EXPECT_HR(engine().resume(kAlice, id), hr::SOk);
        return id;
      }
      case Start::Connecting: {
        JobId id = make_job(1);
        EXPECT_HR(engine().resume(kAlice, id), hr::SOk);
        return id;
      }
      case Start::Transferring:
        return running_job();
      case Start::Error: {
        JobId id = running_job();
        fail(id, false);
        return id;
      }
      case Start::TransientError: {
        JobId id = running_job();
        fail(id, true);
        return id;
      }
      case Start::Transferred:
        return transferred_job();
      case Start::Suspended:
        return make_job(1);
    }
    return JobId{};
  }
};

TEST_P(SuspendTest, SuspendEntersSuspended) {
  JobId id = drive(GetParam());
  const std::uint32_t errors = rec(id).error_count;
  EXPECT_HR(engine().suspend(kAlice, id), hr::SOk);
  JobView v = view(id);
  EXPECT_EQ(v.record.state, JobState::Suspended);
  EXPECT_EQ(v.wait_reason, WaitReason::SuspendedByOwner);
  EXPECT_FALSE(v.record.retry_at.has_value());
  EXPECT_EQ(v.record.error_count, errors);
  EXPECT_FALSE(transfer.is_running(id));
  EXPECT_EQ(store.rows[id].state, JobState::Suspended);
  // Nothing restarts it by time.
  const std::size_t starts = transfer.start_count(id);
  advance_and_tick(seconds(3600));
  EXPECT_EQ(state(id), JobState::Suspended);
  EXPECT_EQ(transfer.start_count(id), starts);
}

INSTANTIATE_TEST_SUITE_P(EveryNonFinalState, SuspendTest,
                         ::testing::Values(Start::Queued, Start::Connecting, Start::Transferring,
                                           Start::Error, Start::TransientError, Start::Transferred,
                                           Start::Suspended),
                         [](const ::testing::TestParamInfo<Start>& param) {
                           return start_name(param.param);
                         });

TEST_F(TransitionsTest, SuspendStopsTheTransferAndKeepsTheDurableBytes) {
  JobId id = running_job();
  progress(id, 300, /*durable=*/true);
  progress(id, 700, /*durable=*/false);
  EXPECT_EQ(rec(id).files[0].bytes_transferred, 700U);  // live count for display
  transfer.durable_on_stop[id] = 512;
  ASSERT_HR(engine().suspend(kAlice, id), hr::SOk);
  EXPECT_EQ(transfer.stop_count(id), 1U);
  EXPECT_EQ(rec(id).files[0].bytes_transferred, 512U);
  EXPECT_EQ(store.rows[id].files[0].bytes_transferred, 512U);
  EXPECT_LE(store.max_partial_bytes_received(id, 0), 512U);

  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  EXPECT_EQ(transfer.last_start(id).resume_from, 512U);
  EXPECT_EQ(transfer.last_start(id).file.bytes_transferred, 512U);
}

TEST_F(TransitionsTest, SuspendOfASuspendedJobIsANoOp) {
  JobId id = make_job(1);
  const int updates = store.update_calls;
  EXPECT_HR(engine().suspend(kAlice, id), hr::SOk);
  EXPECT_EQ(store.update_calls, updates);
  EXPECT_TRUE(transfer.stops.empty());
}

TEST_F(TransitionsTest, ResumeAfterSuspendFromTransferredReturnsToTransferred) {
  JobId id = transferred_job();
  ASSERT_HR(engine().suspend(kAlice, id), hr::SOk);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  EXPECT_EQ(state(id), JobState::Transferred);
  EXPECT_EQ(transfer.start_count(id), 1U);  // nothing left to fetch
}

// ---- Complete ----

TEST_F(TransitionsTest, CompleteRenamesEveryFileAndAcknowledges) {
  JobId id = transferred_job(2);
  sink.events.clear();
  auto r = engine().complete(kAlice, id);
  EXPECT_HR(r, hr::SOk);
  ASSERT_EQ(staging.finalized.size(), 2U);
  EXPECT_EQ(staging.finalized[0].spec.local_path, spec(0).local_path);
  EXPECT_EQ(staging.finalized[1].spec.local_path, spec(1).local_path);
  EXPECT_TRUE(staging.removed.empty());
  EXPECT_EQ(store.rows.count(id), 0U);
  ASSERT_TRUE(sink.last_for(id).has_value());
  EXPECT_EQ(sink.last_for(id)->state, JobState::Acknowledged);
  EXPECT_FALSE(exists(id));
  EXPECT_EQ(engine().job_count(), 0U);
}

TEST_F(TransitionsTest, CompleteOfAPartialJobDropsUnfinishedFiles) {
  JobId id = running_job(3);
  file_done(id, 1000);  // file 0 done, file 1 running
  connected(id);
  progress(id, 400, true);
  auto r = engine().complete(kAlice, id);
  EXPECT_HR(r, hr::BgSPartialComplete);
  EXPECT_EQ(hr::BgSPartialComplete, 0x00200017U);
  EXPECT_TRUE(staging.was_finalized(spec(0).local_path));
  EXPECT_FALSE(staging.was_finalized(spec(1).local_path));
  EXPECT_FALSE(staging.was_finalized(spec(2).local_path));
  EXPECT_TRUE(staging.was_removed(spec(1).local_path));
  EXPECT_TRUE(staging.was_removed(spec(2).local_path));
  EXPECT_FALSE(staging.was_removed(spec(0).local_path));
  EXPECT_FALSE(transfer.is_running(id));
  EXPECT_EQ(store.rows.count(id), 0U);
  EXPECT_EQ(sink.last_for(id)->state, JobState::Acknowledged);
  EXPECT_FALSE(exists(id));
}

TEST_F(TransitionsTest, CompleteOfASuspendedJobWithNothingTransferredDropsEverything) {
  JobId id = make_job(1);
  EXPECT_HR(engine().complete(kAlice, id), hr::BgSPartialComplete);
  EXPECT_TRUE(staging.finalized.empty());
  EXPECT_TRUE(staging.was_removed(spec(0).local_path));
  EXPECT_FALSE(exists(id));
}

TEST_F(TransitionsTest, CompleteThatCannotDeleteAPartialFileSaysSo) {
  JobId id = running_job(2);
  file_done(id);
  staging.remove_errors[spec(1).local_path] = Error::from_errno(EACCES, "unlink");
  EXPECT_HR(engine().complete(kAlice, id), hr::BgSUnableToDeleteFiles);
  EXPECT_TRUE(staging.was_finalized(spec(0).local_path));
  EXPECT_FALSE(exists(id));
}

TEST_F(TransitionsTest, CompleteWithARenameFailureStaysTransferredAndCanBeRetried) {
  JobId id = transferred_job(2);
  const Error rename_error = Error::from_errno(EXDEV, "rename");
  staging.finalize_errors[spec(1).local_path] = rename_error;
  auto r = engine().complete(kAlice, id);
  EXPECT_HR(r, rename_error.code);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().file_index, 1U);
  JobRecord after = rec(id);
  EXPECT_EQ(after.state, JobState::Transferred);
  EXPECT_TRUE(after.files[0].completed);  // renamed files stay renamed
  EXPECT_FALSE(after.files[1].completed);
  EXPECT_EQ(store.rows.count(id), 1U);
  EXPECT_TRUE(store.rows[id].files[0].completed);
  EXPECT_TRUE(staging.removed.empty());

  staging.finalize_errors.clear();
  EXPECT_HR(engine().complete(kAlice, id), hr::SOk);
  ASSERT_EQ(staging.finalized.size(), 2U);  // file 0 was not renamed twice
  EXPECT_EQ(staging.finalized[1].spec.local_path, spec(1).local_path);
  EXPECT_FALSE(exists(id));
  EXPECT_EQ(store.rows.count(id), 0U);
}

TEST_F(TransitionsTest, CompleteMovesEveryFileInOneStagingBatchRecordedFirst) {
  JobId id = transferred_job(50);
  EXPECT_HR(engine().complete(kAlice, id), hr::SOk);
  EXPECT_EQ(staging.finalize_calls, 1) << "one batch, so the flushes are shared";
  ASSERT_EQ(staging.finalized.size(), 50U);
  for (std::uint32_t i = 0; i < 50; ++i) {
    EXPECT_EQ(staging.finalized[i].spec.local_path, spec(static_cast<int>(i)).local_path);
    EXPECT_TRUE(staging.finalized[i].completed) << "recorded before it is moved: " << i;
  }
  EXPECT_FALSE(exists(id));
}

TEST_F(TransitionsTest, CompleteWithAStoreFailureKeepsTheJob) {
  JobId id = transferred_job(1);
  store.fail_next(Error::from_errno(EIO, "store"), 2);  // update_file and remove
  auto r = engine().complete(kAlice, id);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(exists(id));
  EXPECT_FALSE(is_final(state(id)));
}

// ---- Cancel ----

TEST_F(TransitionsTest, CancelDeletesEveryStagingFileAndForgetsTheJob) {
  JobId id = running_job(3);
  file_done(id);  // file 0 transferred (not completed): its staging file goes too
  connected(id);
  progress(id, 10, true);
  sink.events.clear();
  EXPECT_HR(engine().cancel(kAlice, id), hr::SOk);
  EXPECT_EQ(transfer.stop_count(id), 1U);
  EXPECT_FALSE(transfer.is_running(id));
  EXPECT_TRUE(staging.was_removed(spec(0).local_path));
  EXPECT_TRUE(staging.was_removed(spec(1).local_path));
  EXPECT_TRUE(staging.was_removed(spec(2).local_path));
  EXPECT_TRUE(staging.finalized.empty());
  EXPECT_EQ(store.rows.count(id), 0U);
  ASSERT_TRUE(sink.last_for(id).has_value());
  EXPECT_EQ(sink.last_for(id)->state, JobState::Cancelled);
  EXPECT_FALSE(exists(id));
}

TEST_F(TransitionsTest, CancelThatCannotDeleteAFileSaysSoButStillCancels) {
  JobId id = make_job(2);
  staging.remove_errors[spec(0).local_path] = Error::from_errno(EBUSY, "unlink");
  EXPECT_HR(engine().cancel(kAlice, id), hr::BgSUnableToDeleteFiles);
  EXPECT_EQ(hr::BgSUnableToDeleteFiles, 0x0020001AU);
  EXPECT_TRUE(staging.was_removed(spec(1).local_path));  // the others still go
  EXPECT_FALSE(exists(id));
  EXPECT_EQ(store.rows.count(id), 0U);
}

TEST_F(TransitionsTest, CancelFromEveryNonFinalStateSucceeds) {
  JobId suspended = make_job(1, kAlice, 0);
  JobId error = running_job();
  fail(error, false);
  JobId transient = running_job();
  fail(transient, true);
  JobId transferred = running_job();
  file_done(transferred);
  JobId transferring = running_job();
  JobId queued = make_job(1, kAlice, 50);
  ASSERT_HR(engine().resume(kAlice, queued), hr::SOk);
  ASSERT_EQ(state(queued), JobState::Queued);
  for (const JobId& id : {suspended, error, transient, transferred, queued, transferring}) {
    EXPECT_HR(engine().cancel(kAlice, id), hr::SOk);
    EXPECT_FALSE(exists(id));
  }
  EXPECT_TRUE(store.rows.empty());
  EXPECT_EQ(engine().job_count(), 0U);
}

TEST_F(TransitionsTest, CancellingTheRunningJobLetsTheNextOneRun) {
  JobId a = running_job();
  JobId b = make_job(1, kAlice, 20);
  ASSERT_HR(engine().resume(kAlice, b), hr::SOk);
  ASSERT_EQ(state(b), JobState::Queued);
  ASSERT_HR(engine().cancel(kAlice, a), hr::SOk);
  EXPECT_EQ(state(b), JobState::Connecting);
}

TEST_F(TransitionsTest, CancelWithAStoreFailureKeepsTheJob) {
  JobId id = make_job(1);
  store.fail_next(Error::from_errno(EIO, "store"));
  auto r = engine().cancel(kAlice, id);
  EXPECT_HR(r, hresult_from_errno(EIO));
  EXPECT_TRUE(exists(id));
  EXPECT_EQ(store.rows.count(id), 1U);
  EXPECT_HR(engine().cancel(kAlice, id), hr::SOk);  // and can be cancelled again
  EXPECT_FALSE(exists(id));
}

// ---- get_error and error_count ----

TEST_F(TransitionsTest, GetErrorIsUnavailableOutsideTheErrorStates) {
  JobId id = make_job(1);
  EXPECT_HR(engine().get_error(kAlice, id), hr::DoEErrorInformationUnavailable);
  EXPECT_EQ(hr::DoEErrorInformationUnavailable, 0x80D02014U);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  EXPECT_HR(engine().get_error(kAlice, id), hr::DoEErrorInformationUnavailable);  // CONNECTING
  connected(id);
  EXPECT_HR(engine().get_error(kAlice, id), hr::DoEErrorInformationUnavailable);  // TRANSFERRING
  fail(id, true);
  EXPECT_HR(engine().get_error(kAlice, id), hr::SOk);  // TRANSIENT_ERROR
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  EXPECT_HR(engine().get_error(kAlice, id), hr::DoEErrorInformationUnavailable);
  connected(id);
  fail(id, false);
  EXPECT_HR(engine().get_error(kAlice, id), hr::SOk);  // ERROR
  EXPECT_TRUE(view(id).record.error.has_value());
  ASSERT_HR(engine().suspend(kAlice, id), hr::SOk);
  EXPECT_HR(engine().get_error(kAlice, id), hr::DoEErrorInformationUnavailable);
  EXPECT_FALSE(view(id).record.error.has_value());  // hidden from views as well
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  connected(id);
  file_done(id);
  EXPECT_HR(engine().get_error(kAlice, id), hr::DoEErrorInformationUnavailable);  // TRANSFERRED
}

TEST_F(TransitionsTest, ConnectedDiscardsTheErrorObject) {
  JobId id = running_job();
  fail(id, true);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  connected(id);
  EXPECT_FALSE(rec(id).error.has_value());
}

TEST_F(TransitionsTest, ErrorCountNeverResets) {
  JobId id = running_job(2);
  fail(id, true);
  EXPECT_EQ(rec(id).error_count, 1U);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  EXPECT_EQ(rec(id).error_count, 1U);  // not on resume
  connected(id);
  fail(id, false);
  EXPECT_EQ(rec(id).error_count, 2U);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  connected(id);
  progress(id, 500, true);
  file_done(id);
  connected(id);
  file_done(id);
  ASSERT_EQ(state(id), JobState::Transferred);
  EXPECT_EQ(rec(id).error_count, 2U);  // not on success
  EXPECT_EQ(store.rows[id].error_count, 2U);
  ASSERT_HR(engine().suspend(kAlice, id), hr::SOk);
  EXPECT_EQ(rec(id).error_count, 2U);
}

TEST_F(TransitionsTest, ModificationTimeMovesOnEveryChange) {
  JobId id = create();
  auto modified = [&] { return rec(id).times.modified; };
  const WallTime created = rec(id).times.created;
  advance(seconds(1));
  ASSERT_HR(engine().add_files(kAlice, id, {spec(0)}), hr::SOk);
  EXPECT_EQ(modified(), clock.wall());
  advance(seconds(1));
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().description(std::string("d"))), hr::SOk);
  EXPECT_EQ(modified(), clock.wall());
  advance(seconds(1));
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  EXPECT_EQ(modified(), clock.wall());
  advance(seconds(1));
  connected(id);
  progress(id, 10, false);
  EXPECT_EQ(modified(), clock.wall());
  EXPECT_EQ(rec(id).times.created, created);
}

TEST_F(TransitionsTest, ModificationEventsFollowChanges) {
  JobId id = create();
  sink.events.clear();
  ASSERT_HR(engine().add_files(kAlice, id, {spec(0)}), hr::SOk);
  EXPECT_EQ(sink.count(Event::Kind::JobModification, id), 1U);
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().description(std::string("x"))), hr::SOk);
  EXPECT_EQ(sink.count(Event::Kind::JobModification, id), 2U);
  // A patch that changes nothing is not a modification.
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().description(std::string("x"))), hr::SOk);
  EXPECT_EQ(sink.count(Event::Kind::JobModification, id), 2U);
  for (const Event& e : sink.events) EXPECT_EQ(e.owner, kAlice.uid);
}

TEST_F(TransitionsTest, ErrorAndTransferredRaiseTheirOwnEventsNotModification) {
  JobId failing = running_job();
  sink.events.clear();
  fail(failing, false);
  EXPECT_EQ(sink.count(Event::Kind::JobError, failing), 1U);
  EXPECT_EQ(sink.count(Event::Kind::JobModification, failing), 0U);
  ASSERT_EQ(sink.last_for(failing)->state, JobState::Error);

  JobId done = running_job();
  sink.events.clear();
  file_done(done);
  EXPECT_EQ(sink.count(Event::Kind::JobTransferred, done), 1U);
  EXPECT_EQ(sink.count(Event::Kind::JobModification, done), 0U);
  EXPECT_EQ(sink.last_for(done)->state, JobState::Transferred);
}

TEST_F(TransitionsTest, CompleteAfterSuspendingATransferredJobRenamesEverything) {
  JobId id = transferred_job(2);
  ASSERT_HR(engine().suspend(kAlice, id), hr::SOk);
  EXPECT_HR(engine().complete(kAlice, id), hr::SOk);
  EXPECT_EQ(staging.finalized.size(), 2U);
  EXPECT_TRUE(staging.removed.empty());
}

TEST_F(TransitionsTest, CompleteOfARunningJobStopsItFirst) {
  JobId id = running_job(1);
  progress(id, 10, true);
  EXPECT_HR(engine().complete(kAlice, id), hr::BgSPartialComplete);
  EXPECT_EQ(transfer.stop_count(id), 1U);
  EXPECT_FALSE(transfer.is_running(id));
  EXPECT_TRUE(staging.was_removed(spec(0).local_path));
  EXPECT_TRUE(staging.finalized.empty());
}

TEST_F(TransitionsTest, FileTransferredEventNamesTheFile) {
  JobId id = running_job(2);
  file_done(id);
  std::vector<std::uint32_t> files;
  for (const Event& e : sink.events) {
    if (e.kind == Event::Kind::FileTransferred && e.job == id) files.push_back(*e.file_index);
  }
  EXPECT_THAT(files, ElementsAre(0U));
}

}  // namespace
}  // namespace bgcopy::engine::test
