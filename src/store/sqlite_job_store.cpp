#include "store/sqlite_job_store.hpp"

#include "base/unique_fd.hpp"
#include "store/sqlite_handle.hpp"

#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <filesystem>
#include <limits>
#include <span>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>

namespace bgcopy::store {

using engine::FileRange;
using engine::FileRecord;
using engine::JobRecord;

namespace {

constexpr int kBusyTimeoutMs = 5000;

// ---------------------------------------------------------------------------------------------
// Schema. A migration is never edited once released: a change is a new step at the end. Each
// step runs in its own transaction together with the user_version bump, so a crash leaves the
// database at one version or the next, never between.

struct Migration {
  int version;
  const char* sql;
};

constexpr std::array kMigrations{
    Migration{1, R"sql(
CREATE TABLE jobs (
  id                      TEXT    NOT NULL PRIMARY KEY,  -- "{8-4-4-4-12}", as JobId prints it
  owner                   INTEGER NOT NULL,              -- uid
  type                    INTEGER NOT NULL,              -- JobType (BITS numbers)
  state                   INTEGER NOT NULL,              -- JobState (BITS numbers)
  priority                INTEGER NOT NULL,              -- JobPriority (BITS numbers)
  display_name            TEXT    NOT NULL,
  description             TEXT    NOT NULL,
  notify_flags            INTEGER NOT NULL,
  notify_cmdline          TEXT    NOT NULL,              -- JSON array of strings; [] = none
  min_retry_delay_s       INTEGER NOT NULL,
  no_progress_timeout_s   INTEGER NOT NULL,
  max_download_time_s     INTEGER NOT NULL,
  proxy_usage             INTEGER NOT NULL,              -- ProxyUsage
  proxy_list              TEXT    NOT NULL,
  proxy_bypass            TEXT    NOT NULL,
  tls_verify              INTEGER NOT NULL,              -- 0/1
  error_code              INTEGER,                       -- HRESULT; NULL = no error
  error_context           INTEGER,                       -- ErrorContext; NULL = no error
  error_message           TEXT,                          -- NULL = no error
  error_file_index        INTEGER,                       -- NULL = no error or no file
  error_count             INTEGER NOT NULL,
  created_ms              INTEGER NOT NULL,              -- Unix ms
  modified_ms             INTEGER NOT NULL,
  transfer_completed_ms   INTEGER,
  retry_at_ms             INTEGER,
  retry_after_from_server INTEGER NOT NULL,              -- 0/1
  no_progress_since_ms    INTEGER,
  active_ms               INTEGER NOT NULL               -- uint64, bit-cast to int64
) STRICT;

CREATE TABLE files (
  job_id            TEXT    NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  idx               INTEGER NOT NULL,                    -- 0..n-1, the order files were added
  remote_url        TEXT    NOT NULL,
  local_path        TEXT    NOT NULL,
  ranges            TEXT    NOT NULL,                    -- JSON [[offset,length],...], unsigned
  sha256            TEXT,
  staging_name      TEXT    NOT NULL,
  bytes_total       INTEGER,                             -- uint64 bit-cast; NULL = unknown
  bytes_transferred INTEGER NOT NULL,                    -- uint64 bit-cast
  transferred       INTEGER NOT NULL,                    -- 0/1
  completed         INTEGER NOT NULL,                    -- 0/1
  verified          INTEGER NOT NULL,                    -- 0/1
  etag              TEXT    NOT NULL,
  last_modified     TEXT    NOT NULL,
  remote_mtime      INTEGER,                             -- Unix seconds
  restarts          INTEGER NOT NULL,
  PRIMARY KEY (job_id, idx)
) STRICT;
)sql"},
};

static_assert(kMigrations.back().version == SqliteJobStore::kSchemaVersion,
              "kSchemaVersion must name the last migration");

// ---------------------------------------------------------------------------------------------
// Column positions, shared by the INSERT/UPDATE bindings (position + 1) and the SELECT reads
// (position), so the two can never disagree. The names must match the latest schema.

namespace job_col {
inline constexpr int Id = 0;
inline constexpr int Owner = 1;
inline constexpr int Type = 2;
inline constexpr int State = 3;
inline constexpr int Priority = 4;
inline constexpr int DisplayName = 5;
inline constexpr int Description = 6;
inline constexpr int NotifyFlags = 7;
inline constexpr int NotifyCmdline = 8;
inline constexpr int MinRetryDelay = 9;
inline constexpr int NoProgressTimeout = 10;
inline constexpr int MaxDownloadTime = 11;
inline constexpr int ProxyUsage = 12;
inline constexpr int ProxyList = 13;
inline constexpr int ProxyBypass = 14;
inline constexpr int TlsVerify = 15;
inline constexpr int ErrorCode = 16;
inline constexpr int ErrorContext = 17;
inline constexpr int ErrorMessage = 18;
inline constexpr int ErrorFileIndex = 19;
inline constexpr int ErrorCount = 20;
inline constexpr int Created = 21;
inline constexpr int Modified = 22;
inline constexpr int TransferCompleted = 23;
inline constexpr int RetryAt = 24;
inline constexpr int RetryAfterFromServer = 25;
inline constexpr int NoProgressSince = 26;
inline constexpr int ActiveMs = 27;
inline constexpr int Count = 28;
}  // namespace job_col

constexpr std::array<std::string_view, job_col::Count> kJobColumns{
    "id",
    "owner",
    "type",
    "state",
    "priority",
    "display_name",
    "description",
    "notify_flags",
    "notify_cmdline",
    "min_retry_delay_s",
    "no_progress_timeout_s",
    "max_download_time_s",
    "proxy_usage",
    "proxy_list",
    "proxy_bypass",
    "tls_verify",
    "error_code",
    "error_context",
    "error_message",
    "error_file_index",
    "error_count",
    "created_ms",
    "modified_ms",
    "transfer_completed_ms",
    "retry_at_ms",
    "retry_after_from_server",
    "no_progress_since_ms",
    "active_ms",
};

namespace file_col {
inline constexpr int JobId = 0;
inline constexpr int Index = 1;
inline constexpr int RemoteUrl = 2;
inline constexpr int LocalPath = 3;
inline constexpr int Ranges = 4;
inline constexpr int Sha256 = 5;
inline constexpr int StagingName = 6;
inline constexpr int BytesTotal = 7;
inline constexpr int BytesTransferred = 8;
inline constexpr int Transferred = 9;
inline constexpr int Completed = 10;
inline constexpr int Verified = 11;
inline constexpr int Etag = 12;
inline constexpr int LastModified = 13;
inline constexpr int RemoteMtime = 14;
inline constexpr int Restarts = 15;
inline constexpr int Count = 16;
}  // namespace file_col

constexpr std::array<std::string_view, file_col::Count> kFileColumns{
    "job_id",       "idx",           "remote_url",        "local_path",  "ranges",    "sha256",
    "staging_name", "bytes_total",   "bytes_transferred", "transferred", "completed", "verified",
    "etag",         "last_modified", "remote_mtime",      "restarts",
};

std::string join_columns(std::span<const std::string_view> columns) {
  std::string out;
  for (const auto& name : columns) {
    if (!out.empty()) {
      out += ", ";
    }
    out += name;
  }
  return out;
}

std::string insert_sql(std::string_view table, std::span<const std::string_view> columns) {
  std::string sql =
      "INSERT INTO " + std::string(table) + " (" + join_columns(columns) + ") VALUES (";
  for (std::size_t i = 0; i < columns.size(); ++i) {
    sql += (i == 0 ? "?" : ", ?") + std::to_string(i + 1);
  }
  return sql + ")";
}

/// UPDATE table SET every column after the first `keys` ones, WHERE the first `keys` match.
std::string update_sql(std::string_view table, std::span<const std::string_view> columns,
                       std::size_t keys) {
  std::string sql = "UPDATE " + std::string(table) + " SET ";
  for (std::size_t i = keys; i < columns.size(); ++i) {
    sql += (i == keys ? "" : ", ") + std::string(columns[i]) + " = ?" + std::to_string(i + 1);
  }
  sql += " WHERE ";
  for (std::size_t i = 0; i < keys; ++i) {
    sql += (i == 0 ? "" : " AND ") + std::string(columns[i]) + " = ?" + std::to_string(i + 1);
  }
  return sql;
}

// ---------------------------------------------------------------------------------------------
// JSON columns.

using Json = nlohmann::json;

Result<std::string> encode_cmdline(const std::vector<std::string>& argv) {
  if (argv.empty()) {
    return std::string("[]");
  }
  const Json array = argv;
  // `replace` never throws; a lossy result is how an argument that is not UTF-8 shows, and
  // JSON cannot carry it, so it is refused rather than silently altered.
  std::string text = array.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (Json::parse(text, nullptr, false) != array) {
    return Error::make(hr::EInvalidArg, "store: a notify command-line argument is not valid UTF-8");
  }
  return text;
}

std::optional<std::vector<std::string>> decode_cmdline(std::string_view text) {
  std::vector<std::string> argv;
  if (text == "[]") {
    return argv;
  }
  const Json array = Json::parse(text.data(), text.data() + text.size(), nullptr, false);
  if (!array.is_array()) {
    return std::nullopt;
  }
  argv.reserve(array.size());
  for (const auto& arg : array) {
    if (!arg.is_string()) {
      return std::nullopt;
    }
    argv.push_back(arg.get_ref<const std::string&>());
  }
  return argv;
}

std::string encode_ranges(const std::vector<FileRange>& ranges) {
  if (ranges.empty()) {
    return "[]";
  }
  Json array = Json::array();
  for (const auto& range : ranges) {
    // Both kept as JSON unsigned numbers, so kLengthToEof (UINT64_MAX) is written in full.
    array.push_back(Json::array({range.offset, range.length}));
  }
  return array.dump();
}

std::optional<std::vector<FileRange>> decode_ranges(std::string_view text) {
  std::vector<FileRange> ranges;
  if (text == "[]") {
    return ranges;
  }
  const Json array = Json::parse(text.data(), text.data() + text.size(), nullptr, false);
  if (!array.is_array()) {
    return std::nullopt;
  }
  ranges.reserve(array.size());
  for (const auto& pair : array) {
    if (!pair.is_array() || pair.size() != 2 || !pair.front().is_number_unsigned() ||
        !pair.back().is_number_unsigned()) {
      return std::nullopt;
    }
    ranges.push_back({pair.front().get<std::uint64_t>(), pair.back().get<std::uint64_t>()});
  }
  return ranges;
}

// ---------------------------------------------------------------------------------------------
// Rows.

template <class E>
constexpr std::int64_t as_int(E value) {
  return static_cast<std::int64_t>(static_cast<std::underlying_type_t<E>>(value));
}

void bind_job(Statement& stmt, const JobRecord& job, const std::string& id_text,
              const std::string& cmdline_json) {
  namespace c = job_col;
  const auto& s = job.settings;
  stmt.bind_text(c::Id + 1, std::string_view(id_text));
  stmt.bind_int64(c::Owner + 1, static_cast<std::int64_t>(job.owner));
  stmt.bind_int64(c::Type + 1, as_int(job.type));
  stmt.bind_int64(c::State + 1, as_int(job.state));
  stmt.bind_int64(c::Priority + 1, as_int(s.priority));
  stmt.bind_text(c::DisplayName + 1, std::string_view(s.display_name));
  stmt.bind_text(c::Description + 1, std::string_view(s.description));
  stmt.bind_int64(c::NotifyFlags + 1, s.notify_flags);
  stmt.bind_text(c::NotifyCmdline + 1, std::string_view(cmdline_json));
  stmt.bind_int64(c::MinRetryDelay + 1, s.min_retry_delay_s);
  stmt.bind_int64(c::NoProgressTimeout + 1, s.no_progress_timeout_s);
  stmt.bind_int64(c::MaxDownloadTime + 1, s.max_download_time_s);
  stmt.bind_int64(c::ProxyUsage + 1, as_int(s.proxy.usage));
  stmt.bind_text(c::ProxyList + 1, std::string_view(s.proxy.list));
  stmt.bind_text(c::ProxyBypass + 1, std::string_view(s.proxy.bypass));
  stmt.bind_bool(c::TlsVerify + 1, s.tls_verify);
  if (job.error) {
    const Error& e = job.error->error;
    stmt.bind_int64(c::ErrorCode + 1, static_cast<std::int64_t>(e.code));
    stmt.bind_int64(c::ErrorContext + 1, as_int(e.context));
    stmt.bind_text(c::ErrorMessage + 1, std::string_view(e.message));
    if (e.file_index) {
      stmt.bind_int64(c::ErrorFileIndex + 1, *e.file_index);
    } else {
      stmt.bind_null(c::ErrorFileIndex + 1);
    }
  } else {
    stmt.bind_null(c::ErrorCode + 1);
    stmt.bind_null(c::ErrorContext + 1);
    stmt.bind_null(c::ErrorMessage + 1);
    stmt.bind_null(c::ErrorFileIndex + 1);
  }
  stmt.bind_int64(c::ErrorCount + 1, job.error_count);
  stmt.bind_int64(c::Created + 1, to_unix_ms(job.times.created));
  stmt.bind_int64(c::Modified + 1, to_unix_ms(job.times.modified));
  const auto ms = [](const std::optional<WallTime>& t) -> std::optional<std::int64_t> {
    return t ? std::optional(to_unix_ms(*t)) : std::nullopt;
  };
  stmt.bind_int64(c::TransferCompleted + 1, ms(job.times.transfer_completed));
  stmt.bind_int64(c::RetryAt + 1, ms(job.retry_at));
  stmt.bind_bool(c::RetryAfterFromServer + 1, job.retry_after_from_server);
  stmt.bind_int64(c::NoProgressSince + 1, ms(job.no_progress_since));
  stmt.bind_u64(c::ActiveMs + 1, job.active_ms);
}

/// Binds every column but job_id and idx.
void bind_file_fields(Statement& stmt, const FileRecord& file) {
  namespace c = file_col;
  stmt.bind_text(c::RemoteUrl + 1, std::string_view(file.spec.remote_url));
  stmt.bind_text(c::LocalPath + 1, std::string_view(file.spec.local_path));
  stmt.bind_text(c::Ranges + 1, std::string_view(encode_ranges(file.spec.ranges)));
  stmt.bind_text(c::Sha256 + 1, file.spec.sha256);
  stmt.bind_text(c::StagingName + 1, std::string_view(file.staging_name));
  stmt.bind_u64(c::BytesTotal + 1, file.bytes_total);
  stmt.bind_u64(c::BytesTransferred + 1, file.bytes_transferred);
  stmt.bind_bool(c::Transferred + 1, file.transferred);
  stmt.bind_bool(c::Completed + 1, file.completed);
  stmt.bind_bool(c::Verified + 1, file.verified);
  stmt.bind_text(c::Etag + 1, std::string_view(file.validators.etag));
  stmt.bind_text(c::LastModified + 1, std::string_view(file.validators.last_modified));
  stmt.bind_int64(c::RemoteMtime + 1, file.remote_mtime);
  stmt.bind_int64(c::Restarts + 1, file.restarts);
}

void bind_file_key(Statement& stmt, const std::string& id_text, std::uint32_t index) {
  stmt.bind_text(file_col::JobId + 1, std::string_view(id_text));
  stmt.bind_int64(file_col::Index + 1, index);
}

/// Reads typed columns of the current row and remembers the first value no record can hold,
/// so a row is read in straight-line code and checked once at the end.
class RowReader {
 public:
  explicit RowReader(const Statement& stmt) : stmt_(stmt) {}

