// CurlTransfer against real HTTP servers from tests/support: a private nginx (a well-behaved
// server with Range/If-Range) and fault_origin.py (a misbehaving one). Skipped when nginx or
// python3 is missing.
#include "files.hpp"
#include "nginx_fixture.hpp"
#include "origin_fixture.hpp"
#include "test_util.hpp"
#include "transfer/curl_transfer.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fcntl.h>

#include <memory>
#include <string>

namespace bgcopy::transfer {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)
using bgcopy::test::FaultOrigin;
using bgcopy::test::gen_content;
using bgcopy::test::NginxServer;

std::vector<engine::TransferEvent> for_transfer(const std::vector<engine::TransferEvent>& evs,
                                                std::uint64_t id) {
  std::vector<engine::TransferEvent> out;
  for (const auto& e : evs) {
    if (e.transfer_id == id) {
      out.push_back(e);
    }
  }
  return out;
}

class HttpTransferTest : public ::testing::Test {
 protected:
  HttpTransferTest() : xfer_(std::make_unique<CurlTransfer>(log_.sink())) {}

  engine::TransferRequest request(const std::string& url, std::uint64_t id = 1) {
    auto r = make_request(dir_, url);
    r.owner = geteuid();
    r.transfer_id = id;
    r.stall_timeout_s = 30;
    r.connect_timeout_s = 10;
    return r;
  }
  engine::TransferEvent run(const engine::TransferRequest& r) {
    xfer_->start(r);
    return wait_final(r.transfer_id);
  }
  /// The FileDone or Failed of transfer `id`, waiting for it.
  engine::TransferEvent wait_final(std::uint64_t id) {
    EXPECT_TRUE(log_.wait_for(
        [id](const auto& evs) {
          for (const auto& e : evs) {
            if (e.transfer_id == id && (e.kind == Kind::FileDone || e.kind == Kind::Failed)) {
              return true;
            }
          }
          return false;
        },
        std::chrono::seconds(60)));
    for (const auto& e : for_transfer(log_.events(), id)) {
      if (e.kind == Kind::FileDone || e.kind == Kind::Failed) {
        return e;
      }
    }
    return {};
  }
  /// Resume request for `r` after its run ended with `last`.
  static engine::TransferRequest resume_of(engine::TransferRequest r,
                                           const engine::TransferEvent& last, std::uint64_t id) {
    r.transfer_id = id;
    r.resume_from = last.bytes_transferred;
    r.file.validators = last.validators;
    r.file.bytes_total = last.bytes_total;
    r.file.remote_mtime = last.remote_mtime;
    return r;
  }
  std::string staging(const engine::TransferRequest& r) const { return read_file(staging_file(r)); }

  TempDir dir_;
  EventLog log_;
  std::unique_ptr<CurlTransfer> xfer_;
};

class NginxTest : public HttpTransferTest {
 protected:
  void SetUp() override {
    if (!NginxServer::available()) {
      GTEST_SKIP() << "nginx not installed";
    }
  }
};

class OriginTest : public HttpTransferTest {
 protected:
  void SetUp() override {
    try {
      origin_ = std::make_unique<FaultOrigin>();
    } catch (const std::exception& e) {
      GTEST_SKIP() << "fault origin unavailable: " << e.what();
    }
  }
  std::unique_ptr<FaultOrigin> origin_;
};

TEST_F(NginxTest, WholeFileWithValidatorsAndMtime) {
  NginxServer nginx;
  const auto content = pattern(5 * 1024 * 1024 + 3);
  write_file((nginx.docroot() / "f.bin").string(), content);
  struct stat st {};
  ASSERT_EQ(stat((nginx.docroot() / "f.bin").c_str(), &st), 0);
  const auto done = run(request(nginx.url("/f.bin")));
  ASSERT_EQ(done.kind, Kind::FileDone) << (done.error ? done.error->message : "");
  EXPECT_EQ(done.bytes_total, std::optional<std::uint64_t>(content.size()));
  EXPECT_FALSE(done.validators.etag.empty());
  EXPECT_FALSE(done.validators.last_modified.empty());
  EXPECT_EQ(done.remote_mtime, std::optional<std::int64_t>(st.st_mtim.tv_sec));
  EXPECT_EQ(staging(request(nginx.url("/f.bin"))), content);
}

