#include "ranges_engine.hpp"

#include "engine/config.hpp"
#include "engine/validate.hpp"

namespace bgcopy::fuzz {

static_assert(engine::EngineConfig{}.max_ranges_per_file == kDefaultMaxRanges);

RangeVerdict engine_validate_ranges(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& r) {
  std::vector<engine::FileRange> ranges;
  ranges.reserve(r.size());
  for (const auto& [offset, length] : r) ranges.push_back(engine::FileRange{offset, length});
  const auto st = engine::validate_ranges(ranges, engine::EngineConfig{}.max_ranges_per_file);
  if (st) return RangeVerdict::Ok;
  switch (st.error().code) {
    case hr::DoEInvalidRange:
      return RangeVerdict::Invalid;
    case hr::DoEOverlappingRanges:
      return RangeVerdict::Overlapping;
    case hr::BgETooManyRangesInFile:
      return RangeVerdict::TooMany;
    case hr::EInvalidArg:
      return RangeVerdict::Invalid;
    default:
      return RangeVerdict::Other;
  }
}

}  // namespace bgcopy::fuzz
