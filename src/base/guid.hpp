// Job ids: random (version 4) GUIDs, printed upper-case with braces as BITS does.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace bgcopy {

class JobId {
 public:
  JobId() = default;
  explicit JobId(const std::array<std::uint8_t, 16>& bytes) : bytes_(bytes) {}

  /// A fresh random id from the OS's CSPRNG.
  static JobId generate();
  /// Accepts "{8-4-4-4-12}" or the same without braces, any case.
  static std::optional<JobId> parse(std::string_view text);

  /// "{C775D194-090F-431F-B5FB-8334D00D1CB6}"
  std::string to_string() const;
  bool is_nil() const;
  const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }

  friend auto operator<=>(const JobId&, const JobId&) = default;

 private:
  std::array<std::uint8_t, 16> bytes_{};
};

}  // namespace bgcopy

template <>
struct std::hash<bgcopy::JobId> {
  std::size_t operator()(const bgcopy::JobId& id) const noexcept {
    std::size_t h = 0;
    for (auto b : id.bytes()) {
      h = h * 131 + b;
    }
    return h;
  }
};
