#include "base/error.hpp"
#include <bgcopy/codes.hpp>
#include <bgcopy/types.hpp>

#include <gtest/gtest.h>

#include <cerrno>

namespace bgcopy {
namespace {

TEST(Hresult, HexIsUpperCaseEightDigits) {
  EXPECT_EQ(hresult_hex(hr::SOk), "0x00000000");
  EXPECT_EQ(hresult_hex(hr::DoEInvalidState), "0x80D02013");
  EXPECT_EQ(hresult_hex(0xabcdef12), "0xABCDEF12");
}

TEST(Hresult, NamedCodes) {
  EXPECT_EQ(hresult_name(hr::SOk), "S_OK");
  EXPECT_EQ(hresult_name(hr::DoEInvalidState), "DO_E_INVALID_STATE");
  EXPECT_EQ(hresult_name(hr::DoEJobNotFound), "DO_E_JOB_NOT_FOUND");
  EXPECT_EQ(hresult_name(hr::BgEValidationFailed), "BG_E_VALIDATION_FAILED");
  EXPECT_EQ(hresult_name(hr::BgSPartialComplete), "BG_S_PARTIAL_COMPLETE");
  EXPECT_EQ(hresult_name(hr::EAccessDenied), "E_ACCESSDENIED");
  EXPECT_EQ(hresult_message(hr::DoEJobEmpty), "The job has no files to transfer.");
  EXPECT_FALSE(hresult_message(hr::BgERemoteFileChanged).empty());
}

TEST(Hresult, HttpCodes) {
  const Hresult not_found = hresult_from_http(404);
  EXPECT_EQ(not_found, 0x80190194u);
  EXPECT_EQ(hresult_hex(not_found), "0x80190194");
  EXPECT_EQ(hresult_name(not_found), "BG_E_HTTP_ERROR_404");
  EXPECT_EQ(hresult_message(not_found), "The server answered HTTP 404.");
  EXPECT_EQ(http_status_of(not_found), 404);
  EXPECT_EQ(errno_of(not_found), 0);
  EXPECT_EQ(hresult_name(hresult_from_http(503)), "BG_E_HTTP_ERROR_503");
  EXPECT_EQ(http_status_of(hr::DoEInvalidState), 0);
  EXPECT_FALSE(succeeded(not_found));
}

TEST(Hresult, ErrnoCodes) {
  const Hresult nospc = hresult_from_errno(ENOSPC);
  EXPECT_EQ(nospc, 0xC0D00000u + ENOSPC);
  EXPECT_EQ(hresult_name(nospc), "ERRNO_ENOSPC");
  EXPECT_NE(hresult_message(nospc).find("No space left on device"), std::string::npos)
      << hresult_message(nospc);
  EXPECT_EQ(errno_of(nospc), ENOSPC);
  EXPECT_EQ(http_status_of(nospc), 0);
  EXPECT_FALSE(succeeded(nospc));
  EXPECT_EQ(hresult_name(hresult_from_errno(EACCES)), "ERRNO_EACCES");
}

TEST(Hresult, UnknownCodesFallBackToHex) {
  EXPECT_EQ(hresult_name(0x8BADF00D), "0x8BADF00D");
  EXPECT_NE(hresult_message(0x8BADF00D).find("0x8BADF00D"), std::string::npos);
}

TEST(Hresult, SucceededFollowsTheHighBit) {
  EXPECT_TRUE(succeeded(hr::SOk));
  EXPECT_TRUE(succeeded(hr::SFalse));
  EXPECT_TRUE(succeeded(hr::BgSUnableToDeleteFiles));
  EXPECT_FALSE(succeeded(hr::EFail));
}

TEST(Hresult, FromNameRoundTripsEveryNamedCode) {
  for (Hresult code : {hr::SOk,
                       hr::SFalse,
                       hr::BgSPartialComplete,
                       hr::BgSUnableToDeleteFiles,
                       hr::DoEDownloadNoProgress,
                       hr::DoEJobNotFound,
                       hr::DoEJobEmpty,
                       hr::DoEInvalidState,
                       hr::DoEErrorInformationUnavailable,
                       hr::DoEHttpCertValidation,
                       hr::DoEInvalidRange,
                       hr::DoEInsufficientRangeSupport,
                       hr::DoEOverlappingRanges,
                       hr::BgEInvalidServerResponse,
                       hr::BgEStringTooLong,
                       hr::BgEConnectFailure,
                       hr::BgEConnectionClosed,
                       hr::BgEInvalidProxyInfo,
                       hr::BgETooManyJobsPerUser,
                       hr::BgETooManyFilesInJob,
                       hr::BgETooManyRangesInFile,
                       hr::BgEValidationFailed,
                       hr::BgEMaxDownloadTimeout,
                       hr::BgERemoteFileChanged,
                       hr::EAccessDenied,
                       hr::EInvalidArg,
                       hr::ENotImpl,
                       hr::EFail,
                       hr::EHostNotResolved}) {
    Hresult back = 0xFFFFFFFF;
    EXPECT_TRUE(hresult_from_name(hresult_name(code), back)) << hresult_name(code);
    EXPECT_EQ(back, code) << hresult_name(code);
  }
}

TEST(Hresult, FromNameAcceptsAliases) {
  Hresult out = 0;
  ASSERT_TRUE(hresult_from_name("DO_E_EMPTY", out));
  EXPECT_EQ(out, hr::DoEJobEmpty);
  ASSERT_TRUE(hresult_from_name("DO_E_NOT_FOUND", out));
  EXPECT_EQ(out, hr::DoEJobNotFound);
}

TEST(Hresult, FromNameRejectsUnknownNames) {
  Hresult out = 0x12345678;
  EXPECT_FALSE(hresult_from_name("DO_E_NO_SUCH_THING", out));
  EXPECT_FALSE(hresult_from_name("", out));
  EXPECT_FALSE(hresult_from_name("do_e_invalid_state", out));  // Names are case-sensitive.
  EXPECT_EQ(out, 0x12345678u);                                 // Untouched on failure.
}

TEST(Error, FromErrnoIsALocalFileError) {
  Error e = Error::from_errno(ENOENT, "open /x");
  EXPECT_EQ(e.code, hresult_from_errno(ENOENT));
  EXPECT_EQ(e.context, ErrorContext::LocalFile);
  EXPECT_EQ(e.message, "open /x: No such file or directory");
  EXPECT_EQ(context_name(e.context), "LOCAL_FILE");
}

}  // namespace
}  // namespace bgcopy
