// The transfer's decisions without a network: FetchSession is fed the responses a server could
// give (including misbehaving ones) and must keep the staging file exactly right.
#include "transfer/fetch_session.hpp"

#include "test_util.hpp"
#include "transfer/sha256.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cerrno>
#include <memory>
#include <vector>

namespace bgcopy::transfer {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)
using Verdict = FetchSession::Verdict;
using BodyVerdict = FetchSession::BodyVerdict;

constexpr const char* kUrl = "http://origin.test/file.bin";
constexpr const char* kDate1 = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr const char* kDate2 = "Mon, 07 Nov 1994 08:49:37 GMT";

ResponseHead full(const std::string& body, const std::string& etag = "\"v1\"",
                  const std::string& last_modified = kDate1) {
  ResponseHead h;
  h.status = 200;
  h.content_length = body.size();
  h.validators.etag = etag;
  h.validators.last_modified = last_modified;
  h.remote_mtime = 784111777;
  h.url = kUrl;
  return h;
}

ResponseHead partial(std::uint64_t first, std::uint64_t last, std::optional<std::uint64_t> total,
                     const std::string& etag = "\"v1\"") {
  ResponseHead h;
  h.status = 206;
  h.content_range = ContentRange{true, first, last, total};
  h.content_length = last - first + 1;
  h.validators.etag = etag;
  h.validators.last_modified = kDate1;
  h.url = kUrl;
  return h;
}

ResponseHead status(long code) {
  ResponseHead h;
  h.status = code;
  h.url = kUrl;
  return h;
}

class SessionTest : public ::testing::Test {
 protected:
  SessionTest() : req_(make_request(dir_, kUrl)) {}

  FetchSession& open() {
    s_ = std::make_unique<FetchSession>(req_, log_.sink());
    EXPECT_TRUE(s_->open());
    return *s_;
  }
  /// Writes `held` to the staging file and asks to resume after it with these validators.
  void hold(const std::string& held, engine::Validators v, std::optional<std::uint64_t> total) {
    write_file(staging_file(req_), held);
    req_.resume_from = held.size();
    req_.file.validators = std::move(v);
    req_.file.bytes_total = total;
  }
  BodyVerdict feed(const std::string& data, std::size_t chunk = 7) {
    BodyVerdict v = BodyVerdict::Continue;
    for (std::size_t at = 0; at < data.size() && v == BodyVerdict::Continue; at += chunk) {
      const auto piece = data.substr(at, chunk);
      v = s_->on_body(piece.data(), piece.size());
    }
    return v;
  }
  std::string staging() const { return read_file(staging_file(req_)); }
  std::vector<Kind> kinds() const {
    std::vector<Kind> k;
    for (const auto& e : log_.events()) {
      k.push_back(e.kind);
    }
    return k;
  }
  /// Completes the file through next_request() returning nothing.
  void expect_done() {
    EXPECT_FALSE(s_->next_request());
    EXPECT_TRUE(s_->finished());
    EXPECT_EQ(log_.last().kind, Kind::FileDone);
  }

  TempDir dir_;
  EventLog log_;
  engine::TransferRequest req_;
  std::unique_ptr<FetchSession> s_;
};

// --- whole file ---

TEST_F(SessionTest, FreshWholeFile) {
  const auto body = pattern(1000);
  auto& s = open();
  const auto spec = s.next_request();
  ASSERT_TRUE(spec);
  EXPECT_FALSE(spec->ranged);
  EXPECT_EQ(spec->range_header_value(), "");
  ASSERT_EQ(s.on_response(full(body)), Verdict::Accept);
  EXPECT_EQ(feed(body), BodyVerdict::Continue);
  s.on_request_end(std::nullopt);
  expect_done();
  EXPECT_EQ(staging(), body);
  const auto done = log_.last();
  EXPECT_EQ(done.bytes_transferred, 1000U);
  EXPECT_EQ(done.bytes_total, std::optional<std::uint64_t>(1000));
  EXPECT_EQ(done.validators.etag, "\"v1\"");
  EXPECT_EQ(done.validators.last_modified, kDate1);
  EXPECT_EQ(done.remote_mtime, std::optional<std::int64_t>(784111777));
  EXPECT_FALSE(done.verified);
  EXPECT_EQ(done.transfer_id, 7U);
  EXPECT_EQ(kinds().front(), Kind::Connected);
}

TEST_F(SessionTest, ResumeSendsRangeAndIfRangeWithTheEtag) {
  const auto body = pattern(1000);
  hold(body.substr(0, 400), {"\"v1\"", kDate1}, 1000);
  auto& s = open();
  const auto spec = s.next_request();
  ASSERT_TRUE(spec);
  EXPECT_TRUE(spec->ranged);
  EXPECT_EQ(spec->range_header_value(), "bytes=400-");
  EXPECT_EQ(spec->if_range, "\"v1\"");
  ASSERT_EQ(s.on_response(partial(400, 999, 1000)), Verdict::Accept);
  feed(body.substr(400));
  s.on_request_end(std::nullopt);
  expect_done();
  EXPECT_EQ(staging(), body);
  EXPECT_EQ(log_.count(Kind::Restarted), 0U);
}

