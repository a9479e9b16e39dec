// Fault: the origin dies (SIGKILL) after serving the first range of a ranged file and comes back
// on the same port. Same content: the job finishes without fetching the first range again.
// Changed content (the file was replaced while the origin was down): never a mixed file; the
// file restarts from byte 0 (BG_E_REMOTE_FILE_CHANGED is recorded as a restart) and holds only
// the new version's ranges.
#include "files.hpp"
#include "origin_fixture.hpp"
#include "service_harness.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fcntl.h>

namespace bgcopy::test {
namespace {

using engine::FileRange;
using engine::FileSpec;
using engine::JobState;
namespace fs = std::filesystem;

constexpr std::uint64_t kSize = 1024 * 1024;
const std::vector<FileRange> kRanges{{0, 100000}, {600000, 400000}};

std::string ranges_of(const std::string& content) {
  std::string out;
  for (const auto& r : kRanges) out += content.substr(r.offset, r.length);
  return out;
}

class OriginRestart : public ::testing::Test {
 protected:
  /// Serves `content` as /r.bin with the given mtime (part of its ETag and Last-Modified).
  void publish(const std::string& content, std::time_t mtime) {
    const fs::path file = origin_.root() / "r.bin";
    write_file(file, content);
    const timespec times[2] = {{mtime, 0}, {mtime, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
  }

  /// Starts the ranged job, kills the origin once the first range was served, waits for the
  /// job to notice, then runs `while_down` and restarts the origin on the same port.
  template <class F>
  JobId run_with_restart(ServiceHarness& h, F while_down) {
    JobId id = h.create("ranges");
    // Throttled so the second range is still on the wire when the origin dies.
    EXPECT_TRUE(h.add(id, {FileSpec{origin_.url("/r.bin?rate=400000&key=rr"), h.dest("r.bin"),
                                    kRanges, std::nullopt}})
                    .ok());
    engine::SettingsPatch p;
    p.min_retry_delay_s = 1;
    EXPECT_TRUE(h.set(id, p).ok());
    EXPECT_TRUE(h.resume(id).ok());
    EXPECT_TRUE(wait_until(
        [&] {
          auto reqs = origin_.requests_for("rr");
          return !reqs.empty() && reqs[0].outcome == "complete";
        },
        std::chrono::seconds(20)));
    const int port = origin_.port();
    origin_.kill();
    EXPECT_TRUE(h.wait_state(id, JobState::TransientError));
    const auto rec = h.get(id);
    EXPECT_TRUE(rec.error && (rec.error->error.code == hr::BgEConnectionClosed ||
                              rec.error->error.code == hr::BgEConnectFailure))
        << (rec.error ? rec.error->error.message : "no error");
    EXPECT_NE(h.state(id), JobState::Transferred);
    while_down();
    origin_.restart();
    EXPECT_EQ(origin_.port(), port);
    return id;
  }

  FaultOrigin origin_;
};

TEST_F(OriginRestart, SameContentFinishesWithoutRefetchingTheFirstRange) {
  ServiceHarness h;
  const std::string content = gen_content(kSize, 81);
  publish(content, 1700000000);
  JobId id = run_with_restart(h, [] {});
  ASSERT_TRUE(h.wait_state(id, JobState::Transferred, std::chrono::seconds(30)));
  EXPECT_EQ(h.get(id).files[0].restarts, 0u);
  ASSERT_TRUE(h.complete(id).ok());
  EXPECT_EQ(read_file(h.dest("r.bin")), ranges_of(content));

  // The origin logs a request once it is done with it, which may be just after the client.
  ASSERT_TRUE(
      wait_until([&] { return origin_.requests_for("rr").size() >= 2; }, std::chrono::seconds(5)));
  const auto reqs = origin_.requests_for("rr");
  EXPECT_EQ(reqs[0].range, "bytes=0-99999");
  for (std::size_t i = 1; i < reqs.size(); ++i) {
    EXPECT_FALSE(reqs[i].range.starts_with("bytes=0-")) << "request " << i << " fetched range 1";
  }
  std::uint64_t served = 0;
  for (const auto& r : reqs) served += r.bytes_sent;
  RecordProperty("requests", static_cast<int>(reqs.size()));
  RecordProperty("bytes_served", std::to_string(served));
  RecordProperty("bytes_needed", std::to_string(ranges_of(content).size()));
  EXPECT_EQ(reqs.back().status, 206);
  EXPECT_FALSE(reqs.back().if_range.empty()) << "the resume was validated";
}

TEST_F(OriginRestart, ChangedContentRestartsFromZeroNeverMixing) {
  ServiceHarness h;
  const std::string old_content = gen_content(kSize, 82);
  const std::string new_content = gen_content(kSize, 83);
  publish(old_content, 1700000000);
  JobId id = run_with_restart(h, [&] { publish(new_content, 1700000100); });
  ASSERT_TRUE(h.wait_state(id, JobState::Transferred, std::chrono::seconds(30)));
  EXPECT_GE(h.get(id).files[0].restarts, 1u) << "the change was not recorded";
  ASSERT_TRUE(h.complete(id).ok());
  const std::string got = read_file(h.dest("r.bin"));
  ASSERT_EQ(got.size(), ranges_of(new_content).size());
  EXPECT_TRUE(got == ranges_of(new_content)) << "not the new version's ranges (mixed file?)";
  EXPECT_NE(got.substr(0, 100000), old_content.substr(0, 100000));
}

}  // namespace
}  // namespace bgcopy::test
