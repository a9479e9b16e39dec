// The socket API's fixed vocabulary, shared by the service and the client library: version,
// request bounds, routes and the mapping of result codes to HTTP statuses (docs/api.md).
// Pure functions and constants; no I/O.
#pragma once

#include "base/error.hpp"
#include <bgcopy/codes.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bgcopy::proto {

inline constexpr int kApiVersion = 1;

// Request bounds. Every request is bounded so a client cannot make the service hold
// unbounded memory (SPEC section 5).
inline constexpr std::size_t kMaxBodyBytes = 1U << 20;     // 413 beyond
inline constexpr std::size_t kMaxHeaderBytes = 16U << 10;  // 431 beyond
inline constexpr std::size_t kMaxTargetBytes = 8U << 10;   // 414 beyond

// Byte bounds of request fields. The engine applies the finer, configurable limits (code
// points, control characters); these only stop absurd sizes at the door. A code point is at
// most 4 bytes of UTF-8, so 256 and 1024 characters fit.
inline constexpr std::size_t kMaxDisplayNameBytes = 256 * 4;
inline constexpr std::size_t kMaxDescriptionBytes = 1024 * 4;
inline constexpr std::size_t kMaxRemoteUrlBytes = 8192;
inline constexpr std::size_t kMaxLocalPathBytes = 4096;
inline constexpr std::size_t kMaxSha256Bytes = 64;
inline constexpr std::size_t kMaxNotifyArgs = 256;
inline constexpr std::size_t kMaxNotifyArgBytes = 4096;
inline constexpr std::size_t kMaxProxyListBytes = 16384;

namespace route {
inline constexpr std::string_view kHealth = "/v1/health";
inline constexpr std::string_view kJobs = "/v1/jobs";
inline constexpr std::string_view kEvents = "/v1/events";
// Sub-resources and actions of /v1/jobs/{id}/...
inline constexpr std::string_view kFiles = "files";
inline constexpr std::string_view kResume = "resume";
inline constexpr std::string_view kSuspend = "suspend";
inline constexpr std::string_view kCancel = "cancel";
inline constexpr std::string_view kComplete = "complete";
inline constexpr std::string_view kTakeOwnership = "take_ownership";
inline constexpr std::string_view kError = "error";
// Query parameters.
inline constexpr std::string_view kAllUsersParam = "all_users";
inline constexpr std::string_view kJobParam = "job";
}  // namespace route

/// "/v1/jobs/C775D194-..." for a job id given with or without braces (braces would need
/// percent-encoding, so they are dropped); with `sub`, "/v1/jobs/ID/sub".
std::string job_path(std::string_view job_id, std::string_view sub = {});

/// "/v1/events" or "/v1/events?job=ID".
std::string events_path(std::string_view job_id = {});

/// A request target split into its decoded path and query parameters.
struct Target {
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;  // in order, decoded
  /// The first value of the parameter, or nullopt.
  std::optional<std::string> param(std::string_view name) const;
};

/// Splits "/v1/jobs/ID?all_users=1" and percent-decodes both parts. E_INVALIDARG for a target
/// that is not origin-form, has a bad %-escape, or decodes to a NUL byte.
Result<Target> parse_target(std::string_view target);

/// Path segments after the leading '/': "/v1/jobs/X/files" -> {"v1","jobs","X","files"}.
/// Empty segments (from "//" or a trailing '/') are kept so such paths fail to match.
std::vector<std::string_view> split_path(std::string_view path);

/// Percent-encodes everything but unreserved characters (RFC 3986 section 2.3).
std::string percent_encode(std::string_view text);

/// The HTTP status a failed call answers with (docs/api.md, "Errors"); 200 for success codes.
///   400 E_INVALIDARG, DO_E_INVALID_RANGE, DO_E_OVERLAPPING_RANGES, BG_E_STRING_TOO_LONG
///   403 E_ACCESSDENIED
///   404 DO_E_JOB_NOT_FOUND
///   409 DO_E_INVALID_STATE, DO_E_JOB_EMPTY, DO_E_ERROR_INFORMATION_UNAVAILABLE,
///       BG_E_TOO_MANY_JOBS_PER_USER, BG_E_TOO_MANY_FILES_IN_JOB, BG_E_TOO_MANY_RANGES_IN_FILE
///   501 E_NOTIMPL
///   500 anything else
int http_status_for(Hresult code);

}  // namespace bgcopy::proto