  std::int64_t i64(int col) const { return stmt_.column_int64(col); }
  std::uint64_t u64(int col) const { return stmt_.column_u64(col); }
  std::string text(int col) const { return std::string(stmt_.column_text(col)); }
  WallTime time(int col) const { return from_unix_ms(i64(col)); }

  std::uint32_t u32(int col) {
    const std::int64_t v = i64(col);
    if (v < 0 || v > std::numeric_limits<std::uint32_t>::max()) {
      fail(col, v);
      return 0;
    }
    return static_cast<std::uint32_t>(v);
  }
  bool boolean(int col) {
    const std::int64_t v = i64(col);
    if (v != 0 && v != 1) {
      fail(col, v);
    }
    return v != 0;
  }
  /// An enum whose values run from 0 to last.
  template <class E>
  E enumeration(int col, E last) {
    const std::int64_t v = i64(col);
    if (v < 0 || v > as_int(last)) {
      fail(col, v);
      return E{};
    }
    return static_cast<E>(v);
  }

  std::optional<std::int64_t> opt_i64(int col) const {
    return stmt_.is_null(col) ? std::nullopt : std::optional(i64(col));
  }
  std::optional<std::uint64_t> opt_u64(int col) const {
    return stmt_.is_null(col) ? std::nullopt : std::optional(u64(col));
  }
  std::optional<std::uint32_t> opt_u32(int col) {
    return stmt_.is_null(col) ? std::nullopt : std::optional(u32(col));
  }
  std::optional<std::string> opt_text(int col) const {
    return stmt_.is_null(col) ? std::nullopt : std::optional(text(col));
  }
  std::optional<WallTime> opt_time(int col) const {
    return stmt_.is_null(col) ? std::nullopt : std::optional(time(col));
  }

