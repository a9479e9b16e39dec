// Scheduling (bits-do-spec section 4.3): foreground jobs all at once, background jobs by strict
// priority with at most max_background_jobs running, round-robin slices among equals, files of
// a job in the order added.
#include "engine_fixture.hpp"

#include <gmock/gmock.h>

namespace bgcopy::engine::test {
namespace {

using std::chrono::seconds;
using ::testing::ElementsAre;

class SchedulerTest : public EngineTest {
 protected:
  /// A SUSPENDED one-file job at the given priority (files spec(first)).
  JobId job_at(JobPriority p, int first) {
    JobId id = make_job(1, kAlice, first);
    EXPECT_HR(engine().set_settings(kAlice, id, Patch().priority(p)), hr::SOk);
    return id;
  }
  JobId resumed_at(JobPriority p, int first) {
    JobId id = job_at(p, first);
    EXPECT_HR(engine().resume(kAlice, id), hr::SOk);
    return id;
  }
};

TEST_F(SchedulerTest, EveryForegroundJobRunsAtOnceBesideOneBackgroundJob) {
  JobId bg1 = resumed_at(JobPriority::Normal, 0);
  JobId bg2 = resumed_at(JobPriority::Low, 1);
  JobId fg1 = resumed_at(JobPriority::Foreground, 2);
  JobId fg2 = resumed_at(JobPriority::Foreground, 3);
  JobId fg3 = resumed_at(JobPriority::Foreground, 4);
  for (const JobId& id : {fg1, fg2, fg3, bg1}) {
    EXPECT_EQ(state(id), JobState::Connecting);
    EXPECT_TRUE(transfer.is_running(id));
  }
  EXPECT_EQ(state(bg2), JobState::Queued);
  EXPECT_EQ(view(bg2).wait_reason, WaitReason::WaitingForSlot);
  EXPECT_FALSE(transfer.is_running(bg2));
  EXPECT_EQ(transfer.running.size(), 4U);
  EXPECT_TRUE(transfer.stops.empty());
}

TEST_F(SchedulerTest, AtMostOneBackgroundJobByDefault) {
  JobId a = resumed_at(JobPriority::Normal, 0);
  JobId b = resumed_at(JobPriority::Normal, 1);
  JobId c = resumed_at(JobPriority::Normal, 2);
  EXPECT_EQ(state(a), JobState::Connecting);
  EXPECT_EQ(state(b), JobState::Queued);
  EXPECT_EQ(state(c), JobState::Queued);
  EXPECT_EQ(transfer.running.size(), 1U);
  // When a finishes, b (first in line) runs, then c.
  connected(a);
  file_done(a);
  EXPECT_EQ(state(b), JobState::Connecting);
  EXPECT_EQ(state(c), JobState::Queued);
  connected(b);
  fail(b, false);  // ERROR frees the slot too
  EXPECT_EQ(state(c), JobState::Connecting);
}

TEST_F(SchedulerTest, MaxBackgroundJobsTwo) {
  config.max_background_jobs = 2;
  JobId a = resumed_at(JobPriority::Normal, 0);
  JobId b = resumed_at(JobPriority::Normal, 1);
  JobId c = resumed_at(JobPriority::Normal, 2);
  EXPECT_EQ(state(a), JobState::Connecting);
  EXPECT_EQ(state(b), JobState::Connecting);
  EXPECT_EQ(state(c), JobState::Queued);
  EXPECT_EQ(transfer.running.size(), 2U);
  connected(a);
  fail(a, true);  // TRANSIENT_ERROR frees the slot
  EXPECT_EQ(state(c), JobState::Connecting);
  EXPECT_EQ(transfer.running.size(), 2U);
}

TEST_F(SchedulerTest, AHigherPriorityJobPreemptsARunningOne) {
  JobId normal = running_job();
  progress(normal, 400, true);
  transfer.durable_on_stop[normal] = 450;
  JobId high = resumed_at(JobPriority::High, 10);
  EXPECT_EQ(state(high), JobState::Connecting);
  EXPECT_EQ(state(normal), JobState::Queued);
  EXPECT_EQ(view(normal).wait_reason, WaitReason::WaitingForSlot);
  EXPECT_EQ(transfer.stop_count(normal), 1U);
  EXPECT_FALSE(transfer.is_running(normal));
  EXPECT_EQ(rec(normal).files[0].bytes_transferred, 450U);  // partial data kept
  EXPECT_TRUE(sink.saw_state(normal, JobState::Queued));

  // Events from the preempted transfer are stale now.
  progress(normal, 999, true);
  connected(normal);
  EXPECT_EQ(state(normal), JobState::Queued);
  EXPECT_EQ(rec(normal).files[0].bytes_transferred, 450U);
  connected(high);
  file_done(high);
  EXPECT_EQ(state(normal), JobState::Connecting);
  EXPECT_EQ(transfer.last_start(normal).resume_from, 450U);
}

TEST_F(SchedulerTest, StrictPriorityOrderAmongWaitingJobs) {
  JobId blocker = running_job();
  JobId low = resumed_at(JobPriority::Low, 1);
  JobId normal = resumed_at(JobPriority::Normal, 2);
  JobId high = resumed_at(JobPriority::High, 3);
  // The HIGH job preempted the running NORMAL one; LOW waits behind both NORMALs.
  EXPECT_EQ(state(high), JobState::Connecting);
  EXPECT_EQ(state(blocker), JobState::Queued);
  EXPECT_EQ(state(normal), JobState::Queued);
  EXPECT_EQ(state(low), JobState::Queued);
  connected(high);
  file_done(high);
  EXPECT_EQ(state(blocker), JobState::Connecting);  // first NORMAL in line
  connected(blocker);
  file_done(blocker);
  EXPECT_EQ(state(normal), JobState::Connecting);
  EXPECT_EQ(state(low), JobState::Queued);
  connected(normal);
  file_done(normal);
  EXPECT_EQ(state(low), JobState::Connecting);
}

TEST_F(SchedulerTest, ALowerPriorityJobDoesNotPreempt) {
  JobId normal = running_job();
  JobId low = resumed_at(JobPriority::Low, 1);
  EXPECT_EQ(state(normal), JobState::Transferring);
  EXPECT_EQ(state(low), JobState::Queued);
  EXPECT_TRUE(transfer.stops.empty());
}

TEST_F(SchedulerTest, SettingPriorityReschedules) {
  JobId a = running_job();
  JobId b = resumed_at(JobPriority::Normal, 1);
  ASSERT_EQ(state(b), JobState::Queued);
  ASSERT_HR(engine().set_settings(kAlice, b, Patch().priority(JobPriority::High)), hr::SOk);
  EXPECT_EQ(state(b), JobState::Connecting);
  EXPECT_EQ(state(a), JobState::Queued);
  EXPECT_EQ(transfer.stop_count(a), 1U);
  // Lowering it again gives the slot back to a (which is ahead in line).
  ASSERT_HR(engine().set_settings(kAlice, b, Patch().priority(JobPriority::Low)), hr::SOk);
  EXPECT_EQ(state(a), JobState::Connecting);
  EXPECT_EQ(state(b), JobState::Queued);
}

TEST_F(SchedulerTest, MakingABackgroundJobForegroundRunsItAtOnce) {
  JobId a = running_job();
  JobId b = resumed_at(JobPriority::Low, 1);
  ASSERT_HR(engine().set_settings(kAlice, b, Patch().priority(JobPriority::Foreground)), hr::SOk);
  EXPECT_EQ(state(b), JobState::Connecting);
  EXPECT_EQ(state(a), JobState::Transferring);
}

TEST_F(SchedulerTest, EqualJobsShareTheSlotInTimeSlices) {
  config.time_slice_s = 300;
  JobId a = running_job();
  progress(a, 100, true);
  JobId b = resumed_at(JobPriority::Normal, 1);
  ASSERT_EQ(state(b), JobState::Queued);
  advance_and_tick(seconds(299));
  EXPECT_EQ(state(a), JobState::Transferring);
  EXPECT_EQ(state(b), JobState::Queued);
  advance_and_tick(seconds(1));
  EXPECT_EQ(state(a), JobState::Queued);
  EXPECT_EQ(transfer.stop_count(a), 1U);
  EXPECT_EQ(state(b), JobState::Connecting);
  connected(b);
  advance_and_tick(seconds(299));
  EXPECT_EQ(state(b), JobState::Transferring);
  advance_and_tick(seconds(1));
  EXPECT_EQ(state(b), JobState::Queued);
  EXPECT_EQ(state(a), JobState::Connecting);
  EXPECT_EQ(transfer.last_start(a).resume_from, 100U);
}

TEST_F(SchedulerTest, RoundRobinVisitsEveryEqualJob) {
  config.time_slice_s = 60;
  JobId a = resumed_at(JobPriority::Normal, 0);
  JobId b = resumed_at(JobPriority::Normal, 1);
  JobId c = resumed_at(JobPriority::Normal, 2);
  std::vector<JobId> order;
  for (int i = 0; i < 6; ++i) {
    for (const JobId& id : {a, b, c}) {
      if (transfer.is_running(id)) order.push_back(id);
    }
    advance_and_tick(seconds(60));
  }
  EXPECT_THAT(order, ElementsAre(a, b, c, a, b, c));
}

TEST_F(SchedulerTest, NoRotationWithoutAnEqualJobWaiting) {
  config.time_slice_s = 300;
  JobId a = running_job();
  JobId low = resumed_at(JobPriority::Low, 1);  // waiting, but not equal
  advance_and_tick(seconds(1000));
  EXPECT_EQ(state(a), JobState::Transferring);
  EXPECT_EQ(state(low), JobState::Queued);
  EXPECT_TRUE(transfer.stops.empty());
  EXPECT_EQ(transfer.start_count(a), 1U);
}

TEST_F(SchedulerTest, ForegroundJobsAreNotSliced) {
  config.time_slice_s = 10;
  JobId a = resumed_at(JobPriority::Foreground, 0);
  JobId b = resumed_at(JobPriority::Foreground, 1);
  advance_and_tick(seconds(100));
  EXPECT_EQ(state(a), JobState::Connecting);
  EXPECT_EQ(state(b), JobState::Connecting);
  EXPECT_TRUE(transfer.stops.empty());
}

TEST_F(SchedulerTest, FilesStartInTheOrderAdded) {
  JobId id = make_job(3);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  std::vector<std::uint32_t> indices;
  for (int i = 0; i < 3; ++i) {
    TransferRequest req = transfer.last_start(id);
    indices.push_back(req.file_index);
    EXPECT_EQ(req.file.spec, spec(i));
    EXPECT_EQ(req.resume_from, 0U);
    connected(id);
    EXPECT_EQ(transfer.start_count(id), static_cast<std::size_t>(i + 1));  // not before FileDone
    file_done(id);
  }
  EXPECT_THAT(indices, ElementsAre(0U, 1U, 2U));
  EXPECT_EQ(state(id), JobState::Transferred);
}

TEST_F(SchedulerTest, AFileFailureStopsTheJobAndResumeContinuesWithThatFile) {
  JobId id = running_job(3);
  file_done(id);
  connected(id);
  progress(id, 200, true);
  fail(id, false);
  EXPECT_EQ(state(id), JobState::Error);
  EXPECT_EQ(engine().get_error(kAlice, id)->error.file_index, 1U);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  TransferRequest req = transfer.last_start(id);
  EXPECT_EQ(req.file_index, 1U);
  EXPECT_EQ(req.resume_from, 200U);
}

TEST_F(SchedulerTest, BackgroundBandwidthLimitAppliesOnlyToBackgroundJobs) {
  config.background_bandwidth_bps = 1'000'000;
  JobId fg = resumed_at(JobPriority::Foreground, 0);
  JobId bg = resumed_at(JobPriority::Normal, 1);
  EXPECT_EQ(transfer.last_start(fg).max_recv_bps, 0U);
  EXPECT_EQ(transfer.last_start(bg).max_recv_bps, 1'000'000U);
}

TEST_F(SchedulerTest, BackgroundBandwidthIsSharedByRunningBackgroundJobs) {
  config.background_bandwidth_bps = 1'000'000;
  config.max_background_jobs = 2;
  JobId a = resumed_at(JobPriority::Normal, 0);
  JobId b = resumed_at(JobPriority::Normal, 1);
  EXPECT_EQ(transfer.last_rate_limit(a), 500'000U);
  EXPECT_EQ(transfer.last_rate_limit(b), 500'000U);
}

TEST_F(SchedulerTest, ChangingPriorityMovesAJobInOrOutOfTheBandwidthLimit) {
  config.background_bandwidth_bps = 1'000'000;
  JobId id = running_job();
  ASSERT_EQ(transfer.last_start(id).max_recv_bps, 1'000'000U);
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().priority(JobPriority::Foreground)), hr::SOk);
  EXPECT_EQ(transfer.last_rate_limit(id), 0U);  // foreground: unlimited
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().priority(JobPriority::Low)), hr::SOk);
  EXPECT_EQ(transfer.last_rate_limit(id), 1'000'000U);
}

