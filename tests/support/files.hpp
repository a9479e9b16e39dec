// File and content helpers for tests. All of them throw std::runtime_error on I/O failure, which
// gtest reports as a failed test.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace bgcopy::test {

/// Lower-case hex SHA-256 of the file's contents.
std::string sha256_file(const std::filesystem::path& path);
/// Lower-case hex SHA-256 of data.
std::string sha256_bytes(std::string_view data);

std::string read_file(const std::filesystem::path& path);
/// Creates or truncates path and writes data (no fsync).
void write_file(const std::filesystem::path& path, std::string_view data);
/// Sorted entry names, hidden ones included, without "." and "..".
std::vector<std::string> list_dir(const std::filesystem::path& path);

namespace detail {
struct FileSizeFn {
  std::uint64_t operator()(const std::filesystem::path& path) const;
};
}  // namespace detail
/// std::uint64_t file_size(path). A function object rather than a function so that an
/// unqualified file_size(fs_path) is not ambiguous with std::filesystem::file_size, which
/// argument-dependent lookup would otherwise also find.
inline constexpr detail::FileSizeFn file_size{};

/// The bytes fault_origin.py serves at /gen/<size>?seed=<seed>: the first `size` bytes of the
/// stream whose 32-byte block i is SHA-256("bgcopy-gen" || u64le(seed) || u64le(i)).
std::string gen_content(std::uint64_t size, std::uint64_t seed);
/// Bytes [offset, offset + length) of the same stream: what a ranged /gen request returns.
std::string gen_slice(std::uint64_t seed, std::uint64_t offset, std::uint64_t length);

}  // namespace bgcopy::test
