// Transfer events: stale ones are ignored, progress is checkpointed only when durable, restarts
// reset a file, and the store never sees a byte count that is not on disk.
#include "engine_fixture.hpp"

namespace bgcopy::engine::test {
namespace {

using std::chrono::seconds;

using EventsTest = EngineTest;

TEST_F(EventsTest, EventsFromAStoppedTransferAreIgnored) {
  JobId id = running_job(2);
  const TransferRequest old = transfer.last_start(id);
  progress(id, 100, true);
  ASSERT_HR(engine().suspend(kAlice, id), hr::SOk);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  ASSERT_NE(transfer.last_start(id).transfer_id, old.transfer_id);
  const JobRecord before = rec(id);
  const int writes = store.mutating_calls();

  TransferEvent ev;
  ev.job = id;
  ev.transfer_id = old.transfer_id;
  ev.file_index = 0;
  for (auto kind : {TransferEvent::Kind::Connected, TransferEvent::Kind::Progress,
                    TransferEvent::Kind::Restarted, TransferEvent::Kind::FileDone,
                    TransferEvent::Kind::Failed}) {
    ev.kind = kind;
    ev.bytes_transferred = 900;
    ev.durable = true;
    ev.error = Error::make(hresult_from_http(500), "old");
    engine().on_transfer_event(ev);
  }
  EXPECT_EQ(rec(id), before);
  EXPECT_EQ(store.mutating_calls(), writes);
  EXPECT_EQ(state(id), JobState::Connecting);
}

TEST_F(EventsTest, EventsWhileNoTransferRunsAreIgnored) {
  JobId id = running_job();
  const TransferRequest req = transfer.last_start(id);
  fail(id, true);  // the transfer is over
  const JobRecord before = rec(id);
  TransferEvent ev;
  ev.job = id;
  ev.transfer_id = req.transfer_id;
  ev.kind = TransferEvent::Kind::FileDone;
  ev.bytes_transferred = 1000;
  engine().on_transfer_event(ev);
  EXPECT_EQ(rec(id), before);
  EXPECT_EQ(state(id), JobState::TransientError);
}

TEST_F(EventsTest, EventsForUnknownJobsOrFilesAreIgnored) {
  JobId id = running_job();
  TransferEvent ev = event_for(id, TransferEvent::Kind::FileDone);
  ev.job = JobId::generate();
  engine().on_transfer_event(ev);
  ev = event_for(id, TransferEvent::Kind::FileDone);
  ev.file_index = 7;
  engine().on_transfer_event(ev);
  EXPECT_EQ(state(id), JobState::Transferring);
  EXPECT_FALSE(rec(id).files[0].transferred);
}

TEST_F(EventsTest, EventsAfterCancelAreIgnored) {
  JobId id = running_job();
  TransferEvent ev = event_for(id, TransferEvent::Kind::FileDone);
  ASSERT_HR(engine().cancel(kAlice, id), hr::SOk);
  const std::size_t events = sink.events.size();
  engine().on_transfer_event(ev);
  EXPECT_FALSE(exists(id));
  EXPECT_EQ(sink.events.size(), events);
  EXPECT_EQ(store.rows.count(id), 0U);
}

TEST_F(EventsTest, DurableProgressIsCheckpointedAndLiveProgressIsNot) {
  JobId id = running_job();
  const int file_writes = store.update_file_calls;
  progress(id, 100, /*durable=*/false);
  EXPECT_EQ(store.update_file_calls, file_writes);
  EXPECT_EQ(rec(id).files[0].bytes_transferred, 100U);
  progress(id, 250, /*durable=*/true);
  EXPECT_EQ(store.update_file_calls, file_writes + 1);
  ASSERT_FALSE(store.file_writes.empty());
  EXPECT_EQ(store.file_writes.back().id, id);
  EXPECT_EQ(store.file_writes.back().index, 0U);
  EXPECT_EQ(store.file_writes.back().file.bytes_transferred, 250U);
  EXPECT_EQ(store.rows[id].files[0].bytes_transferred, 250U);
  progress(id, 400, /*durable=*/false);
  EXPECT_EQ(store.update_file_calls, file_writes + 1);
  EXPECT_EQ(rec(id).files[0].bytes_transferred, 400U);
  EXPECT_EQ(store.rows[id].files[0].bytes_transferred, 250U);
}

TEST_F(EventsTest, ProgressLearnsTheTotalSize) {
  JobId id = make_job(1);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  connected(id, std::nullopt);
  EXPECT_FALSE(rec(id).files[0].bytes_total.has_value());
  EXPECT_FALSE(rec(id).bytes_total().has_value());
  TransferEvent ev = event_for(id, TransferEvent::Kind::Progress);
  ev.bytes_transferred = 10;
  ev.bytes_total = 5000;
  engine().on_transfer_event(ev);
  EXPECT_EQ(rec(id).files[0].bytes_total, 5000U);
}

TEST_F(EventsTest, AFullPersistNeverCarriesLiveBytes) {
  JobId id = running_job();
  progress(id, 100, true);
  progress(id, 700, false);
  // Anything that writes the whole record must write the durable count.
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().description(std::string("x"))), hr::SOk);
  EXPECT_EQ(store.rows[id].files[0].bytes_transferred, 100U);
  ASSERT_HR(engine().add_files(kAlice, id, {spec(1)}), hr::SOk);
  EXPECT_EQ(store.rows[id].files[0].bytes_transferred, 100U);
  EXPECT_EQ(store.max_partial_bytes_received(id, 0), 100U);

