// A private scratch directory per test, removed with everything in it when the owner goes away.
#pragma once

#include <filesystem>
#include <string_view>

namespace bgcopy::test {

class TempDir {
 public:
  /// mkdtemp("$TMPDIR/<prefix>XXXXXX"), /tmp when TMPDIR is unset. Throws std::runtime_error.
  /// Set BGCOPY_KEEP_TEST_DIRS=1 to keep the directories for post-mortem inspection.
  explicit TempDir(std::string_view prefix = "bgcopy-test-");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;

  const std::filesystem::path& path() const { return path_; }
  /// path() / name. Creates nothing.
  std::filesystem::path file(std::string_view name) const { return path_ / name; }

 private:
  void remove() noexcept;

  std::filesystem::path path_;
};

}  // namespace bgcopy::test
