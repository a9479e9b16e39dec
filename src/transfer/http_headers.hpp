// Pure parsers for the HTTP response fields the transfer relies on. No I/O, no allocation
// beyond the returned strings, total on any input (they are fuzzed): anything malformed yields
// nullopt rather than a guess.
#pragma once

#include "base/clock.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bgcopy::transfer {

/// A Content-Range value (RFC 9110 section 14.4).
struct ContentRange {
  bool satisfied = true;  // false for "bytes */total" (416 responses)
  std::uint64_t first = 0;
  std::uint64_t last = 0;              // inclusive
  std::optional<std::uint64_t> total;  // nullopt for "bytes a-b/*"
  std::uint64_t length() const { return last - first + 1; }
  friend bool operator==(const ContentRange&, const ContentRange&) = default;
};

/// "bytes a-b/total", "bytes a-b/*", "bytes */total" (unit case-insensitive, surrounding
/// whitespace ignored). Rejects a > b, b >= total, "*/*", signs, overflow (also a range of
/// 2^64 bytes, whose length() is not representable), trailing junk.
std::optional<ContentRange> parse_content_range(std::string_view value);

/// One header line split at its first colon; the value has surrounding whitespace removed.
/// The views point into the line.
struct HeaderField {
  std::string_view name;
  std::string_view value;
};

/// "Name: value\r\n" -> {name, value}. nullopt for status lines, blank lines, folded
/// continuation lines and names that are not an RFC 9110 token.
std::optional<HeaderField> split_header_line(std::string_view line);

/// Case-insensitive comparison of header names (ASCII).
bool header_name_is(std::string_view name, std::string_view expected);

/// "HTTP/1.1 206 Partial Content\r\n", "HTTP/2 200" -> the status code (100..999).
std::optional<int> parse_status_line(std::string_view line);

/// The empty line ending a header block ("\r\n" or "\n").
bool is_blank_line(std::string_view line);

/// Decimal Content-Length. Identical comma-separated duplicates ("42, 42") are accepted.
std::optional<std::uint64_t> parse_content_length(std::string_view value);

/// Retry-After as seconds from now: delta-seconds (saturated at UINT32_MAX) or an HTTP-date
/// (a date in the past gives 0, a fraction of a second rounds up).
std::optional<std::uint32_t> parse_retry_after(std::string_view value, WallTime now);

/// HTTP-date in any of the three RFC 9110 forms (IMF-fixdate, RFC 850, asctime), as seconds
/// since the Unix epoch.
std::optional<std::int64_t> parse_http_date(std::string_view value);

/// IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT". Locale-independent.
std::string format_http_date(std::int64_t unix_seconds);

/// An ETag as the server sent it (quotes and W/ prefix kept), surrounding whitespace removed.
std::string etag_value(std::string_view raw);

/// W/"..." : weak validators cannot be used in If-Range (RFC 9110 section 13.1.5).
bool is_weak_etag(std::string_view etag);

/// Strips ASCII space and horizontal tab (and CR/LF) from both ends.
std::string_view trim(std::string_view s);

/// Standard reason phrase ("Not Found"), or "" for a status without one.
std::string_view http_reason_phrase(long status);

/// The URL with any "user:password@" removed, for messages and logs.
std::string redact_url(std::string_view url);

}  // namespace bgcopy::transfer