  void fail(int col, std::string_view why) {
    if (!failure_) {
      failure_ = std::string("column ") + stmt_.column_name(col) + " " + std::string(why);
    }
  }
  void fail(int col, std::int64_t value) {
    fail(col, "holds " + std::to_string(value) + ", out of range");
  }
  const std::optional<std::string>& failure() const { return failure_; }

 private:
  const Statement& stmt_;
  std::optional<std::string> failure_;
};

Error corrupt_row(std::string_view table, std::string_view id_text, std::string_view why) {
  return Error::make(hr::EFail, "store: " + std::string(table) + " row of job " +
                                    std::string(id_text) + ": " + std::string(why));
}

JobRecord read_job(RowReader& r, const JobId& id) {
  namespace c = job_col;
  JobRecord job;
  job.id = id;
  job.owner = r.u32(c::Owner);
  job.type = r.enumeration(c::Type, engine::JobType::UploadReply);
  job.state = r.enumeration(c::State, engine::JobState::Cancelled);
  auto& s = job.settings;
  s.priority = r.enumeration(c::Priority, engine::JobPriority::Low);
  s.display_name = r.text(c::DisplayName);
  s.description = r.text(c::Description);
  s.notify_flags = r.u32(c::NotifyFlags);
  if (auto argv = decode_cmdline(r.text(c::NotifyCmdline))) {
    s.notify_cmdline = std::move(*argv);
  } else {
    r.fail(c::NotifyCmdline, "is not a JSON array of strings");
  }
  s.min_retry_delay_s = r.u32(c::MinRetryDelay);
  s.no_progress_timeout_s = r.u32(c::NoProgressTimeout);
  s.max_download_time_s = r.u32(c::MaxDownloadTime);
  s.proxy.usage = r.enumeration(c::ProxyUsage, engine::ProxyUsage::Autodetect);
  s.proxy.list = r.text(c::ProxyList);
  s.proxy.bypass = r.text(c::ProxyBypass);
  s.tls_verify = r.boolean(c::TlsVerify);
  if (auto code = r.opt_u32(c::ErrorCode)) {
    Error e;
    e.code = *code;
    e.context = r.enumeration(c::ErrorContext, ErrorContext::ServerCertificateCallback);
    e.message = r.opt_text(c::ErrorMessage).value_or(std::string());
    e.file_index = r.opt_u32(c::ErrorFileIndex);
    job.error = engine::ErrorInfo{std::move(e)};
  }
  job.error_count = r.u32(c::ErrorCount);
  job.times.created = r.time(c::Created);
  job.times.modified = r.time(c::Modified);
  job.times.transfer_completed = r.opt_time(c::TransferCompleted);
  job.retry_at = r.opt_time(c::RetryAt);
  job.retry_after_from_server = r.boolean(c::RetryAfterFromServer);
  job.no_progress_since = r.opt_time(c::NoProgressSince);
  job.active_ms = r.u64(c::ActiveMs);
  return job;
}

FileRecord read_file(RowReader& r) {
  namespace c = file_col;
  FileRecord file;
  file.spec.remote_url = r.text(c::RemoteUrl);
  file.spec.local_path = r.text(c::LocalPath);
  if (auto ranges = decode_ranges(r.text(c::Ranges))) {
    file.spec.ranges = std::move(*ranges);
  } else {
    r.fail(c::Ranges, "is not a JSON array of [offset, length] pairs");
  }
  file.spec.sha256 = r.opt_text(c::Sha256);
  file.staging_name = r.text(c::StagingName);
  file.bytes_total = r.opt_u64(c::BytesTotal);
  file.bytes_transferred = r.u64(c::BytesTransferred);
  file.transferred = r.boolean(c::Transferred);
  file.completed = r.boolean(c::Completed);
  file.verified = r.boolean(c::Verified);
  file.validators.etag = r.text(c::Etag);
  file.validators.last_modified = r.text(c::LastModified);
  file.remote_mtime = r.opt_i64(c::RemoteMtime);
  file.restarts = r.u32(c::Restarts);
  return file;
}

Error not_found(const std::string& id_text) {
  return Error::make(hr::DoEJobNotFound, "store: job " + id_text + " is not stored");
}

// ---------------------------------------------------------------------------------------------
// Opening.

Error errno_error(int err, const std::string& what) {
  Error e = Error::from_errno(err, "store: " + what);
  e.context = ErrorContext::GeneralQueueManager;
  return e;
}

/// Creates path with mode 0600 if it does not exist. SQLite would create it 0644 (less the
/// umask), and job records hold URLs that may carry credentials. The -wal and -shm files
/// SQLite makes later copy the database file's mode.
Status create_private_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) {
    if (errno == EEXIST) {
      return {};
    }
    return errno_error(errno, "cannot create " + path);
  }
  // The umask may have taken bits from 0600; the mode must be exact.
  if (::fchmod(fd.get(), 0600) != 0) {
    return errno_error(errno, "cannot chmod " + path);
  }
  // Make the new directory entry durable: otherwise a power loss soon after the first start
  // could take the whole file, and every job committed to it, away.
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) {
    dir = ".";
  }
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd.valid() || ::fsync(dir_fd.get()) != 0) {
    return errno_error(errno, "cannot sync directory " + dir);
  }
  return {};
}

