// CurlTransfer end to end with file:// sources in a scratch directory: real threads, real
// staging files, events collected from the transfer thread.
#include "transfer/curl_transfer.hpp"

#include "fs/local_staging.hpp"
#include "test_util.hpp"
#include "transfer/local_source.hpp"
#include "transfer/sha256.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>
#include <utime.h>

#include <memory>

namespace bgcopy::transfer {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

JobId job_id(std::uint8_t n) {
  std::array<std::uint8_t, 16> b{};
  b[0] = n;
  return JobId(b);
}

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

bool has_final(const std::vector<engine::TransferEvent>& evs, std::uint64_t id) {
  for (const auto& e : evs) {
    if (e.transfer_id == id && (e.kind == Kind::FileDone || e.kind == Kind::Failed)) {
      return true;
    }
  }
  return false;
}

class CurlTransferTest : public ::testing::Test {
 protected:
  CurlTransferTest() : xfer_(std::make_unique<CurlTransfer>(log_.sink())) {}

  /// Writes a source file and returns its file:// URL.
  std::string source(const std::string& name, const std::string& content) {
    write_file(dir_ / name, content);
    return "file://" + (dir_ / name);
  }
  engine::TransferRequest request(const std::string& url, const std::string& out = "out.bin") {
    auto r = make_request(dir_, url, out);
    r.owner = geteuid();
    return r;
  }
  engine::TransferEvent run(const engine::TransferRequest& r) {
    xfer_->start(r);
    EXPECT_TRUE(log_.wait_for([&](const auto& evs) { return has_final(evs, r.transfer_id); }))
        << "no final event";
    for (const auto& e : for_transfer(log_.events(), r.transfer_id)) {
      if (e.kind == Kind::FileDone || e.kind == Kind::Failed) {
        return e;
      }
    }
    return {};
  }

