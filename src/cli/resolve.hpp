// Turning the JOB argument into a job id: a GUID (braces and case optional) or the display
// name of exactly one of the caller's jobs.
#pragma once

#include <bgcopy/result.hpp>
#include <bgcopy/types.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bgcopy::cli {

/// "{C775D194-090F-431F-B5FB-8334D00D1CB6}" for a GUID written with or without braces, in any
/// case; nullopt for anything else.
std::optional<std::string> canonical_guid(std::string_view text);

/// The id of the one job in `jobs` whose display name is exactly `name` (case-sensitive).
///   DO_E_JOB_NOT_FOUND: no job has that name (nor that id);
///   E_INVALIDARG: several do; the message lists their ids so the user can pick one.
Result<std::string> resolve_by_name(std::string_view name, const std::vector<JobInfo>& jobs);

}  // namespace bgcopy::cli
