// Golden renderings of `info`, `list` and `files`, human and --json, from fixed JobInfo values
// with TZ pinned to UTC. Regenerate with BGCOPY_UPDATE_GOLDEN=1 and review the diff.
#include "cli/render.hpp"

#include <bgcopy/json.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#ifndef BGCOPY_GOLDEN_FALLBACK_DIR
#define BGCOPY_GOLDEN_FALLBACK_DIR ""
#endif

namespace bgcopy::cli {
namespace {

using namespace std::chrono_literals;

std::filesystem::path golden_dir() {
  if (const char* src = std::getenv("BGCOPY_SOURCE_DIR"); src != nullptr && *src != '\0') {
    return std::filesystem::path(src) / "tests" / "golden";
  }
  return BGCOPY_GOLDEN_FALLBACK_DIR;
}

void expect_golden(const std::string& name, const std::string& actual) {
  const auto path = golden_dir() / name;
  if (const char* update = std::getenv("BGCOPY_UPDATE_GOLDEN");
      update && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << "missing golden file " << path << " (run with BGCOPY_UPDATE_GOLDEN=1)";
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(actual, expected.str()) << "differs from " << path;
}

SystemTime at(int day, std::chrono::seconds time_of_day) {
  return std::chrono::sys_days{std::chrono::year{2026} / 11 / day} + time_of_day;
}

const SystemTime kNow = at(24, 2h + 41min + 10s);

JobInfo transferring_job() {
  JobInfo j;
  j.id = "{C775D194-090F-431F-B5FB-8334D00D1CB6}";
  j.display_name = "nightly";
  j.description = "mirror of the nightly images";
  j.type = JobType::Download;
  j.state = JobState::Transferring;
  j.priority = JobPriority::Normal;
  j.owner = 1000;
  j.owner_name = "alice";
  j.bytes_total = 3'145'728;
  j.bytes_transferred = 1'572'864;
  j.files_total = 2;
  j.files_transferred = 1;
  j.created = at(24, 2h + 40min + 57s);
  j.modified = at(24, 2h + 41min + 3s);
  FileInfo a;
  a.index = 0;
  a.remote_url = "http://mirror.example/a.iso";
  a.local_path = "/home/alice/a.iso";
  a.sha256 = std::string(64, 'e');
  a.bytes_total = 1'048'576;
  a.bytes_transferred = 1'048'576;
  a.transferred = true;
  a.verified = true;
  FileInfo b;
  b.index = 1;
  b.remote_url = "http://mirror.example/disk.img";
  b.local_path = "/home/alice/parts.bin";
  b.ranges = {{0, 512}, {1'048'576, kLengthToEof}};
  b.bytes_total = 2'097'152;
  b.bytes_transferred = 524'288;
  b.restarts = 1;
  j.files = {a, b};
  return j;
}

JobInfo error_job() {
  JobInfo j;
  j.id = "{482FCAF0-74BF-469B-8929-5CCD028C9499}";
  j.display_name = "fetch\tlogs";
  j.type = JobType::Download;
  j.state = JobState::Error;
  j.priority = JobPriority::Low;
  j.owner = 1001;
  j.owner_name = "bob";
  j.bytes_total = std::nullopt;
  j.bytes_transferred = 0;
  j.files_total = 1;
  j.files_transferred = 0;
  j.error_count = 3;
  j.error = ErrorInfo{hresult_from_http(404), ErrorContext::RemoteFile,
                      "HTTP 404 Not Found from http://logs.example/x.log", 0, "/var/tmp/x.log"};
  j.created = at(23, 23h + 59min + 59s);
  j.modified = at(24, 0h + 5min);
  j.retry_at = at(24, 2h + 45min + 22s);
  j.wait_reason = "in ERROR: needs the owner to act";
  j.notify_flags = 0x0B;
  j.notify_cmdline = {"/usr/bin/logger", "-t", "bgcopy", "job failed"};
  j.min_retry_delay = 60;
  j.no_progress_timeout = 0;
  j.max_download_time = 86'400;
  j.proxy = ProxySettings{ProxyUsage::Override, "http://proxy:3128", "<local>"};
  j.tls_verify = false;
  FileInfo f;
  f.index = 0;
  f.remote_url = "http://logs.example/x.log";
  f.local_path = "/var/tmp/x.log";
  j.files = {f};
  return j;
}

JobInfo done_job() {
  JobInfo j;
  j.id = "{6AF46E48-41D3-453F-B7AF-A694BBC823F7}";
  j.display_name = "";
  j.state = JobState::Transferred;
  j.priority = JobPriority::Foreground;
  j.owner = 0;
  j.owner_name = "root";
  j.bytes_total = 0;
  j.files_total = 1;
  j.files_transferred = 1;
  j.created = at(20, 12h);
  j.modified = at(20, 12h + 1s);
  j.transfer_completed = at(20, 12h + 1s);
  FileInfo f;
  f.index = 0;
  f.remote_url = "file:///srv/empty";
  f.local_path = "/tmp/empty";
  f.bytes_total = 0;
  f.transferred = true;
  j.files = {f};
  return j;
}

class RenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
};

TEST_F(RenderTest, InfoTransferring) {
  expect_golden("cli_info_transferring.txt", render_info(transferring_job(), kNow));
}

TEST_F(RenderTest, InfoError) {
  expect_golden("cli_info_error.txt", render_info(error_job(), kNow));
}

TEST_F(RenderTest, InfoTransferredEmptyName) {
  expect_golden("cli_info_transferred.txt", render_info(done_job(), kNow));
}

TEST_F(RenderTest, List) {
  expect_golden("cli_list.txt", render_list({transferring_job(), error_job(), done_job()}));
}

TEST_F(RenderTest, ListLineShape) {
  // The bitsadmin-like contract: {GUID} 'name' STATE files_done / files_total bytes.
  EXPECT_EQ(render_list_line(transferring_job()),
            "{C775D194-090F-431F-B5FB-8334D00D1CB6} 'nightly' TRANSFERRING 1 / 2 1572864 / "
            "3145728");
  EXPECT_EQ(render_list_line(error_job()),
            "{482FCAF0-74BF-469B-8929-5CCD028C9499} 'fetch\\tlogs' ERROR 0 / 1 0 / UNKNOWN");
  EXPECT_EQ(render_list({}), "");
}

TEST_F(RenderTest, Files) {
  expect_golden("cli_files.txt", render_files(transferring_job().files));
}

TEST_F(RenderTest, InfoJson) {
  expect_golden("cli_info.json", to_json_string(transferring_job()) + "\n");
}

TEST_F(RenderTest, InfoJsonError) {
  expect_golden("cli_info_error.json", to_json_string(error_job(), 2) + "\n");
}

TEST_F(RenderTest, ListJson) {
  expect_golden(
      "cli_list.json",
      to_json_string(std::vector<JobInfo>{transferring_job(), error_job(), done_job()}) + "\n");
  EXPECT_EQ(to_json_string(std::vector<JobInfo>{}), "[]");
}

TEST_F(RenderTest, FilesJson) {
  expect_golden("cli_files.json", to_json_string(transferring_job().files) + "\n");
}

TEST_F(RenderTest, JsonDoesNotDependOnTheTimeZone) {
  const std::string utc = to_json_string(error_job());
  ::setenv("TZ", "Asia/Kolkata", 1);
  ::tzset();
  EXPECT_EQ(to_json_string(error_job()), utc);
}

TEST_F(RenderTest, Progress) {
  auto j = transferring_job();
  EXPECT_EQ(render_progress(j, std::nullopt, std::nullopt, 10),
            "TRANSFERRING [#####.....] 50.0% 1.5 MiB / 3.0 MiB");
  EXPECT_EQ(render_progress(j, 1048576.0, 1.5, 0),
            "TRANSFERRING 50.0% 1.5 MiB / 3.0 MiB 1.0 MiB/s ETA 0:02");
  JobInfo empty;
  empty.state = JobState::Suspended;
  EXPECT_EQ(render_progress(empty, std::nullopt, std::nullopt, 10), "SUSPENDED (no files)");
  auto e = error_job();
  EXPECT_EQ(render_progress(e, 5.0, std::nullopt, 4), "ERROR (BG_E_HTTP_ERROR_404) [....] 0 B / ?");
}

TEST_F(RenderTest, PrintableEscapesControlCharacters) {
  EXPECT_EQ(printable("a\nb\tc\rd\x01"
                      "e\x7f"),
            "a\\nb\\tc\\rd\\x01e\\x7f");
  EXPECT_EQ(printable("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 passes through
}

}  // namespace
}  // namespace bgcopy::cli