Result<std::int64_t> pragma_int(sqlite3* db, const char* sql) {
  auto stmt = Statement::prepare(db, sql);
  if (!stmt) {
    return std::move(stmt).error();
  }
  ResetOnExit reset(*stmt);
  auto row = stmt->step();
  if (!row) {
    return std::move(row).error();
  }
  if (!*row) {
    return Error::make(hr::EFail, std::string("store: ") + sql + " returned no row");
  }
  return stmt->column_int64(0);
}

Result<std::string> pragma_text(sqlite3* db, const char* sql) {
  auto stmt = Statement::prepare(db, sql);
  if (!stmt) {
    return std::move(stmt).error();
  }
  ResetOnExit reset(*stmt);
  auto row = stmt->step();
  if (!row) {
    return std::move(row).error();
  }
  if (!*row) {
    return Error::make(hr::EFail, std::string("store: ") + sql + " returned no row");
  }
  return std::string(stmt->column_text(0));
}

Status configure_connection(sqlite3* db) {
  // Another process (an admin's sqlite3 shell, a backup) may hold the lock briefly; waiting is
  // better than failing a client call.
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  // Enforced per connection, never stored in the file: without it ON DELETE CASCADE is inert.
  BGCOPY_TRY(exec(db, "PRAGMA foreign_keys = ON"));
  auto fk = pragma_int(db, "PRAGMA foreign_keys");
  if (!fk) {
    return std::move(fk).error();
  }
  if (*fk != 1) {
    return Error::make(hr::EFail, "store: SQLite was built without foreign key support");
  }
  return {};
}

