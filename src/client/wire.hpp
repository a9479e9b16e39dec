// The client library's view of the wire schema: request bodies and paths out, answers in.
// A thin layer over proto/json.hpp. It exists as its own translation unit because proto
// speaks the daemon's internal Status/Result (src/base/error.hpp), which must never meet the
// public bgcopy::Status in one translation unit; this header uses only public value types.
#pragma once

#include <bgcopy/codes.hpp>
#include <bgcopy/types.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bgcopy::client::wire {

/// A code and a message: a failed decode, or the error body of a failed call.
struct Failure {
  Hresult code = hr::EFail;
  std::string message;
};
using Outcome = std::optional<Failure>;  // nullopt: success

/// "{C775D194-...}" (upper-case, braces) for a GUID given with or without braces, any case.
std::optional<std::string> canonical_job_id(std::string_view text);

std::string job_path(std::string_view job_id, std::string_view sub = {});
std::string jobs_path(bool all_users);
std::string events_path(std::string_view job_id);
inline constexpr std::string_view kHealthPath = "/v1/health";

/// POST /v1/jobs; with files (and resume) a whole submission in one request.
std::string encode_create(std::string_view display_name, JobType type, JobPriority priority,
                          const std::vector<FileSpec>& files = {}, bool resume = false);
std::string encode_files(const std::vector<FileSpec>& files);
std::string encode_patch(const JobSettingsPatch& patch);

/// Decoders of answers. A body that is not the documented shape gives
/// BG_E_INVALID_SERVER_RESPONSE with proto's message naming the bad field.
struct Health {
  std::string status;
  std::string version;
  int api = 0;
  std::uint32_t uid = 0;
  std::string mode;
};
Outcome decode_health(std::string_view body, Health& out);
Outcome decode_job(std::string_view body, JobInfo& out);
/// Only the canonical "id" of a job answer, without decoding the rest (create, submit and get
/// need nothing else).
Outcome decode_job_id(std::string_view body, std::string& out);
Outcome decode_job_list(std::string_view body, std::vector<JobInfo>& out);
Outcome decode_file_list(std::string_view body, std::vector<FileInfo>& out);
Outcome decode_error_info(std::string_view body, ErrorInfo& out);
Outcome decode_event(std::string_view line, JobEvent& out);
/// {"result": RESULT, "job": job?}
Outcome decode_action(std::string_view body, Hresult& code, std::string& message,
                      std::optional<JobInfo>& job);

/// The failure an HTTP error answer stands for: the code and message of its error body, or,
/// when the body is not an error body, BG_E_INVALID_SERVER_RESPONSE naming the HTTP status.
Failure decode_failure(int http_status, std::string_view body);

/// JSON text of public values, as the API writes them (see <bgcopy/json.hpp>).
std::string dump(const JobInfo& v, int indent);
std::string dump(const std::vector<JobInfo>& v, int indent);
std::string dump(const FileInfo& v, int indent);
std::string dump(const std::vector<FileInfo>& v, int indent);
std::string dump(const ErrorInfo& v, int indent);
std::string dump(const JobEvent& v, int indent);

}  // namespace bgcopy::client::wire
