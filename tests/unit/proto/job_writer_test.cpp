// The direct job writer must produce exactly what dump(to_json(job)) produces, for every shape
// a job can take: nulls and values, errors, ranges, escapes, non-ASCII and invalid UTF-8.
#include "proto/job_writer.hpp"

#include "proto/json.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>

namespace bgcopy::proto {
namespace {

std::string tree_text(const JobInfo& j) {
  return dump(to_json(j));
}

std::string writer_text(const JobInfo& j) {
  std::string out;
  append_json(out, j);
  return out;
}

std::string random_text(std::mt19937& rng) {
  // Plain text, every escape class, control characters, UTF-8, and broken UTF-8.
  static const std::vector<std::string> pieces = {"plain",
                                                  " ",
                                                  "\"",
                                                  "\\",
                                                  "/",
                                                  "\b",
                                                  "\f",
                                                  "\n",
                                                  "\r",
                                                  "\t",
                                                  std::string(1, '\x01'),
                                                  std::string(1, '\x1f'),
                                                  "\x7f",
                                                  "caf\xc3\xa9",
                                                  "\xe2\x82\xac",
                                                  "\xf0\x9f\x98\x80",
                                                  "\xff",
                                                  "\xc3",
                                                  "{",
                                                  "}",
                                                  ":",
                                                  ",",
                                                  "x y"};
  std::string s;
  const int n = std::uniform_int_distribution<int>(0, 6)(rng);
  for (int i = 0; i < n; ++i) {
    s += pieces[std::uniform_int_distribution<std::size_t>(0, pieces.size() - 1)(rng)];
  }
  return s;
}

JobInfo random_job(std::mt19937& rng) {
  auto coin = [&] { return std::uniform_int_distribution<int>(0, 1)(rng) == 1; };
  auto u64 = [&] { return std::uniform_int_distribution<std::uint64_t>()(rng); };
  auto u32 = [&] { return std::uniform_int_distribution<std::uint32_t>()(rng); };
  auto time = [&] {
    return SystemTime{} +
           std::chrono::seconds(std::uniform_int_distribution<std::int64_t>(0, 4'000'000'000)(rng));
  };
  JobInfo j;
  j.id = "{C775D194-090F-431F-B5FB-8334D00D1CB6}";
  j.display_name = random_text(rng);
  j.description = random_text(rng);
  j.type = static_cast<JobType>(std::uniform_int_distribution<int>(0, 2)(rng));
  j.state = static_cast<JobState>(std::uniform_int_distribution<int>(0, 8)(rng));
  j.priority = static_cast<JobPriority>(std::uniform_int_distribution<int>(0, 3)(rng));
  j.owner = u32();
  j.owner_name = random_text(rng);
  if (coin()) j.bytes_total = u64();
  j.bytes_transferred = u64();
  j.files_total = u32();
  j.files_transferred = u32();
  j.error_count = u32();
  if (coin()) {
    ErrorInfo e;
    e.code = u32();
    e.context = static_cast<ErrorContext>(std::uniform_int_distribution<int>(0, 7)(rng));
    e.message = random_text(rng);
    if (coin()) e.file_index = u32();
    e.file = coin() ? random_text(rng) : "";
    j.error = e;
  }
  j.created = time();
  j.modified = time();
  if (coin()) j.transfer_completed = time();
  if (coin()) j.retry_at = time();
  j.wait_reason = random_text(rng);
  j.notify_flags = u32();
  for (int i = std::uniform_int_distribution<int>(0, 3)(rng); i > 0; --i) {
    j.notify_cmdline.push_back(random_text(rng));
  }
  j.min_retry_delay = u32();
  j.no_progress_timeout = u32();
  j.max_download_time = u32();
  j.proxy.usage = static_cast<ProxyUsage>(std::uniform_int_distribution<int>(0, 3)(rng));
  j.proxy.list = random_text(rng);
  j.proxy.bypass = random_text(rng);
  j.tls_verify = coin();
  for (int i = std::uniform_int_distribution<int>(0, 3)(rng); i > 0; --i) {
    FileInfo f;
    f.index = u32();
    f.remote_url = random_text(rng);
    f.local_path = random_text(rng);
    for (int r = std::uniform_int_distribution<int>(0, 3)(rng); r > 0; --r) {
      f.ranges.push_back(FileRange{u64(), coin() ? kLengthToEof : u64()});
    }
    if (coin()) f.sha256 = std::string(64, 'a');
    if (coin()) f.bytes_total = u64();
    f.bytes_transferred = u64();
    f.transferred = coin();
    f.completed = coin();
    f.verified = coin();
    f.restarts = u32();
    j.files.push_back(f);
  }
  return j;
}

TEST(JobWriterTest, ADefaultJobMatchesTheTreeSerialiser) {
  JobInfo j;
  EXPECT_EQ(writer_text(j), tree_text(j));
}

TEST(JobWriterTest, RandomJobsMatchTheTreeSerialiserByteForByte) {
  std::mt19937 rng(20261124);
  for (int i = 0; i < 2000; ++i) {
    JobInfo j = random_job(rng);
    ASSERT_EQ(writer_text(j), tree_text(j)) << "job " << i;
  }
}

TEST(JobWriterTest, AppendsWithoutTouchingWhatIsAlreadyThere) {
  std::string out = "prefix,";
  JobInfo j;
  append_json(out, j);
  EXPECT_EQ(out, "prefix," + tree_text(j));
}

}  // namespace
}  // namespace bgcopy::proto
