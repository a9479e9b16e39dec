// add_files and create_job: validation, limits, staging names, all-or-nothing.
#include "engine/validate.hpp"
#include "engine_fixture.hpp"

#include <gmock/gmock.h>

namespace bgcopy::engine::test {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using AddFilesTest = EngineTest;

std::string job_hex(const JobId& id) {
  std::string hex;
  for (char c : id.to_string()) {
    if (c != '{' && c != '}' && c != '-') hex.push_back(c);
  }
  return hex;
}

TEST_F(AddFilesTest, AddsFilesInOrderWithHiddenStagingNames) {
  JobId id = create();
  ASSERT_HR(engine().add_files(kAlice, id, {spec(0), spec(1)}), hr::SOk);
  ASSERT_HR(engine().add_files(kAlice, id, {spec(2)}), hr::SOk);
  JobRecord r = rec(id);
  ASSERT_EQ(r.files.size(), 3U);
  for (std::uint32_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    const FileRecord& f = r.files[i];
    EXPECT_EQ(f.spec, spec(static_cast<int>(i)));
    EXPECT_THAT(f.staging_name, StartsWith("."));
    EXPECT_THAT(f.staging_name, EndsWith(".part"));
    EXPECT_THAT(f.staging_name, HasSubstr(job_hex(id)));
    EXPECT_THAT(f.staging_name, HasSubstr("file" + std::to_string(i)));
    EXPECT_EQ(f.staging_name.find('/'), std::string::npos);
    EXPECT_NE(f.staging_name, "file" + std::to_string(i));
    EXPECT_FALSE(f.bytes_total.has_value());
    EXPECT_EQ(f.bytes_transferred, 0U);
    EXPECT_FALSE(f.transferred);
  }
  EXPECT_NE(r.files[0].staging_name, r.files[1].staging_name);
  EXPECT_EQ(store.rows[id].files, r.files);
  EXPECT_EQ(staging.checked,
            (std::vector<std::string>{spec(0).local_path, spec(1).local_path, spec(2).local_path}));
}

TEST_F(AddFilesTest, StagingNamesDifferBetweenJobsForTheSameDestinationName) {
  JobId a = make_job(1);
  JobId b = make_job(1, kBob);
  EXPECT_NE(rec(a).files[0].staging_name, rec(b).files[0].staging_name);
}

TEST_F(AddFilesTest, OneBadFileRejectsTheWholeSet) {
  JobId id = make_job(1);
  const JobRecord before = rec(id);
  const int writes = store.mutating_calls();
  FileSpec bad = spec(2);
  bad.local_path = "relative/path";
  EXPECT_HR(engine().add_files(kAlice, id, {spec(1), bad, spec(3)}), hr::EInvalidArg);
  EXPECT_EQ(rec(id), before);
  EXPECT_EQ(store.mutating_calls(), writes);
  EXPECT_EQ(store.rows[id].files.size(), 1U);
}

TEST_F(AddFilesTest, ADestinationRejectedByTheStagingPortRejectsTheSet) {
  JobId id = create();
  staging.destination_errors[spec(1).local_path] = Error::make(hr::EAccessDenied, "not writable");
  EXPECT_HR(engine().add_files(kAlice, id, {spec(0), spec(1)}), hr::EAccessDenied);
  EXPECT_TRUE(rec(id).files.empty());
}

TEST_F(AddFilesTest, InvalidUrlsAndPathsAreInvalidArg) {
  JobId id = create();
  auto with_url = [](std::string url) {
    FileSpec s = spec(0);
    s.remote_url = std::move(url);
    return s;
  };
  auto with_path = [](std::string path) {
    FileSpec s = spec(0);
    s.local_path = std::move(path);
    return s;
  };
  for (const FileSpec& s :
       {with_url("ftp://example.com/x"), with_url("example.com/x"), with_url(""),
        with_url("gopher://h/x"), with_url("http://exa mple.com/x"), with_url("https:///x"),
        with_path("dl/file"), with_path("/home/alice/../bob/file"), with_path("/home/./file"),
        with_path("/home//file"), with_path("/home/alice/"), with_path(""),
        with_path("/home/a\nb")}) {
    SCOPED_TRACE(s.remote_url + " -> " + s.local_path);
    EXPECT_HR(engine().add_files(kAlice, id, {s}), hr::EInvalidArg);
  }
  EXPECT_EQ(hr::EInvalidArg, 0x80070057U);
  EXPECT_TRUE(rec(id).files.empty());
  EXPECT_HR(engine().add_files(kAlice, id, {with_url("file:///srv/data.bin")}), hr::SOk);
}

TEST_F(AddFilesTest, Sha256IsValidatedAndNormalised) {
  JobId id = create();
  FileSpec bad = spec(0);
  bad.sha256 = "abc";
  EXPECT_HR(engine().add_files(kAlice, id, {bad}), hr::EInvalidArg);
  bad.sha256 = std::string(63, 'a') + "g";
  EXPECT_HR(engine().add_files(kAlice, id, {bad}), hr::EInvalidArg);
  FileSpec good = spec(0);
  good.sha256 = std::string(32, 'A') + std::string(32, 'f');
  ASSERT_HR(engine().add_files(kAlice, id, {good}), hr::SOk);
  EXPECT_EQ(rec(id).files[0].spec.sha256, std::string(32, 'a') + std::string(32, 'f'));
}

TEST_F(AddFilesTest, DuplicateDestinationsInOneJobAreInvalidArg) {
  JobId id = create();
  FileSpec twin = spec(1);
  twin.local_path = spec(0).local_path;
  EXPECT_HR(engine().add_files(kAlice, id, {spec(0), twin}), hr::EInvalidArg);
  EXPECT_TRUE(rec(id).files.empty());
  ASSERT_HR(engine().add_files(kAlice, id, {spec(0)}), hr::SOk);
  EXPECT_HR(engine().add_files(kAlice, id, {twin}), hr::EInvalidArg);
  EXPECT_EQ(rec(id).files.size(), 1U);
  // Another job may use the same destination.
  JobId other = create();
  EXPECT_HR(engine().add_files(kAlice, other, {twin}), hr::SOk);
}

TEST_F(AddFilesTest, AnEmptySetIsInvalidArg) {
  JobId id = create();
  EXPECT_HR(engine().add_files(kAlice, id, {}), hr::EInvalidArg);
}

TEST_F(AddFilesTest, RangesAreValidated) {
  JobId id = create();
  auto ranged = [](std::vector<FileRange> ranges) {
    FileSpec s = spec(0);
    s.ranges = std::move(ranges);
    return s;
  };
  EXPECT_HR(engine().add_files(kAlice, id, {ranged({{0, 100}, {50, 10}})}),
            hr::DoEOverlappingRanges);
  EXPECT_HR(engine().add_files(kAlice, id, {ranged({{500, 100}, {0, 501}})}),
            hr::DoEOverlappingRanges);
  EXPECT_HR(engine().add_files(kAlice, id, {ranged({{10, 10}, {10, 10}})}),
            hr::DoEOverlappingRanges);
  EXPECT_HR(engine().add_files(kAlice, id, {ranged({{0, kLengthToEof}, {1000, 10}})}),
            hr::DoEOverlappingRanges);
  EXPECT_HR(engine().add_files(kAlice, id, {ranged({{0, 0}})}), hr::DoEInvalidRange);
  EXPECT_HR(engine().add_files(kAlice, id, {ranged({{kLengthToEof, 10}})}), hr::DoEInvalidRange);
  EXPECT_HR(engine().add_files(kAlice, id, {ranged({{0, 10}, {kLengthToEof, 1}})}),
            hr::DoEInvalidRange);
  EXPECT_EQ(hr::DoEOverlappingRanges, 0x80D05012U);
  EXPECT_EQ(hr::DoEInvalidRange, 0x80D05010U);
  EXPECT_TRUE(rec(id).files.empty());
}

TEST_F(AddFilesTest, RangedFileTotalIsTheSumOfTheRangeLengths) {
  JobId id = create();
  FileSpec s = spec(0);
  s.ranges = {{100, 100}, {900, 100}, {400, 100}};  // given order kept
  FileSpec open_ended = spec(1);
  open_ended.ranges = {{0, 10}, {5000, kLengthToEof}};
  ASSERT_HR(engine().add_files(kAlice, id, {s, open_ended}), hr::SOk);
  JobRecord r = rec(id);
  EXPECT_EQ(r.files[0].bytes_total, 300U);
  EXPECT_EQ(r.files[0].spec.ranges, s.ranges);
  EXPECT_FALSE(r.files[1].bytes_total.has_value());  // unknown until the server says

  // The transfer reports the staging file's full length (for ranges, the sum of the lengths);
  // an open-ended range's total becomes known that way.
  ASSERT_HR(engine().resume(kAlice, id), hr::SOk);
  connected(id, 300);
  EXPECT_EQ(rec(id).files[0].bytes_total, 300U);
}

TEST_F(AddFilesTest, TooManyRangesUnlessRoot) {
  config.max_ranges_per_file = 3;
  JobId id = create();
  FileSpec s = spec(0);
  s.ranges = {{0, 1}, {10, 1}, {20, 1}, {30, 1}};
  EXPECT_HR(engine().add_files(kAlice, id, {s}), hr::BgETooManyRangesInFile);
  s.ranges.pop_back();
  EXPECT_HR(engine().add_files(kAlice, id, {s}), hr::SOk);
  JobId roots = create(kRoot);
  FileSpec many = spec(1);
  for (std::uint64_t i = 0; i < 10; ++i) many.ranges.push_back({i * 10, 5});
  EXPECT_HR(engine().add_files(kRoot, roots, {many}), hr::SOk);
}

TEST_F(AddFilesTest, TooManyFilesInAJobUnlessRoot) {
  config.max_files_per_job = 3;
  JobId id = create();
  ASSERT_HR(engine().add_files(kAlice, id, {spec(0), spec(1)}), hr::SOk);
  EXPECT_HR(engine().add_files(kAlice, id, {spec(2), spec(3)}), hr::BgETooManyFilesInJob);
  EXPECT_EQ(hr::BgETooManyFilesInJob, 0x80200051U);
  EXPECT_EQ(rec(id).files.size(), 2U);
  EXPECT_HR(engine().add_files(kAlice, id, {spec(2)}), hr::SOk);
  EXPECT_HR(engine().add_files(kAlice, id, {spec(3)}), hr::BgETooManyFilesInJob);
  // Root is exempt, even on a user's job.
  EXPECT_HR(engine().add_files(kRoot, id, {spec(3), spec(4)}), hr::SOk);
  EXPECT_EQ(rec(id).files.size(), 5U);
}

TEST_F(AddFilesTest, TooManyJobsPerUserUnlessRoot) {
  config.max_jobs_per_user = 2;
  create(kAlice);
  JobId second = create(kAlice);
  EXPECT_HR(engine().create_job(kAlice, "third", JobType::Download), hr::BgETooManyJobsPerUser);
  EXPECT_EQ(hr::BgETooManyJobsPerUser, 0x80200049U);
  EXPECT_EQ(engine().job_count(), 2U);
  // Limits are per user.
  EXPECT_HR(engine().create_job(kBob, "bob's", JobType::Download), hr::SOk);
  // A final job no longer counts.
  ASSERT_HR(engine().cancel(kAlice, second), hr::SOk);
  EXPECT_HR(engine().create_job(kAlice, "third", JobType::Download), hr::SOk);
  for (int i = 0; i < 5; ++i) {
    EXPECT_HR(engine().create_job(kRoot, "root's", JobType::Download), hr::SOk);
  }
}

TEST_F(AddFilesTest, DisplayNameLimits) {
  EXPECT_HR(engine().create_job(kAlice, std::string(257, 'n'), JobType::Download),
            hr::BgEStringTooLong);
  EXPECT_HR(engine().create_job(kAlice, std::string(256, 'n'), JobType::Download), hr::SOk);
  // Characters, not bytes: 256 two-byte characters fit.
  std::string e_acute;
  for (int i = 0; i < 256; ++i) e_acute += "\xC3\xA9";
  EXPECT_HR(engine().create_job(kAlice, e_acute, JobType::Download), hr::SOk);
  EXPECT_HR(engine().create_job(kAlice, e_acute + "\xC3\xA9", JobType::Download),
            hr::BgEStringTooLong);
  EXPECT_HR(engine().create_job(kAlice, "bad\xFFutf8", JobType::Download), hr::EInvalidArg);
  EXPECT_HR(engine().create_job(kAlice, "ctrl\x1b[31m", JobType::Download), hr::EInvalidArg);
  EXPECT_HR(engine().create_job(kAlice, "", JobType::Download), hr::SOk);
  EXPECT_EQ(engine().job_count(), 3U);
  EXPECT_EQ(store.insert_calls, 3);
}

TEST_F(AddFilesTest, AddFilesToAnActiveJobAppendsAfterTheRunningFile) {
  JobId id = running_job(1);
  ASSERT_HR(engine().add_files(kAlice, id, {spec(1)}), hr::SOk);
  EXPECT_EQ(transfer.last_start(id).file_index, 0U);
  file_done(id);
  EXPECT_EQ(state(id), JobState::Connecting);
  EXPECT_EQ(transfer.last_start(id).file_index, 1U);
}

}  // namespace
}  // namespace bgcopy::engine::test