Status check_not_newer(std::int64_t version, const std::string& path) {
  if (version > SqliteJobStore::kSchemaVersion) {
    return Error::make(hr::EFail, "store: " + path + " has schema version " +
                                      std::to_string(version) + ", newer than version " +
                                      std::to_string(SqliteJobStore::kSchemaVersion) +
                                      " that this bgcopy understands (written by a newer bgcopy?); "
                                      "refusing to open it");
  }
  return {};
}

Status migrate(sqlite3* db, const std::string& path) {
  auto version = pragma_int(db, "PRAGMA user_version");
  if (!version) {
    return std::move(version).error();
  }
  BGCOPY_TRY(check_not_newer(*version, path));
  for (const Migration& step : kMigrations) {
    if (step.version <= *version) {
      continue;
    }
    auto tx = Transaction::begin(db);
    if (!tx) {
      return std::move(tx).error();
    }
    // Read again under the write lock: another process may have migrated in the meantime.
    version = pragma_int(db, "PRAGMA user_version");
    if (!version) {
      return std::move(version).error();
    }
    BGCOPY_TRY(check_not_newer(*version, path));
    if (step.version <= *version) {
      continue;
    }
    BGCOPY_TRY(exec(db, step.sql));
    // PRAGMA takes no bound parameters; the value is our own integer.
    const std::string bump = "PRAGMA user_version = " + std::to_string(step.version);
    BGCOPY_TRY(exec(db, bump.c_str()));
    BGCOPY_TRY(tx->commit());
    *version = step.version;
  }
  return {};
}

}  // namespace