  transfer.durable_on_stop[id] = 300;
  ASSERT_HR(engine().suspend(kAlice, id), hr::SOk);
  EXPECT_EQ(store.rows[id].files[0].bytes_transferred, 300U);
  EXPECT_EQ(store.max_partial_bytes_received(id, 0), 300U);
}

TEST_F(EventsTest, AFailureDoesNotCheckpointUnsyncedBytes) {
  JobId id = running_job();
  progress(id, 100, true);
  progress(id, 700, false);
  TransferEvent ev = event_for(id, TransferEvent::Kind::Failed);
  ev.bytes_transferred = 700;
  ev.durable = false;  // the transfer died before syncing
  ev.transient = true;
  ev.error = Error::make(hr::BgEConnectionClosed, "reset");
  transfer.finished(id);
  engine().on_transfer_event(ev);
  EXPECT_EQ(state(id), JobState::TransientError);
  EXPECT_EQ(store.max_partial_bytes_received(id, 0), 100U);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  EXPECT_EQ(transfer.last_start(id).resume_from, 100U);
}

TEST_F(EventsTest, ADurableFailureKeepsItsBytes) {
  JobId id = running_job();
  progress(id, 100, true);
  TransferEvent ev = event_for(id, TransferEvent::Kind::Failed);
  ev.bytes_transferred = 600;
  ev.durable = true;
  ev.transient = true;
  ev.error = Error::make(hr::BgEConnectionClosed, "reset");
  transfer.finished(id);
  engine().on_transfer_event(ev);
  EXPECT_EQ(store.rows[id].files[0].bytes_transferred, 600U);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  EXPECT_EQ(transfer.last_start(id).resume_from, 600U);
}

TEST_F(EventsTest, AFailureThatDiscardedTheDataResumesFromZero) {
  JobId id = running_job();
  progress(id, 500, true);
  TransferEvent ev = event_for(id, TransferEvent::Kind::Failed);
  ev.bytes_transferred = 0;  // e.g. checksum mismatch: the staging data is gone
  ev.error = Error::make(hr::BgEValidationFailed, "sha256 mismatch", ErrorContext::LocalFile);
  transfer.finished(id);
  engine().on_transfer_event(ev);
  EXPECT_EQ(state(id), JobState::Error);
  EXPECT_EQ(store.rows[id].files[0].bytes_transferred, 0U);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  EXPECT_EQ(transfer.last_start(id).resume_from, 0U);
}

