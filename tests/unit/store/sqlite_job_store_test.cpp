#include "store/sqlite_job_store.hpp"

#include "base/unique_fd.hpp"
#include "store/sqlite_handle.hpp"
#include "store_test_support.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace bgcopy::store {
namespace {

using engine::ErrorInfo;
using engine::FileRange;
using engine::FileRecord;
using engine::JobPriority;
using engine::JobRecord;
using engine::JobState;
using engine::JobType;
using engine::kLengthToEof;
using engine::ProxyUsage;
using testing::fails_with;
using testing::is_ok;
using testing::TempDir;

constexpr std::uint64_t kAboveInt64 = 0x8000'0000'0000'0001ULL;

// ---------------------------------------------------------------------------------------------
// Records.

JobId make_id(std::uint32_t n) {
  std::array<std::uint8_t, 16> b{0xB6, 0xC0, 0x9E, 0x11, 0x00, 0x00, 0x40, 0x00,
                                 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  b[12] = static_cast<std::uint8_t>(n >> 24);
  b[13] = static_cast<std::uint8_t>(n >> 16);
  b[14] = static_cast<std::uint8_t>(n >> 8);
  b[15] = static_cast<std::uint8_t>(n);
  return JobId(b);
}

/// Every field set, most to values that only survive if stored exactly.
FileRecord full_file(std::uint32_t seed) {
  const std::string n = std::to_string(seed);
  FileRecord f;
  f.spec.remote_url =
      "https://example.com/d\xC3\xA9p\xC3\xB4t/file-" + n + ".bin?sig=a%2Bb&x=\"y\"";
  f.spec.local_path = "/home/\xE7\x94\xA8\xE6\x88\xB7/Downloads/\xF0\x9F\x93\xA6-" + n + ".bin";
  f.spec.ranges = {{0, 100}, {kAboveInt64, 4096}, {200 + seed, kLengthToEof}};
  f.spec.sha256 = std::string(63, 'a') + std::to_string(seed % 10);
  f.staging_name = ".file-" + n + ".bin.bgcopy-x.part";
  f.bytes_total = UINT64_MAX - seed;
  f.bytes_transferred = kAboveInt64 + seed;
  f.transferred = true;
  f.completed = true;
  f.verified = true;
  f.validators.etag = "W/\"etag-" + n + "\"";
  f.validators.last_modified = "Wed, 21 Oct 2015 07:28:00 GMT";
  f.remote_mtime = -1'234'567'890 - static_cast<std::int64_t>(seed);  // before 1970
  f.restarts = 4'000'000'000U + seed;
  return f;
}

/// Only what every file has; every optional unset, every flag at its default.
FileRecord bare_file(std::uint32_t seed) {
  FileRecord f;
  f.spec.remote_url = "http://mirror/" + std::to_string(seed);
  f.spec.local_path = "/srv/in/" + std::to_string(seed);
  f.staging_name = ".in-" + std::to_string(seed) + ".part";
  return f;
}

WallTime at_ms(std::int64_t ms) {
  return from_unix_ms(ms);
}

constexpr std::int64_t kBaseMs = 1'767'225'600'123;  // 2026-01-01, with milliseconds

/// Every JobRecord and JobSettings field away from its default; optionals set.
JobRecord full_job(std::uint32_t n) {
  JobRecord j;
  j.id = make_id(n);
  j.type = JobType::UploadReply;
  j.owner = 4'294'967'294U;  // largest uid_t that is not (uid_t)-1
  j.state = JobState::TransientError;
  auto& s = j.settings;
  s.display_name = "Nightly \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x9A\x80 \"q\" 'a' #" +
                   std::to_string(n);
  s.description = "line one\nline\ttwo; DROP TABLE jobs; --";
  s.priority = JobPriority::Foreground;
  s.notify_flags = engine::notify::All;
  s.notify_cmdline = {
      "/usr/bin/notify-send", "--title=\xC3\xA9t\xC3\xA9", "", "two words", "quote\"back\\slash",
      std::to_string(n)};
  s.min_retry_delay_s = 5;
  s.no_progress_timeout_s = 0;
  s.max_download_time_s = UINT32_MAX;
  s.proxy = {ProxyUsage::Override, "http://proxy:3128 http://p2:8080", "localhost *.local"};
  s.tls_verify = false;
  j.files = {full_file(n), bare_file(n), full_file(n + 1)};
  j.error = ErrorInfo{Error{hresult_from_http(503), ErrorContext::RemoteFile,
                            "Service Unavailable \xE2\x9C\x93", 2U}};
  j.error_count = UINT32_MAX;
  j.times.created = at_ms(kBaseMs + n);
  j.times.modified = at_ms(kBaseMs + 86'400'000 + n);
  j.times.transfer_completed = at_ms(kBaseMs + 2 * 86'400'000);
  j.retry_at = at_ms(kBaseMs + 3 * 86'400'000);
  j.retry_after_from_server = true;
  j.no_progress_since = at_ms(-86'400'000);  // before 1970 too
  j.active_ms = UINT64_MAX - 7;
  return j;
}

/// A new job as create makes it: defaults everywhere, no optional set.
JobRecord sparse_job(std::uint32_t n) {
  JobRecord j;
  j.id = make_id(n);
  j.times.created = at_ms(kBaseMs + n);
  j.times.modified = j.times.created;
  return j;
}

/// Compares part by part first, so a failure says which part differs.
void expect_same(const JobRecord& got, const JobRecord& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_TRUE(got.settings == want.settings) << "settings differ for " << want.id.to_string();
  ASSERT_EQ(got.files.size(), want.files.size()) << want.id.to_string();
  for (std::size_t i = 0; i < want.files.size(); ++i) {
    EXPECT_TRUE(got.files[i].spec == want.files[i].spec) << "file " << i << " spec";
    EXPECT_TRUE(got.files[i] == want.files[i]) << "file " << i;
  }
  EXPECT_TRUE(got.error == want.error) << "error differs for " << want.id.to_string();
  EXPECT_TRUE(got.times == want.times) << "times differ for " << want.id.to_string();
  EXPECT_TRUE(got == want) << "records differ for " << want.id.to_string();
}

// ---------------------------------------------------------------------------------------------
// Fixture.

class SqliteJobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.valid()); }

  std::unique_ptr<SqliteJobStore> open_store() {
    auto store = SqliteJobStore::open(db_path_);
    EXPECT_TRUE(is_ok(store));
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::vector<JobRecord> load(SqliteJobStore& store) {
    auto jobs = store.load_all();
    EXPECT_TRUE(is_ok(jobs));
    return jobs.ok() ? std::move(jobs).value() : std::vector<JobRecord>{};
  }

  /// Runs SQL through a second connection, to look at or tamper with what the store wrote.
  std::int64_t query_int(const std::string& sql) {
    auto db = open_database(db_path_, SQLITE_OPEN_READWRITE);
    EXPECT_TRUE(is_ok(db));
    if (!db) {
      return -1;
    }
    auto stmt = Statement::prepare(db->get(), sql);
    EXPECT_TRUE(is_ok(stmt));
    if (!stmt) {
      return -1;
    }
    ResetOnExit reset(*stmt);
    auto row = stmt->step();
    EXPECT_TRUE(is_ok(row));
    return row.ok() && *row ? stmt->column_int64(0) : -1;
  }
  void exec_sql(const std::string& sql) {
    auto db = open_database(db_path_, SQLITE_OPEN_READWRITE);
    ASSERT_TRUE(is_ok(db));
    ASSERT_TRUE(is_ok(exec(db->get(), sql.c_str())));
  }

  TempDir dir_;
  std::string db_path_ = dir_.file("jobs.db");
};

