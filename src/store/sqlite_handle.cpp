#include "store/sqlite_handle.hpp"

#include <bit>
#include <cerrno>
#include <string>

namespace bgcopy::store {

namespace {

constexpr std::size_t kSqlInMessage = 60;  // enough to recognise the statement in a log line

Hresult hresult_for(sqlite3* db, int rc) {
  // system_errno is only meaningful right after a failed open or I/O; other codes may leave a
  // stale value there, so it is consulted for those two classes only.
  const int sys = db != nullptr ? sqlite3_system_errno(db) : 0;
  switch (rc & 0xFF) {
    case SQLITE_FULL:
      return hresult_from_errno(ENOSPC);
    case SQLITE_READONLY:
      return hresult_from_errno(EROFS);
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return hresult_from_errno(EACCES);
    case SQLITE_CANTOPEN:
      return hresult_from_errno(sys != 0 ? sys : EACCES);
    case SQLITE_IOERR:
      // SQLite reads errno only after the statement was cleaned up, so it is often lost (a
      // write refused by an immutable WAL comes back as 0): still a local I/O error, not E_FAIL.
      return hresult_from_errno(sys != 0 ? sys : EIO);
    default:
      return hr::EFail;
  }
}

std::string describe(sqlite3_stmt* stmt) {
  const char* sql = sqlite3_sql(stmt);
  std::string text = sql != nullptr ? sql : "?";
  if (text.size() > kSqlInMessage) {
    text.resize(kSqlInMessage);
    text += "...";
  }
  return text;
}

}  // namespace

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
  std::string message = "store: ";
  message += what;
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  message += " (SQLite code " + std::to_string(rc) + ")";
  return Error::make(hresult_for(db, rc), std::move(message), ErrorContext::GeneralQueueManager);
}

Result<DatabasePtr> open_database(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_EXRESCODE, nullptr);
  // A handle comes back even on failure (it carries the message) and must be closed either way.
  DatabasePtr db(raw);
  if (rc != SQLITE_OK) {
    return sqlite_error(db.get(), rc, "cannot open " + path);
  }
  return db;
}

Status exec(sqlite3* db, const char* sql) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    std::string what = sql;
    if (what.size() > kSqlInMessage) {
      what.resize(kSqlInMessage);
      what += "...";
    }
    return sqlite_error(db, rc, what);
  }
  return {};
}

Result<Statement> Statement::prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  StatementPtr stmt(raw);
  if (rc != SQLITE_OK) {
    return sqlite_error(db, rc, "cannot prepare " + std::string(sql.substr(0, kSqlInMessage)));
  }
  return Statement(db, std::move(stmt));
}

void Statement::note_bind(int rc) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) {
    bind_rc_ = rc;
  }
}

void Statement::bind_null(int index) {
  note_bind(sqlite3_bind_null(stmt_.get(), index));
}

void Statement::bind_int64(int index, std::int64_t value) {
  note_bind(sqlite3_bind_int64(stmt_.get(), index, value));
}

void Statement::bind_u64(int index, std::uint64_t value) {
  bind_int64(index, std::bit_cast<std::int64_t>(value));
}

void Statement::bind_text(int index, std::string_view value) {
  // SQLite binds NULL for a null pointer; an empty view may have one, and must stay ''.
  const char* data = value.data() != nullptr ? value.data() : "";
  note_bind(
      sqlite3_bind_text64(stmt_.get(), index, data, value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}

void Statement::bind_int64(int index, const std::optional<std::int64_t>& value) {
  if (value) {
    bind_int64(index, *value);
  } else {
    bind_null(index);
  }
}

void Statement::bind_u64(int index, const std::optional<std::uint64_t>& value) {
  if (value) {
    bind_u64(index, *value);
  } else {
    bind_null(index);
  }
}

void Statement::bind_text(int index, const std::optional<std::string>& value) {
  if (value) {
    bind_text(index, std::string_view(*value));
  } else {
    bind_null(index);
  }
}

Result<bool> Statement::step() {
  if (bind_rc_ != SQLITE_OK) {
    return sqlite_error(db_, bind_rc_, "cannot bind a parameter of " + describe(stmt_.get()));
  }
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  return sqlite_error(db_, rc, describe(stmt_.get()));
}

Status Statement::run() {
  for (;;) {
    auto more = step();
    if (!more) {
      return std::move(more).error();
    }
    if (!*more) {
      return {};
    }
  }
}

std::int64_t Statement::changes() const {
  return sqlite3_changes64(db_);
}

void Statement::reset() noexcept {
  if (stmt_) {
    // The result repeats the last step's error, which the caller already saw.
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
  }
  bind_rc_ = SQLITE_OK;
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL;
}

std::int64_t Statement::column_int64(int column) const {
  return sqlite3_column_int64(stmt_.get(), column);
}

std::uint64_t Statement::column_u64(int column) const {
  return std::bit_cast<std::uint64_t>(column_int64(column));
}

std::string_view Statement::column_text(int column) const {
  // text first, then bytes: the documented order that makes the length match the pointer.
  const unsigned char* text = sqlite3_column_text(stmt_.get(), column);
  const int size = sqlite3_column_bytes(stmt_.get(), column);
  if (text == nullptr) {
    return {};
  }
  return {reinterpret_cast<const char*>(text), static_cast<std::size_t>(size)};
}

const char* Statement::column_name(int column) const {
  const char* name = sqlite3_column_name(stmt_.get(), column);
  return name != nullptr ? name : "?";
}

Result<Transaction> Transaction::begin(sqlite3* db, Kind kind) {
  BGCOPY_TRY(exec(db, kind == Kind::Write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED"));
  return Transaction(db);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() {
  // Some failures (SQLITE_FULL, SQLITE_IOERR, ...) roll the transaction back by themselves;
  // ROLLBACK outside a transaction would only add a spurious error.
  if (db_ != nullptr && sqlite3_get_autocommit(db_) == 0) {
    // Nothing useful to do if this fails: the caller is already returning the first error.
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

Status Transaction::commit() {
  BGCOPY_TRY(exec(db_, "COMMIT"));
  db_ = nullptr;
  return {};
}

}  // namespace bgcopy::store