TEST_F(EventsTest, RestartedResetsTheFileAndCountsTheRestart) {
  JobId id = running_job();
  progress(id, 600, true);
  TransferEvent ev = event_for(id, TransferEvent::Kind::Restarted);
  ev.validators = Validators{"\"v2\"", "Wed, 01 Jan 2026 00:00:00 GMT"};
  ev.bytes_total = 3000;
  const int file_writes = store.update_file_calls;
  transfer.synced[id] = 0;
  engine().on_transfer_event(ev);
  JobRecord r = rec(id);
  EXPECT_EQ(r.files[0].bytes_transferred, 0U);
  EXPECT_EQ(r.files[0].restarts, 1U);
  EXPECT_EQ(r.files[0].validators.etag, "\"v2\"");
  EXPECT_EQ(r.files[0].bytes_total, 3000U);
  EXPECT_EQ(r.state, JobState::Transferring);
  EXPECT_EQ(store.update_file_calls, file_writes + 1);
  EXPECT_EQ(store.rows[id].files[0].bytes_transferred, 0U);
  EXPECT_EQ(store.rows[id].files[0].restarts, 1U);
  // A later stop reports from the new start, and a suspend/resume resumes from there.
  progress(id, 50, true);
  ASSERT_HR(engine().suspend(kAlice, id), hr::SOk);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  EXPECT_EQ(transfer.last_start(id).resume_from, 50U);
  EXPECT_EQ(rec(id).files[0].restarts, 1U);
}

TEST_F(EventsTest, FileDoneThatCannotBeRecordedIsATransientError) {
  JobId id = running_job();
  store.fail_next(Error::from_errno(EIO, "disk"));
  file_done(id);
  EXPECT_EQ(state(id), JobState::TransientError);
  EXPECT_EQ(sink.count(Event::Kind::JobTransferred, id), 0U);
}

TEST_F(EventsTest, ASecondConnectedKeepsTransferring) {
  JobId id = running_job();
  connected(id, 1000);
  EXPECT_EQ(state(id), JobState::Transferring);
}

TEST_F(EventsTest, ProgressIsModification) {
  JobId id = running_job();
  const std::size_t mods = sink.count(Event::Kind::JobModification, id);
  progress(id, 10, false);
  EXPECT_EQ(sink.count(Event::Kind::JobModification, id), mods + 1);
}

// ---- FileDone before its sync (the transfer syncs on another thread) ----

TEST_F(EventsTest, TheNextFileStartsBeforeTheSyncAndTheRecordWaitsForIt) {
  JobId id = running_job(2);
  const std::uint64_t t0 = file_done_unsynced(id);
  EXPECT_EQ(transfer.last_start(id).file_index, 1U) << "no wait for the flush";
  EXPECT_TRUE(rec(id).files[0].transferred) << "in memory it is done";
  EXPECT_FALSE(store.rows[id].files[0].transferred) << "not promised before it is durable";
  EXPECT_EQ(store.rows[id].files[0].bytes_transferred, 0U);
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().description("a full persist meanwhile")),
            hr::SOk);
  EXPECT_FALSE(store.rows[id].files[0].transferred) << "a whole-job write keeps the promise";

  synced(id, t0, 0);
  EXPECT_TRUE(store.rows[id].files[0].transferred);
  EXPECT_EQ(store.rows[id].files[0].bytes_transferred, 1000U);
  EXPECT_EQ(state(id), JobState::Connecting) << "file 1 still runs";
}