// ---------------------------------------------------------------------------------------------
// Round trips.

TEST_F(SqliteJobStoreTest, RoundTripsEveryFieldExactly) {
  JobRecord full = full_job(1);
  JobRecord sparse = sparse_job(2);
  // An error without a file index must not come back as "no error" or with index 0.
  JobRecord no_file_error = sparse_job(3);
  no_file_error.state = JobState::Error;
  no_file_error.error = ErrorInfo{Error{hr::EAccessDenied, ErrorContext::LocalFile, "", {}}};
  no_file_error.files = {bare_file(30)};
  no_file_error.files[0].bytes_total = 0;  // set, but zero: distinct from "unknown"
  no_file_error.files[0].spec.ranges = {{0, kLengthToEof}};
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    ASSERT_TRUE(is_ok(store->insert(full)));
    ASSERT_TRUE(is_ok(store->insert(sparse)));
    ASSERT_TRUE(is_ok(store->insert(no_file_error)));
    const auto jobs = load(*store);
    ASSERT_EQ(jobs.size(), 3U);
    expect_same(jobs[0], full);
    expect_same(jobs[1], sparse);
    expect_same(jobs[2], no_file_error);
  }
  // And the same after the file is closed and opened again (no second migration either).
  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->schema_version().value(), SqliteJobStore::kSchemaVersion);
  const auto jobs = load(*store);
  ASSERT_EQ(jobs.size(), 3U);
  expect_same(jobs[0], full);
  expect_same(jobs[1], sparse);
  expect_same(jobs[2], no_file_error);
}

