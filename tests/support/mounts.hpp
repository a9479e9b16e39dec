// Real filesystem faults for tests that run as root: a small tmpfs that can fill up and grow
// again, a read-only bind of a directory onto itself, and the immutable inode flag. Each is
// undone when its owner goes away. Tests GTEST_SKIP with the reason these helpers report when
// they are not root or the kernel refuses.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace bgcopy::test {

/// Why the mount helpers cannot work here ("" when they can): not root, or mount(2) refused.
std::string mount_unavailable_reason();

/// A tmpfs of `bytes` mounted on an existing (empty) directory; unmounted (lazily, so a
/// service still holding files there cannot block it) on destruction.
class TmpfsMount {
 public:
  /// nullopt and *why set when mount(2) fails.
  static std::optional<TmpfsMount> mount(const std::filesystem::path& where, std::uint64_t bytes,
                                         std::string* why);
  ~TmpfsMount();
  TmpfsMount(TmpfsMount&& other) noexcept;
  TmpfsMount& operator=(TmpfsMount&&) = delete;
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  /// Remounts with a new size ("space returns"). Throws std::runtime_error on failure.
  void resize(std::uint64_t bytes);
  /// Writes a file of zeros until the filesystem is full (ENOSPC), with 4 KiB granularity at
  /// the end so not one page is left. Returns the bytes written.
  std::uint64_t fill(const std::filesystem::path& filler);
  const std::filesystem::path& path() const { return path_; }

 private:
  explicit TmpfsMount(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

/// Binds a directory onto itself read-only: new opens through the path get EROFS while
/// descriptors opened before keep working, as after `mount -o remount,ro` of a real disk that
/// had no writer. restore() (or destruction) unmounts the bind.
class ReadOnlyBind {
 public:
  static std::optional<ReadOnlyBind> bind(const std::filesystem::path& dir, std::string* why);
  ~ReadOnlyBind();
  ReadOnlyBind(ReadOnlyBind&& other) noexcept;
  ReadOnlyBind& operator=(ReadOnlyBind&&) = delete;
  ReadOnlyBind(const ReadOnlyBind&) = delete;
  ReadOnlyBind& operator=(const ReadOnlyBind&) = delete;

  /// Makes the directory writable again. Idempotent.
  void restore();

 private:
  explicit ReadOnlyBind(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

/// Sets or clears FS_IMMUTABLE_FL (chattr +i / -i). Returns 0 or the errno.
int set_immutable(const std::filesystem::path& path, bool on);

/// "" if the filesystem holding `dir` refuses writes through a descriptor opened before the
/// file became immutable (ext4 does; tmpfs does not), else why not. Leaves nothing behind.
std::string immutable_unsupported_reason(const std::filesystem::path& dir);

}  // namespace bgcopy::test
