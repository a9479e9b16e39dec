#include "client/wire.hpp"

#include "base/guid.hpp"
#include "proto/api.hpp"
#include "proto/json.hpp"

#include <utility>

namespace bgcopy::client::wire {
namespace {

Failure bad_answer(std::string_view what, const Error& e) {
  std::string message = "invalid answer from bgcopyd (";
  message += what;
  message += "): ";
  message += e.message;
  return Failure{hr::BgEInvalidServerResponse, std::move(message)};
}

template <class T>
Outcome decode_as(std::string_view body, std::string_view what, T& out) {
  auto status = proto::decode(body, out);
  if (!status) {
    return bad_answer(what, status.error());
  }
  return std::nullopt;
}

std::string text(const proto::Json& j, int indent) {
  return j.dump(indent < 0 ? -1 : indent, ' ', false, proto::Json::error_handler_t::replace);
}

}  // namespace

std::optional<std::string> canonical_job_id(std::string_view text) {
  auto id = JobId::parse(text);
  if (!id) {
    return std::nullopt;
  }
  return id->to_string();
}

std::string job_path(std::string_view job_id, std::string_view sub) {
  return proto::job_path(job_id, sub);
}

std::string jobs_path(bool all_users) {
  std::string path(proto::route::kJobs);
  if (all_users) {
    path += '?';
    path += proto::route::kAllUsersParam;
    path += "=1";
  }
  return path;
}

std::string events_path(std::string_view job_id) {
  return proto::events_path(job_id);
}

std::string encode_create(std::string_view display_name, JobType type, JobPriority priority,
                          const std::vector<FileSpec>& files, bool resume) {
  proto::CreateJobRequest req;
  req.display_name = std::string(display_name);
  req.type = type;
  req.priority = priority;
  req.files = files;
  req.resume = resume;
  return proto::dump(proto::to_json(req));
}

std::string encode_files(const std::vector<FileSpec>& files) {
  proto::AddFilesRequest req;
  req.files = files;
  return proto::dump(proto::to_json(req));
}

std::string encode_patch(const JobSettingsPatch& patch) {
  return proto::dump(proto::to_json(patch));
}

Outcome decode_health(std::string_view body, Health& out) {
  proto::Health h;
  if (auto failed = decode_as(body, "health", h)) {
    return failed;
  }
  out = Health{h.status, h.version, h.api, h.uid, h.mode};
  return std::nullopt;
}

Outcome decode_job(std::string_view body, JobInfo& out) {
  return decode_as(body, "job", out);
}

Outcome decode_job_id(std::string_view body, std::string& out) {
  auto id = proto::top_level_string(body, "id");
  if (!id) {
    return bad_answer("job", id.error());
  }
  auto canonical = canonical_job_id(*id);
  if (!canonical || *canonical != *id) {
    return bad_answer("job", Error::make(hr::EInvalidArg, "\"id\" is not a job id: " + *id));
  }
  out = std::move(*id);
  return std::nullopt;
}

Outcome decode_job_list(std::string_view body, std::vector<JobInfo>& out) {
  proto::JobList list;
  if (auto failed = decode_as(body, "job list", list)) {
    return failed;
  }
  out = std::move(list.jobs);
  return std::nullopt;
}

Outcome decode_file_list(std::string_view body, std::vector<FileInfo>& out) {
  proto::FileList list;
  if (auto failed = decode_as(body, "file list", list)) {
    return failed;
  }
  out = std::move(list.files);
  return std::nullopt;
}

Outcome decode_error_info(std::string_view body, ErrorInfo& out) {
  return decode_as(body, "job error", out);
}

Outcome decode_event(std::string_view line, JobEvent& out) {
  return decode_as(line, "event", out);
}

Outcome decode_action(std::string_view body, Hresult& code, std::string& message,
                      std::optional<JobInfo>& job) {
  proto::ActionResponse res;
  if (auto failed = decode_as(body, "action result", res)) {
    return failed;
  }
  code = res.result.code;
  message = std::move(res.result.message);
  job = std::move(res.job);
  return std::nullopt;
}

Failure decode_failure(int http_status, std::string_view body) {
  auto parsed = proto::parse_json(body);
  if (parsed && parsed->is_object() && parsed->contains("code")) {
    ErrorInfo info;
    if (proto::from_json(*parsed, info) && !succeeded(info.code)) {
      return Failure{info.code, std::move(info.message)};
    }
  }
  return Failure{
      hr::BgEInvalidServerResponse,
      "bgcopyd answered HTTP " + std::to_string(http_status) + " without a readable error body"};
}

std::string dump(const JobInfo& v, int indent) {
  return text(proto::to_json(v), indent);
}

std::string dump(const std::vector<JobInfo>& v, int indent) {
  proto::Json a = proto::Json::array();
  for (const auto& job : v) {
    a.push_back(proto::to_json(job));
  }
  return text(a, indent);
}

std::string dump(const FileInfo& v, int indent) {
  return text(proto::to_json(v), indent);
}

std::string dump(const std::vector<FileInfo>& v, int indent) {
  proto::Json a = proto::Json::array();
  for (const auto& file : v) {
    a.push_back(proto::to_json(file));
  }
  return text(a, indent);
}

std::string dump(const ErrorInfo& v, int indent) {
  return text(proto::to_json(v), indent);
}
std::string dump(const JobEvent& v, int indent) {
  return text(proto::to_json(v), indent);
}

}  // namespace bgcopy::client::wire