TEST_F(SqliteJobStoreTest, StoresUnsignedValuesAboveInt64MaxBitForBit) {
  auto store = open_store();
  ASSERT_TRUE(store);
  JobRecord job = sparse_job(1);
  job.active_ms = UINT64_MAX;
  job.files = {bare_file(1)};
  job.files[0].bytes_total = UINT64_MAX;
  job.files[0].bytes_transferred = kAboveInt64;
  job.files[0].spec.ranges = {{UINT64_MAX - 1, kLengthToEof}, {0, 1}};
  ASSERT_TRUE(is_ok(store->insert(job)));
  const auto jobs = load(*store);
  ASSERT_EQ(jobs.size(), 1U);
  EXPECT_EQ(jobs[0].active_ms, UINT64_MAX);
  ASSERT_EQ(jobs[0].files.size(), 1U);
  EXPECT_EQ(jobs[0].files[0].bytes_total, UINT64_MAX);
  EXPECT_EQ(jobs[0].files[0].bytes_transferred, kAboveInt64);
  ASSERT_EQ(jobs[0].files[0].spec.ranges.size(), 2U);
  EXPECT_EQ(jobs[0].files[0].spec.ranges[0].offset, UINT64_MAX - 1);
  EXPECT_EQ(jobs[0].files[0].spec.ranges[0].length, kLengthToEof);
}

TEST_F(SqliteJobStoreTest, LoadsManyJobsOrderedByCreationWithFilesInIndexOrder) {
  auto store = open_store();
  ASSERT_TRUE(store);
  constexpr std::uint32_t kJobs = 500;
  std::vector<JobRecord> want;
  for (std::uint32_t i = 0; i < kJobs; ++i) {
    // Inserted in an order unrelated to creation time or id.
    const std::uint32_t n = (i * 7919U) % kJobs;
    JobRecord job = (n % 2 == 0) ? full_job(n) : sparse_job(n);
    for (std::uint32_t f = 0; f < n % 4; ++f) {
      job.files.push_back(bare_file(n * 10 + f));
    }
    ASSERT_TRUE(is_ok(store->insert(job)));
    want.push_back(job);
  }
  std::sort(want.begin(), want.end(), [](const JobRecord& a, const JobRecord& b) {
    return a.times.created < b.times.created;
  });
  const auto jobs = load(*store);
  ASSERT_EQ(jobs.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(jobs[i] == want[i]) << "job " << i << " " << want[i].id.to_string();
  }
}

TEST_F(SqliteJobStoreTest, PlacesFilesByIndexWhateverTheRowOrder) {
  JobRecord job = full_job(1);
  for (std::uint32_t i = 0; i < 4; ++i) {
    job.files.push_back(bare_file(10 + i));
  }
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    ASSERT_TRUE(is_ok(store->insert(full_job(2))));
    ASSERT_TRUE(is_ok(store->insert(job)));
  }
  // Reverse the physical (rowid) order of the file rows, and interleave the two jobs.
  exec_sql(
      "UPDATE files SET rowid = -rowid; UPDATE files SET rowid = 1000 - idx * 2 - "
      "(job_id = '" +
      job.id.to_string() + "')");
  auto store = open_store();
  ASSERT_TRUE(store);
  const auto jobs = load(*store);
  ASSERT_EQ(jobs.size(), 2U);
  expect_same(jobs[0], job);
  expect_same(jobs[1], full_job(2));
}

// ---------------------------------------------------------------------------------------------
// Mutations.