// -----------------------------------------------------------------------------------------------

struct SqliteJobStore::Impl {
  // Declared first so it is destroyed last, after every statement compiled on it.
  DatabasePtr db;
  Statement insert_job;
  Statement update_job;
  Statement delete_job;
  Statement insert_file;
  Statement update_file;
  Statement delete_files;
  Statement select_jobs;
  Statement select_files;

  Status prepare_statements();
  Status write_files(const std::string& id_text, const std::vector<FileRecord>& files);
  /// Every job row, without files, ordered by creation time then id.
  Result<std::vector<JobRecord>> read_jobs();
  /// Every file row, each into its job's files at its index.
  Status read_files(std::vector<JobRecord>& jobs);
};

Status SqliteJobStore::Impl::prepare_statements() {
  const auto prepare = [this](Statement& out, const std::string& sql) -> Status {
    auto stmt = Statement::prepare(db.get(), sql);
    if (!stmt) {
      return std::move(stmt).error();
    }
    out = std::move(stmt).value();
    return {};
  };
  BGCOPY_TRY(prepare(insert_job, insert_sql("jobs", kJobColumns)));
  BGCOPY_TRY(prepare(update_job, update_sql("jobs", kJobColumns, 1)));
  BGCOPY_TRY(prepare(delete_job, "DELETE FROM jobs WHERE id = ?1"));
  BGCOPY_TRY(prepare(insert_file, insert_sql("files", kFileColumns)));
  BGCOPY_TRY(prepare(update_file, update_sql("files", kFileColumns, 2)));
  BGCOPY_TRY(prepare(delete_files, "DELETE FROM files WHERE job_id = ?1"));
  // Both scans in table (rowid) order, the cheapest SQLite can do: ORDER BY would sort the jobs
  // in a temporary b-tree and walk the files through their primary-key index with one random
  // table lookup per row, which together more than doubled the time to load 100,000 jobs.
  // read_jobs sorts in memory and read_files places each file by its index instead.
  BGCOPY_TRY(prepare(select_jobs, "SELECT " + join_columns(kJobColumns) + " FROM jobs"));
  BGCOPY_TRY(prepare(select_files, "SELECT " + join_columns(kFileColumns) + " FROM files"));
  return {};
}

Status SqliteJobStore::Impl::write_files(const std::string& id_text,
                                         const std::vector<FileRecord>& files) {
  for (std::size_t i = 0; i < files.size(); ++i) {
    ResetOnExit reset(insert_file);
    bind_file_key(insert_file, id_text, static_cast<std::uint32_t>(i));
    bind_file_fields(insert_file, files[i]);
    BGCOPY_TRY(insert_file.run());
  }
  return {};
}

Result<std::vector<JobRecord>> SqliteJobStore::Impl::read_jobs() {
  std::vector<JobRecord> rows;
  ResetOnExit reset(select_jobs);
  for (;;) {
    auto row = select_jobs.step();
    if (!row) {
      return std::move(row).error();
    }
    if (!*row) {
      break;
    }
    const std::string_view id_text = select_jobs.column_text(job_col::Id);
    const auto id = JobId::parse(id_text);
    if (!id) {
      return corrupt_row("jobs", id_text, "the id is not a GUID");
    }
    RowReader reader(select_jobs);
    rows.push_back(read_job(reader, *id));
    if (reader.failure()) {
      return corrupt_row("jobs", id_text, *reader.failure());
    }
  }
  // Sort keys apart from the records: moving each record once beats sorting them in place.
  struct Key {
    WallTime created;
    JobId id;
    std::size_t row;
  };
  std::vector<Key> keys;
  keys.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    keys.push_back({rows[i].times.created, rows[i].id, i});
  }
  std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
    return a.created != b.created ? a.created < b.created : a.id < b.id;
  });
  std::vector<JobRecord> jobs;
  jobs.reserve(rows.size());
  for (const Key& key : keys) {
    jobs.push_back(std::move(rows[key.row]));
  }
  return jobs;
}

