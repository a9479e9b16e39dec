#include "transfer/error_map.hpp"

#include "transfer/http_headers.hpp"

#include <cerrno>
#include <cstring>
#include <string>

namespace bgcopy::transfer {
namespace {

Classified make(Hresult code, ErrorContext ctx, std::string message, bool transient) {
  return Classified{Error::make(code, std::move(message), ctx), transient, std::nullopt};
}

std::string with_detail(std::string message, std::string_view detail) {
  detail = trim(detail);
  if (!detail.empty()) {
    message += " (";
    message += detail;
    message += ')';
  }
  return message;
}

std::string peer_text(std::string_view where) {
  return where.empty() ? std::string("the server") : redact_url(where);
}

}  // namespace

Classified classify_http(long status, std::optional<std::uint32_t> retry_after,
                         std::string_view url) {
  std::string message = "HTTP " + std::to_string(status);
  const auto reason = http_reason_phrase(status);
  if (!reason.empty()) {
    message += ' ';
    message += reason;
  }
  if (!url.empty()) {
    message += " from " + redact_url(url);
  }
  const auto code = hresult_from_http(static_cast<int>(status));
  if (status == 408 || status == 429 || (status >= 500 && status <= 599)) {
    auto c = make(code, ErrorContext::RemoteFile, std::move(message), true);
    c.retry_after = retry_after;
    return c;
  }
  if (status == 416) {
    return make(hr::DoEInvalidRange, ErrorContext::RemoteFile,
                message + ": the requested range is beyond the end of the remote file", false);
  }
  if (status >= 300 && status <= 499) {
    return make(code, ErrorContext::RemoteFile, std::move(message), false);
  }
  return make(hr::BgEInvalidServerResponse, ErrorContext::RemoteFile, "unexpected " + message,
              true);
}

Classified classify_local_errno(int err, std::string_view path) {
  auto e = Error::from_errno(err, "cannot write " + std::string(path));
  const bool transient = err == ENOSPC || err == EDQUOT;
  return Classified{std::move(e), transient, std::nullopt};
}

Classified classify_source_errno(int err, std::string_view path) {
  const std::string what = "cannot read " + std::string(path) + ": " + std::strerror(err);
  switch (err) {
    case EACCES:
    case EPERM:
      return make(hr::EAccessDenied, ErrorContext::RemoteFile, what, false);
    case ENOENT:
    case ENOTDIR:
    case EISDIR:
    case ELOOP:
    case ENAMETOOLONG:
      return make(hresult_from_errno(err), ErrorContext::RemoteFile, what, false);
    default:
      return make(hresult_from_errno(err), ErrorContext::RemoteFile, what, true);
  }
}

Classified classify_curl(CURLcode code, long http_status, long os_errno, std::string_view where,
                         std::string_view detail) {
  const auto peer = peer_text(where);
  const auto curl_text = [&] { return with_detail(curl_easy_strerror(code), detail); };
  switch (code) {
    case CURLE_OK:
    case CURLE_HTTP_RETURNED_ERROR:
      if (http_status >= 300) {
        return classify_http(http_status, std::nullopt, where);
      }
      return make(hr::BgEInvalidServerResponse, ErrorContext::RemoteFile,
                  "unexpected response from " + peer, true);

    case CURLE_COULDNT_CONNECT:
      if (os_errno == ECONNREFUSED) {
        return make(hr::BgEConnectFailure, ErrorContext::GeneralTransport,
                    "connection refused by " + peer, true);
      }
      return make(hr::BgEConnectFailure, ErrorContext::GeneralTransport,
                  with_detail("cannot connect to " + peer +
                                  (os_errno != 0 ? std::string(": ") +
                                                       std::strerror(static_cast<int>(os_errno))
                                                 : std::string()),
                              detail),
                  true);
    case CURLE_PROXY:
    case CURLE_SSL_CONNECT_ERROR:
      return make(hr::BgEConnectFailure, ErrorContext::GeneralTransport,
                  "cannot connect to " + peer + ": " + curl_text(), true);

    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_QUIC_CONNECT_ERROR:
      return make(hr::BgEConnectionClosed, ErrorContext::GeneralTransport,
                  "connection to " + peer + " closed: " + curl_text(), true);

    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return make(hr::EHostNotResolved, ErrorContext::GeneralTransport,
                  "cannot resolve " +
                      std::string(code == CURLE_COULDNT_RESOLVE_PROXY ? "proxy for " : "") + peer +
                      ": " + curl_text(),
                  true);

    case CURLE_OPERATION_TIMEDOUT:
      return make(hresult_from_errno(ETIMEDOUT), ErrorContext::GeneralTransport,
                  "transfer from " + peer + " timed out: " + curl_text(), true);

    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
      return make(hr::BgEInvalidServerResponse, ErrorContext::RemoteFile,
                  "invalid response from " + peer + ": " + curl_text(), true);

    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return make(hr::EInvalidArg, ErrorContext::RemoteFile,
                  "unusable URL " + peer + ": " + curl_text(), false);
    case CURLE_TOO_MANY_REDIRECTS:
      return make(hr::BgEInvalidServerResponse, ErrorContext::RemoteFile,
                  "too many redirects from " + peer, false);

    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
      return make(hr::DoEHttpCertValidation, ErrorContext::GeneralTransport,
                  "TLS certificate of " + peer + " not accepted: " + curl_text(), false);

    case CURLE_RANGE_ERROR:
      return make(hr::DoEInsufficientRangeSupport, ErrorContext::RemoteFile,
                  peer + " does not support byte ranges", false);
    case CURLE_BAD_DOWNLOAD_RESUME:
      return make(hr::DoEInvalidRange, ErrorContext::RemoteFile, "range beyond the end of " + peer,
                  false);

    case CURLE_WRITE_ERROR:
      if (os_errno != 0) {
        return classify_local_errno(static_cast<int>(os_errno), where);
      }
      return make(hr::EFail, ErrorContext::LocalFile, "cannot write data from " + peer, false);

    // Our own set-up or a broken local TLS configuration: retrying cannot help.
    case CURLE_FAILED_INIT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
      return make(hr::EFail, ErrorContext::GeneralTransport,
                  "cannot set up the transfer from " + peer + ": " + curl_text(), false);

    case CURLE_OUT_OF_MEMORY:
      return make(hresult_from_errno(ENOMEM), ErrorContext::GeneralTransport,
                  "out of memory while transferring from " + peer, true);

    case CURLE_FILE_COULDNT_READ_FILE:
      return classify_source_errno(os_errno != 0 ? static_cast<int>(os_errno) : ENOENT, where);

    default:
      // Unknown trouble on the way is retried; no_progress_timeout bounds the retries.
      return make(hr::EFail, ErrorContext::GeneralTransport,
                  "transfer from " + peer + " failed: " + curl_text(), true);
  }
}

}  // namespace bgcopy::transfer
