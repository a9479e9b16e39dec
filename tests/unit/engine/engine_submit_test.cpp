// submit_job: create, priority, add and resume as one step with one store write; nothing is
// stored, announced or started before it succeeded, and nothing is left after a failure.
#include "engine_fixture.hpp"

#include <gmock/gmock.h>

namespace bgcopy::engine::test {
namespace {

class SubmitTest : public EngineTest {
 protected:
  /// Nothing of a failed submission anywhere: no row, no event, no start, no listed job.
  void expect_no_trace() {
    EXPECT_TRUE(store.rows.empty());
    EXPECT_TRUE(sink.events.empty());
    EXPECT_TRUE(transfer.starts.empty());
    auto list = engine().enum_jobs(kAlice, false);
    ASSERT_TRUE(list.ok());
    EXPECT_TRUE(list->empty());
  }
};

Result<JobView> submit(Engine& e, std::vector<FileSpec> files, bool start = true,
                       std::optional<JobPriority> priority = std::nullopt,
                       const Caller& caller = kAlice) {
  return e.submit_job(caller, "batch", JobType::Download, priority, std::move(files), start);
}

TEST_F(SubmitTest, AWholeJobIsWrittenOnceThenAnnouncedAndStarted) {
  engine();  // loaded
  const int writes_before = store.mutating_calls();
  auto view = submit(engine(), {spec(0), spec(1)}, true, JobPriority::High);
  ASSERT_TRUE(view.ok()) << view.error().message;
  const JobId id = view->record.id;
  EXPECT_EQ(store.mutating_calls() - writes_before, 1) << "one insert, no updates";
  EXPECT_EQ(store.insert_calls, 1);
  ASSERT_EQ(store.rows.count(id), 1U);
  const JobRecord& row = store.rows.at(id);
  EXPECT_EQ(row.files.size(), 2U) << "the row carries its files";
  EXPECT_EQ(row.settings.priority, JobPriority::High);
  EXPECT_EQ(row.state, JobState::Queued);
  EXPECT_EQ(view->record.settings.display_name, "batch");
  EXPECT_EQ(transfer.start_count(id), 1U) << "started after the insert";
  EXPECT_EQ(state(id), JobState::Connecting);
  EXPECT_GE(sink.count(Event::Kind::JobModification, id), 1U);
}

TEST_F(SubmitTest, WithoutStartTheJobWaitsSuspendedWithItsFiles) {
  auto view = submit(engine(), {spec(0)}, false);
  ASSERT_TRUE(view.ok()) << view.error().message;
  const JobId id = view->record.id;
  EXPECT_EQ(state(id), JobState::Suspended);
  EXPECT_EQ(rec(id).files.size(), 1U);
  EXPECT_EQ(transfer.start_count(id), 0U);
  EXPECT_EQ(store.insert_calls, 1);
  EXPECT_EQ(store.update_calls, 0);
}

TEST_F(SubmitTest, AFailingStepLeavesNoJobNoRowNoEventAndNoStart) {
  engine();
  FileSpec bad = spec(1);
  bad.remote_url = "gopher://example.com/x";
  auto view = submit(engine(), {spec(0), bad});
  ASSERT_FALSE(view.ok());
  EXPECT_EQ(view.error().code, hr::EInvalidArg);
  EXPECT_EQ(store.mutating_calls(), 0);
  expect_no_trace();
}

TEST_F(SubmitTest, AStoreFailureAtTheEndLeavesNothingEitherAndFreesTheSlot) {
  config.max_jobs_per_user = 1;
  engine();
  store.fail_next(Error::make(hresult_from_errno(ENOSPC), "disk full"));
  auto view = submit(engine(), {spec(0)});
  ASSERT_FALSE(view.ok());
  EXPECT_EQ(view.error().code, hresult_from_errno(ENOSPC));
  expect_no_trace();
  // The failed job does not count against the per-user limit.
  auto again = submit(engine(), {spec(0)});
  EXPECT_TRUE(again.ok()) << again.error().message;
}

TEST_F(SubmitTest, StartWithoutFilesIsRefusedAsResumeWouldBe) {
  auto view = submit(engine(), {}, true);
  ASSERT_FALSE(view.ok());
  EXPECT_EQ(view.error().code, hr::DoEJobEmpty);
  EXPECT_TRUE(store.rows.empty());
}

TEST_F(SubmitTest, OtherCallsInBetweenAreUnaffected) {
  // A job made the ordinary way is written as before, also after a submission.
  JobId plain = create();
  ASSERT_TRUE(submit(engine(), {spec(0)}).ok());
  const int updates = store.update_calls;
  ASSERT_HR(engine().add_files(kAlice, plain, {spec(5)}), hr::SOk);
  EXPECT_EQ(store.update_calls, updates + 1);
  EXPECT_EQ(sink.count(Event::Kind::JobModification, plain), 1U);
}

}  // namespace
}  // namespace bgcopy::engine::test
