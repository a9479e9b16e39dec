#include <bgcopy/codes.hpp>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace bgcopy {
namespace {

struct Entry {
  Hresult code;
  std::string_view name;
  std::string_view message;
};

// The table is the single list of named codes; docs/errors.md mirrors it.
constexpr std::array kEntries{
    Entry{hr::SOk, "S_OK", "The operation completed successfully."},
    Entry{hr::SFalse, "S_FALSE", "The operation succeeded but had nothing to do."},
    Entry{hr::BgSPartialComplete, "BG_S_PARTIAL_COMPLETE",
          "Some files were not fully transferred and were dropped when the job was completed."},
    Entry{hr::BgSUnableToDeleteFiles, "BG_S_UNABLE_TO_DELETE_FILES",
          "The job finished, but one or more staging files could not be deleted."},
    Entry{hr::DoEDownloadNoProgress, "DO_E_DOWNLOAD_NO_PROGRESS",
          "The job made no progress within its no-progress timeout."},
    Entry{hr::DoEJobNotFound, "DO_E_JOB_NOT_FOUND",
          "No such job: it never existed, or it was completed or cancelled."},
    Entry{hr::DoEJobEmpty, "DO_E_JOB_EMPTY", "The job has no files to transfer."},
    Entry{hr::DoEInvalidState, "DO_E_INVALID_STATE",
          "The requested action is not allowed in the job's current state."},
    Entry{hr::DoEErrorInformationUnavailable, "DO_E_ERROR_INFORMATION_UNAVAILABLE",
          "No error information: the job is not in the ERROR or TRANSIENT_ERROR state."},
    Entry{hr::DoEHttpCertValidation, "DO_E_HTTP_CERT_VALIDATION",
          "The server's TLS certificate could not be verified."},
    Entry{hr::DoEInvalidRange, "DO_E_INVALID_RANGE", "A requested byte range is not valid."},
    Entry{hr::DoEInsufficientRangeSupport, "DO_E_INSUFFICIENT_RANGE_SUPPORT",
          "The server does not support the byte ranges this transfer needs."},
    Entry{hr::DoEOverlappingRanges, "DO_E_OVERLAPPING_RANGES",
          "The requested byte ranges overlap."},
    Entry{hr::BgEInvalidServerResponse, "BG_E_INVALID_SERVER_RESPONSE",
          "The server's response was not valid for this request."},
    Entry{hr::BgEStringTooLong, "BG_E_STRING_TOO_LONG", "A string is longer than allowed."},
    Entry{hr::BgEConnectFailure, "BG_E_CONNECT_FAILURE", "Could not connect to the server."},
    Entry{hr::BgEConnectionClosed, "BG_E_CONNECTION_CLOSED",
          "The server closed the connection before the transfer finished."},
    Entry{hr::BgEInvalidProxyInfo, "BG_E_INVALID_PROXY_INFO", "The proxy settings are not valid."},
    Entry{hr::BgETooManyJobsPerUser, "BG_E_TOO_MANY_JOBS_PER_USER",
          "The user already has the maximum number of jobs."},
    Entry{hr::BgETooManyFilesInJob, "BG_E_TOO_MANY_FILES_IN_JOB",
          "The job would exceed the maximum number of files."},
    Entry{hr::BgETooManyRangesInFile, "BG_E_TOO_MANY_RANGES_IN_FILE",
          "The file has more byte ranges than allowed."},
    Entry{hr::BgEValidationFailed, "BG_E_VALIDATION_FAILED",
          "The downloaded file does not match its expected SHA-256 checksum."},
    Entry{hr::BgEMaxDownloadTimeout, "BG_E_MAXDOWNLOAD_TIMEOUT",
          "The job did not finish within its maximum download time."},
    Entry{hr::BgERemoteFileChanged, "BG_E_REMOTE_FILE_CHANGED",
          "The file changed on the server; it was downloaded again from the start."},
    Entry{hr::EAccessDenied, "E_ACCESSDENIED", "Access is denied."},
    Entry{hr::EInvalidArg, "E_INVALIDARG", "One or more arguments are not valid."},
    Entry{hr::ENotImpl, "E_NOTIMPL", "Not implemented."},
    Entry{hr::EFail, "E_FAIL", "Unspecified failure."},
    Entry{hr::EHostNotResolved, "BG_E_HOST_NOT_RESOLVED", "The server name could not be resolved."},
};

struct Alias {
  std::string_view alias;
  Hresult code;
};
constexpr std::array kAliases{
    Alias{"DO_E_NOT_FOUND", hr::DoEJobNotFound},
    Alias{"DO_E_EMPTY", hr::DoEJobEmpty},
};

const Entry* find(Hresult code) {
  for (const auto& e : kEntries) {
    if (e.code == code) {
      return &e;
    }
  }
  return nullptr;
}

const char* errno_name(int err) {
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 32)
  return strerrorname_np(err);
#else
  (void)err;
  return nullptr;
#endif
}

}  // namespace

std::string hresult_hex(Hresult code) {
  std::array<char, 16> buf{};
  std::snprintf(buf.data(), buf.size(), "0x%08X", code);
  return buf.data();
}

std::string hresult_name(Hresult code) {
  if (const Entry* e = find(code)) {
    return std::string(e->name);
  }
  if (int status = http_status_of(code); status != 0) {
    return "BG_E_HTTP_ERROR_" + std::to_string(status);
  }
  if (int err = errno_of(code); err != 0) {
    const char* n = errno_name(err);
    return n != nullptr ? std::string("ERRNO_") + n : "ERRNO_" + std::to_string(err);
  }
  return hresult_hex(code);
}

std::string hresult_message(Hresult code) {
  if (const Entry* e = find(code)) {
    return std::string(e->message);
  }
  if (int status = http_status_of(code); status != 0) {
    return "The server answered HTTP " + std::to_string(status) + ".";
  }
  if (int err = errno_of(code); err != 0) {
    return std::string("Local I/O error: ") + std::strerror(err) + ".";
  }
  return "Unknown result code " + hresult_hex(code) + ".";
}

bool hresult_from_name(std::string_view name, Hresult& out) {
  for (const auto& e : kEntries) {
    if (e.name == name) {
      out = e.code;
      return true;
    }
  }
  for (const auto& a : kAliases) {
    if (a.alias == name) {
      out = a.code;
      return true;
    }
  }
  return false;
}

}  // namespace bgcopy
