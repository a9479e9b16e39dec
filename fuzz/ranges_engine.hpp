// The engine's side of ranges_fuzz.cpp, in its own translation unit: the engine speaks the
// internal Result/Status (src/base/error.hpp), the CLI the public one (<bgcopy/result.hpp>), and
// the two never meet in one file.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace bgcopy::fuzz {

/// engine::EngineConfig{}.max_ranges_per_file, checked against the real value in the .cpp.
inline constexpr std::uint32_t kDefaultMaxRanges = 500;

enum class RangeVerdict : std::uint8_t { Ok, Invalid, Overlapping, TooMany, Other };

/// engine::validate_ranges on (offset, length) pairs, with the engine's default limit.
RangeVerdict engine_validate_ranges(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& r);

}  // namespace bgcopy::fuzz
