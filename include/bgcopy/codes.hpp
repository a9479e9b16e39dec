// Result codes: HRESULT-style 32-bit values shared by the daemon, the socket API, the client
// library and the command line. Values follow Delivery Optimization where it has one and BITS
// otherwise (SPEC section 2). They are part of the wire protocol: never renumber.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bgcopy {

using Hresult = std::uint32_t;

/// BG_ERROR_CONTEXT: where an error happened. Defined here, beside the codes, so the public
/// types and the service's internal Error share one definition.
enum class ErrorContext : std::uint8_t {
  None = 0,
  Unknown = 1,
  GeneralQueueManager = 2,
  QueueManagerNotification = 3,
  LocalFile = 4,
  RemoteFile = 5,
  GeneralTransport = 6,
  RemoteApplication = 7,
  ServerCertificateCallback = 8,
};

namespace hr {
inline constexpr Hresult SOk = 0x00000000;
inline constexpr Hresult SFalse = 0x00000001;
inline constexpr Hresult BgSPartialComplete = 0x00200017;
inline constexpr Hresult BgSUnableToDeleteFiles = 0x0020001A;

inline constexpr Hresult DoEDownloadNoProgress = 0x80D02002;
inline constexpr Hresult DoEJobNotFound = 0x80D02003;
inline constexpr Hresult DoEJobEmpty = 0x80D02004;
inline constexpr Hresult DoEInvalidState = 0x80D02013;
inline constexpr Hresult DoEErrorInformationUnavailable = 0x80D02014;
inline constexpr Hresult DoEHttpCertValidation = 0x80D05002;
inline constexpr Hresult DoEInvalidRange = 0x80D05010;
inline constexpr Hresult DoEInsufficientRangeSupport = 0x80D05011;
inline constexpr Hresult DoEOverlappingRanges = 0x80D05012;

inline constexpr Hresult BgEInvalidServerResponse = 0x8020001B;
inline constexpr Hresult BgEStringTooLong = 0x80200021;
inline constexpr Hresult BgEConnectFailure = 0x8020002D;
inline constexpr Hresult BgEConnectionClosed = 0x8020002E;
inline constexpr Hresult BgEInvalidProxyInfo = 0x8020003F;
inline constexpr Hresult BgETooManyJobsPerUser = 0x80200049;
inline constexpr Hresult BgETooManyFilesInJob = 0x80200051;
inline constexpr Hresult BgETooManyRangesInFile = 0x80200052;
inline constexpr Hresult BgEValidationFailed = 0x80200053;
inline constexpr Hresult BgEMaxDownloadTimeout = 0x80200054;
inline constexpr Hresult BgERemoteFileChanged = 0x80200073;

inline constexpr Hresult EAccessDenied = 0x80070005;
inline constexpr Hresult EInvalidArg = 0x80070057;
inline constexpr Hresult ENotImpl = 0x80004001;
inline constexpr Hresult EFail = 0x80004005;
inline constexpr Hresult EHostNotResolved = 0x80072EE7;

inline constexpr Hresult HttpBase = 0x80190000;
inline constexpr Hresult ErrnoBase = 0xC0D00000;
}  // namespace hr

/// True for success codes (the high bit is clear), including the BG_S_* partial successes.
constexpr bool succeeded(Hresult code) {
  return (code & 0x80000000U) == 0;
}

/// 0x80190000 + status, as BITS reports HTTP failures (404 -> 0x80190194).
constexpr Hresult hresult_from_http(int status) {
  return hr::HttpBase + static_cast<Hresult>(status & 0xFFFF);
}

/// 0xC0D00000 + errno, as the Linux Delivery Optimization client reports local I/O errors.
constexpr Hresult hresult_from_errno(int err) {
  return hr::ErrnoBase + static_cast<Hresult>(err & 0xFFFF);
}

/// HTTP status carried by a code made by hresult_from_http, or 0.
constexpr int http_status_of(Hresult code) {
  return (code & 0xFFFF0000U) == hr::HttpBase ? static_cast<int>(code & 0xFFFFU) : 0;
}

/// errno carried by a code made by hresult_from_errno, or 0.
constexpr int errno_of(Hresult code) {
  return (code & 0xFFFF0000U) == hr::ErrnoBase ? static_cast<int>(code & 0xFFFFU) : 0;
}

/// Symbolic name: "DO_E_INVALID_STATE", "BG_E_HTTP_ERROR_404", "ERRNO_ENOSPC", or "0x%08X"
/// for a code we do not know. Thread-safe.
std::string hresult_name(Hresult code);

/// One-sentence human description of the code. Thread-safe.
std::string hresult_message(Hresult code);

/// "0x80D02013" (upper-case hex, always eight digits). Thread-safe.
std::string hresult_hex(Hresult code);

/// Parses a symbolic name (or an alias such as DO_E_EMPTY); returns false if unknown.
bool hresult_from_name(std::string_view name, Hresult& out);

}  // namespace bgcopy
