#include "client/wire.hpp"
#include <bgcopy/json.hpp>

namespace bgcopy {
inline namespace v0 {
namespace {

template <class T>
std::string guarded_dump(const T& value, int indent) noexcept {
  try {
    return client::wire::dump(value, indent);
  } catch (...) {
    return "null";  // only allocation can fail here, and "null" fits in the small buffer
  }
}

}  // namespace

std::string to_json_string(const JobInfo& job, int indent) noexcept {
  return guarded_dump(job, indent);
}
std::string to_json_string(const std::vector<JobInfo>& jobs, int indent) noexcept {
  return guarded_dump(jobs, indent);
}
std::string to_json_string(const FileInfo& file, int indent) noexcept {
  return guarded_dump(file, indent);
}
std::string to_json_string(const std::vector<FileInfo>& files, int indent) noexcept {
  return guarded_dump(files, indent);
}
std::string to_json_string(const ErrorInfo& error, int indent) noexcept {
  return guarded_dump(error, indent);
}
std::string to_json_string(const JobEvent& event, int indent) noexcept {
  return guarded_dump(event, indent);
}

}  // namespace v0
}  // namespace bgcopy
