// Pure validation of what callers hand the engine. Each function returns a clear Error.
#pragma once

#include "base/error.hpp"
#include "engine/config.hpp"
#include "engine/types.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace bgcopy::engine {

/// http, https or file URL of bounded length without control characters or spaces.
Status validate_url(std::string_view url, const EngineConfig& config);
/// Absolute, normalised (no ".", "..", "//", trailing '/'), bounded, no control characters.
Status validate_local_path(std::string_view path, const EngineConfig& config);
/// Non-empty; lengths > 0; offsets not kLengthToEof; no overlap (DO_E_OVERLAPPING_RANGES);
/// at most max_ranges (BG_E_TOO_MANY_RANGES_IN_FILE) unless unlimited.
Status validate_ranges(const std::vector<FileRange>& ranges, std::uint32_t max_ranges);
/// 64 hex digits; normalises to lower case.
Status normalise_sha256(std::string& hex);
/// Valid UTF-8 without control characters (tab allowed), at most max_chars code points.
bool is_clean_text(std::string_view text, std::uint32_t max_chars, bool allow_newlines);
/// The hidden staging name for file index of job: ".<name>.bgcopy-<JOBID>-<index>.part",
/// with <name> shortened so the whole fits NAME_MAX.
std::string staging_name_for(std::string_view local_path, const JobId& job, std::uint32_t index);

}  // namespace bgcopy::engine