TEST_F(NginxTest, ResumeUsesRangeAndIfRange) {
  NginxServer nginx;
  const auto content = pattern(1'000'000);
  write_file((nginx.docroot() / "f.bin").string(), content);
  const auto first = run(request(nginx.url("/f.bin"), 1));
  ASSERT_EQ(first.kind, Kind::FileDone);
  auto r = request(nginx.url("/f.bin"), 2);
  write_file(staging_file(r), content.substr(0, 250'000));
  auto again = r;
  again.resume_from = 250'000;
  again.file.validators = first.validators;
  again.file.bytes_total = first.bytes_total;
  const auto done = run(again);
  ASSERT_EQ(done.kind, Kind::FileDone);
  EXPECT_EQ(staging(r), content);
  const auto log = nginx.access_log_at_least(2);
  ASSERT_EQ(log.size(), 2U);
  EXPECT_EQ(log[1].range, "bytes=250000-");
  EXPECT_EQ(log[1].if_range, first.validators.etag);
  EXPECT_EQ(log[1].status, 206);
  EXPECT_EQ(log[1].bytes_sent, 750'000U);
}

TEST_F(NginxTest, ChangedFileRestartsThroughIfRange) {
  NginxServer nginx;
  const auto path = (nginx.docroot() / "f.bin").string();
  write_file(path, pattern(400'000, 1));
  const auto first = run(request(nginx.url("/f.bin"), 1));
  ASSERT_EQ(first.kind, Kind::FileDone);
  const auto new_content = pattern(300'000, 2);
  write_file(path, new_content);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  timespec times[2] = {{0, UTIME_OMIT}, {st.st_mtim.tv_sec + 100, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  auto r = request(nginx.url("/f.bin"), 2);
  write_file(staging_file(r), pattern(400'000, 1).substr(0, 100'000));
  r.resume_from = 100'000;
  r.file.validators = first.validators;
  r.file.bytes_total = first.bytes_total;
  const auto done = run(r);
  ASSERT_EQ(done.kind, Kind::FileDone);
  EXPECT_EQ(staging(r), new_content);
  EXPECT_EQ(log_.count(Kind::Restarted), 1U);
  EXPECT_EQ(nginx.access_log_at_least(2).back().status, 200);
}

TEST_F(NginxTest, RangesInTheGivenOrder) {
  NginxServer nginx;
  const auto content = pattern(1000);
  write_file((nginx.docroot() / "f.bin").string(), content);
  auto r = request(nginx.url("/f.bin"));
  r.file.spec.ranges = {{100, 100}, {900, 100}, {400, 100}};
  const auto done = run(r);
  ASSERT_EQ(done.kind, Kind::FileDone) << (done.error ? done.error->message : "");
  EXPECT_EQ(staging(r),
            content.substr(100, 100) + content.substr(900, 100) + content.substr(400, 100));
  const auto log = nginx.access_log_at_least(3);
  ASSERT_EQ(log.size(), 3U);
  EXPECT_EQ(log[0].range, "bytes=100-199");
  EXPECT_EQ(log[1].range, "bytes=900-999");
  EXPECT_EQ(log[2].range, "bytes=400-499");
  EXPECT_EQ(log[1].if_range, done.validators.etag);
}

TEST_F(NginxTest, RangeBeyondTheEndIsFatal) {
  NginxServer nginx;
  write_file((nginx.docroot() / "f.bin").string(), pattern(1000));
  auto r = request(nginx.url("/f.bin"));
  r.file.spec.ranges = {{5000, 10}};
  const auto failed = run(r);
  ASSERT_EQ(failed.kind, Kind::Failed);
  EXPECT_EQ(failed.error->code, hr::DoEInvalidRange);
  EXPECT_FALSE(failed.transient);
}

TEST_F(NginxTest, NotFoundIsFatalWithAHumanMessage) {
  NginxServer nginx;
  const auto failed = run(request(nginx.url("/missing")));
  ASSERT_EQ(failed.kind, Kind::Failed);
  EXPECT_EQ(failed.error->code, 0x80190194U);
  EXPECT_FALSE(failed.transient);
  EXPECT_EQ(failed.error->message, "HTTP 404 Not Found from " + nginx.url("/missing"));
}

TEST_F(NginxTest, StopAndResumeAThrottledDownload) {
  bgcopy::test::NginxOptions options;
  options.limit_rate = 1024 * 1024;
  NginxServer nginx(options);
  const auto content = pattern(2 * 1024 * 1024);
  write_file((nginx.docroot() / "f.bin").string(), content);
  auto r = request(nginx.url("/f.bin"), 1);
  r.checkpoint_bytes = 128 * 1024;
  xfer_->start(r);
  ASSERT_TRUE(log_.wait_for([&](const auto& evs) {
    for (const auto& e : evs) {
      if (e.kind == Kind::Progress && e.durable && e.bytes_transferred > 0) {
        return true;
      }
    }
    return false;
  }));
  const auto durable = xfer_->stop(r.job);
  ASSERT_TRUE(durable);
  EXPECT_GT(*durable, 0U);
  EXPECT_LT(*durable, content.size());
  EXPECT_EQ(staging(r), content.substr(0, *durable));
  engine::TransferEvent last;
  for (const auto& e : for_transfer(log_.events(), 1)) {
    last = e;
  }
  last.bytes_transferred = *durable;
  auto resumed = resume_of(r, last, 2);
  resumed.max_recv_bps = 0;
  const auto done = run(resumed);
  ASSERT_EQ(done.kind, Kind::FileDone);
  EXPECT_EQ(staging(r), content);
  EXPECT_EQ(nginx.access_log_at_least(2).back().status, 206);
}

TEST_F(NginxTest, ReceiveRateCapIsHeldWithoutBursts) {
  NginxServer nginx;
  const auto content = pattern(1024 * 1024);
  write_file((nginx.docroot() / "f.bin").string(), content);
  auto r = request(nginx.url("/f.bin"));
  r.max_recv_bps = 2 * 1024 * 1024;
  const auto started = std::chrono::steady_clock::now();
  const auto done = run(r);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(done.kind, Kind::FileDone);
  EXPECT_EQ(staging(r), content);
  EXPECT_GE(took, std::chrono::milliseconds(350));  // 1 MiB at 2 MiB/s, minus the first quantum
  // The first live report (250 ms in) is far from the end: libcurl's own limiter alone would
  // have read the whole file from the socket in one go and then waited.
  std::optional<std::uint64_t> first_live;
  for (const auto& e : log_.events()) {
    if (e.kind == Kind::Progress && !e.durable && !first_live) {
      first_live = e.bytes_transferred;
    }
  }
  ASSERT_TRUE(first_live);
  EXPECT_LT(*first_live, content.size() * 9 / 10);
}

TEST_F(NginxTest, RateCapCanBeLiftedWhileRunning) {
  NginxServer nginx;
  const auto content = pattern(4 * 1024 * 1024);
  write_file((nginx.docroot() / "f.bin").string(), content);
  auto r = request(nginx.url("/f.bin"));
  r.max_recv_bps = 64 * 1024;  // a minute at this rate
  xfer_->start(r);
  ASSERT_TRUE(log_.wait_kind(Kind::Connected));
  xfer_->set_rate_limit(r.job, 0);
  const auto done = wait_final(r.transfer_id);
  ASSERT_EQ(done.kind, Kind::FileDone);
  EXPECT_EQ(staging(r), content);
  EXPECT_EQ(nginx.access_log_at_least(1).size(), 1U);
}

TEST_F(NginxTest, SlowPacedTransferDoesNotTripTheStallTimer) {
  NginxServer nginx;
  const auto content = pattern(12 * 1024);
  write_file((nginx.docroot() / "f.bin").string(), content);
  auto r = request(nginx.url("/f.bin"));
  r.max_recv_bps = 4 * 1024;  // 1 KiB reads, a pause after each
  r.stall_timeout_s = 2;
  const auto done = run(r);
  ASSERT_EQ(done.kind, Kind::FileDone) << (done.error ? done.error->message : "");
  EXPECT_EQ(staging(r), content);
}

TEST_F(OriginTest, ServerIgnoringRangeRestartsCleanly) {
  const auto content = gen_content(300'000, 5);
  const auto url = origin_->url("/gen/300000?seed=5&ignore_range=1");
  const auto first = run(request(url, 1));
  ASSERT_EQ(first.kind, Kind::FileDone);
  auto r = request(url, 2);
  write_file(staging_file(r), content.substr(0, 100'000));
  r.resume_from = 100'000;
  r.file.validators = first.validators;
  r.file.bytes_total = first.bytes_total;
  const auto done = run(r);
  ASSERT_EQ(done.kind, Kind::FileDone);
  EXPECT_EQ(staging(r), content);
  EXPECT_EQ(log_.count(Kind::Restarted), 0U);
  bool reset_seen = false;
  for (const auto& e : for_transfer(log_.events(), 2)) {
    reset_seen = reset_seen || (e.kind == Kind::Progress && e.durable && e.bytes_transferred == 0);
  }
  EXPECT_TRUE(reset_seen);
}

TEST_F(OriginTest, RangesFromAServerIgnoringRange) {
  const auto content = gen_content(100'000, 3);
  auto r = request(origin_->url("/gen/100000?seed=3&ignore_range=1"));
  r.file.spec.ranges = {{50'000, 1000}, {10, 20}, {99'000, engine::kLengthToEof}};
  const auto done = run(r);
  ASSERT_EQ(done.kind, Kind::FileDone) << (done.error ? done.error->message : "");
  EXPECT_EQ(staging(r),
            content.substr(50'000, 1000) + content.substr(10, 20) + content.substr(99'000));
  EXPECT_EQ(done.bytes_total, std::optional<std::uint64_t>(2020));
}

TEST_F(OriginTest, DroppedConnectionIsTransientAndResumes) {
  const auto content = gen_content(1'000'000, 1);
  const auto url = origin_->url("/gen/1000000?seed=1&drop_after=400000");
  auto r = request(url, 1);
  r.checkpoint_bytes = 64 * 1024;
  const auto failed = run(r);
  ASSERT_EQ(failed.kind, Kind::Failed);
  EXPECT_EQ(failed.error->code, hr::BgEConnectionClosed);
  EXPECT_TRUE(failed.transient);
  EXPECT_EQ(failed.bytes_transferred, 400'000U);
  EXPECT_EQ(staging(r), content.substr(0, 400'000));
  const auto done = run(resume_of(r, failed, 2));
  ASSERT_EQ(done.kind, Kind::FileDone);
  EXPECT_EQ(staging(r), content);
  const auto reqs = origin_->requests_at_least(2);
  ASSERT_EQ(reqs.size(), 2U);
  EXPECT_EQ(reqs[1].range, "bytes=400000-");
  EXPECT_EQ(reqs[1].if_range, failed.validators.etag);
}

TEST_F(OriginTest, RemoteChangeBetweenRunsRestartsWithAnEvent) {
  const auto url = origin_->url("/gen/500000?seed=1&change_after=1&seed2=9&drop_after=100000");
  auto r = request(url, 1);
  const auto failed = run(r);
  ASSERT_EQ(failed.kind, Kind::Failed);
  const auto done = run(resume_of(r, failed, 2));
  ASSERT_EQ(done.kind, Kind::FileDone);
  EXPECT_EQ(staging(r), gen_content(500'000, 9));
  EXPECT_EQ(log_.count(Kind::Restarted), 1U);
  EXPECT_NE(done.validators.etag, failed.validators.etag);
}

TEST_F(OriginTest, NoValidatorsResumeTrustsTheTotal) {
  const auto content = gen_content(200'000, 2);
  const auto url = origin_->url("/gen/200000?seed=2&no_validators=1&drop_after=50000");
  auto r = request(url, 1);
  const auto failed = run(r);
  ASSERT_EQ(failed.kind, Kind::Failed);
  EXPECT_TRUE(failed.validators.etag.empty());
  EXPECT_EQ(failed.bytes_total, std::optional<std::uint64_t>(200'000));
  const auto done = run(resume_of(r, failed, 2));
  ASSERT_EQ(done.kind, Kind::FileDone);
  EXPECT_EQ(staging(r), content);
  const auto reqs = origin_->requests_at_least(2);
  ASSERT_EQ(reqs.size(), 2U);
  EXPECT_EQ(reqs[1].range, "bytes=50000-");
  EXPECT_EQ(reqs[1].if_range, "");
  EXPECT_EQ(reqs[1].status, 206);
}

TEST_F(OriginTest, ServiceUnavailableWithRetryAfter) {
  const auto failed = run(request(origin_->url("/gen/10?status=503&retry_after=42")));
  ASSERT_EQ(failed.kind, Kind::Failed);
  EXPECT_EQ(failed.error->code, hresult_from_http(503));
  EXPECT_TRUE(failed.transient);
  EXPECT_EQ(failed.retry_after_s, std::optional<std::uint32_t>(42));
}

TEST_F(OriginTest, TooManyRequestsIsTransient) {
  const auto failed = run(request(origin_->url("/gen/10?status=429&retry_after=5")));
  ASSERT_EQ(failed.kind, Kind::Failed);
  EXPECT_EQ(failed.error->code, hresult_from_http(429));
  EXPECT_TRUE(failed.transient);
  EXPECT_EQ(failed.retry_after_s, std::optional<std::uint32_t>(5));
}

TEST_F(OriginTest, GoneIsFatal) {
  const auto failed = run(request(origin_->url("/gen/10?status=410")));
  ASSERT_EQ(failed.kind, Kind::Failed);
  EXPECT_EQ(failed.error->code, hresult_from_http(410));
  EXPECT_FALSE(failed.transient);
  EXPECT_EQ(failed.error->context, ErrorContext::RemoteFile);
}

TEST_F(OriginTest, WrongContentLengthIsADroppedConnection) {
  const auto failed = run(request(origin_->url("/gen/5000?wrong_length=1")));
  ASSERT_EQ(failed.kind, Kind::Failed);
  EXPECT_EQ(failed.error->code, hr::BgEConnectionClosed);
  EXPECT_TRUE(failed.transient);
}

TEST_F(OriginTest, StallIsATransientTimeout) {
  auto r = request(origin_->url("/gen/100000?stall_after=0"));
  r.stall_timeout_s = 1;
  const auto failed = run(r);
  ASSERT_EQ(failed.kind, Kind::Failed);
  EXPECT_EQ(failed.error->code, hresult_from_errno(ETIMEDOUT));
  EXPECT_TRUE(failed.transient);
  EXPECT_EQ(failed.bytes_transferred, 0U);
}

TEST_F(OriginTest, RedirectsAreFollowed) {
  const auto target = origin_->url("/gen/4096?seed=4");
  const auto done = run(request(origin_->url("/r?status=302&location=" + target)));
  ASSERT_EQ(done.kind, Kind::FileDone) << (done.error ? done.error->message : "");
  EXPECT_EQ(staging(request(target)), gen_content(4096, 4));
}

TEST_F(OriginTest, RedirectToFileIsRefused) {
  const auto failed = run(request(origin_->url("/r?status=302&location=file:///etc/passwd")));
  ASSERT_EQ(failed.kind, Kind::Failed);
  EXPECT_FALSE(failed.transient);
}

TEST_F(OriginTest, TransientFailuresThenSuccess) {
  const auto url = origin_->url("/gen/1000?fail_first=1&fail_status=502");
  const auto failed = run(request(url, 1));
  ASSERT_EQ(failed.kind, Kind::Failed);
  EXPECT_EQ(failed.error->code, hresult_from_http(502));
  EXPECT_TRUE(failed.transient);
  const auto done = run(request(url, 2));
  EXPECT_EQ(done.kind, Kind::FileDone);
}

TEST_F(OriginTest, Sha256OverHttp) {
  auto r = request(origin_->url("/gen/123456?seed=8"));
  r.file.spec.sha256 = bgcopy::test::sha256_bytes(gen_content(123456, 8));
  const auto done = run(r);
  ASSERT_EQ(done.kind, Kind::FileDone);
  EXPECT_TRUE(done.verified);
}

}  // namespace
}  // namespace bgcopy::transfer
