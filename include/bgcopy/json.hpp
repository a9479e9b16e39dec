// The JSON forms of the public value types, exactly as the local API (docs/api.md) writes them:
// snake_case keys, upper-case enum names, sizes as integers, unknown as null, RFC 3339 UTC times.
// For tools that pass job data on (the bgcopy command line's --json uses these).
#pragma once

#include <bgcopy/export.hpp>
#include <bgcopy/types.hpp>

#include <string>
#include <vector>

namespace bgcopy {
inline namespace v0 {

/// Each returns one JSON document; indent < 0 gives a single line, indent >= 0 pretty-prints
/// with that many spaces per level. Output does not depend on the locale. Strings that are not
/// valid UTF-8 have the bad bytes replaced by U+FFFD. Thread-safe; never fails.
BGCOPY_API std::string to_json_string(const JobInfo& job, int indent = -1) noexcept;
/// An array of job objects (what `bgcopy list --json` prints).
BGCOPY_API std::string to_json_string(const std::vector<JobInfo>& jobs, int indent = -1) noexcept;
BGCOPY_API std::string to_json_string(const FileInfo& file, int indent = -1) noexcept;
/// An array of file objects (what `bgcopy files --json` prints).
BGCOPY_API std::string to_json_string(const std::vector<FileInfo>& files, int indent = -1) noexcept;
BGCOPY_API std::string to_json_string(const ErrorInfo& error, int indent = -1) noexcept;
BGCOPY_API std::string to_json_string(const JobEvent& event, int indent = -1) noexcept;

}  // namespace v0
}  // namespace bgcopy