  TempDir dir_;
  EventLog log_;
  std::unique_ptr<CurlTransfer> xfer_;
};

TEST_F(CurlTransferTest, WholeFile) {
  const auto content = pattern(3 * 1024 * 1024 + 17);
  auto r = request(source("src.bin", content));
  const auto done = run(r);
  EXPECT_EQ(done.kind, Kind::FileDone);
  EXPECT_EQ(done.bytes_transferred, content.size());
  EXPECT_EQ(done.bytes_total, std::optional<std::uint64_t>(content.size()));
  EXPECT_FALSE(done.verified);
  EXPECT_FALSE(done.validators.etag.empty());
  EXPECT_FALSE(done.validators.last_modified.empty());
  EXPECT_TRUE(done.remote_mtime.has_value());
  EXPECT_EQ(done.job, r.job);
  EXPECT_EQ(read_file(staging_file(r)), content);
  const auto evs = for_transfer(log_.events(), r.transfer_id);
  ASSERT_FALSE(evs.empty());
  EXPECT_EQ(evs.front().kind, Kind::Connected);
  EXPECT_EQ(log_.count(Kind::Connected), 1U);
}

TEST_F(CurlTransferTest, FileDoneComesBeforeItsSyncAndExactlyOneSyncedFollows) {
  // The engine starts the next file on FileDone; the flush runs on the syncer thread.
  const auto content = pattern(200'000);
  auto r = request(source("src.bin", content));
  const auto done = run(r);
  ASSERT_EQ(done.kind, Kind::FileDone);
  EXPECT_FALSE(done.durable) << "plain files report before their final sync";
  ASSERT_TRUE(log_.wait_for([&](const auto& evs) {
    for (const auto& e : for_transfer(evs, r.transfer_id)) {
      if (e.kind == Kind::Synced) return true;
    }
    return false;
  })) << "no Synced after FileDone";
  const auto evs = for_transfer(log_.events(), r.transfer_id);
  std::size_t done_at = evs.size();
  std::size_t synced_at = evs.size();
  std::size_t synced_count = 0;
  for (std::size_t i = 0; i < evs.size(); ++i) {
    if (evs[i].kind == Kind::FileDone) done_at = i;
    if (evs[i].kind == Kind::Synced) {
      synced_at = i;
      ++synced_count;
    }
  }
  EXPECT_EQ(synced_count, 1U);
  EXPECT_LT(done_at, synced_at) << "Synced never overtakes its FileDone";
  const auto& synced = evs[synced_at];
  EXPECT_TRUE(synced.durable);
  EXPECT_FALSE(synced.error.has_value());
  EXPECT_EQ(synced.bytes_transferred, content.size());
  EXPECT_EQ(synced.file_index, r.file_index);
  EXPECT_EQ(read_file(staging_file(r)), content);
}

TEST_F(CurlTransferTest, AFinishedFileIsSealedBeforeItsFinalSync) {
  // Mode and time are set before the final sync (an fsync), so that complete has nothing left
  // to change or flush; until the last byte the staging file stays private.
  const auto content = pattern(50'000);
  auto r = request(source("src.bin", content));
  ASSERT_EQ(::utime((dir_ / "src.bin").c_str(), nullptr), 0);
  const auto done = run(r);
  ASSERT_EQ(done.kind, Kind::FileDone);
  ASSERT_TRUE(done.remote_mtime.has_value());
  ASSERT_TRUE(log_.wait_for([&](const auto& evs) {
    for (const auto& e : for_transfer(evs, r.transfer_id)) {
      if (e.kind == Kind::Synced) return true;
    }
    return false;
  })) << "no Synced after FileDone";
  struct stat st {};
  ASSERT_EQ(::stat(staging_file(r).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, fs::delivered_mode());
  EXPECT_EQ(st.st_mtim.tv_sec, *done.remote_mtime);
  EXPECT_EQ(st.st_mtim.tv_nsec, 0);
}

TEST_F(CurlTransferTest, FlushFinalSyncsReturnsAfterEverySyncedIsOut) {
  // Shutdown relies on it: once flush_final_syncs() returns, the Synced event of every file
  // that reported FileDone(durable=false) has been delivered.
  const auto content = pattern(64 * 1024);
  std::vector<engine::TransferRequest> reqs;
  for (int i = 0; i < 8; ++i) {
    const auto n = static_cast<std::uint8_t>(i);
    reqs.push_back(request(source("f" + std::to_string(i), content), "out" + std::to_string(i)));
    reqs.back().job = JobId({9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, n});
    reqs.back().transfer_id = 100 + static_cast<std::uint64_t>(i);
    xfer_->start(reqs.back());
  }
  for (const auto& r : reqs) {
    ASSERT_TRUE(log_.wait_for([&](const auto& evs) { return has_final(evs, r.transfer_id); }));
  }
  xfer_->flush_final_syncs();
  const auto evs = log_.events();  // no waiting: everything must be here already
  for (const auto& r : reqs) {
    std::size_t synced = 0;
    for (const auto& e : for_transfer(evs, r.transfer_id)) {
      if (e.kind == Kind::Synced) ++synced;
    }
    EXPECT_EQ(synced, 1U) << "transfer " << r.transfer_id;
  }
  xfer_->flush_final_syncs();  // nothing queued: returns at once
}

TEST_F(CurlTransferTest, EmptyFile) {
  auto r = request(source("empty", ""));
  const auto done = run(r);
  EXPECT_EQ(done.kind, Kind::FileDone);
  EXPECT_EQ(done.bytes_total, std::optional<std::uint64_t>(0));
  EXPECT_EQ(read_file(staging_file(r)), "");
}

TEST_F(CurlTransferTest, ResumeContinuesAfterTheDurableBytes) {
  const auto content = pattern(500'000);
  const auto url = source("src.bin", content);
  auto r = request(url);
  struct stat st {};
  ASSERT_EQ(stat((dir_ / "src.bin").c_str(), &st), 0);
  // 100000 good bytes, then torn garbage past the checkpoint.
  write_file(staging_file(r), content.substr(0, 100'000) + std::string(5000, 'X'));
  r.resume_from = 100'000;
  r.file.validators = local_validators(st);
  r.file.bytes_total = content.size();
  const auto done = run(r);
  EXPECT_EQ(done.kind, Kind::FileDone);
  EXPECT_EQ(read_file(staging_file(r)), content);
  EXPECT_EQ(log_.count(Kind::Restarted), 0U);
}

TEST_F(CurlTransferTest, ChangedSourceRestartsWithAnEvent) {
  const auto old_content = pattern(200'000, 1);
  const auto url = source("src.bin", old_content);
  auto first = request(url);
  const auto done1 = run(first);
  ASSERT_EQ(done1.kind, Kind::FileDone);
  // Keep half of it as if the first run had stopped there, then change the source.
  write_file(staging_file(first), old_content.substr(0, 100'000));
  const auto new_content = pattern(150'000, 2);
  write_file(dir_ / "src.bin", new_content);
  struct stat st {};
  ASSERT_EQ(stat((dir_ / "src.bin").c_str(), &st), 0);
  timespec times[2] = {{0, UTIME_OMIT}, {st.st_mtim.tv_sec + 10, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, (dir_ / "src.bin").c_str(), times, 0), 0);

  auto second = request(url);
  second.transfer_id = 8;
  second.resume_from = 100'000;
  second.file.validators = done1.validators;
  second.file.bytes_total = done1.bytes_total;
  const auto done2 = run(second);
  EXPECT_EQ(done2.kind, Kind::FileDone);
  EXPECT_EQ(read_file(staging_file(second)), new_content);
  const auto evs = for_transfer(log_.events(), 8);
  int restarted = 0;
  for (const auto& e : evs) {
    if (e.kind == Kind::Restarted) {
      ++restarted;
      EXPECT_EQ(e.bytes_transferred, 0U);
    }
  }
  EXPECT_EQ(restarted, 1);
  EXPECT_NE(done2.validators, done1.validators);
  EXPECT_EQ(done2.bytes_total, std::optional<std::uint64_t>(new_content.size()));
}

TEST_F(CurlTransferTest, RangesAreConcatenatedInTheGivenOrder) {
  const auto content = pattern(1000);
  auto r = request(source("src.bin", content));
  r.file.spec.ranges = {{100, 100}, {900, 100}, {400, 100}};
  const auto done = run(r);
  EXPECT_EQ(done.kind, Kind::FileDone);
  EXPECT_EQ(done.bytes_total, std::optional<std::uint64_t>(300));
  const auto got = read_file(staging_file(r));
  ASSERT_EQ(got.size(), 300U);
  EXPECT_EQ(got, content.substr(100, 100) + content.substr(900, 100) + content.substr(400, 100));
}

TEST_F(CurlTransferTest, RangeToEndOfFile) {
  const auto content = pattern(1000);
  auto r = request(source("src.bin", content));
  r.file.spec.ranges = {{0, 10}, {950, engine::kLengthToEof}};
  const auto done = run(r);
  EXPECT_EQ(done.kind, Kind::FileDone);
  EXPECT_EQ(done.bytes_total, std::optional<std::uint64_t>(60));
  EXPECT_EQ(read_file(staging_file(r)), content.substr(0, 10) + content.substr(950));
}

TEST_F(CurlTransferTest, RangeBeyondTheEndIsFatal) {
  auto r = request(source("src.bin", pattern(1000)));
  r.file.spec.ranges = {{100, 100}, {2000, 10}};
  const auto failed = run(r);
  EXPECT_EQ(failed.kind, Kind::Failed);
  ASSERT_TRUE(failed.error);
  EXPECT_EQ(failed.error->code, hr::DoEInvalidRange);
  EXPECT_FALSE(failed.transient);
}

TEST_F(CurlTransferTest, Sha256MatchIsVerified) {
  const auto content = pattern(2'000'000);
  auto r = request(source("src.bin", content));
  r.file.spec.sha256 = sha256_hex(content);
  const auto done = run(r);
  EXPECT_EQ(done.kind, Kind::FileDone);
  EXPECT_TRUE(done.verified);
  // The check reads back what was synced first, so no Synced follows.
  EXPECT_TRUE(done.durable);
  EXPECT_EQ(log_.count(Kind::Synced), 0U);
}

TEST_F(CurlTransferTest, Sha256MismatchFailsAndDiscardsTheData) {
  const auto content = pattern(2'000'000);
  auto r = request(source("src.bin", content));
  r.file.spec.sha256 = sha256_hex("not the content");
  const auto failed = run(r);
  EXPECT_EQ(failed.kind, Kind::Failed);
  ASSERT_TRUE(failed.error);
  EXPECT_EQ(failed.error->code, hr::BgEValidationFailed);
  EXPECT_FALSE(failed.transient);
  EXPECT_EQ(failed.bytes_transferred, 0U);
  struct stat st {};
  ASSERT_EQ(stat(staging_file(r).c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);
}

TEST_F(CurlTransferTest, MissingSourceIsFatal) {
  auto r = request("file://" + (dir_ / "no-such-file"));
  const auto failed = run(r);
  EXPECT_EQ(failed.kind, Kind::Failed);
  ASSERT_TRUE(failed.error);
  EXPECT_EQ(failed.error->code, hresult_from_errno(ENOENT));
  EXPECT_EQ(failed.error->context, ErrorContext::RemoteFile);
  EXPECT_FALSE(failed.transient);
  EXPECT_NE(failed.error->message.find("no-such-file"), std::string::npos);
}

TEST_F(CurlTransferTest, DirectorySourceIsFatal) {
  const auto failed = run(request("file://" + dir_.path()));
  EXPECT_EQ(failed.kind, Kind::Failed);
  EXPECT_FALSE(failed.transient);
}

TEST_F(CurlTransferTest, FileUrlWithARemoteHostIsRejected) {
  const auto failed = run(request("file://elsewhere/etc/hostname"));
  EXPECT_EQ(failed.kind, Kind::Failed);
  EXPECT_EQ(failed.error->code, hr::EInvalidArg);
  EXPECT_FALSE(failed.transient);
}

TEST_F(CurlTransferTest, UnreadableSourceIsAccessDenied) {
  const auto url = source("secret.bin", pattern(100));
  ASSERT_EQ(chmod((dir_ / "secret.bin").c_str(), 0600), 0);
  auto r = request(url);
  if (geteuid() == 0) {
    // Root reads anything; the owner's rights are what counts.
    ASSERT_EQ(chmod(dir_.path().c_str(), 0777), 0);
    r.owner = 65534;
  } else {
    ASSERT_EQ(chmod((dir_ / "secret.bin").c_str(), 0000), 0);
  }
  const auto failed = run(r);
  EXPECT_EQ(failed.kind, Kind::Failed);
  ASSERT_TRUE(failed.error);
  EXPECT_EQ(failed.error->code, hr::EAccessDenied);
  EXPECT_FALSE(failed.transient);
}

TEST_F(CurlTransferTest, UnwritableDestinationIsFatal) {
  auto r = request(source("src.bin", pattern(100)));
  r.file.spec.local_path = dir_ / "missing-dir/out.bin";
  const auto failed = run(r);
  EXPECT_EQ(failed.kind, Kind::Failed);
  EXPECT_EQ(failed.error->context, ErrorContext::LocalFile);
  EXPECT_FALSE(failed.transient);
}

TEST_F(CurlTransferTest, StopMidTransferReturnsDurableBytesAndSilencesTheJob) {
  const auto content = pattern(4 * 1024 * 1024);
  auto r = request(source("src.bin", content));
  r.max_recv_bps = 1024 * 1024;
  r.checkpoint_bytes = 64 * 1024;
  xfer_->start(r);
  std::uint64_t first_durable = 0;
  ASSERT_TRUE(log_.wait_for([&](const auto& evs) {
    for (const auto& e : evs) {
      if (e.kind == Kind::Progress && e.durable && e.bytes_transferred > 0) {
        first_durable = e.bytes_transferred;
        return true;
      }
    }
    return false;
  }));
  const auto durable = xfer_->stop(r.job);
  const auto events_at_stop = for_transfer(log_.events(), r.transfer_id).size();
  ASSERT_TRUE(durable.has_value());
  EXPECT_GE(*durable, first_durable);
  EXPECT_LT(*durable, content.size());
  struct stat st {};
  ASSERT_EQ(stat(staging_file(r).c_str(), &st), 0);
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), *durable);
  EXPECT_EQ(read_file(staging_file(r)), content.substr(0, *durable));
  EXPECT_FALSE(has_final(log_.events(), r.transfer_id));

  // Nothing is running for the job any more.
  EXPECT_FALSE(xfer_->stop(r.job).has_value());

  // A second transfer through the same thread completes; anything the stopped one could
  // still have emitted would have been delivered before it.
  auto other = request(source("other.bin", pattern(1000)), "other.out");
  other.job = job_id(42);
  other.transfer_id = 99;
  EXPECT_EQ(run(other).kind, Kind::FileDone);
  EXPECT_EQ(for_transfer(log_.events(), r.transfer_id).size(), events_at_stop);

  // And the stopped file resumes from the returned count to the exact content.
  auto resumed = r;
  resumed.transfer_id = 100;
  resumed.max_recv_bps = 0;
  resumed.resume_from = *durable;
  for (const auto& e : for_transfer(log_.events(), r.transfer_id)) {
    if (e.kind == Kind::Connected) {
      resumed.file.validators = e.validators;
      resumed.file.bytes_total = e.bytes_total;
    }
  }
  const auto done = run(resumed);
  EXPECT_EQ(done.kind, Kind::FileDone);
  EXPECT_EQ(read_file(staging_file(r)), content);
  EXPECT_EQ(for_transfer(log_.events(), 100).front().kind, Kind::Connected);
  EXPECT_EQ(log_.count(Kind::Restarted), 0U);
}

// Checkpoint syncs run on the syncer thread: with a tiny checkpoint interval one is nearly
// always in flight, and stop() must still return a synced count with nothing emitted after it.
TEST_F(CurlTransferTest, StopWithACheckpointSyncInFlightEmitsNothingAfterwards) {
  const auto content = pattern(8 * 1024 * 1024);
  auto r = request(source("src.bin", content));
  r.max_recv_bps = 2 * 1024 * 1024;
  r.checkpoint_bytes = 4 * 1024;
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
  const auto events_at_stop = for_transfer(log_.events(), r.transfer_id);
  ASSERT_TRUE(durable.has_value());
  std::uint64_t last_durable = 0;
  for (const auto& e : events_at_stop) {
    if (e.kind == Kind::Progress && e.durable) {
      EXPECT_GE(e.bytes_transferred, last_durable);  // durable counts only grow
      last_durable = e.bytes_transferred;
    }
  }
  EXPECT_GE(*durable, last_durable);
  EXPECT_EQ(read_file(staging_file(r)), content.substr(0, *durable));

  // Another transfer's checkpoint syncs queue behind the stopped one's on the same syncer;
  // once one of them has been reported, a late completion for the stopped job would have been.
  // Half a second: a checkpoint sync still in flight when the file ends is not reported, so
  // the file must outlast at least one flush on a loaded disk.
  auto other = request(source("other.bin", pattern(1024 * 1024)), "other.out");
  other.job = job_id(43);
  other.transfer_id = 101;
  other.checkpoint_bytes = 4 * 1024;
  other.max_recv_bps = 2 * 1024 * 1024;
  EXPECT_EQ(run(other).kind, Kind::FileDone);
  std::size_t other_checkpoints = 0;
  for (const auto& e : for_transfer(log_.events(), other.transfer_id)) {
    if (e.kind == Kind::Progress && e.durable) {
      EXPECT_LE(e.bytes_transferred, 1024U * 1024);
      ++other_checkpoints;
    }
  }
  EXPECT_GT(other_checkpoints, 0U);
  EXPECT_EQ(for_transfer(log_.events(), r.transfer_id).size(), events_at_stop.size());
}

TEST_F(CurlTransferTest, StopOfAnUnknownJobReturnsNothing) {
  EXPECT_FALSE(xfer_->stop(job_id(77)).has_value());
}

TEST_F(CurlTransferTest, RateLimitCanBeLiftedWhileRunning) {
  const auto content = pattern(2 * 1024 * 1024);
  auto r = request(source("src.bin", content));
  r.max_recv_bps = 16 * 1024;  // two minutes at this rate
  xfer_->start(r);
  ASSERT_TRUE(log_.wait_kind(Kind::Connected));
  xfer_->set_rate_limit(r.job, 0);
  ASSERT_TRUE(log_.wait_for([&](const auto& evs) { return has_final(evs, r.transfer_id); },
                            std::chrono::seconds(20)));
  // Not log_.last(): the file's Synced event follows its FileDone, and may already be in.
  EXPECT_EQ(log_.count(Kind::FileDone), 1U);
  EXPECT_EQ(log_.count(Kind::Failed), 0U);
  EXPECT_EQ(read_file(staging_file(r)), content);
}

TEST_F(CurlTransferTest, ProgressIsReportedWhileSlow) {
  const auto content = pattern(512 * 1024);
  auto r = request(source("src.bin", content));
  r.max_recv_bps = 400 * 1024;
  r.checkpoint_bytes = 1U << 30;
  r.checkpoint_ms = 200;
  const auto done = run(r);
  EXPECT_EQ(done.kind, Kind::FileDone);
  std::size_t live = 0;
  std::size_t durable = 0;
  for (const auto& e : for_transfer(log_.events(), r.transfer_id)) {
    if (e.kind == Kind::Progress) {
      (e.durable ? durable : live) += 1;
    }
  }
  // Time-based checkpoints at 200 ms over ~1.3 s; one still in flight at the end is not
  // reported, the others are.
  EXPECT_GE(durable, 1U);
}

TEST_F(CurlTransferTest, StartingAgainReplacesTheRunningTransferSilently) {
  const auto content = pattern(1024 * 1024);
  auto slow = request(source("src.bin", content));
  slow.max_recv_bps = 8 * 1024;
  xfer_->start(slow);
  ASSERT_TRUE(log_.wait_kind(Kind::Connected));
  auto fast = slow;
  fast.transfer_id = 8;
  fast.max_recv_bps = 0;
  const auto done = run(fast);
  EXPECT_EQ(done.kind, Kind::FileDone);
  EXPECT_FALSE(has_final(log_.events(), slow.transfer_id));
  EXPECT_EQ(read_file(staging_file(fast)), content);
}

TEST_F(CurlTransferTest, SeveralJobsAtOnce) {
  std::vector<engine::TransferRequest> reqs;
  for (std::uint8_t i = 0; i < 4; ++i) {
    auto r =
        request(source("src" + std::to_string(i), pattern(300'000, i)), "out" + std::to_string(i));
    r.job = job_id(i + 1);
    r.transfer_id = 1000 + i;
    reqs.push_back(r);
    xfer_->start(r);
  }
  ASSERT_TRUE(log_.wait_for([&](const auto& evs) {
    for (const auto& r : reqs) {
      if (!has_final(evs, r.transfer_id)) {
        return false;
      }
    }
    return true;
  }));
  for (std::uint8_t i = 0; i < 4; ++i) {
    EXPECT_EQ(read_file(staging_file(reqs[i])), pattern(300'000, i));
  }
}

TEST_F(CurlTransferTest, DestructorStopsRunningTransfers) {
  auto r = request(source("src.bin", pattern(1024 * 1024)));
  r.max_recv_bps = 4 * 1024;
  xfer_->start(r);
  ASSERT_TRUE(log_.wait_kind(Kind::Connected));
  xfer_.reset();
  EXPECT_FALSE(has_final(log_.events(), r.transfer_id));
}

// --- failures that need no server ---

TEST_F(CurlTransferTest, ConnectionRefusedIsTransient) {
  // A port that was just free: bind port 0, learn it, close it.
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(s, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  ::close(s);
  const auto failed = run(request("http://127.0.0.1:" + std::to_string(port) + "/x"));
  EXPECT_EQ(failed.kind, Kind::Failed);
  ASSERT_TRUE(failed.error);
  EXPECT_EQ(failed.error->code, hr::BgEConnectFailure);
  EXPECT_TRUE(failed.transient);
  EXPECT_EQ(failed.error->context, ErrorContext::GeneralTransport);
  EXPECT_EQ(failed.error->message, "connection refused by 127.0.0.1:" + std::to_string(port));
}

TEST_F(CurlTransferTest, UnsupportedSchemeIsFatal) {
  const auto failed = run(request("ftp://127.0.0.1/x"));
  EXPECT_EQ(failed.kind, Kind::Failed);
  EXPECT_EQ(failed.error->code, hr::EInvalidArg);
  EXPECT_FALSE(failed.transient);
}

TEST_F(CurlTransferTest, MalformedUrlIsFatal) {
  const auto failed = run(request("http://[::1/x"));
  EXPECT_EQ(failed.kind, Kind::Failed);
  EXPECT_EQ(failed.error->code, hr::EInvalidArg);
  EXPECT_FALSE(failed.transient);
}

}  // namespace
}  // namespace bgcopy::transfer
