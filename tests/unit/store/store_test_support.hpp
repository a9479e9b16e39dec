// Helpers shared by the store tests: a private temporary directory and Result matchers.
#pragma once

#include "base/error.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace bgcopy::store::testing {

/// A fresh directory from mkdtemp under $TMPDIR (or /tmp), removed with its contents at the end
/// of the test. Each test gets its own, so tests may run in parallel.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/bgcopy-store-test-XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) {
      path_ = pattern;
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    if (!path_.empty()) {
      std::error_code ignored;  // a leftover temp dir must not fail the test
      std::filesystem::remove_all(path_, ignored);
    }
  }

  bool valid() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

inline std::string describe(const Error& e) {
  return hresult_hex(e.code) + " " + hresult_name(e.code) + ": " + e.message;
}

/// ASSERT_TRUE(is_ok(result)) prints the error when there is one.
template <class T>
::testing::AssertionResult is_ok(const Result<T>& result) {
  if (result.ok()) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << describe(result.error());
}

/// EXPECT_TRUE(fails_with(result, code)): an error, and that code.
template <class T>
::testing::AssertionResult fails_with(const Result<T>& result, Hresult code) {
  if (result.ok()) {
    return ::testing::AssertionFailure() << "succeeded; expected " << hresult_hex(code);
  }
  if (result.error().code != code) {
    return ::testing::AssertionFailure()
           << "expected " << hresult_hex(code) << ", got " << describe(result.error());
  }
  return ::testing::AssertionSuccess();
}

}  // namespace bgcopy::store::testing