TEST_F(SchedulerTest, SuspendingTheRunningJobLetsTheNextOneRun) {
  JobId a = running_job();
  JobId b = resumed_at(JobPriority::Normal, 1);
  ASSERT_HR(engine().suspend(kAlice, a), hr::SOk);
  EXPECT_EQ(state(b), JobState::Connecting);
  ASSERT_HR(engine().resume(kAlice, a), hr::SOk);
  EXPECT_EQ(state(a), JobState::Queued);  // now behind b
}

TEST_F(SchedulerTest, ARetryRejoinsTheQueueBehindWaitingJobs) {
  JobId a = running_job();
  ASSERT_HR(engine().set_settings(kAlice, a, Patch().min_retry_delay_s(5)), hr::SOk);
  fail(a, true);
  JobId b = resumed_at(JobPriority::Normal, 1);
  ASSERT_EQ(state(b), JobState::Connecting);
  advance_and_tick(seconds(5));
  EXPECT_EQ(state(a), JobState::Queued);  // retry due, but the slot is taken
  EXPECT_EQ(state(b), JobState::Connecting);
}

// ---- files ahead (TransferRequest::ahead) ----

std::vector<std::uint32_t> ahead_indexes(const TransferRequest& r) {
  std::vector<std::uint32_t> out;
  for (const auto& a : r.ahead) out.push_back(a.file_index);
  return out;
}