TEST_F(SqliteJobStoreTest, UpdateReplacesTheJobRowAndAllFileRows) {
  auto store = open_store();
  ASSERT_TRUE(store);
  JobRecord job = full_job(1);
  const JobRecord other = full_job(2);
  ASSERT_TRUE(is_ok(store->insert(job)));
  ASSERT_TRUE(is_ok(store->insert(other)));

  // Fewer files, and every job field changed back to defaults or unset.
  JobRecord fewer = sparse_job(1);
  fewer.files = {full_file(77)};
  ASSERT_TRUE(is_ok(store->update(fewer)));
  auto jobs = load(*store);
  ASSERT_EQ(jobs.size(), 2U);
  expect_same(jobs[0], fewer);
  expect_same(jobs[1], other);
  EXPECT_EQ(query_int("SELECT count(*) FROM files WHERE job_id = '" + job.id.to_string() + "'"), 1);

  // More files than ever before.
  JobRecord more = full_job(1);
  for (std::uint32_t i = 0; i < 5; ++i) {
    more.files.push_back(bare_file(100 + i));
  }
  ASSERT_TRUE(is_ok(store->update(more)));
  jobs = load(*store);
  ASSERT_EQ(jobs.size(), 2U);
  expect_same(jobs[0], more);
  expect_same(jobs[1], other);

  // No files at all.
  JobRecord none = more;
  none.files.clear();
  ASSERT_TRUE(is_ok(store->update(none)));
  jobs = load(*store);
  ASSERT_EQ(jobs.size(), 2U);
  expect_same(jobs[0], none);
  expect_same(jobs[1], other);
}

TEST_F(SqliteJobStoreTest, UpdateOfAJobNotStoredIsNotFoundAndStoresNothing) {
  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_TRUE(fails_with(store->update(full_job(9)), hr::DoEJobNotFound));
  EXPECT_TRUE(load(*store).empty());
  EXPECT_EQ(query_int("SELECT count(*) FROM files"), 0);
}

TEST_F(SqliteJobStoreTest, InsertOfADuplicateIdFailsAndChangesNothing) {
  auto store = open_store();
  ASSERT_TRUE(store);
  const JobRecord job = full_job(1);
  ASSERT_TRUE(is_ok(store->insert(job)));
  JobRecord twin = sparse_job(1);
  twin.files = {bare_file(5), bare_file(6), bare_file(7), bare_file(8)};
  EXPECT_FALSE(store->insert(twin).ok());
  const auto jobs = load(*store);
  ASSERT_EQ(jobs.size(), 1U);
  expect_same(jobs[0], job);
}

TEST_F(SqliteJobStoreTest, UpdateFileChangesThatOneRowOnly) {
  auto store = open_store();
  ASSERT_TRUE(store);
  JobRecord a = full_job(1);
  const JobRecord b = full_job(2);  // same file indexes, must stay untouched
  ASSERT_TRUE(is_ok(store->insert(a)));
  ASSERT_TRUE(is_ok(store->insert(b)));

  FileRecord changed = bare_file(42);
  changed.bytes_transferred = kAboveInt64;
  changed.bytes_total = std::nullopt;
  changed.validators.etag = "\"new\"";
  ASSERT_TRUE(is_ok(store->update_file(a.id, 1, changed)));
  a.files[1] = changed;

  const auto jobs = load(*store);
  ASSERT_EQ(jobs.size(), 2U);
  expect_same(jobs[0], a);
  expect_same(jobs[1], b);
}

TEST_F(SqliteJobStoreTest, UpdateFileOfAMissingJobOrIndexIsNotFound) {
  auto store = open_store();
  ASSERT_TRUE(store);
  const JobRecord job = full_job(1);  // three files
  ASSERT_TRUE(is_ok(store->insert(job)));
  EXPECT_TRUE(fails_with(store->update_file(job.id, 3, bare_file(1)), hr::DoEJobNotFound));
  EXPECT_TRUE(fails_with(store->update_file(make_id(2), 0, bare_file(1)), hr::DoEJobNotFound));
  const auto jobs = load(*store);
  ASSERT_EQ(jobs.size(), 1U);
  expect_same(jobs[0], job);
}