TEST_F(SessionTest, IfRangeFallsBackToLastModified) {
  hold("abcd", {"", kDate1}, 10);
  auto& s = open();
  EXPECT_EQ(s.next_request()->if_range, kDate1);
}

TEST_F(SessionTest, WeakEtagsAreNotUsedInIfRange) {
  hold("abcd", {"W/\"v1\"", kDate1}, 10);
  auto& s = open();
  EXPECT_EQ(s.next_request()->if_range, kDate1);
}

TEST_F(SessionTest, ResumeWithoutValidatorsTrustsOnlyTheRecordedTotal) {
  const auto body = pattern(100);
  hold(body.substr(0, 40), {}, 100);
  auto& s = open();
  const auto spec = s.next_request();
  ASSERT_TRUE(spec);
  EXPECT_TRUE(spec->ranged);
  EXPECT_EQ(spec->if_range, "");
  auto head = partial(40, 99, 100, "");
  head.validators.last_modified.clear();
  ASSERT_EQ(s.on_response(head), Verdict::Accept);
  feed(body.substr(40));
  s.on_request_end(std::nullopt);
  expect_done();
  EXPECT_EQ(staging(), body);
}

TEST_F(SessionTest, ResumeWithoutValidatorsRestartsWhenTheTotalDiffers) {
  const auto body = pattern(120, 2);
  hold(pattern(40), {}, 100);
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  auto head = partial(40, 119, 120, "");
  head.validators.last_modified.clear();
  EXPECT_EQ(s.on_response(head), Verdict::Abort);
  s.on_request_end(std::nullopt);
  EXPECT_EQ(log_.last().kind, Kind::Restarted);
  EXPECT_EQ(log_.last().bytes_transferred, 0U);
  EXPECT_EQ(staging(), "");
  const auto again = s.next_request();
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->ranged);
  ASSERT_EQ(s.on_response(full(body, "")), Verdict::Accept);
  feed(body);
  s.on_request_end(std::nullopt);
  expect_done();
  EXPECT_EQ(staging(), body);
}

TEST_F(SessionTest, ResumeWithNothingToValidateStartsOver) {
  hold("partial", {}, std::nullopt);
  auto& s = open();
  EXPECT_EQ(staging(), "");
  ASSERT_EQ(log_.size(), 1U);
  EXPECT_EQ(log_.last().kind, Kind::Progress);
  EXPECT_TRUE(log_.last().durable);
  EXPECT_EQ(log_.last().bytes_transferred, 0U);
  EXPECT_FALSE(s.next_request()->ranged);
}

TEST_F(SessionTest, ResumeCutsBytesPastTheCheckpoint) {
  write_file(staging_file(req_), "0123456789");
  req_.resume_from = 6;
  req_.file.validators = {"\"v1\"", ""};
  req_.file.bytes_total = 20;
  auto& s = open();
  EXPECT_EQ(staging(), "012345");
  EXPECT_EQ(s.next_request()->first, 6U);
  EXPECT_EQ(log_.size(), 0U);
}

TEST_F(SessionTest, ResumeBeyondTheFileOnDiskStartsOver) {
  write_file(staging_file(req_), "0123");
  req_.resume_from = 10;
  req_.file.validators = {"\"v1\"", ""};
  req_.file.bytes_total = 20;
  auto& s = open();
  EXPECT_EQ(staging(), "");
  EXPECT_FALSE(s.next_request()->ranged);
}

TEST_F(SessionTest, ServerIgnoringRangeRestartsSilentlyFromZero) {
  const auto body = pattern(1000);
  hold(body.substr(0, 300), {"\"v1\"", kDate1}, 1000);
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(full(body)), Verdict::Accept);
  EXPECT_EQ(staging(), "");
  feed(body);
  s.on_request_end(std::nullopt);
  expect_done();
  EXPECT_EQ(staging(), body);
  EXPECT_EQ(log_.count(Kind::Restarted), 0U);
  const auto evs = log_.events();
  ASSERT_GE(evs.size(), 1U);
  EXPECT_EQ(evs[0].kind, Kind::Progress);
  EXPECT_EQ(evs[0].bytes_transferred, 0U);
  EXPECT_TRUE(evs[0].durable);
}

TEST_F(SessionTest, ChangedRemoteAnsweringWith200RestartsWithAnEvent) {
  const auto old_body = pattern(1000, 1);
  const auto new_body = pattern(800, 2);
  hold(old_body.substr(0, 300), {"\"v1\"", kDate1}, 1000);
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(full(new_body, "\"v2\"", kDate2)), Verdict::Accept);
  feed(new_body);
  s.on_request_end(std::nullopt);
  expect_done();
  EXPECT_EQ(staging(), new_body);
  EXPECT_EQ(log_.count(Kind::Restarted), 1U);
  EXPECT_EQ(log_.last().validators.etag, "\"v2\"");
  EXPECT_EQ(log_.last().bytes_total, std::optional<std::uint64_t>(800));
}

TEST_F(SessionTest, SameSizeButNewLastModifiedIsAChange) {
  const auto body = pattern(100);
  hold(body.substr(0, 10), {"", kDate1}, 100);
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(full(body, "", kDate2)), Verdict::Accept);
  EXPECT_EQ(log_.count(Kind::Restarted), 1U);
}

