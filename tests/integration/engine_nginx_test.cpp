// The engine with its real ports (SQLite, libcurl, staging files) against a real nginx.
#include "files.hpp"
#include "nginx_fixture.hpp"
#include "service_harness.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>

namespace bgcopy::test {
namespace {

NginxOptions rate_limited(std::uint64_t bytes_per_second) {
  NginxOptions o;
  o.limit_rate = bytes_per_second;
  return o;
}

using engine::FileRange;
using engine::FileSpec;
using engine::JobState;

class EngineNginx : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!NginxServer::available()) GTEST_SKIP() << "nginx is not installed (run scripts/setup.sh)";
  }
  std::string publish(NginxServer& ng, const std::string& name, const std::string& data) {
    write_file(ng.docroot() / name, data);
    return ng.url("/" + name);
  }
};

TEST_F(EngineNginx, SingleFileLandsOnlyOnComplete) {
  NginxServer ng;
  ServiceHarness h;
  const std::string data = gen_content(3 * 1024 * 1024 + 17, 1);
  const std::string url = publish(ng, "one.bin", data);
  JobId id = h.create();
  ASSERT_TRUE(h.add(id, {FileSpec{url, h.dest("one.bin"), {}, std::nullopt}}).ok());
  ASSERT_TRUE(h.resume(id).ok());
  ASSERT_TRUE(h.wait_state(id, JobState::Transferred));

  // Transferred but not completed: the final name does not exist, one hidden staging file does.
  EXPECT_FALSE(std::filesystem::exists(h.dest("one.bin")));
  auto staged = staging_files(h.dest_dir());
  ASSERT_EQ(staged.size(), 1u);
  EXPECT_EQ(staged[0].front(), '.');
  auto rec = h.get(id);
  EXPECT_EQ(rec.bytes_total(), data.size());
  EXPECT_EQ(rec.bytes_transferred(), data.size());
  ASSERT_TRUE(rec.times.transfer_completed.has_value());

  auto done = h.complete(id);
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(*done, hr::SOk);
  EXPECT_EQ(sha256_file(h.dest("one.bin")), sha256_bytes(data));
  EXPECT_TRUE(staging_files(h.dest_dir()).empty());

  // The final file carries the server's Last-Modified time.
  struct stat src {
  }, dst{};
  ASSERT_EQ(::stat((ng.docroot() / "one.bin").c_str(), &src), 0);
  ASSERT_EQ(::stat(h.dest("one.bin").c_str(), &dst), 0);
  EXPECT_EQ(src.st_mtim.tv_sec, dst.st_mtim.tv_sec);
  // Private while staged; an ordinary file once delivered (0666 less the umask).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  EXPECT_EQ(dst.st_mode & 07777, 0666 & ~mask);

  // Final jobs are gone for lookups; a held id answers DO_E_INVALID_STATE.
  auto again = h.call([&](engine::Engine& e) { return e.get_job(h.me(), id); });
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, hr::DoEJobNotFound);
  auto st = h.resume(id);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, hr::DoEInvalidState);
}

TEST_F(EngineNginx, MultiFileJobTransfersInOrderAdded) {
  NginxServer ng;
  ServiceHarness h;
  std::vector<std::string> names = {"c.bin", "a.bin", "b.bin"};
  std::vector<FileSpec> specs;
  std::vector<std::string> contents;
  for (std::size_t i = 0; i < names.size(); ++i) {
    contents.push_back(gen_content(200'000 + i * 1000, 10 + i));
    specs.push_back({publish(ng, names[i], contents[i]), h.dest(names[i]), {}, std::nullopt});
  }
  JobId id = h.create("multi");
  ASSERT_TRUE(h.add(id, specs).ok());
  ASSERT_TRUE(h.resume(id).ok());
  ASSERT_TRUE(h.wait_state(id, JobState::Transferred));
  EXPECT_EQ(h.get(id).files_transferred(), 3u);
  ASSERT_TRUE(h.complete(id).ok());
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(sha256_file(h.dest(names[i])), sha256_bytes(contents[i])) << names[i];
  }
  std::vector<std::string> order;
  for (const auto& e : ng.access_log()) order.push_back(e.uri);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order, (std::vector<std::string>{"/c.bin", "/a.bin", "/b.bin"}));
}