TEST_F(SqliteJobStoreTest, RemoveDeletesTheJobAndCascadesToItsFiles) {
  auto store = open_store();
  ASSERT_TRUE(store);
  const JobRecord a = full_job(1);
  const JobRecord b = full_job(2);
  ASSERT_TRUE(is_ok(store->insert(a)));
  ASSERT_TRUE(is_ok(store->insert(b)));
  ASSERT_TRUE(is_ok(store->remove(a.id)));

  const auto jobs = load(*store);
  ASSERT_EQ(jobs.size(), 1U);
  expect_same(jobs[0], b);
  EXPECT_EQ(query_int("SELECT count(*) FROM files WHERE job_id = '" + a.id.to_string() + "'"), 0);
  EXPECT_EQ(query_int("SELECT count(*) FROM files"), 3);

  EXPECT_TRUE(fails_with(store->remove(a.id), hr::DoEJobNotFound));
  // No orphaned file row is left to collide with a job that reuses the id.
  ASSERT_TRUE(is_ok(store->insert(a)));
  EXPECT_EQ(load(*store).size(), 2U);
}

TEST_F(SqliteJobStoreTest, RefusesANotifyArgumentThatIsNotUtf8) {
  auto store = open_store();
  ASSERT_TRUE(store);
  JobRecord job = full_job(1);
  job.settings.notify_cmdline = {"/bin/true", "caf\xE9"};  // Latin-1, not UTF-8
  EXPECT_TRUE(fails_with(store->insert(job), hr::EInvalidArg));
  EXPECT_TRUE(load(*store).empty());
}

// ---------------------------------------------------------------------------------------------
// Durability: kill -9 in the middle of writing.

struct Report {
  std::uint32_t job = 0;
  std::uint32_t version = 0;
};

/// Version 0 is inserted, 1 replaces job and files by update, 2 changes file 1 by update_file.
JobRecord crash_job(std::uint32_t n, std::uint32_t version) {
  JobRecord job = full_job(n);
  job.files.resize(2);
  if (version >= 1) {
    job.state = JobState::Transferring;
    job.settings.display_name += " v1";
    job.files.push_back(full_file(n + 1000));
    job.active_ms = n;
  }
  if (version >= 2) {
    job.files[1].bytes_transferred = 1'000'000 + n;
    job.files[1].bytes_total = 2'000'000 + n;
  }
  return job;
}

[[noreturn]] void run_writer_child(const std::string& path, int report_fd) {
  // Only async-signal-safe exits from here on: the child must not run the parent's atexit
  // handlers or gtest's reporting.
  auto store = SqliteJobStore::open(path);
  if (!store) {
    ::_exit(2);
  }
  for (std::uint32_t n = 0;; ++n) {
    for (std::uint32_t version = 0; version < 3; ++version) {
      const JobRecord job = crash_job(n, version);
      Status done = version == 0   ? (*store)->insert(job)
                    : version == 1 ? (*store)->update(job)
                                   : (*store)->update_file(job.id, 1, job.files[1]);
      if (!done) {
        ::_exit(3);
      }
      const Report report{n, version};
      // Written only after the call returned, that is after COMMIT.
      if (::write(report_fd, &report, sizeof report) != static_cast<ssize_t>(sizeof report)) {
        ::_exit(4);
      }
    }
  }
}

/// Reads one report; false at end of file (the child is gone).
bool read_report(int fd, Report& out) {
  auto* bytes = reinterpret_cast<unsigned char*>(&out);
  std::size_t got = 0;
  while (got < sizeof out) {
    const ssize_t n = ::read(fd, bytes + got, sizeof out - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    got += static_cast<std::size_t>(n);
  }
  return true;
}

TEST_F(SqliteJobStoreTest, KeepsEveryCommittedJobWhenTheWriterIsKilled) {
  constexpr std::size_t kReportsBeforeKill = 900;  // 300 jobs, each inserted and updated twice
  constexpr auto kDeadline = std::chrono::seconds(60);

  std::array<int, 2> fds{};
  ASSERT_EQ(::pipe2(fds.data(), O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    read_end.reset();
    run_writer_child(db_path_, write_end.get());
  }
  write_end.reset();  // so that read() sees EOF once the child is gone

  std::map<std::uint32_t, std::uint32_t> committed;  // job -> highest version reported
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  std::size_t reports = 0;
  bool child_alive = true;
  while (reports < kReportsBeforeKill) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd pfd{read_end.get(), POLLIN, 0};
    if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) == 0) {
      break;  // deadline: fail below
    }
    Report report;
    if (!read_report(read_end.get(), report)) {
      child_alive = false;
      break;
    }
    committed[report.job] = report.version;
    ++reports;
  }
  // Killed while it writes: at a random point of some transaction.
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(child_alive) << "the writer exited early with status " << WEXITSTATUS(status);
  ASSERT_EQ(reports, kReportsBeforeKill) << "the writer made too little progress in time";
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  // Reports written after we stopped reading are commits too.
  for (Report report; read_report(read_end.get(), report);) {
    committed[report.job] = report.version;
  }

  auto store = open_store();
  ASSERT_TRUE(store);
  ASSERT_TRUE(is_ok(store->check_integrity()));
  const auto jobs = load(*store);
  ASSERT_GE(jobs.size(), committed.size());
  ASSERT_LE(jobs.size(), committed.size() + 1) << "only the job being inserted may be unreported";
  std::map<JobId, const JobRecord*> by_id;
  for (const auto& job : jobs) {
    by_id[job.id] = &job;
  }
  for (const auto& [n, version] : committed) {
    const auto it = by_id.find(make_id(n));
    ASSERT_NE(it, by_id.end()) << "committed job " << n << " is missing";
    // It may be ahead of its last report (killed between COMMIT and write), never behind.
    bool matches = false;
    for (std::uint32_t v = version; v < 3 && !matches; ++v) {
      matches = *it->second == crash_job(n, v);
    }
    EXPECT_TRUE(matches) << "job " << n << " does not match version " << version << " or later";
  }
  // The store is fully usable after recovery.
  ASSERT_TRUE(is_ok(store->insert(full_job(1'000'000))));
}