TEST_F(SessionTest, PartialResponseFromAnotherVersionRestarts) {
  hold(pattern(300), {"\"v1\"", kDate1}, 1000);
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  EXPECT_EQ(s.on_response(partial(300, 999, 1000, "\"v2\"")), Verdict::Abort);
  s.on_request_end(std::nullopt);
  EXPECT_EQ(log_.last().kind, Kind::Restarted);
  EXPECT_EQ(staging(), "");
  EXPECT_FALSE(s.next_request()->ranged);
}

TEST_F(SessionTest, PartialResponseWithTheWrongStartFails) {
  hold(pattern(300), {"\"v1\"", kDate1}, 1000);
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  EXPECT_EQ(s.on_response(partial(200, 999, 1000)), Verdict::Abort);
  s.on_request_end(std::nullopt);
  const auto ev = log_.last();
  EXPECT_EQ(ev.kind, Kind::Failed);
  ASSERT_TRUE(ev.error);
  EXPECT_EQ(ev.error->code, hr::BgEInvalidServerResponse);
  EXPECT_TRUE(ev.transient);
  EXPECT_EQ(ev.bytes_transferred, 300U);
  EXPECT_EQ(staging().size(), 300U);
}

TEST_F(SessionTest, PartialResponseToAPlainRequestFails) {
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  EXPECT_EQ(s.on_response(partial(0, 9, 10)), Verdict::Abort);
  s.on_request_end(std::nullopt);
  EXPECT_EQ(log_.last().error->code, hr::BgEInvalidServerResponse);
}

TEST_F(SessionTest, PartialResponseWithoutContentRangeFails) {
  hold(pattern(3), {"\"v1\"", ""}, 10);
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  auto h = partial(3, 9, 10);
  h.content_range.reset();
  EXPECT_EQ(s.on_response(h), Verdict::Abort);
  s.on_request_end(std::nullopt);
  EXPECT_EQ(log_.last().error->code, hr::BgEInvalidServerResponse);
}

TEST_F(SessionTest, UnsatisfiableResumeOfACompleteFileFinishes) {
  const auto body = pattern(500);
  hold(body, {"\"v1\"", kDate1}, std::nullopt);
  auto& s = open();
  const auto spec = s.next_request();
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->range_header_value(), "bytes=500-");
  auto h = status(416);
  h.content_range = ContentRange{false, 0, 0, 500};
  EXPECT_EQ(s.on_response(h), Verdict::Abort);
  s.on_request_end(std::nullopt);
  expect_done();
  EXPECT_EQ(staging(), body);
  EXPECT_EQ(log_.last().bytes_total, std::optional<std::uint64_t>(500));
}

TEST_F(SessionTest, RecordedCompleteFileFinishesWithoutARequest) {
  const auto body = pattern(500);
  hold(body, {"\"v1\"", kDate1}, 500);
  auto& s = open();
  EXPECT_FALSE(s.next_request());
  EXPECT_EQ(log_.last().kind, Kind::FileDone);
  EXPECT_EQ(staging(), body);
}

TEST_F(SessionTest, UnsatisfiableResumeOfAShrunkFileRestarts) {
  hold(pattern(500), {"\"v1\"", kDate1}, std::nullopt);
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  auto h = status(416);
  h.content_range = ContentRange{false, 0, 0, 200};
  EXPECT_EQ(s.on_response(h), Verdict::Abort);
  s.on_request_end(std::nullopt);
  EXPECT_EQ(log_.last().kind, Kind::Restarted);
  EXPECT_EQ(staging(), "");
}

TEST_F(SessionTest, NotFoundFailsFatallyKeepingDurableBytes) {
  hold(pattern(64), {"\"v1\"", ""}, 100);
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  EXPECT_EQ(s.on_response(status(404)), Verdict::Abort);
  s.on_request_end(std::nullopt);
  const auto ev = log_.last();
  EXPECT_EQ(ev.kind, Kind::Failed);
  EXPECT_EQ(ev.error->code, 0x80190194U);
  EXPECT_EQ(ev.error->message, std::string("HTTP 404 Not Found from ") + kUrl);
  EXPECT_EQ(ev.error->file_index, std::optional<std::uint32_t>(0));
  EXPECT_FALSE(ev.transient);
  EXPECT_EQ(ev.bytes_transferred, 64U);
  EXPECT_TRUE(ev.durable);
  EXPECT_TRUE(s.finished());
}

TEST_F(SessionTest, ServiceUnavailableCarriesRetryAfter) {
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  auto h = status(503);
  h.retry_after = 120;
  EXPECT_EQ(s.on_response(h), Verdict::Abort);
  s.on_request_end(std::nullopt);
  const auto ev = log_.last();
  EXPECT_TRUE(ev.transient);
  EXPECT_EQ(ev.retry_after_s, std::optional<std::uint32_t>(120));
  EXPECT_EQ(ev.error->code, hresult_from_http(503));
}

TEST_F(SessionTest, TransportErrorsReportTheSyncedBytes) {
  const auto body = pattern(1000);
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(full(body)), Verdict::Accept);
  feed(body.substr(0, 321));
  s.on_request_end(
      Classified{Error::make(hr::BgEConnectionClosed, "reset", ErrorContext::GeneralTransport),
                 true, std::nullopt});
  const auto ev = log_.last();
  EXPECT_EQ(ev.kind, Kind::Failed);
  EXPECT_EQ(ev.bytes_transferred, 321U);
  EXPECT_TRUE(ev.transient);
  EXPECT_EQ(staging(), body.substr(0, 321));
}

