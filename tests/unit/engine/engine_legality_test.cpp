// Which calls are legal in which state and for whom (bits-do-spec sections 2.1, 3.3, 4.5),
// and that a failed store write changes nothing.
#include "engine/validate.hpp"
#include "engine_fixture.hpp"

#include <gmock/gmock.h>

#include <functional>

namespace bgcopy::engine::test {
namespace {

using ::testing::UnorderedElementsAre;

using LegalityTest = EngineTest;

/// Every mutating call, run against one job id as `caller`, returning its code.
std::vector<std::pair<std::string, std::function<Hresult(Engine&, const Caller&, const JobId&)>>>
mutating_calls() {
  return {
      {"resume",
       [](Engine& e, const Caller& c, const JobId& id) { return code_of(e.resume(c, id)); }},
      {"suspend",
       [](Engine& e, const Caller& c, const JobId& id) { return code_of(e.suspend(c, id)); }},
      {"cancel",
       [](Engine& e, const Caller& c, const JobId& id) { return code_of(e.cancel(c, id)); }},
      {"complete",
       [](Engine& e, const Caller& c, const JobId& id) { return code_of(e.complete(c, id)); }},
      {"add_files", [](Engine& e, const Caller& c,
                       const JobId& id) { return code_of(e.add_files(c, id, {spec(99)})); }},
      {"set display_name",
       [](Engine& e, const Caller& c, const JobId& id) {
         return code_of(e.set_settings(c, id, Patch().display_name(std::string("renamed"))));
       }},
      {"set priority",
       [](Engine& e, const Caller& c, const JobId& id) {
         return code_of(e.set_settings(c, id, Patch().priority(JobPriority::High)));
       }},
      {"set min_retry_delay",
       [](Engine& e, const Caller& c, const JobId& id) {
         return code_of(e.set_settings(c, id, Patch().min_retry_delay_s(77)));
       }},
      {"set no_progress_timeout",
       [](Engine& e, const Caller& c, const JobId& id) {
         return code_of(e.set_settings(c, id, Patch().no_progress_timeout_s(77)));
       }},
  };
}

TEST_F(LegalityTest, EveryMutatingCallOnACancelledJobIsInvalidState) {
  for (const auto& [name, call] : mutating_calls()) {
    SCOPED_TRACE(name);
    JobId id = make_job(1);
    ASSERT_HR(engine().cancel(kAlice, id), hr::SOk);
    EXPECT_EQ(hr_str(call(engine(), kAlice, id)), hr_str(hr::DoEInvalidState));
    EXPECT_EQ(hr_str(call(engine(), kRoot, id)), hr_str(hr::DoEInvalidState));
  }
  EXPECT_EQ(hr::DoEInvalidState, 0x80D02013U);
}

TEST_F(LegalityTest, EveryMutatingCallOnAnAcknowledgedJobIsInvalidState) {
  for (const auto& [name, call] : mutating_calls()) {
    SCOPED_TRACE(name);
    JobId id = transferred_job();
    ASSERT_HR(engine().complete(kAlice, id), hr::SOk);
    EXPECT_EQ(hr_str(call(engine(), kAlice, id)), hr_str(hr::DoEInvalidState));
  }
}

TEST_F(LegalityTest, TakeOwnershipOfAFinalJobIsInvalidState) {
  JobId id = make_job(1);
  ASSERT_HR(engine().cancel(kAlice, id), hr::SOk);
  EXPECT_HR(engine().take_ownership(kRoot, id), hr::DoEInvalidState);
}

TEST_F(LegalityTest, FinalJobsAreNotFoundByLookupAndNotEnumerated) {
  JobId cancelled = make_job(1);
  JobId acknowledged = transferred_job();
  JobId live = make_job(1, kAlice, 30);
  ASSERT_HR(engine().cancel(kAlice, cancelled), hr::SOk);
  ASSERT_HR(engine().complete(kAlice, acknowledged), hr::SOk);
  for (const JobId& id : {cancelled, acknowledged}) {
    EXPECT_HR(engine().get_job(kAlice, id), hr::DoEJobNotFound);
    EXPECT_HR(engine().get_job(kRoot, id), hr::DoEJobNotFound);
    EXPECT_HR(engine().get_error(kAlice, id), hr::DoEJobNotFound);
  }
  EXPECT_EQ(hr::DoEJobNotFound, 0x80D02003U);
  auto mine = engine().enum_jobs(kAlice, false);
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 1U);
  EXPECT_EQ((*mine)[0].record.id, live);
  auto all = engine().enum_jobs(kRoot, true);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1U);
}