// ---------------------------------------------------------------------------------------------
// Opening, schema and migrations.

TEST_F(SqliteJobStoreTest, RefusesADatabaseWithANewerSchema) {
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    ASSERT_TRUE(is_ok(store->insert(full_job(1))));
  }
  const int newer = SqliteJobStore::kSchemaVersion + 1;
  exec_sql("PRAGMA user_version = " + std::to_string(newer));

  auto refused = SqliteJobStore::open(db_path_);
  ASSERT_FALSE(refused.ok());
  const std::string& message = refused.error().message;
  EXPECT_NE(message.find("newer"), std::string::npos) << message;
  EXPECT_NE(message.find("version " + std::to_string(newer)), std::string::npos) << message;
  EXPECT_EQ(refused.error().context, ErrorContext::GeneralQueueManager);
  // Untouched: still the newer version, still the job.
  EXPECT_EQ(query_int("PRAGMA user_version"), newer);
  EXPECT_EQ(query_int("SELECT count(*) FROM jobs"), 1);
}

TEST_F(SqliteJobStoreTest, MigratesAnEmptyFile) {
  {
    UniqueFd fd(::open(db_path_.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
    ASSERT_TRUE(fd.valid());
  }
  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->schema_version().value(), SqliteJobStore::kSchemaVersion);
  ASSERT_TRUE(is_ok(store->insert(full_job(1))));
  const auto jobs = load(*store);
  ASSERT_EQ(jobs.size(), 1U);
  expect_same(jobs[0], full_job(1));
  EXPECT_TRUE(is_ok(store->check_integrity()));
}

TEST_F(SqliteJobStoreTest, RunsInWalMode) {
  auto store = open_store();
  ASSERT_TRUE(store);
  const auto mode = store->journal_mode();
  ASSERT_TRUE(is_ok(mode));
  EXPECT_EQ(*mode, "wal");
  ASSERT_TRUE(is_ok(store->insert(full_job(1))));
  struct stat st {};
  EXPECT_EQ(::stat((db_path_ + "-wal").c_str(), &st), 0) << "no -wal file after a commit";
  // WAL is a property of the file: a second connection sees it too.
  auto db = open_database(db_path_, SQLITE_OPEN_READONLY);
  ASSERT_TRUE(is_ok(db));
  auto stmt = Statement::prepare(db->get(), "PRAGMA journal_mode");
  ASSERT_TRUE(is_ok(stmt));
  ResetOnExit reset(*stmt);
  ASSERT_TRUE(is_ok(stmt->step()));
  EXPECT_EQ(stmt->column_text(0), "wal");
}

TEST_F(SqliteJobStoreTest, CreatesItsFilesWithMode0600WhateverTheUmask) {
  const mode_t old_umask = ::umask(0);
  auto store = SqliteJobStore::open(db_path_);
  ::umask(old_umask);
  ASSERT_TRUE(is_ok(store));
  ASSERT_TRUE(is_ok((*store)->insert(full_job(1))));
  for (const char* suffix : {"", "-wal", "-shm"}) {
    struct stat st {};
    ASSERT_EQ(::stat((db_path_ + suffix).c_str(), &st), 0) << suffix;
    EXPECT_EQ(st.st_mode & 07777, 0600U) << "jobs.db" << suffix;
  }
}

TEST_F(SqliteJobStoreTest, OpenInAMissingDirectoryIsAnErrnoError) {
  auto store = SqliteJobStore::open(dir_.file("no/such/dir/jobs.db"));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, hresult_from_errno(ENOENT)) << testing::describe(store.error());
  EXPECT_EQ(store.error().context, ErrorContext::GeneralQueueManager);
}

