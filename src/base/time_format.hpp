#pragma once

#include "base/clock.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace bgcopy {

/// "2026-11-24T02:40:57Z" (RFC 3339, UTC, whole seconds).
std::string format_rfc3339(WallTime t);
/// Parses what format_rfc3339 writes; nullopt otherwise.
std::optional<WallTime> parse_rfc3339(std::string_view text);

}  // namespace bgcopy