Status SqliteJobStore::Impl::read_files(std::vector<JobRecord>& jobs) {
  // A file index past this is corruption, not a job: refusing it keeps a damaged row from
  // making us allocate gigabytes. It is far above any configurable files-per-job limit.
  constexpr std::uint32_t kMaxIndex = 1U << 20;

  std::unordered_map<JobId, std::size_t> index_of;
  index_of.reserve(jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    index_of.emplace(jobs[i].id, i);
  }
  // Rows placed per job: with the primary key ruling out duplicates, a job whose count falls
  // short of its files.size() has a hole in its numbering.
  std::vector<std::uint32_t> placed(jobs.size(), 0);

  ResetOnExit reset(select_files);
  std::string current_text;
  std::size_t current = jobs.size();  // none yet
  for (;;) {
    auto row = select_files.step();
    if (!row) {
      return std::move(row).error();
    }
    if (!*row) {
      break;
    }
    // A job's files were written together, so rows mostly arrive grouped by job: look the job
    // up only when the id changes.
    const std::string_view id_text = select_files.column_text(file_col::JobId);
    if (current == jobs.size() || id_text != current_text) {
      current_text.assign(id_text);
      const auto id = JobId::parse(id_text);
      const auto it = id ? index_of.find(*id) : index_of.end();
      if (it == index_of.end()) {
        return corrupt_row("files", id_text, "no such job");
      }
      current = it->second;
    }
    auto& files = jobs[current].files;
    RowReader reader(select_files);
    const std::uint32_t index = reader.u32(file_col::Index);
    if (index >= kMaxIndex) {
      reader.fail(file_col::Index, static_cast<std::int64_t>(index));
    } else if (index == files.size()) {
      files.push_back(read_file(reader));
    } else {
      if (index > files.size()) {
        files.resize(index + 1);
      }
      files[index] = read_file(reader);
    }
    if (reader.failure()) {
      return corrupt_row("files", current_text, *reader.failure());
    }
    ++placed[current];
  }
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (placed[i] != jobs[i].files.size()) {
      return corrupt_row("files", jobs[i].id.to_string(),
                         "column idx skips numbers (" + std::to_string(placed[i]) +
                             " rows, highest index " + std::to_string(jobs[i].files.size() - 1) +
                             ")");
    }
  }
  return {};
}

Result<std::unique_ptr<SqliteJobStore>> SqliteJobStore::make(std::unique_ptr<Impl> impl) {
  BGCOPY_TRY(impl->prepare_statements());
  return std::make_unique<SqliteJobStore>(Key{}, std::move(impl));
}

