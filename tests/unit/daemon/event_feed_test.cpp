#include "daemon/event_feed.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace bgcopy::daemon {
namespace {

using namespace std::chrono_literals;

JobEvent ev(EventType type, const std::string& job, JobState state = JobState::Transferring) {
  JobEvent e;
  e.type = type;
  e.job_id = job;
  e.state = state;
  return e;
}

class EventFeedTest : public ::testing::Test {
 protected:
  std::atomic<std::uint64_t> seq_{0};
  MonoTime t0_{std::chrono::hours(1)};
};

TEST_F(EventFeedTest, FirstModificationGoesOutAtOnceLaterOnesAreCoalesced) {
  EventFeed feed(seq_, 100, 500ms);
  EXPECT_TRUE(feed.offer(ev(EventType::JobModification, "A", JobState::Queued), t0_));
  EXPECT_FALSE(feed.offer(ev(EventType::JobModification, "A", JobState::Connecting), t0_ + 10ms))
      << "already woken";
  auto b = feed.take(t0_ + 20ms);
  ASSERT_EQ(b.events.size(), 1U);
  EXPECT_EQ(b.events[0].state, JobState::Queued);
  ASSERT_TRUE(b.next_flush.has_value());
  EXPECT_EQ(*b.next_flush, t0_ + 500ms);

  // More changes within the window replace the held one.
  EXPECT_FALSE(feed.offer(ev(EventType::JobModification, "A", JobState::Transferring), t0_ + 100ms))
      << "a replaced hold keeps its deadline";
  EXPECT_TRUE(feed.take(t0_ + 499ms).events.empty());
  b = feed.take(t0_ + 500ms);
  ASSERT_EQ(b.events.size(), 1U);
  EXPECT_EQ(b.events[0].state, JobState::Transferring) << "the latest state is sent";
  EXPECT_FALSE(b.next_flush.has_value());
}

TEST_F(EventFeedTest, NonCoalescedEventsAlwaysPassAndDropTheStaleHold) {
  EventFeed feed(seq_, 100, 500ms);
  feed.offer(ev(EventType::JobModification, "A"), t0_);
  feed.offer(ev(EventType::JobModification, "A"), t0_ + 1ms);  // held
  feed.offer(ev(EventType::FileTransferred, "A"), t0_ + 2ms);
  feed.offer(ev(EventType::FileTransferred, "A"), t0_ + 3ms);
  feed.offer(ev(EventType::JobTransferred, "A", JobState::Transferred), t0_ + 4ms);
  auto b = feed.take(t0_ + 1s);
  ASSERT_EQ(b.events.size(), 4U);
  EXPECT_EQ(b.events[0].type, EventType::JobModification);
  EXPECT_EQ(b.events[1].type, EventType::FileTransferred);
  EXPECT_EQ(b.events[2].type, EventType::FileTransferred);
  EXPECT_EQ(b.events[3].type, EventType::JobTransferred);
  for (std::size_t i = 1; i < b.events.size(); ++i) {
    EXPECT_GT(b.events[i].seq, b.events[i - 1].seq);
  }
}

TEST_F(EventFeedTest, JobsAreCoalescedIndependently) {
  EventFeed feed(seq_, 100, 500ms);
  feed.offer(ev(EventType::JobModification, "A"), t0_);
  feed.offer(ev(EventType::JobModification, "B"), t0_);
  feed.offer(ev(EventType::JobModification, "A"), t0_ + 1ms);
  auto b = feed.take(t0_ + 2ms);
  EXPECT_EQ(b.events.size(), 2U);
  // After a quiet window the next change is immediate again.
  EXPECT_EQ(feed.take(t0_ + 600ms).events.size(), 1U);  // A's held one
  feed.offer(ev(EventType::JobModification, "B"), t0_ + 2s);
  EXPECT_EQ(feed.take(t0_ + 2s).events.size(), 1U);
}

TEST_F(EventFeedTest, FullQueueFoldsIntoOneModificationPerJobAndLosesNoJob) {
  EventFeed feed(seq_, 3, 500ms);
  feed.offer(ev(EventType::JobModification, "A", JobState::Queued), t0_);
  feed.offer(ev(EventType::JobError, "A", JobState::Error), t0_);
  feed.offer(ev(EventType::JobModification, "B", JobState::Queued), t0_);
  // Full: the three queued events fold into one held modification each for A and B.
  feed.offer(ev(EventType::JobTransferred, "C", JobState::Transferred), t0_);
  auto b = feed.take(t0_);
  ASSERT_EQ(b.events.size(), 3U) << "C's event, then one per folded job";
  EXPECT_EQ(b.folds, 1U);
  EXPECT_EQ(b.events[0].type, EventType::JobTransferred);
  EXPECT_EQ(b.events[0].job_id, "C");
  std::map<std::string, JobEvent> folded;
  for (std::size_t i = 1; i < b.events.size(); ++i) folded[b.events[i].job_id] = b.events[i];
  ASSERT_EQ(folded.count("A"), 1U);
  ASSERT_EQ(folded.count("B"), 1U);
  EXPECT_EQ(folded["A"].type, EventType::JobModification);
  EXPECT_EQ(folded["A"].state, JobState::Error) << "a fold carries the job's newest state";
  EXPECT_EQ(folded["B"].state, JobState::Queued);
  for (std::size_t i = 1; i < b.events.size(); ++i) {
    EXPECT_GT(b.events[i].seq, b.events[i - 1].seq);
  }

  // However far behind: every job that changed is announced, and memory stays one per job.
  for (int round = 0; round < 50; ++round) {
    for (const char* job : {"D", "E", "F", "G", "H"}) {
      feed.offer(ev(EventType::FileTransferred, job), t0_ + 1s);
    }
  }
  feed.offer(ev(EventType::JobModification, "A", JobState::Suspended), t0_ + 1s);
  b = feed.take(t0_ + 1s);
  EXPECT_GT(b.folds, 0U);
  std::set<std::string> seen;
  for (const auto& e : b.events) seen.insert(e.job_id);
  EXPECT_EQ(seen, (std::set<std::string>{"A", "D", "E", "F", "G", "H"}));
  EXPECT_LE(b.events.size(), 3U + 6U);
  EXPECT_EQ(feed.take(t0_ + 2s).events.size(), 0U) << "nothing is sent twice";
}

TEST_F(EventFeedTest, AHeldModificationSurvivesAFoldAsTheNewest) {
  EventFeed feed(seq_, 1, 500ms);
  feed.offer(ev(EventType::JobModification, "A", JobState::Queued), t0_);  // queued at once
  feed.offer(ev(EventType::JobModification, "A", JobState::Suspended), t0_ + 1ms);  // held
  feed.offer(ev(EventType::FileTransferred, "B"), t0_ + 2ms);  // full: folds A's first one
  auto b = feed.take(t0_ + 3ms);
  ASSERT_EQ(b.events.size(), 2U) << "B, then A's hold: what was queued for A never went out";
  EXPECT_EQ(b.events[0].job_id, "B");
  EXPECT_EQ(b.events[1].job_id, "A");
  EXPECT_EQ(b.events[1].state, JobState::Suspended) << "the hold was newer than the folded event";
}

TEST_F(EventFeedTest, SeqIsSharedAndIncreasing) {
  EventFeed a(seq_, 10, 500ms);
  EventFeed b(seq_, 10, 500ms);
  a.offer(ev(EventType::JobError, "A"), t0_);
  b.offer(ev(EventType::JobError, "A"), t0_);
  a.offer(ev(EventType::JobError, "B"), t0_);
  auto ea = a.take(t0_).events;
  auto eb = b.take(t0_).events;
  ASSERT_EQ(ea.size(), 2U);
  EXPECT_LT(ea[0].seq, ea[1].seq);
  EXPECT_NE(ea[0].seq, eb[0].seq);
}

}  // namespace
}  // namespace bgcopy::daemon