TEST_F(SessionTest, ABodyThatEndsEarlyIsADroppedConnection) {
  hold(pattern(10), {"\"v1\"", ""}, 100);
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(partial(10, 99, 100)), Verdict::Accept);
  feed(pattern(50));
  s.on_request_end(std::nullopt);  // "success" with 40 bytes missing
  const auto ev = log_.last();
  EXPECT_EQ(ev.kind, Kind::Failed);
  EXPECT_EQ(ev.error->code, hr::BgEConnectionClosed);
  EXPECT_TRUE(ev.transient);
  EXPECT_EQ(ev.bytes_transferred, 60U);
}

TEST_F(SessionTest, AShorterPartialResponseIsContinued) {
  const auto body = pattern(100);
  hold(body.substr(0, 10), {"\"v1\"", ""}, 100);
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(partial(10, 49, 100)), Verdict::Accept);
  feed(body.substr(10, 40));
  s.on_request_end(std::nullopt);
  const auto next = s.next_request();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->range_header_value(), "bytes=50-");
  EXPECT_EQ(next->if_range, "\"v1\"");
  ASSERT_EQ(s.on_response(partial(50, 99, 100)), Verdict::Accept);
  feed(body.substr(50));
  s.on_request_end(std::nullopt);
  expect_done();
  EXPECT_EQ(staging(), body);
}

TEST_F(SessionTest, BodyWithoutLengthEndsAtEof) {
  const auto body = pattern(777);
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  auto h = full(body);
  h.content_length.reset();
  ASSERT_EQ(s.on_response(h), Verdict::Accept);
  feed(body);
  s.on_request_end(std::nullopt);
  expect_done();
  EXPECT_EQ(log_.last().bytes_total, std::optional<std::uint64_t>(777));
}

TEST_F(SessionTest, EmptyFile) {
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(full("")), Verdict::Accept);
  s.on_request_end(std::nullopt);
  expect_done();
  EXPECT_EQ(log_.last().bytes_total, std::optional<std::uint64_t>(0));
}

TEST_F(SessionTest, AnEndlesslyChangingRemoteGivesUpTransiently) {
  // Each first range comes from one version, each second range from the next one.
  req_.file.spec.ranges = {{0, 10}, {20, 10}};
  auto& s = open();
  int version = 0;
  for (int round = 0; round < 10 && !s.finished(); ++round) {
    const auto spec = s.next_request();
    ASSERT_TRUE(spec);
    const auto etag = "\"v" + std::to_string(version) + "\"";
    if (spec->first == 0) {
      ASSERT_EQ(s.on_response(partial(0, 9, 100, etag)), Verdict::Accept);
      feed(pattern(10));
    } else {
      ++version;
      EXPECT_EQ(s.on_response(partial(20, 29, 100, "\"v" + std::to_string(version) + "\"")),
                Verdict::Abort);
    }
    s.on_request_end(std::nullopt);
  }
  ASSERT_TRUE(s.finished());
  const auto ev = log_.last();
  EXPECT_EQ(ev.kind, Kind::Failed);
  EXPECT_EQ(ev.error->code, hr::BgERemoteFileChanged);
  EXPECT_TRUE(ev.transient);
  EXPECT_EQ(log_.count(Kind::Restarted), FetchSession::kMaxRestartsPerRun);
}

// --- ranges ---

TEST_F(SessionTest, RangesAreConcatenatedInTheGivenOrder) {
  const auto remote = pattern(1000);
  req_.file.spec.ranges = {{100, 100}, {900, 100}, {400, 100}};
  auto& s = open();
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> expected = {
      {100, 199}, {900, 999}, {400, 499}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto spec = s.next_request();
    ASSERT_TRUE(spec);
    EXPECT_TRUE(spec->ranged);
    EXPECT_EQ(spec->first, expected[i].first);
    EXPECT_EQ(spec->last, std::optional<std::uint64_t>(expected[i].second));
    EXPECT_EQ(spec->if_range, i == 0 ? "" : "\"v1\"");
    ASSERT_EQ(s.on_response(partial(expected[i].first, expected[i].second, 1000)), Verdict::Accept);
    feed(remote.substr(expected[i].first, 100));
    s.on_request_end(std::nullopt);
  }
  expect_done();
  EXPECT_EQ(staging(), remote.substr(100, 100) + remote.substr(900, 100) + remote.substr(400, 100));
  EXPECT_EQ(log_.last().bytes_total, std::optional<std::uint64_t>(300));
}

TEST_F(SessionTest, RangesFromAServerThatIgnoresRangeAreCutOutOfTheFullBody) {
  const auto remote = pattern(1000);
  req_.file.spec.ranges = {{100, 100}, {900, 100}, {400, 100}};
  auto& s = open();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(s.next_request());
    ASSERT_EQ(s.on_response(full(remote)), Verdict::Accept);
    EXPECT_EQ(feed(remote, 64), BodyVerdict::Stop);
    s.on_request_end(Classified{Error::make(hr::EFail, "aborted by us"), true, std::nullopt});
  }
  expect_done();
  EXPECT_EQ(staging(), remote.substr(100, 100) + remote.substr(900, 100) + remote.substr(400, 100));
  EXPECT_EQ(log_.count(Kind::Restarted), 0U);
}