TEST_F(LegalityTest, AnUnknownIdIsNotFoundForEveryCall) {
  engine();
  const JobId unknown = JobId::generate();
  for (const auto& [name, call] : mutating_calls()) {
    SCOPED_TRACE(name);
    EXPECT_EQ(hr_str(call(engine(), kAlice, unknown)), hr_str(hr::DoEJobNotFound));
  }
  EXPECT_HR(engine().get_job(kAlice, unknown), hr::DoEJobNotFound);
  EXPECT_HR(engine().get_error(kAlice, unknown), hr::DoEJobNotFound);
  EXPECT_HR(engine().take_ownership(kRoot, unknown), hr::DoEJobNotFound);
}

TEST_F(LegalityTest, AnotherUserDoesNotLearnThatAFinalJobExisted) {
  JobId id = make_job(1);
  ASSERT_HR(engine().cancel(kAlice, id), hr::SOk);
  EXPECT_HR(engine().resume(kBob, id), hr::DoEJobNotFound);
  EXPECT_HR(engine().cancel(kBob, id), hr::DoEJobNotFound);
}

TEST_F(LegalityTest, FinalJobsAreRememberedPerOwnerSoOthersCannotEvictThem) {
  JobId mine = create(kAlice);
  ASSERT_HR(engine().cancel(kAlice, mine), hr::SOk);
  // Another user's churn does not push Alice's final job out of memory.
  for (std::size_t i = 0; i <= Engine::kMaxTombstonesPerOwner; ++i) {
    JobId other = create(kBob);
    ASSERT_HR(engine().cancel(kBob, other), hr::SOk);
  }
  EXPECT_HR(engine().resume(kAlice, mine), hr::DoEInvalidState);
  // Her own churn does, once she has that many newer final jobs: bounded memory.
  for (std::size_t i = 0; i < Engine::kMaxTombstonesPerOwner; ++i) {
    JobId newer = create(kAlice);
    ASSERT_HR(engine().cancel(kAlice, newer), hr::SOk);
  }
  EXPECT_HR(engine().resume(kAlice, mine), hr::DoEJobNotFound);
}

// ---- ownership ----

TEST_F(LegalityTest, AnotherUserIsDeniedEveryCall) {
  JobId id = make_job(1);
  for (const auto& [name, call] : mutating_calls()) {
    SCOPED_TRACE(name);
    EXPECT_EQ(hr_str(call(engine(), kBob, id)), hr_str(hr::EAccessDenied));
  }
  EXPECT_HR(engine().get_job(kBob, id), hr::EAccessDenied);
  EXPECT_HR(engine().get_error(kBob, id), hr::EAccessDenied);
  EXPECT_HR(engine().take_ownership(kBob, id), hr::EAccessDenied);
  EXPECT_EQ(hr::EAccessDenied, 0x80070005U);
  // And nothing changed.
  JobRecord r = rec(id);
  EXPECT_EQ(r.state, JobState::Suspended);
  EXPECT_EQ(r.files.size(), 1U);
  EXPECT_EQ(r.settings.display_name, "job");
  EXPECT_EQ(r.owner, kAlice.uid);
  EXPECT_TRUE(exists(id));
}

TEST_F(LegalityTest, RootMayDoEverythingToAnyJob) {
  JobId id = make_job(1);
  EXPECT_HR(engine().get_job(kRoot, id), hr::SOk);
  EXPECT_HR(engine().add_files(kRoot, id, {spec(1)}), hr::SOk);
  EXPECT_HR(engine().set_settings(kRoot, id, Patch().description(std::string("by root"))), hr::SOk);
  EXPECT_HR(engine().resume(kRoot, id), hr::SOk);
  EXPECT_EQ(state(id), JobState::Connecting);
  EXPECT_HR(engine().suspend(kRoot, id), hr::SOk);
  EXPECT_HR(engine().get_error(kRoot, id), hr::DoEErrorInformationUnavailable);
  EXPECT_EQ(rec(id).owner, kAlice.uid);  // root acting does not change the owner
  EXPECT_HR(engine().complete(kRoot, id), hr::BgSPartialComplete);
  JobId other = make_job(1, kAlice, 10);
  EXPECT_HR(engine().cancel(kRoot, other), hr::SOk);
}