TEST_F(SchedulerTest, AForegroundJobListsItsNextFilesAheadInOrder) {
  config.files_ahead = 2;
  JobId id = make_job(4);
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().priority(JobPriority::Foreground)), hr::SOk);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  TransferRequest first = transfer.last_start(id);
  EXPECT_EQ(first.file_index, 0U);
  EXPECT_THAT(ahead_indexes(first), ElementsAre(1U, 2U));
  EXPECT_EQ(first.ahead[0].file.spec, spec(1));
  EXPECT_EQ(first.ahead[0].resume_from, 0U);
  connected(id);
  file_done(id);
  EXPECT_THAT(ahead_indexes(transfer.last_start(id)), ElementsAre(2U, 3U));
  connected(id);
  file_done(id);
  EXPECT_THAT(ahead_indexes(transfer.last_start(id)), ElementsAre(3U));
  connected(id);
  file_done(id);
  EXPECT_TRUE(transfer.last_start(id).ahead.empty()) << "the last file has nothing after it";
}

TEST_F(SchedulerTest, FilesAheadNeverListTheCurrentOrATransferredFile) {
  config.files_ahead = 8;
  JobId id = make_job(3);
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().priority(JobPriority::Foreground)), hr::SOk);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  connected(id);
  progress(id, 300, true);
  // Suspended mid-file: file 0 resumes from its 300 durable bytes and lists 1 and 2.
  ASSERT_HR(engine().suspend(kAlice, id), hr::SOk);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  TransferRequest again = transfer.last_start(id);
  EXPECT_EQ(again.file_index, 0U);
  EXPECT_EQ(again.resume_from, 300U);
  EXPECT_THAT(ahead_indexes(again), ElementsAre(1U, 2U));
  connected(id);
  file_done_unsynced(id);  // file 0 transferred (its sync pending): never listed again
  TransferRequest next = transfer.last_start(id);
  EXPECT_EQ(next.file_index, 1U);
  EXPECT_THAT(ahead_indexes(next), ElementsAre(2U));
}

TEST_F(SchedulerTest, BackgroundJobsAndAZeroSettingFetchOneFileAtATime) {
  config.files_ahead = 8;
  JobId background = make_job(3);
  ASSERT_HR(engine().resume(kAlice, background), hr::SOk);  // NORMAL
  EXPECT_TRUE(transfer.last_start(background).ahead.empty());
  JobId foreground = make_job(3, kAlice, 10);
  ASSERT_HR(engine().set_settings(kAlice, foreground, Patch().priority(JobPriority::Foreground)),
            hr::SOk);
  ASSERT_HR(engine().resume(kAlice, foreground), hr::SOk);
  EXPECT_EQ(transfer.last_start(foreground).ahead.size(), 2U);
}

TEST_F(SchedulerTest, ZeroFilesAheadListsNone) {
  config.files_ahead = 0;
  JobId id = make_job(3);
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().priority(JobPriority::Foreground)), hr::SOk);
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  EXPECT_TRUE(transfer.last_start(id).ahead.empty());
}

}  // namespace
}  // namespace bgcopy::engine::test