TEST_F(SessionTest, RangesResumeInsideTheRightPiece) {
  const auto remote = pattern(1000);
  req_.file.spec.ranges = {{100, 100}, {900, 100}, {400, 100}};
  hold(remote.substr(100, 100) + remote.substr(900, 50), {"\"v1\"", ""}, 300);
  auto& s = open();
  const auto spec = s.next_request();
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->range_header_value(), "bytes=950-999");
  EXPECT_EQ(spec->if_range, "\"v1\"");
  ASSERT_EQ(s.on_response(partial(950, 999, 1000)), Verdict::Accept);
  feed(remote.substr(950, 50));
  s.on_request_end(std::nullopt);
  EXPECT_EQ(s.next_request()->range_header_value(), "bytes=400-499");
  ASSERT_EQ(s.on_response(partial(400, 499, 1000)), Verdict::Accept);
  feed(remote.substr(400, 100));
  s.on_request_end(std::nullopt);
  expect_done();
  EXPECT_EQ(staging(), remote.substr(100, 100) + remote.substr(900, 100) + remote.substr(400, 100));
}

TEST_F(SessionTest, RangesWithAChangedRemoteStartOver) {
  const auto v1 = pattern(1000, 1);
  const auto v2 = pattern(1000, 2);
  req_.file.spec.ranges = {{100, 100}, {900, 100}};
  hold(v1.substr(100, 100), {"\"v1\"", ""}, 200);
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  // If-Range failed: the full new version arrives; the first range is cut out of it.
  ASSERT_EQ(s.on_response(full(v2, "\"v2\"")), Verdict::Accept);
  EXPECT_EQ(log_.count(Kind::Restarted), 1U);
  EXPECT_EQ(feed(v2, 100), BodyVerdict::Stop);
  s.on_request_end(std::nullopt);
  const auto spec = s.next_request();
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->range_header_value(), "bytes=900-999");
  EXPECT_EQ(spec->if_range, "\"v2\"");
  ASSERT_EQ(s.on_response(partial(900, 999, 1000, "\"v2\"")), Verdict::Accept);
  feed(v2.substr(900));
  s.on_request_end(std::nullopt);
  expect_done();
  EXPECT_EQ(staging(), v2.substr(100, 100) + v2.substr(900, 100));
}

TEST_F(SessionTest, EofRangeTakesItsLengthFromTheTotal) {
  const auto remote = pattern(1000);
  req_.file.spec.ranges = {{10, 5}, {990, engine::kLengthToEof}};
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(partial(10, 14, 1000)), Verdict::Accept);
  feed(remote.substr(10, 5));
  s.on_request_end(std::nullopt);
  const auto spec = s.next_request();
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->range_header_value(), "bytes=990-999");
  ASSERT_EQ(s.on_response(partial(990, 999, 1000)), Verdict::Accept);
  feed(remote.substr(990));
  s.on_request_end(std::nullopt);
  expect_done();
  EXPECT_EQ(log_.last().bytes_total, std::optional<std::uint64_t>(15));
  EXPECT_EQ(staging(), remote.substr(10, 5) + remote.substr(990));
}

TEST_F(SessionTest, EofRangeResumesFromTheRecordedTotal) {
  const auto remote = pattern(1000);
  req_.file.spec.ranges = {{990, engine::kLengthToEof}, {0, 5}};
  hold(remote.substr(990, 4), {"\"v1\"", ""}, 15);
  auto& s = open();
  const auto spec = s.next_request();
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->range_header_value(), "bytes=994-999");
}

TEST_F(SessionTest, BytesPastAnUnresolvedEofRangeAreNotTrusted) {
  // Without a recorded total nothing says where the EOF range ends, so the 3 bytes held of the
  // range after it cannot be placed: resume at the start of the EOF range.
  const auto remote = pattern(1000);
  req_.file.spec.ranges = {{0, 10}, {990, engine::kLengthToEof}, {0, 5}};
  hold(remote.substr(0, 10) + remote.substr(990, 10) + remote.substr(0, 3), {"\"v1\"", ""},
       std::nullopt);
  auto& s = open();
  EXPECT_EQ(staging(), remote.substr(0, 10));
  EXPECT_EQ(s.next_request()->range_header_value(), "bytes=990-");
}

TEST_F(SessionTest, AnEofRangeAtTheEndResumesInside) {
  const auto remote = pattern(1000);
  req_.file.spec.ranges = {{0, 10}, {990, engine::kLengthToEof}};
  hold(remote.substr(0, 10) + remote.substr(990, 4), {"\"v1\"", ""}, std::nullopt);
  auto& s = open();
  EXPECT_EQ(s.next_request()->range_header_value(), "bytes=994-");
}