TEST_F(LegalityTest, EnumJobsListsOnlyTheCallersJobsAndAllUsersIsRootOnly) {
  JobId a1 = create(kAlice, "a1");
  clock.advance(std::chrono::seconds(1));
  JobId b1 = create(kBob, "b1");
  clock.advance(std::chrono::seconds(1));
  JobId a2 = create(kAlice, "a2");
  auto mine = engine().enum_jobs(kAlice, false);
  ASSERT_TRUE(mine.ok());
  std::vector<JobId> ids;
  for (const auto& v : *mine) ids.push_back(v.record.id);
  EXPECT_EQ(ids, (std::vector<JobId>{a1, a2}));  // oldest first

  EXPECT_HR(engine().enum_jobs(kAlice, true), hr::EAccessDenied);
  EXPECT_HR(engine().enum_jobs(kBob, true), hr::EAccessDenied);

  auto all = engine().enum_jobs(kRoot, true);
  ASSERT_TRUE(all.ok());
  ids.clear();
  for (const auto& v : *all) ids.push_back(v.record.id);
  EXPECT_THAT(ids, UnorderedElementsAre(a1, b1, a2));

  auto roots_own = engine().enum_jobs(kRoot, false);
  ASSERT_TRUE(roots_own.ok());
  EXPECT_TRUE(roots_own->empty());
}

// The streamed list: the ids in enum_jobs' order, then views in batches, leaving out what went
// away in between and what the caller may not read.
TEST_F(LegalityTest, EnumJobIdsAndViewsOfReadTheListInBatches) {
  JobId a1 = create(kAlice, "a1");
  clock.advance(std::chrono::seconds(1));
  JobId b1 = create(kBob, "b1");
  clock.advance(std::chrono::seconds(1));
  JobId a2 = create(kAlice, "a2");
  clock.advance(std::chrono::seconds(1));
  JobId a3 = create(kAlice, "a3");
  auto ids = engine().enum_job_ids(kAlice, false);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<JobId>{a1, a2, a3}));
  EXPECT_HR(engine().enum_job_ids(kAlice, true), hr::EAccessDenied);
  auto all = engine().enum_job_ids(kRoot, true);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, (std::vector<JobId>{a1, b1, a2, a3}));

  ASSERT_HR(engine().cancel(kAlice, a2), hr::SOk);  // gone between the two calls
  const std::vector<JobId> asked{a1, a2, b1, a3};
  std::vector<JobId> got;
  for (const auto& v : engine().views_of(kAlice, asked)) got.push_back(v.record.id);
  EXPECT_EQ(got, (std::vector<JobId>{a1, a3}));  // not a2 (cancelled), not b1 (Bob's)
  got.clear();
  for (const auto& v : engine().views_of(kRoot, asked)) got.push_back(v.record.id);
  EXPECT_EQ(got, (std::vector<JobId>{a1, b1, a3}));
}

TEST_F(LegalityTest, TakeOwnershipIsRootOnlyAndClearsTheNotifyCommandLine) {
  JobId id = make_job(1);
  ASSERT_HR(engine().set_settings(
                kAlice, id,
                Patch().notify_cmdline(std::vector<std::string>{"/usr/bin/notify", "--done"})),
            hr::SOk);
  EXPECT_HR(engine().take_ownership(kAlice, id), hr::EAccessDenied);
  EXPECT_EQ(rec(id).owner, kAlice.uid);
  EXPECT_FALSE(rec(id).settings.notify_cmdline.empty());

  EXPECT_HR(engine().take_ownership(kRoot, id), hr::SOk);
  JobRecord r = rec(id);
  EXPECT_EQ(r.owner, kRoot.uid);
  EXPECT_TRUE(r.settings.notify_cmdline.empty());
  EXPECT_EQ(store.rows[id].owner, kRoot.uid);
  EXPECT_TRUE(store.rows[id].settings.notify_cmdline.empty());
  // The former owner has lost it.
  EXPECT_HR(engine().get_job(kAlice, id), hr::EAccessDenied);
  EXPECT_HR(engine().resume(kAlice, id), hr::EAccessDenied);
}