TEST_F(SqliteJobStoreTest, RefusesAFileThatIsNotADatabase) {
  {
    std::ofstream out(db_path_, std::ios::binary);
    out << std::string(8192, 'x');
  }
  auto store = SqliteJobStore::open(db_path_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find("not a database"), std::string::npos)
      << store.error().message;
}

TEST_F(SqliteJobStoreTest, ReportsARowNoRecordCanHold) {
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    ASSERT_TRUE(is_ok(store->insert(full_job(1))));
  }
  exec_sql("UPDATE jobs SET state = 99");
  auto store = open_store();
  ASSERT_TRUE(store);
  auto jobs = store->load_all();
  ASSERT_FALSE(jobs.ok());
  EXPECT_NE(jobs.error().message.find("state"), std::string::npos) << jobs.error().message;
  EXPECT_NE(jobs.error().message.find(make_id(1).to_string()), std::string::npos);

  exec_sql("UPDATE jobs SET state = 0; UPDATE files SET idx = 5 WHERE idx = 1");
  jobs = store->load_all();
  ASSERT_FALSE(jobs.ok());
  EXPECT_NE(jobs.error().message.find("idx"), std::string::npos) << jobs.error().message;
}

// ---------------------------------------------------------------------------------------------
// A database that cannot be written.

class ReadOnlyStoreTest : public SqliteJobStoreTest {
 protected:
  void SetUp() override {
    SqliteJobStoreTest::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    auto store = open_store();
    ASSERT_TRUE(store);
    ASSERT_TRUE(is_ok(store->insert(stored_)));
  }

  /// Every write fails with an error (no crash), and leaves the database as it was.
  void expect_writes_refused(SqliteJobStore& store, Hresult code) {
    EXPECT_TRUE(fails_with(store.insert(full_job(2)), code));
    JobRecord changed = stored_;
    changed.state = JobState::Queued;
    changed.files.pop_back();
    EXPECT_TRUE(fails_with(store.update(changed), code));
    EXPECT_TRUE(fails_with(store.update_file(stored_.id, 0, bare_file(9)), code));
    EXPECT_TRUE(fails_with(store.remove(stored_.id), code));
    auto jobs = load(store);
    ASSERT_EQ(jobs.size(), 1U);
    expect_same(jobs[0], stored_);
  }

  void expect_unchanged_when_writable_again() {
    ASSERT_EQ(::chmod(db_path_.c_str(), 0600), 0);
    auto store = open_store();
    ASSERT_TRUE(store);
    auto jobs = load(*store);
    ASSERT_EQ(jobs.size(), 1U);
    expect_same(jobs[0], stored_);
    EXPECT_TRUE(is_ok(store->check_integrity()));
  }

  const JobRecord stored_ = full_job(1);
};

TEST_F(ReadOnlyStoreTest, ReadOnlyConnectionRefusesWritesAndChangesNothing) {
  {
    auto store = SqliteJobStore::open_read_only_for_test(db_path_);
    ASSERT_TRUE(is_ok(store));
    expect_writes_refused(**store, hresult_from_errno(EROFS));
  }
  expect_unchanged_when_writable_again();
}

TEST_F(ReadOnlyStoreTest, UnwritableFileRefusesWritesAndChangesNothing) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "root writes through mode 0400; the read-only connection test covers it";
  }
  ASSERT_EQ(::chmod(db_path_.c_str(), 0400), 0);
  {
    auto store = SqliteJobStore::open(db_path_);
    ASSERT_TRUE(is_ok(store));
    expect_writes_refused(**store, hresult_from_errno(EROFS));
  }
  expect_unchanged_when_writable_again();
}

}  // namespace
}  // namespace bgcopy::store
