// Turns what went wrong in a transfer into the job's error: an HRESULT-style code, a BITS error
// context, a human message and the transient/fatal class the engine's state machine uses
// (SPEC section 2; the full table is in docs/errors.md). Pure functions: no I/O, no curl handle.
#pragma once

#include "base/error.hpp"

#include <curl/curl.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace bgcopy::transfer {

struct Classified {
  Error error;
  bool transient = false;                    // TRANSIENT_ERROR and retry, rather than ERROR
  std::optional<std::uint32_t> retry_after;  // seconds, from the server's Retry-After
};

/// A final HTTP status that is not a success. `retry_after` is kept for transient statuses
/// (408, 429, 5xx) only. `url` (credentials are stripped) goes into the message.
///   408, 429, 5xx -> 0x80190000 + status, transient, REMOTE_FILE
///   416           -> DO_E_INVALID_RANGE, fatal, REMOTE_FILE
///   other 4xx/3xx -> 0x80190000 + status, fatal, REMOTE_FILE
///   1xx/2xx/other -> BG_E_INVALID_SERVER_RESPONSE, transient, REMOTE_FILE
Classified classify_http(long status, std::optional<std::uint32_t> retry_after,
                         std::string_view url = {});

/// A libcurl result. `http_status` is the last response's status (0 if none): with CURLE_OK
/// (or CURLE_HTTP_RETURNED_ERROR) and a status >= 300 the HTTP rule applies. `os_errno` is
/// CURLINFO_OS_ERRNO, or the errno recorded by our own write callback for CURLE_WRITE_ERROR.
/// `where` names the peer ("host:port") or URL for the message; `detail` is curl's error
/// buffer, appended when not empty.
Classified classify_curl(CURLcode code, long http_status, long os_errno,
                         std::string_view where = {}, std::string_view detail = {});

/// A failed write, sync or truncate of the staging file: ENOSPC and EDQUOT are transient (space
/// may be freed), everything else (EACCES, EPERM, EROFS, EIO, EFBIG, ...) is fatal.
/// 0xC0D00000 + errno, context LOCAL_FILE.
Classified classify_local_errno(int err, std::string_view path);

/// A failure to read a file:// source: ENOENT/ENOTDIR -> 0xC0D00000 + errno, EACCES/EPERM ->
/// E_ACCESSDENIED, EISDIR/ELOOP -> errno code; all fatal. Others (EIO, ESTALE, ...) transient.
/// Context REMOTE_FILE.
Classified classify_source_errno(int err, std::string_view path);

}  // namespace bgcopy::transfer
