#include "transfer/error_map.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

namespace bgcopy::transfer {
namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(ClassifyHttp, NotFoundIsFatalWithAHumanMessage) {
  const auto c = classify_http(404, std::nullopt, "http://host/path");
  EXPECT_EQ(c.error.code, 0x80190194U);
  EXPECT_FALSE(c.transient);
  EXPECT_EQ(c.error.context, ErrorContext::RemoteFile);
  EXPECT_EQ(c.error.message, "HTTP 404 Not Found from http://host/path");
}

TEST(ClassifyHttp, Other4xxAreFatal) {
  for (long s : {400L, 401L, 403L, 405L, 410L, 451L, 499L}) {
    const auto c = classify_http(s, std::nullopt);
    EXPECT_EQ(c.error.code, hresult_from_http(static_cast<int>(s))) << s;
    EXPECT_FALSE(c.transient) << s;
  }
}

TEST(ClassifyHttp, TimeoutTooManyRequestsAndServerErrorsAreTransient) {
  for (long s : {408L, 429L, 500L, 502L, 503L, 504L, 599L}) {
    const auto c = classify_http(s, std::nullopt);
    EXPECT_EQ(c.error.code, hresult_from_http(static_cast<int>(s))) << s;
    EXPECT_TRUE(c.transient) << s;
    EXPECT_EQ(c.error.context, ErrorContext::RemoteFile);
  }
}

TEST(ClassifyHttp, RetryAfterIsKeptForTransientStatuses) {
  EXPECT_EQ(classify_http(503, 30U).retry_after, std::optional<std::uint32_t>(30));
  EXPECT_EQ(classify_http(429, 7U).retry_after, std::optional<std::uint32_t>(7));
  EXPECT_FALSE(classify_http(404, 30U).retry_after);
}

TEST(ClassifyHttp, RangeNotSatisfiableIsInvalidRange) {
  const auto c = classify_http(416, std::nullopt, "http://h/f");
  EXPECT_EQ(c.error.code, hr::DoEInvalidRange);
  EXPECT_FALSE(c.transient);
}

TEST(ClassifyHttp, UnfollowedRedirectsAreFatal) {
  const auto c = classify_http(304, std::nullopt);
  EXPECT_EQ(c.error.code, hresult_from_http(304));
  EXPECT_FALSE(c.transient);
}

TEST(ClassifyHttp, OddSuccessCodesAreInvalidResponses) {
  for (long s : {0L, 100L, 204L, 299L, 999L}) {
    const auto c = classify_http(s, std::nullopt);
    EXPECT_EQ(c.error.code, hr::BgEInvalidServerResponse) << s;
    EXPECT_TRUE(c.transient) << s;
  }
}

TEST(ClassifyHttp, CredentialsNeverReachTheMessage) {
  const auto c = classify_http(403, std::nullopt, "https://joe:hunter2@host/x");
  EXPECT_FALSE(contains(c.error.message, "hunter2"));
  EXPECT_TRUE(contains(c.error.message, "https://host/x"));
}

TEST(ClassifyCurl, ConnectionRefused) {
  const auto c = classify_curl(CURLE_COULDNT_CONNECT, 0, ECONNREFUSED, "127.0.0.1:8080");
  EXPECT_EQ(c.error.code, hr::BgEConnectFailure);
  EXPECT_TRUE(c.transient);
  EXPECT_EQ(c.error.context, ErrorContext::GeneralTransport);
  EXPECT_EQ(c.error.message, "connection refused by 127.0.0.1:8080");
}

TEST(ClassifyCurl, OtherConnectFailuresNameTheErrno) {
  const auto c = classify_curl(CURLE_COULDNT_CONNECT, 0, ENETUNREACH, "10.0.0.1:80");
  EXPECT_EQ(c.error.code, hr::BgEConnectFailure);
  EXPECT_TRUE(c.transient);
  EXPECT_TRUE(contains(c.error.message, "10.0.0.1:80"));
}

TEST(ClassifyCurl, DroppedConnectionsAreTransient) {
  for (auto code : {CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING,
                    CURLE_HTTP2, CURLE_HTTP2_STREAM}) {
    const auto c = classify_curl(code, 0, 0, "h:1");
    EXPECT_EQ(c.error.code, hr::BgEConnectionClosed) << code;
    EXPECT_TRUE(c.transient) << code;
    EXPECT_EQ(c.error.context, ErrorContext::GeneralTransport) << code;
  }
}

TEST(ClassifyCurl, DnsFailuresAreTransient) {
  for (auto code : {CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY}) {
    const auto c = classify_curl(code, 0, 0, "nowhere.invalid:80");
    EXPECT_EQ(c.error.code, hr::EHostNotResolved);
    EXPECT_EQ(c.error.code, 0x80072EE7U);
    EXPECT_TRUE(c.transient);
  }
}

TEST(ClassifyCurl, TimeoutsAreTransientEtimedout) {
  const auto c = classify_curl(CURLE_OPERATION_TIMEDOUT, 0, 0, "h:1", "Operation too slow");
  EXPECT_EQ(c.error.code, hresult_from_errno(ETIMEDOUT));
  EXPECT_TRUE(c.transient);
  EXPECT_TRUE(contains(c.error.message, "Operation too slow"));
}

TEST(ClassifyCurl, BadUrlsAreFatalInvalidArg) {
  for (auto code : {CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL}) {
    const auto c = classify_curl(code, 0, 0, "ftp://x");
    EXPECT_EQ(c.error.code, hr::EInvalidArg) << code;
    EXPECT_FALSE(c.transient) << code;
  }
}

TEST(ClassifyCurl, CertificateFailuresAreFatal) {
  for (auto code : {CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE,
                    CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH}) {
    const auto c = classify_curl(code, 0, 0, "h:443");
    EXPECT_EQ(c.error.code, hr::DoEHttpCertValidation) << code;
    EXPECT_FALSE(c.transient) << code;
  }
}

TEST(ClassifyCurl, HttpStatusWinsWhenCurlSucceeded) {
  const auto c = classify_curl(CURLE_OK, 503, 0, "h:80");
  EXPECT_EQ(c.error.code, hresult_from_http(503));
  EXPECT_TRUE(c.transient);
  const auto d = classify_curl(CURLE_HTTP_RETURNED_ERROR, 404, 0, "h:80");
  EXPECT_EQ(d.error.code, hresult_from_http(404));
  EXPECT_FALSE(d.transient);
}

TEST(ClassifyCurl, WriteErrorsUseTheRecordedErrno) {
  const auto full = classify_curl(CURLE_WRITE_ERROR, 200, ENOSPC, "/data/.f.part");
  EXPECT_EQ(full.error.code, hresult_from_errno(ENOSPC));
  EXPECT_TRUE(full.transient);
  EXPECT_EQ(full.error.context, ErrorContext::LocalFile);
  const auto ro = classify_curl(CURLE_WRITE_ERROR, 200, EROFS, "/data/.f.part");
  EXPECT_EQ(ro.error.code, hresult_from_errno(EROFS));
  EXPECT_FALSE(ro.transient);
}

TEST(ClassifyCurl, TooManyRedirectsIsFatal) {
  const auto c = classify_curl(CURLE_TOO_MANY_REDIRECTS, 302, 0, "h:80");
  EXPECT_EQ(c.error.code, hr::BgEInvalidServerResponse);
  EXPECT_FALSE(c.transient);
}

TEST(ClassifyCurl, UnknownTroubleIsTransient) {
  const auto c = classify_curl(CURLE_SSL_CONNECT_ERROR, 0, 0, "h:443");
  EXPECT_TRUE(c.transient);
  const auto d = classify_curl(CURLE_ABORTED_BY_CALLBACK, 0, 0, "h:443");
  EXPECT_TRUE(d.transient);
  EXPECT_EQ(d.error.code, hr::EFail);
}

TEST(ClassifyCurl, SetUpBugsAreFatal) {
  const auto c = classify_curl(CURLE_BAD_FUNCTION_ARGUMENT, 0, 0, "h:80");
  EXPECT_FALSE(c.transient);
}

TEST(ClassifyLocal, SpaceIsTransientEverythingElseFatal) {
  EXPECT_TRUE(classify_local_errno(ENOSPC, "/x").transient);
  EXPECT_TRUE(classify_local_errno(EDQUOT, "/x").transient);
  for (int e : {EACCES, EPERM, EROFS, EIO, EFBIG}) {
    const auto c = classify_local_errno(e, "/data/x");
    EXPECT_FALSE(c.transient) << e;
    EXPECT_EQ(c.error.code, hresult_from_errno(e));
    EXPECT_EQ(c.error.context, ErrorContext::LocalFile);
    EXPECT_TRUE(contains(c.error.message, "/data/x"));
  }
}

TEST(ClassifySource, MissingAndForbiddenSourcesAreFatal) {
  const auto missing = classify_source_errno(ENOENT, "/src/x");
  EXPECT_EQ(missing.error.code, hresult_from_errno(ENOENT));
  EXPECT_EQ(missing.error.context, ErrorContext::RemoteFile);
  EXPECT_FALSE(missing.transient);
  const auto denied = classify_source_errno(EACCES, "/src/x");
  EXPECT_EQ(denied.error.code, hr::EAccessDenied);
  EXPECT_FALSE(denied.transient);
  EXPECT_TRUE(classify_source_errno(EIO, "/src/x").transient);
}

}  // namespace
}  // namespace bgcopy::transfer