TEST_F(LegalityTest, TransfersRunAsTheOwner) {
  JobId id = make_job(1, kBob);
  ASSERT_HR(engine().resume(kRoot, id), hr::SOk);
  EXPECT_EQ(transfer.last_start(id).owner, kBob.uid);
}

// ---- settings ----

TEST_F(LegalityTest, MinRetryDelayIsClampedToFiveSeconds) {
  JobId id = create();
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().min_retry_delay_s(1)), hr::SOk);
  EXPECT_EQ(rec(id).settings.min_retry_delay_s, 5U);
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().min_retry_delay_s(0)), hr::SOk);
  EXPECT_EQ(rec(id).settings.min_retry_delay_s, 5U);
  ASSERT_HR(engine().set_settings(kAlice, id, Patch().min_retry_delay_s(6)), hr::SOk);
  EXPECT_EQ(rec(id).settings.min_retry_delay_s, 6U);
  EXPECT_EQ(store.rows[id].settings.min_retry_delay_s, 6U);
}

TEST_F(LegalityTest, SettingsAreValidated) {
  JobId id = create();
  EXPECT_HR(engine().set_settings(kAlice, id, Patch()), hr::SOk) << "an empty patch is a no-op";
  EXPECT_HR(engine().set_settings(kAlice, id, Patch().display_name("")), hr::SOk)
      << "an empty display name is allowed, as by create";
  EXPECT_HR(engine().set_settings(kAlice, id, Patch().display_name(std::string(257, 'x'))),
            hr::BgEStringTooLong);
  EXPECT_HR(engine().set_settings(kAlice, id, Patch().display_name(std::string(256, 'x'))),
            hr::SOk);
  EXPECT_HR(engine().set_settings(kAlice, id, Patch().description(std::string(1025, 'd'))),
            hr::BgEStringTooLong);
  EXPECT_HR(engine().set_settings(kAlice, id, Patch().description(std::string("two\nlines"))),
            hr::SOk);
  EXPECT_HR(engine().set_settings(kAlice, id, Patch().display_name(std::string("no\nnewline"))),
            hr::EInvalidArg)
      << "unclean text is an invalid argument, not a long one";
  EXPECT_HR(engine().set_settings(kAlice, id, Patch().description(std::string("bad\xFF"))),
            hr::EInvalidArg);

  EXPECT_HR(engine().set_settings(kAlice, id, Patch().notify_flags(0x20)), hr::ENotImpl);
  EXPECT_HR(engine().set_settings(kAlice, id, Patch().notify_flags(0x1F)), hr::SOk);
  EXPECT_HR(engine().set_settings(kAlice, id,
                                  Patch().notify_cmdline(std::vector<std::string>{"notify", "x"})),
            hr::EInvalidArg);  // no PATH search
  EXPECT_HR(
      engine().set_settings(kAlice, id, Patch().proxy(ProxySettings{ProxyUsage::Override, "", ""})),
      hr::EInvalidArg);
  EXPECT_HR(engine().set_settings(
                kAlice, id, Patch().proxy(ProxySettings{ProxyUsage::NoProxy, "proxy:3128", ""})),
            hr::EInvalidArg);
  EXPECT_HR(
      engine().set_settings(
          kAlice, id, Patch().proxy(ProxySettings{ProxyUsage::Override, "proxy:3128", "<local>"})),
      hr::SOk);
  JobRecord r = rec(id);
  EXPECT_EQ(r.settings.display_name, std::string(256, 'x'));
  EXPECT_EQ(r.settings.description, "two\nlines");
  EXPECT_EQ(r.settings.notify_flags, 0x1FU);
  EXPECT_TRUE(r.settings.notify_cmdline.empty());
  EXPECT_EQ(r.settings.proxy.usage, ProxyUsage::Override);
}

TEST_F(LegalityTest, ARejectedPatchChangesNoField) {
  JobId id = create();
  SettingsPatch p;
  p.description = "new description";
  p.notify_flags = 0x40;  // invalid: the whole patch is refused
  EXPECT_HR(engine().set_settings(kAlice, id, p), hr::ENotImpl);
  EXPECT_EQ(rec(id).settings.description, "");
}

// ---- store failures change nothing ----