TEST_F(SessionTest, ARestartAnnouncesTheNewVersionAgain) {
  const auto v2 = pattern(100, 2);
  req_.file.spec.ranges = {{0, 10}, {50, 10}};
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(partial(0, 9, 100, "\"v1\"")), Verdict::Accept);
  feed(pattern(10));
  s.on_request_end(std::nullopt);
  ASSERT_TRUE(s.next_request());
  // If-Range failed: version 2 arrives in full; its validators travel with Restarted.
  ASSERT_EQ(s.on_response(full(v2, "\"v2\"")), Verdict::Accept);
  std::vector<engine::TransferEvent> connected;
  engine::TransferEvent restarted;
  for (const auto& e : log_.events()) {
    if (e.kind == Kind::Connected) {
      connected.push_back(e);
    }
    if (e.kind == Kind::Restarted) {
      restarted = e;
    }
  }
  EXPECT_EQ(restarted.validators.etag, "\"v2\"");
  EXPECT_EQ(restarted.bytes_transferred, 0U);
  ASSERT_EQ(connected.size(), 2U);
  EXPECT_EQ(connected[0].validators.etag, "\"v1\"");
  EXPECT_EQ(connected[1].validators.etag, "\"v2\"");
  EXPECT_EQ(feed(v2, 100), BodyVerdict::Stop);
  s.on_request_end(std::nullopt);
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(partial(50, 59, 100, "\"v2\"")), Verdict::Accept);
  feed(v2.substr(50, 10));
  s.on_request_end(std::nullopt);
  expect_done();
  EXPECT_EQ(staging(), v2.substr(0, 10) + v2.substr(50, 10));
}

TEST_F(SessionTest, RangeBeyondTheEndIsFatal) {
  req_.file.spec.ranges = {{5000, 10}};
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  auto h = status(416);
  h.content_range = ContentRange{false, 0, 0, 1000};
  EXPECT_EQ(s.on_response(h), Verdict::Abort);
  s.on_request_end(std::nullopt);
  const auto ev = log_.last();
  EXPECT_EQ(ev.kind, Kind::Failed);
  EXPECT_EQ(ev.error->code, hr::DoEInvalidRange);
  EXPECT_FALSE(ev.transient);
}

TEST_F(SessionTest, ALaterRangeBeyondTheEndFailsAsSoonAsTheSizeIsKnown) {
  req_.file.spec.ranges = {{0, 10}, {5000, 10}};
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  EXPECT_EQ(s.on_response(partial(0, 9, 1000)), Verdict::Abort);
  s.on_request_end(std::nullopt);
  EXPECT_EQ(log_.last().error->code, hr::DoEInvalidRange);
}

TEST_F(SessionTest, RangeCutFromAShortFullBodyIsFatal) {
  req_.file.spec.ranges = {{50, 100}};
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  auto h = full(pattern(80));
  h.content_length.reset();  // size unknown until the body ends
  ASSERT_EQ(s.on_response(h), Verdict::Accept);
  feed(pattern(80));
  s.on_request_end(std::nullopt);
  EXPECT_EQ(log_.last().error->code, hr::DoEInvalidRange);
}

// --- checkpoints ---

TEST_F(SessionTest, CheckpointsEveryCheckpointBytes) {
  req_.checkpoint_bytes = 100;
  req_.checkpoint_ms = 3'600'000;
  const auto body = pattern(1000);
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(full(body)), Verdict::Accept);
  feed(body, 50);
  std::vector<std::uint64_t> durable;
  for (const auto& e : log_.events()) {
    if (e.kind == Kind::Progress && e.durable) {
      durable.push_back(e.bytes_transferred);
    }
  }
  ASSERT_EQ(durable.size(), 10U);
  EXPECT_EQ(durable.front(), 100U);
  EXPECT_EQ(durable.back(), 1000U);
  EXPECT_EQ(s.durable_bytes(), 1000U);
}

TEST_F(SessionTest, TickCheckpointsAfterTheInterval) {
  req_.checkpoint_bytes = 1U << 30;
  req_.checkpoint_ms = 1000;
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(full(pattern(100))), Verdict::Accept);
  feed(pattern(30));
  EXPECT_EQ(s.durable_bytes(), 0U);
  const auto due = s.next_deadline();
  ASSERT_NE(due, MonoTime::max());
  EXPECT_TRUE(s.tick(due + std::chrono::milliseconds(1000)));
  EXPECT_EQ(s.durable_bytes(), 30U);
  EXPECT_EQ(log_.last().kind, Kind::Progress);
  EXPECT_TRUE(log_.last().durable);
}

TEST_F(SessionTest, ShutdownSyncsAndEmitsNothing) {
  req_.checkpoint_bytes = 1U << 30;
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(full(pattern(100))), Verdict::Accept);
  feed(pattern(42));
  const auto before = log_.size();
  EXPECT_EQ(s.shutdown(), 42U);
  EXPECT_EQ(log_.size(), before);
  EXPECT_TRUE(s.finished());
  EXPECT_EQ(staging().size(), 42U);
}

// --- checkpoint syncs off the session's thread ---

