// The engine's JobStore on SQLite: one database file, one row per job, one row per file.
// Schema, migrations and the durability choice are described in docs/internals/store.md.
#pragma once

#include "base/error.hpp"
#include "engine/ports.hpp"
#include "engine/types.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bgcopy::store {

/// JobStore over an SQLite database in WAL mode.
///
/// Threading: not thread-safe. One thread (the engine thread) makes every call, including
/// destruction. Several processes must not use the same file as stores at once (SQLite would
/// serialise them, but the engine assumes it is the only writer).
///
/// Fidelity: load_all returns exactly what was written, with one exception: wall times are
/// kept to the millisecond (to_unix_ms), so sub-millisecond parts are truncated.
///
/// Errors (every method): codes from sqlite_error() in store/sqlite_handle.hpp --
/// 0xC0D00000+ENOSPC when the disk is full, +EROFS/+EACCES when the database cannot be written,
/// E_FAIL otherwise -- with context GENERAL_QUEUE_MANAGER. Plus the per-method codes below.
class SqliteJobStore final : public engine::JobStore {
  struct Key {};  // keeps the constructor usable only by the factories, without raw new
  // The connection and its cached statements. Kept out of this header so that code using the
  // store never sees sqlite3.h.
  struct Impl;

 public:
  /// Schema version written to PRAGMA user_version by the newest migration.
  static constexpr int kSchemaVersion = 1;

  /// Opens (creating with mode 0600 if missing) the database at path and migrates it to
  /// kSchemaVersion. The directory must exist; the caller creates it.
  /// Errors: 0xC0D00000+errno when the file cannot be created or opened; E_FAIL when it is not
  /// a database, when its schema is newer than kSchemaVersion, or when WAL cannot be enabled.
  static Result<std::unique_ptr<SqliteJobStore>> open(const std::string& path);

  /// Opens an existing, already migrated database with SQLITE_OPEN_READONLY: every write then
  /// fails with 0xC0D00000+EROFS. Tests use it to simulate an unwritable database when running
  /// as root, where chmod does not stop writes.
  static Result<std::unique_ptr<SqliteJobStore>> open_read_only_for_test(const std::string& path);

  SqliteJobStore(Key, std::unique_ptr<Impl> impl);
  SqliteJobStore(const SqliteJobStore&) = delete;
  SqliteJobStore& operator=(const SqliteJobStore&) = delete;
  ~SqliteJobStore() override;

  /// Every job with its files (ordered by index), jobs ordered by creation time then id.
  /// Errors: E_FAIL when a row holds a value no JobRecord can have (the message names it).
  Result<std::vector<engine::JobRecord>> load_all() override;
  /// Writes the job and its files in one transaction.
  /// Errors: E_FAIL if a job with this id is already stored; E_INVALIDARG if a notify
  /// command-line argument is not valid UTF-8 (JSON cannot carry it).
  Status insert(const engine::JobRecord& job) override;
  /// Rewrites the job row and replaces all its file rows, in one transaction.
  /// Errors: DO_E_JOB_NOT_FOUND if the job is not stored; E_INVALIDARG as for insert.
  Status update(const engine::JobRecord& job) override;
  /// Rewrites one file row.
  /// Errors: DO_E_JOB_NOT_FOUND if the job or its file `index` is not stored.
  Status update_file(const JobId& id, std::uint32_t index, const engine::FileRecord& file) override;
  /// Deletes the job; its file rows go with it (ON DELETE CASCADE).
  /// Errors: DO_E_JOB_NOT_FOUND if the job is not stored.
  Status remove(const JobId& id) override;

  /// Runs PRAGMA integrity_check (reads the whole file: for tests and diagnostics, not for
  /// every start). Errors: E_FAIL carrying SQLite's first complaint.
  Status check_integrity();
  /// The journal mode in effect ("wal" for a store made by open()).
  Result<std::string> journal_mode();
  /// PRAGMA user_version: kSchemaVersion once open() has succeeded.
  Result<int> schema_version();

 private:
  /// Prepares the cached statements on impl's open, configured connection.
  static Result<std::unique_ptr<SqliteJobStore>> make(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace bgcopy::store
