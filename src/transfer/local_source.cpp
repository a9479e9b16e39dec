#include "transfer/local_source.hpp"

#include "transfer/curl_handles.hpp"
#include "transfer/http_headers.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>

namespace bgcopy::transfer {
namespace {

Error bad_url(const std::string& why) {
  return Error::make(hr::EInvalidArg, why, ErrorContext::RemoteFile);
}

std::string get_part(CURLU* u, CURLUPart part, unsigned flags) {
  char* raw = nullptr;
  if (curl_url_get(u, part, &raw, flags) != CURLUE_OK || raw == nullptr) {
    return {};
  }
  const CurlString owned(raw);
  return {owned.get()};
}

}  // namespace

void ensure_curl_global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool is_file_url(std::string_view url) {
  constexpr std::string_view kScheme = "file:";
  if (url.size() < kScheme.size()) {
    return false;
  }
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(url[i])) != kScheme[i]) {
      return false;
    }
  }
  return true;
}

Result<std::string> file_url_path(const std::string& url) {
  ensure_curl_global_init();
  UrlPtr u(curl_url());
  if (!u) {
    return bad_url("out of memory parsing " + url);
  }
  if (curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return bad_url("malformed file URL: " + redact_url(url));
  }
  std::string scheme = get_part(u.get(), CURLUPART_SCHEME, 0);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (scheme != "file") {
    return bad_url("not a file URL: " + redact_url(url));
  }
  const std::string host = get_part(u.get(), CURLUPART_HOST, 0);
  if (!host.empty() && host != "localhost") {
    return bad_url("file URL names a remote host: " + redact_url(url));
  }
  // CURLU_URLDECODE refuses to decode to bytes below 32, so "%00" cannot cut the path short.
  std::string path = get_part(u.get(), CURLUPART_PATH, CURLU_URLDECODE);
  if (path.empty() || path.front() != '/') {
    return bad_url("file URL without an absolute path: " + redact_url(url));
  }
  return path;
}

engine::Validators local_validators(const struct stat& st) {
  const auto mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL +
                        static_cast<long long>(st.st_mtim.tv_nsec);
  engine::Validators v;
  v.etag = "\"" + std::to_string(static_cast<long long>(st.st_size)) + "-" +
           std::to_string(mtime_ns) + "\"";
  v.last_modified = format_http_date(static_cast<std::int64_t>(st.st_mtim.tv_sec));
  return v;
}

ResponseHead local_response(const struct stat& st, const RequestSpec& spec,
                            const std::string& url) {
  const auto size = static_cast<std::uint64_t>(st.st_size);
  ResponseHead head;
  head.url = url;
  head.validators = local_validators(st);
  head.remote_mtime = static_cast<std::int64_t>(st.st_mtim.tv_sec);
  const bool if_range_fails = !spec.if_range.empty() && spec.if_range != head.validators.etag &&
                              spec.if_range != head.validators.last_modified;
  if (!spec.ranged || if_range_fails) {
    head.status = 200;
    head.content_length = size;
  } else if (spec.first >= size) {
    head.status = 416;
    head.content_range = ContentRange{false, 0, 0, size};
  } else {
    const auto last = std::min(spec.last.value_or(size - 1), size - 1);
    head.status = 206;
    head.content_range = ContentRange{true, spec.first, last, size};
    head.content_length = last - spec.first + 1;
  }
  return head;
}

std::string url_peer(const std::string& url) {
  UrlPtr u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return redact_url(url);
  }
  const auto host = get_part(u.get(), CURLUPART_HOST, 0);
  const auto port = get_part(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (host.empty()) {
    return redact_url(url);
  }
  return port.empty() ? host : host + ":" + port;
}

}  // namespace bgcopy::transfer