TEST_F(EngineNginx, AForegroundJobFetchesAheadYetRecordsItsFilesInTheOrderAdded) {
  // Files fetched ahead (files_ahead) are invisible until their turn: whenever the job is
  // read, the transferred files are a prefix of the list, and each file is fetched once.
  NginxServer ng;
  ServiceHarness h;
  constexpr std::size_t kFiles = 40;
  std::vector<FileSpec> specs;
  std::vector<std::string> contents;
  for (std::size_t i = 0; i < kFiles; ++i) {
    const std::string name = "s" + std::to_string(i) + ".bin";
    contents.push_back(gen_content(8'000 + i * 300, 100 + i));
    specs.push_back({publish(ng, name, contents[i]), h.dest(name), {}, std::nullopt});
  }
  JobId id = h.create("ahead");
  engine::SettingsPatch foreground;
  foreground.priority = engine::JobPriority::Foreground;
  ASSERT_TRUE(h.set(id, foreground).ok());
  ASSERT_TRUE(h.add(id, specs).ok());
  ASSERT_TRUE(h.resume(id).ok());
  std::size_t reads = 0;
  std::string broken;
  ASSERT_TRUE(h.wait_for(id, [&](const engine::JobRecord& r) {
    ++reads;
    bool gap = false;
    for (std::size_t i = 0; i < r.files.size(); ++i) {
      if (!r.files[i].transferred) {
        gap = true;
      } else if (gap && broken.empty()) {
        broken = "file " + std::to_string(i) + " transferred before an earlier one";
      }
    }
    return r.state == JobState::Transferred;
  }));
  EXPECT_EQ(broken, "") << "after " << reads << " reads";
  ASSERT_TRUE(h.complete(id).ok());
  for (std::size_t i = 0; i < kFiles; ++i) {
    EXPECT_EQ(sha256_file(specs[i].local_path), sha256_bytes(contents[i])) << i;
  }
  EXPECT_TRUE(staging_files(h.dest_dir()).empty());
  std::map<std::string, int> fetched;
  for (const auto& e : ng.access_log_at_least(kFiles)) fetched[e.uri] += 1;
  EXPECT_EQ(fetched.size(), kFiles);
  for (const auto& [uri, n] : fetched) EXPECT_EQ(n, 1) << uri << " fetched more than once";
}

TEST_F(EngineNginx, RangesAreConcatenatedInTheOrderGiven) {
  NginxServer ng;
  ServiceHarness h;
  const std::string data = gen_content(10'000, 3);
  const std::string url = publish(ng, "r.bin", data);
  JobId id = h.create("ranges");
  std::vector<FileRange> ranges = {
      {100, 100}, {900, 100}, {400, 100}, {9'950, engine::kLengthToEof}};
  ASSERT_TRUE(h.add(id, {FileSpec{url, h.dest("r.bin"), ranges, std::nullopt}}).ok());
  ASSERT_TRUE(h.resume(id).ok());
  ASSERT_TRUE(h.wait_state(id, JobState::Transferred));
  ASSERT_TRUE(h.complete(id).ok());
  const std::string expected =
      data.substr(100, 100) + data.substr(900, 100) + data.substr(400, 100) + data.substr(9'950);
  EXPECT_EQ(read_file(h.dest("r.bin")), expected);
  for (const auto& e : ng.access_log()) EXPECT_EQ(e.status, 206) << e.range;
}

TEST_F(EngineNginx, ResumeAfterInterruptionUsesRangeAndFetchesOnlyMissingBytes) {
  NginxServer ng(rate_limited(1024 * 1024));
  ServiceHarness h;
  const std::string data = gen_content(4 * 1024 * 1024, 4);
  const std::string url = publish(ng, "big.bin", data);
  JobId id = h.create("resume");
  ASSERT_TRUE(h.add(id, {FileSpec{url, h.dest("big.bin"), {}, std::nullopt}}).ok());
  ASSERT_TRUE(h.resume(id).ok());
  // Let at least one checkpoint land, then interrupt.
  ASSERT_TRUE(h.wait_for(
      id, [](const engine::JobRecord& r) { return r.files[0].bytes_transferred >= 512 * 1024; }));
  ASSERT_TRUE(h.suspend(id).ok());
  const std::uint64_t held = h.get(id).files[0].bytes_transferred;
  ASSERT_GT(held, 0u);
  ASSERT_LT(held, data.size());
  // The daemon restarts between the two halves: the checkpoint must survive.
  h.reopen();
  EXPECT_EQ(h.get(id).files[0].bytes_transferred, held);
  ASSERT_TRUE(h.resume(id).ok());
  ASSERT_TRUE(h.wait_state(id, JobState::Transferred));
  ASSERT_TRUE(h.complete(id).ok());
  EXPECT_EQ(sha256_file(h.dest("big.bin")), sha256_bytes(data));

  auto log = ng.access_log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].range, "");
  EXPECT_EQ(log[1].range, "bytes=" + std::to_string(held) + "-");
  EXPECT_FALSE(log[1].if_range.empty()) << "resume must be validated with If-Range";
  EXPECT_EQ(log[1].status, 206);
  // Bytes already held were not fetched again.
  EXPECT_EQ(log[1].bytes_sent, data.size() - held);
}

TEST_F(EngineNginx, RemoteFileReplacedMidTransferRestartsFromZero) {
  NginxServer ng(rate_limited(1024 * 1024));
  ServiceHarness h;
  const std::string v1 = gen_content(3 * 1024 * 1024, 5);
  const std::string url = publish(ng, "v.bin", v1);
  JobId id = h.create("replaced");
  ASSERT_TRUE(h.add(id, {FileSpec{url, h.dest("v.bin"), {}, std::nullopt}}).ok());
  ASSERT_TRUE(h.resume(id).ok());
  ASSERT_TRUE(h.wait_for(
      id, [](const engine::JobRecord& r) { return r.files[0].bytes_transferred >= 256 * 1024; }));
  ASSERT_TRUE(h.suspend(id).ok());
  // A new version with a different size (and so a different ETag).
  const std::string v2 = gen_content(2 * 1024 * 1024 + 5, 6);
  write_file(ng.docroot() / "v.bin.tmp", v2);
  std::filesystem::rename(ng.docroot() / "v.bin.tmp", ng.docroot() / "v.bin");
  ASSERT_TRUE(h.resume(id).ok());
  ASSERT_TRUE(h.wait_state(id, JobState::Transferred));
  EXPECT_EQ(h.get(id).files[0].restarts, 1u);
  ASSERT_TRUE(h.complete(id).ok());
  EXPECT_EQ(sha256_file(h.dest("v.bin")), sha256_bytes(v2)) << "old and new bytes mixed";
  auto log = ng.access_log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_FALSE(log[1].range.empty());
  EXPECT_FALSE(log[1].if_range.empty());
  EXPECT_EQ(log[1].status, 200) << "If-Range mismatch must answer the whole new file";
}

TEST_F(EngineNginx, Sha256MatchMarksVerifiedAndMismatchIsFatal) {
  NginxServer ng;
  ServiceHarness h;
  const std::string data = gen_content(300'000, 7);
  const std::string url = publish(ng, "s.bin", data);

  JobId good = h.create("good");
  ASSERT_TRUE(h.add(good, {FileSpec{url, h.dest("good.bin"), {}, sha256_bytes(data)}}).ok());
  ASSERT_TRUE(h.resume(good).ok());
  ASSERT_TRUE(h.wait_state(good, JobState::Transferred));
  EXPECT_TRUE(h.get(good).files[0].verified);

  JobId bad = h.create("bad");
  const std::string wrong(64, 'a');
  ASSERT_TRUE(h.add(bad, {FileSpec{url, h.dest("bad.bin"), {}, wrong}}).ok());
  ASSERT_TRUE(h.resume(bad).ok());
  ASSERT_TRUE(h.wait_state(bad, JobState::Error));
  auto rec = h.get(bad);
  ASSERT_TRUE(rec.error.has_value());
  EXPECT_EQ(rec.error->error.code, hr::BgEValidationFailed);
  EXPECT_EQ(rec.files[0].bytes_transferred, 0u) << "the bad data is discarded";
  EXPECT_FALSE(rec.files[0].verified);
  EXPECT_EQ(rec.error_count, 1u);
  // Completing drops the unverified file: nothing reaches the final name.
  auto done = h.complete(bad);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(*done, hr::BgSPartialComplete);
  EXPECT_FALSE(std::filesystem::exists(h.dest("bad.bin")));
}

TEST_F(EngineNginx, CancelDeletesStagingFiles) {
  NginxServer ng(rate_limited(512 * 1024));
  ServiceHarness h;
  const std::string url = publish(ng, "c.bin", gen_content(2 * 1024 * 1024, 8));
  JobId id = h.create("cancel");
  ASSERT_TRUE(h.add(id, {FileSpec{url, h.dest("c.bin"), {}, std::nullopt}}).ok());
  ASSERT_TRUE(h.resume(id).ok());
  ASSERT_TRUE(h.wait_for(id, [](const engine::JobRecord& r) { return r.bytes_transferred() > 0; }));
  auto r = h.call([&](engine::Engine& e) { return e.cancel(h.me(), id); });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, hr::SOk);
  EXPECT_TRUE(staging_files(h.dest_dir()).empty());
  EXPECT_FALSE(std::filesystem::exists(h.dest("c.bin")));
}

}  // namespace
}  // namespace bgcopy::test