TEST_F(EventsTest, TransferredWaitsForTheLastSync) {
  JobId id = running_job(2);
  const std::uint64_t t0 = file_done_unsynced(id);
  connected(id);
  const std::uint64_t t1 = file_done_unsynced(id);
  EXPECT_EQ(state(id), JobState::Transferring);
  EXPECT_EQ(sink.count(Event::Kind::JobTransferred, id), 0U);
  engine().tick();  // the scheduler must leave a job that waits for its syncs alone
  EXPECT_EQ(transfer.start_count(id), 2U);

  synced(id, t1, 1);
  EXPECT_EQ(state(id), JobState::Transferring) << "file 0 is not synced yet";
  synced(id, t0, 0);
  EXPECT_EQ(state(id), JobState::Transferred);
  EXPECT_EQ(sink.count(Event::Kind::JobTransferred, id), 1U);
  EXPECT_EQ(store.rows[id].state, JobState::Transferred);
  EXPECT_TRUE(store.rows[id].files[0].transferred);
  EXPECT_TRUE(store.rows[id].files[1].transferred);
}

TEST_F(EventsTest, AFailedSyncSendsTheFileBackToItsCheckpointAndTheJobToError) {
  JobId id = running_job(2);
  progress(id, 400, true);
  const std::uint64_t t0 = file_done_unsynced(id);
  ASSERT_TRUE(transfer.is_running(id)) << "file 1 started";
  synced(id, t0, 0, 1000, Error::from_errno(EIO, "fdatasync"));
  EXPECT_EQ(state(id), JobState::Error);
  EXPECT_FALSE(transfer.is_running(id)) << "the later file stops with the job";
  const JobRecord r = rec(id);
  EXPECT_FALSE(r.files[0].transferred);
  EXPECT_EQ(r.files[0].bytes_transferred, 400U) << "back to the last durable checkpoint";
  EXPECT_FALSE(store.rows[id].files[0].transferred);
  ASSERT_TRUE(engine().get_error(kAlice, id).ok());
  EXPECT_EQ(engine().get_error(kAlice, id)->error.file_index, 0U);

  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  EXPECT_EQ(transfer.last_start(id).file_index, 0U);
  EXPECT_EQ(transfer.last_start(id).resume_from, 400U);
}

TEST_F(EventsTest, ASuspendWhileSyncingKeepsTheSyncAndResumeFinishes) {
  JobId id = running_job(1);
  const std::uint64_t t0 = file_done_unsynced(id);
  ASSERT_HR(engine().suspend(kAlice, id), hr::SOk);
  EXPECT_EQ(state(id), JobState::Suspended);
  synced(id, t0, 0);
  EXPECT_EQ(state(id), JobState::Suspended);
  EXPECT_TRUE(store.rows[id].files[0].transferred);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  EXPECT_EQ(state(id), JobState::Transferred);
  EXPECT_EQ(transfer.start_count(id), 1U) << "nothing fetched twice";
}

TEST_F(EventsTest, ResumeOfASuspendedJobStillSyncingWaitsForTheSync) {
  JobId id = running_job(1);
  const std::uint64_t t0 = file_done_unsynced(id);
  ASSERT_HR(engine().suspend(kAlice, id), hr::SOk);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  EXPECT_EQ(state(id), JobState::Transferring) << "not TRANSFERRED before the bytes are durable";
  synced(id, t0, 0);
  EXPECT_EQ(state(id), JobState::Transferred);
}

TEST_F(EventsTest, CompleteWhileSyncingMovesTheFileAndALateSyncIsIgnored) {
  JobId id = running_job(1);
  const std::uint64_t t0 = file_done_unsynced(id);
  EXPECT_HR(engine().complete(kAlice, id), hr::SOk);  // finalize syncs the file itself
  EXPECT_TRUE(staging.was_finalized(spec(0).local_path));
  EXPECT_FALSE(exists(id));
  const int writes = store.mutating_calls();
  synced(id, t0, 0);
  EXPECT_EQ(store.mutating_calls(), writes);
}

TEST_F(EventsTest, ASyncedEventOfAnotherTransferIsIgnored) {
  JobId id = running_job(2);
  const std::uint64_t t0 = file_done_unsynced(id);
  const int writes = store.mutating_calls();
  synced(id, t0 + 100, 0);  // not the transfer that finished file 0
  synced(id, t0, 1);        // file 1 never finished
  EXPECT_EQ(store.mutating_calls(), writes);
  EXPECT_FALSE(store.rows[id].files[0].transferred);
}

