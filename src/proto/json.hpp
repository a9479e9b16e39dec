// JSON shapes of the socket API (docs/api.md), shared by the service and the client library.
//
// Encoding never fails. Decoding never throws: every from_json returns a Status whose error is
// E_INVALIDARG (or BG_E_STRING_TOO_LONG for an oversized string) with a message naming the bad
// field as a path ("files[2].ranges[0].length: ..."). On error `out` may be partly written.
//
// Request bodies (CreateJobRequest, AddFilesRequest, JobSettingsPatch) are decoded strictly:
// unknown keys are rejected so a misspelt setting is an error rather than a silent no-op.
// Response bodies (JobInfo, FileInfo, ErrorInfo, JobEvent, Health, ...) ignore unknown keys so
// the service can add fields without breaking older clients.
//
// Thread-safety: all functions are reentrant.
#pragma once

#include "base/error.hpp"
#include "proto/api.hpp"
#include <bgcopy/codes.hpp>
#include <bgcopy/types.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bgcopy::proto {

// Insertion-ordered, so answers read in the documented order ("id" first) under curl.
using Json = nlohmann::ordered_json;

/// Body of POST /v1/jobs. With files (and resume) it is a whole submission in one request:
/// create, add the files, resume; all of it or, on any error, no job.
struct CreateJobRequest {
  std::string display_name;
  JobType type = JobType::Download;
  std::optional<JobPriority> priority;  // NORMAL when absent
  std::vector<FileSpec> files;          // added atomically, as POST /v1/jobs/{id}/files
  bool resume = false;                  // then resumed; needs files
  friend bool operator==(const CreateJobRequest&, const CreateJobRequest&) = default;
};

/// Body of POST /v1/jobs/{id}/files (all or none).
struct AddFilesRequest {
  std::vector<FileSpec> files;
  friend bool operator==(const AddFilesRequest&, const AddFilesRequest&) = default;
};

/// Answer of GET /v1/health.
struct Health {
  std::string status = "ok";
  std::string version;
  int api = kApiVersion;
  std::uint32_t uid = 0;  // the caller's uid as the service sees it (SO_PEERCRED)
  std::string mode;       // "user" or "system"
  friend bool operator==(const Health&, const Health&) = default;
};

/// RESULT: the code of a call that succeeded, possibly partially (BG_S_PARTIAL_COMPLETE).
struct CallResult {
  Hresult code = hr::SOk;
  std::string message;
  friend bool operator==(const CallResult&, const CallResult&) = default;
};

/// Answer of the job actions: {"result": RESULT, "job": job}; job absent for cancel/complete.
struct ActionResponse {
  CallResult result;
  std::optional<JobInfo> job;
  friend bool operator==(const ActionResponse&, const ActionResponse&) = default;
};

/// {"jobs": [...]} and {"files": [...]}.
struct JobList {
  std::vector<JobInfo> jobs;
  friend bool operator==(const JobList&, const JobList&) = default;
};
struct FileList {
  std::vector<FileInfo> files;
  friend bool operator==(const FileList&, const FileList&) = default;
};

// --- Text <-> Json -------------------------------------------------------------------------

/// Parses a JSON document. E_INVALIDARG "malformed JSON: ..." on a syntax error, trailing
/// garbage or an empty body.
Result<Json> parse_json(std::string_view text);

/// The value of the string member `key` of the top-level object, read without building a tree
/// (a client that only needs a new job's id should not pay for decoding the whole job).
/// E_INVALIDARG "malformed JSON: ..." as parse_json, or when the document is not an object or
/// has no such string member.
Result<std::string> top_level_string(std::string_view text, std::string_view key);

/// Compact JSON text. Invalid UTF-8 in strings is replaced by U+FFFD rather than failing.
std::string dump(const Json& j);

// --- Encoding ------------------------------------------------------------------------------

Json to_json(const FileRange& v);      // {"offset", "length"}; length null = kLengthToEof
Json to_json(const FileSpec& v);       // {"remote_url", "local_path", "ranges", "sha256"}
Json to_json(const ProxySettings& v);  // {"usage", "list", "bypass"}
Json to_json(const ErrorInfo& v);      // job error: {"code","hex","name","context","message",
                                       //  "file","file_index"}
Json to_json(const FileInfo& v);
Json to_json(const JobInfo& v);
Json to_json(const JobSettingsPatch& v);  // only the fields that are set
Json to_json(const JobEvent& v);          // {"seq","type","job","state","file_index","time"}
Json to_json(const CreateJobRequest& v);
Json to_json(const AddFilesRequest& v);
Json to_json(const Health& v);
Json to_json(const CallResult& v);  // {"code","hex","name","message"}
Json to_json(const ActionResponse& v);
Json to_json(const JobList& v);
Json to_json(const FileList& v);

/// The body of every failed call: {"code","hex","name","message","context","file_index"}.
Json error_body(const Error& e);
Json error_body(Hresult code, std::string_view message,
                ErrorContext context = ErrorContext::GeneralQueueManager);

// --- Decoding ------------------------------------------------------------------------------

Status from_json(const Json& j, FileRange& out);
Status from_json(const Json& j, FileSpec& out);
Status from_json(const Json& j, ProxySettings& out);
/// Accepts both the job error form and the failure body (error_body); "hex" and "name" are
/// ignored, "code" rules.
Status from_json(const Json& j, ErrorInfo& out);
Status from_json(const Json& j, FileInfo& out);
Status from_json(const Json& j, JobInfo& out);
Status from_json(const Json& j, JobSettingsPatch& out);
Status from_json(const Json& j, JobEvent& out);
Status from_json(const Json& j, CreateJobRequest& out);
Status from_json(const Json& j, AddFilesRequest& out);
Status from_json(const Json& j, Health& out);
Status from_json(const Json& j, CallResult& out);
Status from_json(const Json& j, ActionResponse& out);
Status from_json(const Json& j, JobList& out);
Status from_json(const Json& j, FileList& out);

/// parse_json + from_json in one step.
template <class T>
Status decode(std::string_view text, T& out) {
  auto j = parse_json(text);
  if (!j) {
    return std::move(j).error();
  }
  return from_json(*j, out);
}

}  // namespace bgcopy::proto
