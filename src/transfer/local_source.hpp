// file:// sources. libcurl's file:// handler copies a whole file inside one curl_multi_perform
// call and ignores the receive-rate cap, so it could neither be paced nor stopped mid-file; the
// transfer reads local files itself, in small steps on the transfer thread. To reuse the HTTP
// logic unchanged, a local file answers each request the way an HTTP/1.1 server with Range and
// If-Range support would.
#pragma once

#include "base/error.hpp"
#include "engine/types.hpp"
#include "transfer/fetch_session.hpp"

#include <sys/stat.h>

#include <string>
#include <string_view>

namespace bgcopy::transfer {

/// True when the URL's scheme is file (case-insensitive).
bool is_file_url(std::string_view url);

/// The absolute, percent-decoded path of a file:// URL. Errors: E_INVALIDARG (context
/// REMOTE_FILE) for a malformed URL, a host other than empty or "localhost", or a path that
/// decodes to control characters.
Result<std::string> file_url_path(const std::string& url);

/// A local file's version as HTTP validators: ETag "\"<size>-<mtime_ns>\"" and Last-Modified
/// from the mtime (IMF-fixdate).
engine::Validators local_validators(const struct stat& st);

/// The response an HTTP/1.1 server would give for this request to a file with this stat:
/// 200 (no Range, or an If-Range that does not match), 206 with Content-Range, or 416.
ResponseHead local_response(const struct stat& st, const RequestSpec& spec, const std::string& url);

/// host:port of an http(s) URL for messages ("127.0.0.1:8080"); the URL itself if unparseable.
std::string url_peer(const std::string& url);

}  // namespace bgcopy::transfer
