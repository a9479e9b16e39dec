// The engine against our fault-injecting origin: the misbehaviours nginx will not produce.
#include "files.hpp"
#include "origin_fixture.hpp"
#include "service_harness.hpp"

#include <gtest/gtest.h>

namespace bgcopy::test {
namespace {

using engine::FileSpec;
using engine::JobState;

class EngineFaults : public ::testing::Test {
 protected:
  FaultOrigin origin_;
};

TEST_F(EngineFaults, ConnectionDroppedMidBodyResumesFromCheckpoint) {
  ServiceHarness h;
  const std::uint64_t size = 3 * 1024 * 1024;
  const std::string url =
      origin_.url("/gen/" + std::to_string(size) + "?seed=21&drop_after=1500000&key=drop");
  JobId id = h.create("drop");
  ASSERT_TRUE(h.add(id, {FileSpec{url, h.dest("d.bin"), {}, std::nullopt}}).ok());
  engine::SettingsPatch p;
  p.min_retry_delay_s = 1;
  ASSERT_TRUE(h.set(id, p).ok());
  ASSERT_TRUE(h.resume(id).ok());
  ASSERT_TRUE(h.wait_state(id, JobState::Transferred, std::chrono::seconds(60)));
  auto rec = h.get(id);
  EXPECT_GE(rec.error_count, 1u);
  ASSERT_TRUE(h.complete(id).ok());
  EXPECT_EQ(sha256_file(h.dest("d.bin")), sha256_bytes(gen_content(size, 21)));

  auto reqs = origin_.requests_at_least(2, "drop");
  ASSERT_GE(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].outcome, "drop");
  // The retry asked only for what was missing, validated by If-Range.
  EXPECT_FALSE(reqs[1].range.empty());
  EXPECT_FALSE(reqs[1].if_range.empty());
  EXPECT_EQ(reqs[1].status, 206);
  EXPECT_LE(reqs[0].bytes_sent + reqs[1].bytes_sent, size + 256 * 1024 + 64 * 1024)
      << "at most one checkpoint interval fetched twice";
}

TEST_F(EngineFaults, ServiceUnavailableIsTransientThenRecovers) {
  ServiceHarness h;
  const std::string url = origin_.url("/gen/100000?seed=22&fail_first=2&fail_status=503&key=svc");
  JobId id = h.create("503");
  ASSERT_TRUE(h.add(id, {FileSpec{url, h.dest("s.bin"), {}, std::nullopt}}).ok());
  engine::SettingsPatch p;
  p.min_retry_delay_s = 1;
  ASSERT_TRUE(h.set(id, p).ok());
  ASSERT_TRUE(h.resume(id).ok());
  // The record and the error are read in one engine call: the state lasts only until the retry
  // (1 s), which a test thread stalled by a sanitizer could miss between two calls.
  engine::JobRecord rec;
  bool error_readable = false;
  ASSERT_TRUE(h.wait_for(id, [&](const engine::JobRecord&) {
    return h.call([&](engine::Engine& e) {
      auto job = e.get_job(h.me(), id);
      if (!job.ok() || job->record.state != JobState::TransientError) {
        return false;
      }
      rec = job->record;
      error_readable = e.get_error(h.me(), id).ok();
      return true;
    });
  }));
  ASSERT_TRUE(rec.error.has_value());
  EXPECT_EQ(rec.error->error.code, hresult_from_http(503));
  EXPECT_EQ(rec.error->error.code, 0x801901F7u);
  ASSERT_TRUE(rec.retry_at.has_value());
  EXPECT_TRUE(error_readable);
  ASSERT_TRUE(h.wait_state(id, JobState::Transferred, std::chrono::seconds(30)));
  EXPECT_EQ(h.get(id).error_count, 2u);
  ASSERT_TRUE(h.complete(id).ok());
  EXPECT_EQ(sha256_file(h.dest("s.bin")), sha256_bytes(gen_content(100000, 22)));
}

TEST_F(EngineFaults, RetryAfterFromServerIsHonoured) {
  ServiceHarness h;
  const std::string url =
      origin_.url("/gen/1000?seed=23&fail_first=1&fail_status=429&retry_after=120&key=ra");
  JobId id = h.create("429");
  ASSERT_TRUE(h.add(id, {FileSpec{url, h.dest("r.bin"), {}, std::nullopt}}).ok());
  engine::SettingsPatch p;
  p.min_retry_delay_s = 1;
  ASSERT_TRUE(h.set(id, p).ok());
  ASSERT_TRUE(h.resume(id).ok());
  ASSERT_TRUE(h.wait_state(id, JobState::TransientError));
  auto view = h.call([&](engine::Engine& e) { return e.get_job(h.me(), id); });
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->wait_reason, engine::WaitReason::RetryAfter);
  ASSERT_TRUE(view->record.retry_at.has_value());
  auto wait = *view->record.retry_at - std::chrono::system_clock::now();
  EXPECT_GT(wait, std::chrono::seconds(100)) << "Retry-After: 120 must postpone the retry";
  EXPECT_EQ(view->record.error->error.code, hresult_from_http(429));
}

