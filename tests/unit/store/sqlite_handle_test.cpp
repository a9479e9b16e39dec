#include "store/sqlite_handle.hpp"

#include "store_test_support.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>

namespace bgcopy::store {
namespace {

using testing::fails_with;
using testing::is_ok;
using testing::TempDir;

TEST(SqliteError, MapsResultCodesToHresults) {
  EXPECT_EQ(sqlite_error(nullptr, SQLITE_FULL, "x").code, hresult_from_errno(ENOSPC));
  EXPECT_EQ(sqlite_error(nullptr, SQLITE_READONLY, "x").code, hresult_from_errno(EROFS));
  EXPECT_EQ(sqlite_error(nullptr, SQLITE_READONLY_DBMOVED, "x").code, hresult_from_errno(EROFS));
  EXPECT_EQ(sqlite_error(nullptr, SQLITE_PERM, "x").code, hresult_from_errno(EACCES));
  EXPECT_EQ(sqlite_error(nullptr, SQLITE_CANTOPEN, "x").code, hresult_from_errno(EACCES));
  // An I/O error whose errno SQLite did not keep is still a local I/O error.
  EXPECT_EQ(sqlite_error(nullptr, SQLITE_IOERR_WRITE, "x").code, hresult_from_errno(EIO));
  EXPECT_EQ(sqlite_error(nullptr, SQLITE_BUSY, "x").code, hr::EFail);
  EXPECT_EQ(sqlite_error(nullptr, SQLITE_CORRUPT, "x").code, hr::EFail);
  const Error e = sqlite_error(nullptr, SQLITE_NOTADB, "opening the queue");
  EXPECT_EQ(e.context, ErrorContext::GeneralQueueManager);
  EXPECT_NE(e.message.find("opening the queue"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("not a database"), std::string::npos) << e.message;
}

class SqliteHandleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.valid());
    auto db = open_database(dir_.file("t.db"), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(is_ok(db));
    db_ = std::move(db).value();
    ASSERT_TRUE(
        is_ok(exec(db_.get(), "CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER, s TEXT)")));
  }

  std::int64_t count_rows() {
    auto stmt = Statement::prepare(db_.get(), "SELECT count(*) FROM t");
    EXPECT_TRUE(is_ok(stmt));
    ResetOnExit reset(*stmt);
    auto row = stmt->step();
    EXPECT_TRUE(is_ok(row));
    return stmt->column_int64(0);
  }

  TempDir dir_;
  DatabasePtr db_;
};

TEST_F(SqliteHandleTest, CantOpenCarriesTheErrno) {
  auto db = open_database(dir_.file("missing/t.db"), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  EXPECT_TRUE(fails_with(db, hresult_from_errno(ENOENT)));
}

TEST_F(SqliteHandleTest, BindsAndReadsExactValues) {
  auto insert = Statement::prepare(db_.get(), "INSERT INTO t (k, v, s) VALUES (?1, ?2, ?3)");
  ASSERT_TRUE(is_ok(insert));
  {
    ResetOnExit reset(*insert);
    insert->bind_int64(1, 1);
    insert->bind_u64(2, UINT64_MAX);
    insert->bind_text(3, std::string_view("a\0b\xc3\xa9", 5));  // embedded NUL survives
    ASSERT_TRUE(is_ok(insert->run()));
  }
  {
    ResetOnExit reset(*insert);
    insert->bind_int64(1, 2);
    insert->bind_u64(2, std::optional<std::uint64_t>{});
    insert->bind_text(3, std::optional<std::string>{});
    ASSERT_TRUE(is_ok(insert->run()));
  }
  auto select = Statement::prepare(db_.get(), "SELECT v, s FROM t ORDER BY k");
  ASSERT_TRUE(is_ok(select));
  ResetOnExit reset(*select);
  auto row = select->step();
  ASSERT_TRUE(is_ok(row));
  ASSERT_TRUE(*row);
  EXPECT_EQ(select->column_u64(0), UINT64_MAX);
  EXPECT_EQ(select->column_text(1), std::string_view("a\0b\xc3\xa9", 5));
  row = select->step();
  ASSERT_TRUE(is_ok(row));
  ASSERT_TRUE(*row);
  EXPECT_TRUE(select->is_null(0));
  EXPECT_TRUE(select->is_null(1));
  row = select->step();
  ASSERT_TRUE(is_ok(row));
  EXPECT_FALSE(*row);
}

TEST_F(SqliteHandleTest, AnEmptyViewBindsAnEmptyStringNotNull) {
  auto insert = Statement::prepare(db_.get(), "INSERT INTO t (k, s) VALUES (1, ?1)");
  ASSERT_TRUE(is_ok(insert));
  {
    ResetOnExit reset(*insert);
    insert->bind_text(1, std::string_view{});
    ASSERT_TRUE(is_ok(insert->run()));
  }
  auto select = Statement::prepare(db_.get(), "SELECT s IS NULL, length(s) FROM t");
  ASSERT_TRUE(is_ok(select));
  ResetOnExit reset(*select);
  ASSERT_TRUE(is_ok(select->step()));
  EXPECT_EQ(select->column_int64(0), 0);
  EXPECT_EQ(select->column_int64(1), 0);
}

TEST_F(SqliteHandleTest, ABadBindIsReportedByStep) {
  auto insert = Statement::prepare(db_.get(), "INSERT INTO t (k) VALUES (?1)");
  ASSERT_TRUE(is_ok(insert));
  ResetOnExit reset(*insert);
  insert->bind_int64(7, 1);  // no parameter 7
  EXPECT_FALSE(insert->run().ok());
  EXPECT_EQ(count_rows(), 0);
}

TEST_F(SqliteHandleTest, PrepareErrorNamesTheStatement) {
  auto bad = Statement::prepare(db_.get(), "SELECT nope FROM t");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, hr::EFail);
  EXPECT_NE(bad.error().message.find("no such column"), std::string::npos) << bad.error().message;
}

TEST_F(SqliteHandleTest, TransactionRollsBackUnlessCommitted) {
  {
    auto tx = Transaction::begin(db_.get());
    ASSERT_TRUE(is_ok(tx));
    ASSERT_TRUE(is_ok(exec(db_.get(), "INSERT INTO t (k) VALUES (1)")));
  }
  EXPECT_EQ(count_rows(), 0);
  EXPECT_NE(sqlite3_get_autocommit(db_.get()), 0) << "the transaction was left open";
  {
    auto tx = Transaction::begin(db_.get());
    ASSERT_TRUE(is_ok(tx));
    ASSERT_TRUE(is_ok(exec(db_.get(), "INSERT INTO t (k) VALUES (1)")));
    ASSERT_TRUE(is_ok(tx->commit()));
  }
  EXPECT_EQ(count_rows(), 1);
}

TEST_F(SqliteHandleTest, FailedStatementInsideTransactionRollsBackEverything) {
  const auto attempt = [this]() -> Status {
    auto tx = Transaction::begin(db_.get());
    if (!tx) {
      return std::move(tx).error();
    }
    BGCOPY_TRY(exec(db_.get(), "INSERT INTO t (k) VALUES (5)"));
    BGCOPY_TRY(exec(db_.get(), "INSERT INTO t (k) VALUES (5)"));  // duplicate key
    return tx->commit();
  };
  EXPECT_FALSE(attempt().ok());
  EXPECT_EQ(count_rows(), 0);
}

}  // namespace
}  // namespace bgcopy::store
