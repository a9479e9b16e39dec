// Files fetched ahead of their turn (TransferRequest::ahead) against a private nginx: fetched
// meanwhile, reported only when start() asks for them and then under its id, dropped by stop(),
// never replaying a failure, and leaving large files for their turn.
#include "nginx_fixture.hpp"
#include "test_util.hpp"
#include "transfer/curl_transfer.hpp"
#include "wait.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>

namespace bgcopy::transfer {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)
using bgcopy::test::NginxServer;

class AheadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!NginxServer::available()) {
      GTEST_SKIP() << "nginx not installed";
    }
    nginx_ = std::make_unique<NginxServer>();
    CurlTransfer::Options options;
    options.segment_min_size = kLimit;
    xfer_ = std::make_unique<CurlTransfer>(log_.sink(), options);
  }

  static constexpr std::uint64_t kLimit = 256 * 1024;  // larger files wait for their turn

  static std::string name(std::uint32_t i) { return "f" + std::to_string(i) + ".bin"; }
  std::string content(std::uint32_t i) const { return pattern(20'000 + i, i + 1); }
  void publish(std::uint32_t i) { publish(i, content(i)); }
  void publish(std::uint32_t i, const std::string& data) {
    write_file((nginx_->docroot() / name(i)).string(), data);
  }

  /// start() of file `i` with `id`, listing files (i, last] ahead.
  engine::TransferRequest request(std::uint32_t i, std::uint64_t id, std::uint32_t last,
                                  const std::string& query = "") {
    auto r = make_request(dir_, nginx_->url("/" + name(i)) + query, name(i));
    r.owner = geteuid();
    r.transfer_id = id;
    r.file_index = i;
    for (std::uint32_t k = i + 1; k <= last; ++k) {
      auto later = make_request(dir_, nginx_->url("/" + name(k)), name(k));
      r.ahead.push_back(engine::AheadFile{k, later.file, 0});
    }
    return r;
  }

  /// The FileDone or Failed of transfer `id`.
  engine::TransferEvent wait_final(std::uint64_t id) {
    const bool ended = log_.wait_for([id](const auto& evs) {
      for (const auto& e : evs) {
        if (e.transfer_id == id && (e.kind == Kind::FileDone || e.kind == Kind::Failed)) {
          return true;
        }
      }
      return false;
    });
    EXPECT_TRUE(ended) << "transfer " << id << " did not end";
    for (const auto& e : log_.events()) {
      if (e.transfer_id == id && (e.kind == Kind::FileDone || e.kind == Kind::Failed)) {
        return e;
      }
    }
    return {};
  }

  /// How often nginx has logged a request for file `i`, waiting until it is at least `n`.
  std::size_t requests_for(std::uint32_t i, std::size_t n) {
    std::size_t count = 0;
    bgcopy::test::wait_until(
        [&] {
          count = 0;
          for (const auto& e : nginx_->access_log()) {
            count += e.uri == "/" + name(i) ? 1 : 0;
          }
          return count >= n;
        },
        std::chrono::seconds(10));
    return count;
  }

  TempDir dir_;
  EventLog log_;
  std::unique_ptr<NginxServer> nginx_;
  std::unique_ptr<CurlTransfer> xfer_;
};

TEST_F(AheadTest, FilesAheadAreFetchedMeanwhileAndReportedOnlyWhenAskedFor) {
  for (std::uint32_t i = 0; i < 4; ++i) publish(i);
  xfer_->start(request(0, 1, 3));
  ASSERT_EQ(wait_final(1).kind, Kind::FileDone);
  for (std::uint32_t i = 1; i < 4; ++i) {
    ASSERT_EQ(requests_for(i, 1), 1U) << name(i) << " was not fetched ahead";
  }
  for (const auto& e : log_.events()) {
    EXPECT_EQ(e.transfer_id, 1U) << "nothing about a file fetched ahead before it is asked for";
  }
  for (std::uint32_t i = 1; i < 4; ++i) {
    const std::uint64_t id = 10 + i;
    const auto r = request(i, id, 3);
    xfer_->start(r);
    const auto done = wait_final(id);
    ASSERT_EQ(done.kind, Kind::FileDone) << (done.error ? done.error->message : "");
    EXPECT_EQ(done.file_index, i);
    EXPECT_EQ(done.bytes_transferred, content(i).size());
    // Durable now, or exactly one Synced under the new id follows.
    if (!done.durable) {
      ASSERT_TRUE(log_.wait_for([id](const auto& evs) {
        for (const auto& e : evs) {
          if (e.transfer_id == id && e.kind == Kind::Synced) return true;
        }
        return false;
      })) << "no Synced for adopted file "
          << i;
    }
    EXPECT_EQ(read_file(staging_file(r)), content(i));
  }
  for (std::uint32_t i = 0; i < 4; ++i) {
    EXPECT_EQ(requests_for(i, 1), 1U) << name(i) << " was fetched twice";
  }
  std::size_t synced = 0;
  for (const auto& e : log_.events()) {
    EXPECT_NE(e.transfer_id, 0U) << "an event escaped under the placeholder id";
    synced += e.kind == Kind::Synced ? 1 : 0;
  }
  EXPECT_LE(synced, 4U);
}

TEST_F(AheadTest, EveryFileOfABurstIsSyncedAndReportedOnce) {
  // Forty small files, each asked for as soon as the previous one ended: their final syncs
  // queue up behind each other and the syncer flushes them in batches (fs::sync_all). Each file
  // is still reported durable exactly once, under its own id, without error.
  constexpr std::uint32_t kFiles = 40;
  for (std::uint32_t i = 0; i < kFiles; ++i) publish(i);
  for (std::uint32_t i = 0; i < kFiles; ++i) {
    const std::uint64_t id = 100 + i;
    xfer_->start(request(i, id, std::min(i + 8, kFiles - 1)));
    const auto done = wait_final(id);
    ASSERT_EQ(done.kind, Kind::FileDone) << (done.error ? done.error->message : "");
  }
  xfer_->flush_final_syncs();
  for (std::uint32_t i = 0; i < kFiles; ++i) {
    const std::uint64_t id = 100 + i;
    std::size_t durable = 0;
    for (const auto& e : log_.events()) {
      if (e.transfer_id != id) continue;
      EXPECT_EQ(e.file_index, i);
      EXPECT_FALSE(e.error) << name(i) << ": " << e.error->message;
      const bool durable_done = e.kind == Kind::FileDone && e.durable;
      durable += durable_done || e.kind == Kind::Synced ? 1 : 0;
    }
    EXPECT_EQ(durable, 1U) << name(i) << " was not reported durable exactly once";
    EXPECT_EQ(read_file(staging_file(request(i, id, i))), content(i));
  }
}

TEST_F(AheadTest, StopDropsTheFilesFetchedAhead) {
  // File 0 crawls (nginx's per-request limit), so it is still running when stop() comes.
  publish(0, pattern(400'000, 9));
  publish(1);
  publish(2);
  xfer_->start(request(0, 1, 2, "?limit_rate=20000"));
  ASSERT_EQ(requests_for(1, 1), 1U);
  ASSERT_EQ(requests_for(2, 1), 1U);
  EXPECT_TRUE(xfer_->stop(make_request(dir_, "").job).has_value()) << "file 0 was running";
  const auto seen = log_.events().size();
  for (const auto& e : log_.events()) {
    EXPECT_EQ(e.transfer_id, 1U);
  }
  // Asked for now, file 1 is fetched again: what was fetched ahead went with the stop.
  const auto r = request(1, 2, 1);
  xfer_->start(r);
  const auto done = wait_final(2);
  ASSERT_EQ(done.kind, Kind::FileDone);
  EXPECT_EQ(read_file(staging_file(r)), content(1));
  EXPECT_EQ(requests_for(1, 2), 2U);
  EXPECT_GT(log_.events().size(), seen);
}

TEST_F(AheadTest, AFailureAheadIsNeverReplayedTheFileIsFetchedAfreshInItsTurn) {
  publish(0);
  // File 1 does not exist yet: fetched ahead, it gets a 404. File 0 is paced to take ~0.3 s
  // (nginx lets one second's worth through at once, then paces), so the curl thread has read
  // that 404 (and given the file up) long before file 0 ends; a start() that came while the
  // 404 was still unread would legitimately adopt the fetch.
  xfer_->start(request(0, 1, 1, "?limit_rate=15000"));
  ASSERT_EQ(wait_final(1).kind, Kind::FileDone);
  ASSERT_EQ(requests_for(1, 1), 1U);
  publish(1);
  const auto r = request(1, 2, 1);
  xfer_->start(r);
  const auto done = wait_final(2);
  ASSERT_EQ(done.kind, Kind::FileDone) << (done.error ? done.error->message : "");
  EXPECT_EQ(read_file(staging_file(r)), content(1));
  EXPECT_EQ(requests_for(1, 2), 2U);
}

TEST_F(AheadTest, AFileLargerThanTheLimitIsLeftForItsTurn) {
  publish(0);
  // Far more than the socket buffers hold unread (send buffer at most 4 MiB here, the receive
  // window small while nobody reads): nginx logs the request ahead only once the curl thread
  // has given it up and closed it. (A file nginx could send whole would be logged while its
  // headers still waited for the curl thread; a start() in that moment legitimately adopts the
  // fetch in flight, and the file takes one request, not two. That failed a loaded ASan run.)
  const auto big = pattern(64 * kLimit, 5);
  publish(1, big);
  xfer_->start(request(0, 1, 1));
  ASSERT_EQ(wait_final(1).kind, Kind::FileDone);
  ASSERT_EQ(requests_for(1, 1), 1U);
  const auto r = request(1, 2, 1);
  xfer_->start(r);
  const auto done = wait_final(2);
  ASSERT_EQ(done.kind, Kind::FileDone) << (done.error ? done.error->message : "");
  EXPECT_EQ(read_file(staging_file(r)), big);
  EXPECT_EQ(requests_for(1, 2), 2U) << "given up ahead, fetched in its turn";
}

TEST_F(AheadTest, OtherSettingsInTheTurnMeanAFreshFetch) {
  publish(0);
  publish(1);
  xfer_->start(request(0, 1, 1));
  ASSERT_EQ(wait_final(1).kind, Kind::FileDone);
  ASSERT_EQ(requests_for(1, 1), 1U);
  auto r = request(1, 2, 1);
  r.stall_timeout_s += 1;  // the job's settings changed in between
  xfer_->start(r);
  ASSERT_EQ(wait_final(2).kind, Kind::FileDone);
  EXPECT_EQ(read_file(staging_file(r)), content(1));
  EXPECT_EQ(requests_for(1, 2), 2U);
}

}  // namespace
}  // namespace bgcopy::transfer