class AsyncSessionTest : public SessionTest {
 protected:
  FetchSession& open_async() {
    auto& s = open();
    s.set_async_sync([this](SyncJob& job) {
      jobs_.push_back(std::move(job));
      return true;
    });
    return s;
  }
  /// What the syncer does: fdatasync the job's descriptor, then report back.
  bool complete(std::size_t i, int err = 0) {
    auto& job = jobs_.at(i);
    EXPECT_TRUE(job.fd.valid());
    if (err == 0) {
      EXPECT_EQ(fdatasync(job.fd.get()), 0);
    }
    job.fd.reset();
    return s_->on_sync_done(job.generation, job.bytes, err);
  }
  std::vector<std::uint64_t> durable_progress() const {
    std::vector<std::uint64_t> out;
    for (const auto& e : log_.events()) {
      if (e.kind == Kind::Progress && e.durable) {
        out.push_back(e.bytes_transferred);
      }
    }
    return out;
  }

  std::vector<SyncJob> jobs_;
};

TEST_F(AsyncSessionTest, DurableProgressWaitsForTheSyncAndNeverExceedsWhatItCovered) {
  req_.checkpoint_bytes = 100;
  req_.checkpoint_ms = 3'600'000;
  const auto body = pattern(1000);
  auto& s = open_async();
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(full(body)), Verdict::Accept);
  feed(body.substr(0, 150), 50);
  ASSERT_EQ(jobs_.size(), 1U);
  EXPECT_EQ(jobs_[0].bytes, 100U);
  EXPECT_TRUE(s.sync_in_flight());
  EXPECT_TRUE(durable_progress().empty());
  EXPECT_EQ(s.durable_bytes(), 0U);

  // While it is in flight no second sync starts, however much arrives.
  feed(body.substr(150, 300), 50);
  EXPECT_EQ(jobs_.size(), 1U);
  EXPECT_TRUE(durable_progress().empty());

  EXPECT_TRUE(complete(0));
  EXPECT_FALSE(s.sync_in_flight());
  EXPECT_EQ(durable_progress(), std::vector<std::uint64_t>{100});
  EXPECT_EQ(s.durable_bytes(), 100U);
  EXPECT_EQ(s.staging_bytes(), 450U);

  // The next write starts the next one, covering everything written so far.
  feed(body.substr(450, 50), 50);
  ASSERT_EQ(jobs_.size(), 2U);
  EXPECT_EQ(jobs_[1].bytes, 500U);
  EXPECT_TRUE(complete(1));
  EXPECT_EQ(durable_progress(), (std::vector<std::uint64_t>{100, 500}));

  // The end of the file is synced on the spot, in flight or not.
  feed(body.substr(500), 50);
  ASSERT_EQ(jobs_.size(), 3U);
  s.on_request_end(std::nullopt);
  expect_done();
  EXPECT_EQ(log_.last().bytes_transferred, 1000U);
  const auto before = log_.size();
  EXPECT_TRUE(complete(2));
  EXPECT_EQ(log_.size(), before);
  EXPECT_EQ(staging(), body);
}

TEST_F(AsyncSessionTest, NoCheckpointDeadlineWhileASyncIsInFlight) {
  req_.checkpoint_bytes = 1U << 30;
  req_.checkpoint_ms = 1000;
  auto& s = open_async();
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(full(pattern(100))), Verdict::Accept);
  feed(pattern(30));
  const auto due = s.next_deadline();
  ASSERT_NE(due, MonoTime::max());
  const auto at = due + std::chrono::milliseconds(1000);
  EXPECT_TRUE(s.tick(at));
  ASSERT_EQ(jobs_.size(), 1U);
  EXPECT_EQ(jobs_[0].bytes, 30U);
  EXPECT_EQ(s.durable_bytes(), 0U);
  // The completion wakes the transport; until then there is nothing to poll for.
  EXPECT_GT(s.next_deadline(), at);
  EXPECT_TRUE(s.tick(at + std::chrono::milliseconds(5000)));
  EXPECT_EQ(jobs_.size(), 1U);
  EXPECT_TRUE(complete(0));
  EXPECT_EQ(s.durable_bytes(), 30U);
  EXPECT_TRUE(log_.last().durable);
  EXPECT_EQ(log_.last().bytes_transferred, 30U);
}

TEST_F(AsyncSessionTest, ARestartInvalidatesTheSyncInFlight) {
  req_.checkpoint_bytes = 100;
  req_.checkpoint_ms = 3'600'000;
  const auto v1 = pattern(1000, 1);
  const auto v2 = pattern(1000, 2);
  auto& s = open_async();
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(full(v1)), Verdict::Accept);
  feed(v1.substr(0, 150), 50);
  ASSERT_EQ(jobs_.size(), 1U);
  EXPECT_EQ(jobs_[0].bytes, 100U);

  // The source changed under us: the staging file starts over.
  s.on_source_changed();
  s.on_request_end(std::nullopt);
  EXPECT_EQ(log_.last().kind, Kind::Restarted);
  EXPECT_EQ(s.durable_bytes(), 0U);
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(full(v2, "\"v2\"", kDate2)), Verdict::Accept);
  feed(v2.substr(0, 150), 50);
  EXPECT_EQ(jobs_.size(), 1U);  // still only the stale one in flight

  // Its completion must not vouch for 100 bytes of the new version.
  const auto before = log_.size();
  EXPECT_TRUE(complete(0));
  EXPECT_EQ(log_.size(), before);
  EXPECT_EQ(s.durable_bytes(), 0U);
  EXPECT_FALSE(s.sync_in_flight());

  feed(v2.substr(150, 50), 50);
  ASSERT_EQ(jobs_.size(), 2U);
  EXPECT_NE(jobs_[1].generation, jobs_[0].generation);
  EXPECT_EQ(jobs_[1].bytes, 200U);
  EXPECT_TRUE(complete(1));
  EXPECT_EQ(s.durable_bytes(), 200U);
  EXPECT_EQ(log_.last().bytes_transferred, 200U);
  EXPECT_TRUE(log_.last().durable);
}