TEST_F(EngineFaults, NotFoundIsFatalWith0x80190194) {
  ServiceHarness h;
  JobId id = h.create("404");
  ASSERT_TRUE(
      h.add(id, {FileSpec{origin_.url("/missing.bin"), h.dest("m.bin"), {}, std::nullopt}}).ok());
  ASSERT_TRUE(h.resume(id).ok());
  ASSERT_TRUE(h.wait_state(id, JobState::Error));
  auto rec = h.get(id);
  ASSERT_TRUE(rec.error.has_value());
  EXPECT_EQ(rec.error->error.code, 0x80190194u);
  EXPECT_EQ(rec.error->error.context, ErrorContext::RemoteFile);
  EXPECT_EQ(rec.error->error.file_index, 0u);
  EXPECT_EQ(rec.error_count, 1u);
  EXPECT_FALSE(std::filesystem::exists(h.dest("m.bin")));
}

TEST_F(EngineFaults, ServerIgnoringRangeNeverCorruptsTheFile) {
  ServiceHarness h;
  const std::uint64_t size = 2 * 1024 * 1024;
  // First answer drops mid-body; every answer ignores Range and sends the whole file (200).
  const std::string url = origin_.url("/gen/" + std::to_string(size) +
                                      "?seed=24&ignore_range=1&drop_after=1200000&key=ign");
  JobId id = h.create("ignore-range");
  ASSERT_TRUE(
      h.add(id, {FileSpec{url, h.dest("i.bin"), {}, sha256_bytes(gen_content(size, 24))}}).ok());
  engine::SettingsPatch p;
  p.min_retry_delay_s = 1;
  ASSERT_TRUE(h.set(id, p).ok());
  ASSERT_TRUE(h.resume(id).ok());
  ASSERT_TRUE(h.wait_state(id, JobState::Transferred, std::chrono::seconds(60)));
  EXPECT_TRUE(h.get(id).files[0].verified);
  ASSERT_TRUE(h.complete(id).ok());
  EXPECT_EQ(sha256_file(h.dest("i.bin")), sha256_bytes(gen_content(size, 24)));
  auto reqs = origin_.requests_at_least(2, "ign");
  ASSERT_GE(reqs.size(), 2u);
  EXPECT_FALSE(reqs[1].range.empty()) << "the retry asked for a range";
  EXPECT_EQ(reqs[1].status, 200) << "and the server ignored it";
}

TEST_F(EngineFaults, StalledBodyHitsTheNoProgressTimeout) {
  ServiceHarness h;  // stall_timeout_s = 2 in the test config
  const std::string url = origin_.url("/gen/100000?seed=25&stall_after=0&key=stall");
  JobId id = h.create("stall");
  ASSERT_TRUE(h.add(id, {FileSpec{url, h.dest("st.bin"), {}, std::nullopt}}).ok());
  engine::SettingsPatch p;
  p.min_retry_delay_s = 1;
  p.no_progress_timeout_s = 3;
  ASSERT_TRUE(h.set(id, p).ok());
  ASSERT_TRUE(h.resume(id).ok());
  ASSERT_TRUE(h.wait_state(id, JobState::TransientError, std::chrono::seconds(20)));
  ASSERT_TRUE(h.wait_state(id, JobState::Error, std::chrono::seconds(30)));
  auto rec = h.get(id);
  ASSERT_TRUE(rec.error.has_value());
  EXPECT_EQ(rec.error->error.code, hr::DoEDownloadNoProgress);
  EXPECT_EQ(rec.error->error.code, 0x80D02002u);
}

TEST_F(EngineFaults, NoProgressTimeoutZeroMakesEveryErrorFatal) {
  ServiceHarness h;
  const std::string url = origin_.url("/gen/1000?seed=26&fail_first=5&fail_status=503&key=zero");
  JobId id = h.create("zero");
  ASSERT_TRUE(h.add(id, {FileSpec{url, h.dest("z.bin"), {}, std::nullopt}}).ok());
  engine::SettingsPatch p;
  p.no_progress_timeout_s = 0;
  ASSERT_TRUE(h.set(id, p).ok());
  ASSERT_TRUE(h.resume(id).ok());
  ASSERT_TRUE(h.wait_state(id, JobState::Error));
  EXPECT_EQ(h.get(id).error->error.code, hresult_from_http(503));
}

TEST_F(EngineFaults, ConnectionRefusedIsTransient) {
  ServiceHarness h;
  const int port = origin_.port();
  origin_.stop();  // nothing listens on that port any more
  JobId id = h.create("refused");
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/gen/10";
  ASSERT_TRUE(h.add(id, {FileSpec{url, h.dest("x.bin"), {}, std::nullopt}}).ok());
  ASSERT_TRUE(h.resume(id).ok());
  ASSERT_TRUE(h.wait_state(id, JobState::TransientError));
  auto rec = h.get(id);
  EXPECT_EQ(rec.error->error.code, hr::BgEConnectFailure);
  EXPECT_EQ(rec.error->error.context, ErrorContext::GeneralTransport);
}

}  // namespace
}  // namespace bgcopy::test