SqliteJobStore::SqliteJobStore(Key /*unused*/, std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

SqliteJobStore::~SqliteJobStore() = default;

Result<std::unique_ptr<SqliteJobStore>> SqliteJobStore::open(const std::string& path) {
  BGCOPY_TRY(create_private_file(path));
  // No SQLITE_OPEN_CREATE: the file exists now, and a file SQLite created would not be 0600.
  // NOMUTEX: the store is used from one thread, so SQLite's own locking would be pure cost.
  auto db = open_database(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW);
  if (!db) {
    return std::move(db).error();
  }
  sqlite3* h = db->get();
  BGCOPY_TRY(configure_connection(h));
  // WAL: readers never block the writer, and a commit is one append to the -wal file. The mode
  // is stored in the file, so this is a no-op after the first open.
  auto mode = pragma_text(h, "PRAGMA journal_mode = WAL");
  if (!mode) {
    return std::move(mode).error();
  }
  if (*mode != "wal") {
    return Error::make(
        hr::EFail, "store: cannot put " + path + " in WAL mode (journal mode is " + *mode + ")");
  }
  // synchronous=NORMAL with WAL: a commit is written to the -wal file but not fsynced; the WAL
  // is fsynced at each checkpoint. That is durable against a crash or kill -9 of the process
  // (the data is in the kernel's page cache), and a power loss or OS crash can roll back the
  // last few transactions but never corrupts the database. FULL would fsync on every commit,
  // and progress checkpoints commit often; a lost checkpoint only means re-downloading bytes
  // past the stored count (the engine cuts the staging file back to it), so the trade is worth
  // it.
  BGCOPY_TRY(exec(h, "PRAGMA synchronous = NORMAL"));
  BGCOPY_TRY(migrate(h, path));
  auto impl = std::make_unique<Impl>();
  impl->db = std::move(db).value();
  return make(std::move(impl));
}

Result<std::unique_ptr<SqliteJobStore>> SqliteJobStore::open_read_only_for_test(
    const std::string& path) {
  auto db = open_database(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW);
  if (!db) {
    return std::move(db).error();
  }
  sqlite3* h = db->get();
  BGCOPY_TRY(configure_connection(h));
  auto version = pragma_int(h, "PRAGMA user_version");
  if (!version) {
    return std::move(version).error();
  }
  if (*version != kSchemaVersion) {
    return Error::make(hr::EFail, "store: " + path + " has schema version " +
                                      std::to_string(*version) + ", and a read-only store " +
                                      "cannot migrate it");
  }
  auto impl = std::make_unique<Impl>();
  impl->db = std::move(db).value();
  return make(std::move(impl));
}

Result<std::vector<JobRecord>> SqliteJobStore::load_all() {
  // One read transaction, so jobs and files come from the same snapshot. Nothing is written:
  // ending it by rollback (the guard's destructor) is the same as a commit.
  auto snapshot = Transaction::begin(impl_->db.get(), Transaction::Kind::Read);
  if (!snapshot) {
    return std::move(snapshot).error();
  }
  auto jobs = impl_->read_jobs();
  if (!jobs) {
    return jobs;
  }
  BGCOPY_TRY(impl_->read_files(*jobs));
  return jobs;
}

Status SqliteJobStore::insert(const JobRecord& job) {
  const std::string id_text = job.id.to_string();
  auto cmdline = encode_cmdline(job.settings.notify_cmdline);
  if (!cmdline) {
    return std::move(cmdline).error();
  }
  auto tx = Transaction::begin(impl_->db.get());
  if (!tx) {
    return std::move(tx).error();
  }
  {
    ResetOnExit reset(impl_->insert_job);
    bind_job(impl_->insert_job, job, id_text, *cmdline);
    BGCOPY_TRY(impl_->insert_job.run());
  }
  BGCOPY_TRY(impl_->write_files(id_text, job.files));
  return tx->commit();
}

Status SqliteJobStore::update(const JobRecord& job) {
  const std::string id_text = job.id.to_string();
  auto cmdline = encode_cmdline(job.settings.notify_cmdline);
  if (!cmdline) {
    return std::move(cmdline).error();
  }
  auto tx = Transaction::begin(impl_->db.get());
  if (!tx) {
    return std::move(tx).error();
  }
  {
    ResetOnExit reset(impl_->update_job);
    bind_job(impl_->update_job, job, id_text, *cmdline);
    BGCOPY_TRY(impl_->update_job.run());
    if (impl_->update_job.changes() == 0) {
      return not_found(id_text);
    }
  }
  {
    ResetOnExit reset(impl_->delete_files);
    impl_->delete_files.bind_text(1, std::string_view(id_text));
    BGCOPY_TRY(impl_->delete_files.run());
  }
  BGCOPY_TRY(impl_->write_files(id_text, job.files));
  return tx->commit();
}

Status SqliteJobStore::update_file(const JobId& id, std::uint32_t index, const FileRecord& file) {
  // One statement, so SQLite's implicit transaction commits it before run() returns.
  const std::string id_text = id.to_string();
  ResetOnExit reset(impl_->update_file);
  bind_file_key(impl_->update_file, id_text, index);
  bind_file_fields(impl_->update_file, file);
  BGCOPY_TRY(impl_->update_file.run());
  if (impl_->update_file.changes() == 0) {
    return Error::make(hr::DoEJobNotFound,
                       "store: job " + id_text + " has no stored file " + std::to_string(index));
  }
  return {};
}

Status SqliteJobStore::remove(const JobId& id) {
  const std::string id_text = id.to_string();
  ResetOnExit reset(impl_->delete_job);
  impl_->delete_job.bind_text(1, std::string_view(id_text));
  BGCOPY_TRY(impl_->delete_job.run());
  // changes() counts the job row only; cascaded file rows are not included.
  if (impl_->delete_job.changes() == 0) {
    return not_found(id_text);
  }
  return {};
}

Status SqliteJobStore::check_integrity() {
  auto stmt = Statement::prepare(impl_->db.get(), "PRAGMA integrity_check");
  if (!stmt) {
    return std::move(stmt).error();
  }
  ResetOnExit reset(*stmt);
  auto row = stmt->step();
  if (!row) {
    return std::move(row).error();
  }
  const std::string_view first = *row ? stmt->column_text(0) : std::string_view("no result");
  if (first != "ok") {
    return Error::make(hr::EFail, "store: integrity check failed: " + std::string(first));
  }
  return {};
}

Result<std::string> SqliteJobStore::journal_mode() {
  return pragma_text(impl_->db.get(), "PRAGMA journal_mode");
}

Result<int> SqliteJobStore::schema_version() {
  auto version = pragma_int(impl_->db.get(), "PRAGMA user_version");
  if (!version) {
    return std::move(version).error();
  }
  return static_cast<int>(*version);
}

}  // namespace bgcopy::store
