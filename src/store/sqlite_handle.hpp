// RAII around the SQLite C API, plus the mapping of SQLite result codes to bgcopy::Error.
// Only store/ (and its tests) include this header: it is where sqlite3.h stops.
#pragma once

#include "base/error.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <sqlite3.h>
#include <string>
#include <string_view>
#include <utility>

namespace bgcopy::store {

struct DatabaseCloser {
  // close_v2 rather than close: it never fails with SQLITE_BUSY, it defers the close until the
  // last statement is finalized, so destruction order of owners cannot leak the connection.
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};
using DatabasePtr = std::unique_ptr<sqlite3, DatabaseCloser>;
using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

/// The Error for SQLite result code rc (extended codes welcome) from an operation on db (may be
/// null). Context is always GENERAL_QUEUE_MANAGER. Codes:
///   SQLITE_FULL -> 0xC0D00000+ENOSPC; SQLITE_READONLY -> +EROFS; SQLITE_PERM/SQLITE_AUTH ->
///   +EACCES; SQLITE_CANTOPEN -> +errno of the failed open (EACCES when unknown); SQLITE_IOERR ->
///   +errno of the failed system call when known, else +EIO; anything else (including
///   SQLITE_BUSY after the busy timeout ran out) -> E_FAIL. The message names `what` and carries
///   sqlite3_errmsg.
Error sqlite_error(sqlite3* db, int rc, std::string_view what);

/// Opens path with SQLITE_OPEN_* flags; extended result codes are always on. Never creates the
/// file unless flags say so.
Result<DatabasePtr> open_database(const std::string& path, int flags);

/// Runs SQL text that returns no rows (may hold several statements).
Status exec(sqlite3* db, const char* sql);

/// One prepared statement. Parameters are 1-based, columns 0-based, as in SQLite. Not
/// copyable; the owning connection must outlive it.
class Statement {
 public:
  Statement() = default;

  /// Compiles sql on db (flagged persistent: these statements are cached for the process life).
  static Result<Statement> prepare(sqlite3* db, std::string_view sql);

  bool valid() const { return stmt_ != nullptr; }

  // Binding. A failed bind (only possible through a bug or a value above SQLite's size limit)
  // is remembered and reported by the next step(), so call sites stay linear.
  void bind_null(int index);
  void bind_int64(int index, std::int64_t value);
  /// Stored bit-cast to a signed 64-bit integer: exact for the whole uint64 range.
  void bind_u64(int index, std::uint64_t value);
  void bind_bool(int index, bool value) { bind_int64(index, value ? 1 : 0); }
  /// Copies value (SQLITE_TRANSIENT): the caller's buffer may die before the step.
  void bind_text(int index, std::string_view value);
  void bind_int64(int index, const std::optional<std::int64_t>& value);
  void bind_u64(int index, const std::optional<std::uint64_t>& value);
  void bind_text(int index, const std::optional<std::string>& value);

  /// Executes one step: true when a row is ready, false when the statement has finished.
  Result<bool> step();
  /// Steps a statement that returns no rows to completion.
  Status run();
  /// Rows changed by the last completed INSERT/UPDATE/DELETE on this connection.
  std::int64_t changes() const;
  /// Releases the statement's read/write locks and clears its bindings. Idempotent.
  void reset() noexcept;

  // Columns of the current row.
  bool is_null(int column) const;
  std::int64_t column_int64(int column) const;
  std::uint64_t column_u64(int column) const;
  /// Bytes of a TEXT column, embedded NULs included; valid until the next step() or reset().
  std::string_view column_text(int column) const;
  const char* column_name(int column) const;

  sqlite3* db() const { return db_; }

 private:
  Statement(sqlite3* db, StatementPtr stmt) : db_(db), stmt_(std::move(stmt)) {}
  void note_bind(int rc);

  sqlite3* db_ = nullptr;
  StatementPtr stmt_;
  int bind_rc_ = SQLITE_OK;
};

/// Resets a statement when the scope ends, whatever path leaves it: a statement left mid-step
/// would keep its read transaction (and a WAL snapshot) open.
class ResetOnExit {
 public:
  explicit ResetOnExit(Statement& stmt) : stmt_(stmt) {}
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;
  ~ResetOnExit() { stmt_.reset(); }

 private:
  Statement& stmt_;
};

/// BEGIN ... COMMIT. Destroying it before commit() succeeded rolls back.
class Transaction {
 public:
  enum class Kind : std::uint8_t {
    // BEGIN DEFERRED: a consistent snapshot for reads.
    Read,
    // BEGIN IMMEDIATE: takes the write lock up front, so a busy database fails (after the busy
    // timeout) at begin, never half-way through the work.
    Write,
  };

  static Result<Transaction> begin(sqlite3* db, Kind kind = Kind::Write);

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  /// Returns once the transaction is committed. On failure the destructor rolls back.
  Status commit();

 private:
  explicit Transaction(sqlite3* db) : db_(db) {}

  sqlite3* db_ = nullptr;  // null once committed or moved from
};

}  // namespace bgcopy::store
