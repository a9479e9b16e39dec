// `bgcopy add --range OFF:LEN[,OFF:LEN...]` (cli::parse_range_list), then what the service does
// with the list (engine::validate_ranges, ranges_engine.cpp). The parser must reject exactly
// the lists whose numbers are not decimal or whose end overflows 64 bits, and the engine's
// verdict must match a plain reference check of "non-empty, in bounds, no overlap".
#include "cli/parse.hpp"
#include "fuzz_check.hpp"
#include "ranges_engine.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using bgcopy::fuzz::RangeVerdict;
using Pairs = std::vector<std::pair<std::uint64_t, std::uint64_t>>;
constexpr std::uint64_t kEof = bgcopy::kLengthToEof;

// Quadratic on purpose: independent of the engine's sort-and-sweep.
RangeVerdict reference(const Pairs& ranges) {
  if (ranges.empty()) return RangeVerdict::Invalid;
  if (ranges.size() > bgcopy::fuzz::kDefaultMaxRanges) return RangeVerdict::TooMany;
  for (const auto& [off, len] : ranges) {
    if (len == 0 || off == kEof) return RangeVerdict::Invalid;
    if (len != kEof && off > kEof - len) return RangeVerdict::Invalid;
  }
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    for (std::size_t j = i + 1; j < ranges.size(); ++j) {
      const auto& a = ranges[i];
      const auto& b = ranges[j];
      const std::uint64_t a_end = a.second == kEof ? kEof : a.first + a.second;  // exclusive
      const std::uint64_t b_end = b.second == kEof ? kEof : b.first + b.second;
      if (a.first < b_end && b.first < a_end) return RangeVerdict::Overlapping;
    }
  }
  return RangeVerdict::Ok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = bgcopy::cli::parse_range_list(text);
  if (!parsed) {
    BGCOPY_FUZZ_CHECK(parsed.code() == bgcopy::hr::EInvalidArg);
    BGCOPY_FUZZ_CHECK(!parsed.message().empty());
    return 0;
  }
  Pairs pairs;
  for (const auto& r : *parsed) {
    // The CLI already refuses an end past 2^64 - 1; the engine's stricter checks come later.
    BGCOPY_FUZZ_CHECK(r.length == kEof || r.offset <= kEof - r.length);
    pairs.emplace_back(r.offset, r.length);
  }
  BGCOPY_FUZZ_CHECK(!pairs.empty());
  BGCOPY_FUZZ_CHECK(static_cast<std::size_t>(std::count(text.begin(), text.end(), ',')) + 1 ==
                    pairs.size());
  BGCOPY_FUZZ_CHECK(bgcopy::fuzz::engine_validate_ranges(pairs) == reference(pairs));
  return 0;
}