TEST_F(LegalityTest, CreateWithAStoreFailureReturnsTheErrorAndAddsNoJob) {
  engine();
  store.fail_next(Error::from_errno(EIO, "disk"));
  EXPECT_HR(engine().create_job(kAlice, "x", JobType::Download), hresult_from_errno(EIO));
  EXPECT_EQ(engine().job_count(), 0U);
  EXPECT_TRUE(store.rows.empty());
  auto mine = engine().enum_jobs(kAlice, false);
  ASSERT_TRUE(mine.ok());
  EXPECT_TRUE(mine->empty());
}

TEST_F(LegalityTest, AddFilesWithAStoreFailureAddsNothing) {
  JobId id = make_job(1);
  const JobRecord before = rec(id);
  store.fail_next(Error::from_errno(ENOSPC, "disk"));
  EXPECT_HR(engine().add_files(kAlice, id, {spec(1), spec(2)}), hresult_from_errno(ENOSPC));
  EXPECT_EQ(rec(id), before);
  EXPECT_EQ(store.rows[id].files.size(), 1U);
  // The same files can then be added.
  EXPECT_HR(engine().add_files(kAlice, id, {spec(1), spec(2)}), hr::SOk);
  EXPECT_EQ(rec(id).files.size(), 3U);
  EXPECT_EQ(rec(id).files[2].staging_name, staging_name_for(spec(2).local_path, id, 2));
}

TEST_F(LegalityTest, ResumeWithAStoreFailureLeavesTheJobSuspended) {
  JobId id = make_job(1);
  const JobRecord before = rec(id);
  store.fail_next(Error::from_errno(EIO, "disk"));
  EXPECT_HR(engine().resume(kAlice, id), hresult_from_errno(EIO));
  EXPECT_EQ(rec(id), before);
  EXPECT_TRUE(transfer.starts.empty());
  EXPECT_EQ(store.rows[id].state, JobState::Suspended);
}

TEST_F(LegalityTest, ResumeFromErrorWithAStoreFailureStaysInError) {
  JobId id = running_job();
  fail(id, false);
  const JobRecord before = rec(id);
  store.fail_next(Error::from_errno(EIO, "disk"));
  EXPECT_HR(engine().resume(kAlice, id), hresult_from_errno(EIO));
  EXPECT_EQ(rec(id), before);
  EXPECT_HR(engine().get_error(kAlice, id), hr::SOk);
  EXPECT_EQ(transfer.start_count(id), 1U);
}

TEST_F(LegalityTest, SuspendWithAStoreFailureLeavesTheJobAsItWas) {
  JobId id = running_job();
  fail(id, false);
  const JobRecord before = rec(id);
  store.fail_next(Error::from_errno(EIO, "disk"));
  EXPECT_HR(engine().suspend(kAlice, id), hresult_from_errno(EIO));
  EXPECT_EQ(rec(id), before);
  EXPECT_EQ(store.rows[id].state, JobState::Error);
}

TEST_F(LegalityTest, SuspendOfARunningJobWithAStoreFailureKeepsItActive) {
  JobId id = running_job();
  store.fail_next(Error::from_errno(EIO, "disk"));
  EXPECT_HR(engine().suspend(kAlice, id), hresult_from_errno(EIO));
  EXPECT_TRUE(is_active(state(id)));
  EXPECT_TRUE(transfer.is_running(id));  // the scheduler picked it up again
}

TEST_F(LegalityTest, SetSettingsWithAStoreFailureChangesNothing) {
  JobId id = make_job(1);
  const JobRecord before = rec(id);
  store.fail_next(Error::from_errno(EIO, "disk"));
  SettingsPatch p;
  p.display_name = "renamed";
  p.priority = JobPriority::High;
  p.min_retry_delay_s = 60;
  EXPECT_HR(engine().set_settings(kAlice, id, p), hresult_from_errno(EIO));
  EXPECT_EQ(rec(id), before);
  EXPECT_EQ(store.rows[id].settings, before.settings);
}

TEST_F(LegalityTest, TakeOwnershipWithAStoreFailureChangesNothing) {
  JobId id = make_job(1);
  const JobRecord before = rec(id);
  store.fail_next(Error::from_errno(EIO, "disk"));
  EXPECT_HR(engine().take_ownership(kRoot, id), hresult_from_errno(EIO));
  EXPECT_EQ(rec(id), before);
}

}  // namespace
}  // namespace bgcopy::engine::test