TEST_F(EventsTest, AFileAddedWhileTheLastSyncRunsIsFetchedAfterIt) {
  JobId id = running_job(1);
  const std::uint64_t t0 = file_done_unsynced(id);
  ASSERT_HR(engine().add_files(kAlice, id, {spec(1)}), hr::SOk);
  synced(id, t0, 0);
  EXPECT_EQ(transfer.last_start(id).file_index, 1U);
  EXPECT_NE(state(id), JobState::Transferred);
}

TEST_F(EventsTest, ASyncThatCannotBeRecordedIsATransientErrorNotTransferred) {
  JobId id = running_job(1);
  const std::uint64_t t0 = file_done_unsynced(id);
  store.fail_next(Error::from_errno(EROFS, "store"), 3);  // update_file and the error's persist
  synced(id, t0, 0);
  EXPECT_EQ(state(id), JobState::TransientError) << "no TRANSFERRED without a record";
  EXPECT_FALSE(rec(id).files[0].transferred);
  EXPECT_EQ(rec(id).files[0].bytes_transferred, 1000U) << "its bytes are durable";
}

TEST_F(EventsTest, AFailedSyncOfASuspendedJobLeavesItSuspended) {
  JobId id = running_job(1);
  const std::uint64_t t0 = file_done_unsynced(id);
  ASSERT_HR(engine().suspend(kAlice, id), hr::SOk);
  synced(id, t0, 0, 1000, Error::from_errno(EIO, "fdatasync"));
  EXPECT_EQ(state(id), JobState::Suspended);
  EXPECT_FALSE(rec(id).files[0].transferred);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  EXPECT_EQ(transfer.last_start(id).file_index, 0U) << "fetched again";
}

TEST_F(EventsTest, ShutdownRecordsTheSyncsThatFinishedAfterTheLoopStopped) {
  // The daemon stops its loop, lets the transfer port finish the queued final syncs and hands
  // their Synced events to shutdown(): both files are recorded, not fetched again later.
  JobId id = running_job(2);
  const std::uint64_t t0 = file_done_unsynced(id);
  connected(id);
  const std::uint64_t t1 = file_done_unsynced(id);
  ASSERT_FALSE(store.rows[id].files[0].transferred);
  auto synced_event = [&](std::uint64_t transfer_id, std::uint32_t index) {
    TransferEvent ev;
    ev.job = id;
    ev.kind = TransferEvent::Kind::Synced;
    ev.transfer_id = transfer_id;
    ev.file_index = index;
    ev.bytes_transferred = 1000;
    ev.durable = true;
    return ev;
  };
  const std::vector<TransferEvent> late{synced_event(t0, 0), synced_event(t1, 1)};
  engine().shutdown(late);
  EXPECT_TRUE(store.rows[id].files[0].transferred);
  EXPECT_TRUE(store.rows[id].files[1].transferred);
  EXPECT_EQ(store.rows[id].files[1].bytes_transferred, 1000U);
  EXPECT_EQ(store.rows[id].state, JobState::Transferred);
}

TEST_F(EventsTest, ShutdownAppliesLateEventsButStartsNothing) {
  JobId id = running_job(2);
  TransferEvent done = event_for(id, TransferEvent::Kind::FileDone);
  done.bytes_transferred = 1000;
  done.bytes_total = 1000;
  done.durable = true;
  transfer.finished(id);
  const std::size_t starts = transfer.starts.size();
  engine().shutdown(std::vector<TransferEvent>{done});
  EXPECT_TRUE(store.rows[id].files[0].transferred) << "the late FileDone is recorded";
  EXPECT_EQ(transfer.starts.size(), starts) << "file 1 does not start during shutdown";
  EXPECT_FALSE(transfer.is_running(id));
  EXPECT_TRUE(is_active(store.rows[id].state)) << "load() queues it again";
}

}  // namespace
}  // namespace bgcopy::engine::test