TEST_F(AsyncSessionTest, ShutdownSyncsItselfAndDropsALateCompletion) {
  req_.checkpoint_bytes = 100;
  req_.checkpoint_ms = 3'600'000;
  auto& s = open_async();
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(full(pattern(1000))), Verdict::Accept);
  feed(pattern(1000).substr(0, 250), 50);
  ASSERT_EQ(jobs_.size(), 1U);
  const auto before = log_.size();
  EXPECT_EQ(s.shutdown(), 250U);
  EXPECT_TRUE(complete(0));
  EXPECT_EQ(log_.size(), before);
  EXPECT_EQ(s.durable_bytes(), 250U);
}

TEST_F(AsyncSessionTest, AFailedSyncFailsTheTransfer) {
  req_.checkpoint_bytes = 100;
  req_.checkpoint_ms = 3'600'000;
  auto& s = open_async();
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(full(pattern(1000))), Verdict::Accept);
  feed(pattern(1000).substr(0, 150), 50);
  ASSERT_EQ(jobs_.size(), 1U);
  EXPECT_FALSE(complete(0, EIO));
  EXPECT_TRUE(s.finished());
  EXPECT_EQ(log_.last().kind, Kind::Failed);
  EXPECT_TRUE(log_.last().durable);
}

TEST_F(AsyncSessionTest, ARefusedSubmissionSyncsOnTheSpot) {
  req_.checkpoint_bytes = 100;
  req_.checkpoint_ms = 3'600'000;
  auto& s = open();
  s.set_async_sync([](SyncJob&) { return false; });
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(full(pattern(1000))), Verdict::Accept);
  feed(pattern(1000).substr(0, 150), 50);
  EXPECT_EQ(durable_progress(), std::vector<std::uint64_t>{100});
  EXPECT_FALSE(s.sync_in_flight());
}

// --- sha256 ---

TEST_F(SessionTest, MatchingSha256IsVerified) {
  const auto body = pattern(3000);
  req_.file.spec.sha256 = sha256_hex(body);
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(full(body)), Verdict::Accept);
  feed(body, 1000);
  s.on_request_end(std::nullopt);
  EXPECT_FALSE(s.next_request());
  ASSERT_TRUE(s.verifying());
  while (s.verifying()) {
    s.verify_step(1000);
  }
  EXPECT_EQ(log_.last().kind, Kind::FileDone);
  EXPECT_TRUE(log_.last().verified);
  EXPECT_EQ(staging(), body);
}

TEST_F(SessionTest, UpperCaseSha256IsAccepted) {
  const auto body = pattern(10);
  std::string upper = sha256_hex(body);
  for (auto& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  req_.file.spec.sha256 = upper;
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(full(body)), Verdict::Accept);
  feed(body);
  s.on_request_end(std::nullopt);
  EXPECT_FALSE(s.next_request());
  s.verify_step(1U << 20);
  EXPECT_TRUE(log_.last().verified);
}

TEST_F(SessionTest, Sha256MismatchDiscardsTheData) {
  const auto body = pattern(3000);
  req_.file.spec.sha256 = sha256_hex("something else");
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  ASSERT_EQ(s.on_response(full(body)), Verdict::Accept);
  feed(body, 1000);
  s.on_request_end(std::nullopt);
  EXPECT_FALSE(s.next_request());
  s.verify_step(1U << 20);
  const auto ev = log_.last();
  EXPECT_EQ(ev.kind, Kind::Failed);
  EXPECT_EQ(ev.error->code, hr::BgEValidationFailed);
  EXPECT_EQ(ev.error->context, ErrorContext::RemoteFile);
  EXPECT_FALSE(ev.transient);
  EXPECT_EQ(ev.bytes_transferred, 0U);
  EXPECT_EQ(staging(), "");
}

// --- misc ---

TEST_F(SessionTest, BodyBeforeAResponseIsRefused) {
  auto& s = open();
  ASSERT_TRUE(s.next_request());
  EXPECT_EQ(s.on_body("x", 1), BodyVerdict::Abort);
  s.on_request_end(std::nullopt);
  EXPECT_EQ(log_.last().error->code, hr::BgEInvalidServerResponse);
}

TEST_F(SessionTest, UnwritableStagingDirectoryFailsAtOpen) {
  req_.file.spec.local_path = dir_ / "missing/out.bin";
  FetchSession s(req_, log_.sink());
  EXPECT_FALSE(s.open());
  EXPECT_TRUE(s.finished());
  const auto ev = log_.last();
  EXPECT_EQ(ev.kind, Kind::Failed);
  EXPECT_FALSE(ev.transient);
  EXPECT_EQ(ev.error->context, ErrorContext::LocalFile);
}

}  // namespace
}  // namespace bgcopy::transfer
