#include "engine/types.hpp"

#include <bgcopy/types.hpp>

namespace bgcopy::engine {

// The engine's enums mirror the public ones value for value; the names live in one table
// (src/base/enum_names.cpp) shared with the wire and the command line.
static_assert(static_cast<int>(JobState::Cancelled) ==
              static_cast<int>(bgcopy::JobState::Cancelled));
static_assert(static_cast<int>(JobState::TransientError) ==
              static_cast<int>(bgcopy::JobState::TransientError));
static_assert(static_cast<int>(JobPriority::Low) == static_cast<int>(bgcopy::JobPriority::Low));
static_assert(static_cast<int>(JobType::UploadReply) ==
              static_cast<int>(bgcopy::JobType::UploadReply));
static_assert(static_cast<int>(ProxyUsage::Autodetect) ==
              static_cast<int>(bgcopy::ProxyUsage::Autodetect));

std::string_view to_string(JobState s) {
  return bgcopy::state_name(static_cast<bgcopy::JobState>(s));
}
std::string_view to_string(JobPriority p) {
  return bgcopy::priority_name(static_cast<bgcopy::JobPriority>(p));
}
std::string_view to_string(JobType t) {
  return bgcopy::type_name(static_cast<bgcopy::JobType>(t));
}
std::string_view to_string(ProxyUsage p) {
  return bgcopy::proxy_usage_name(static_cast<bgcopy::ProxyUsage>(p));
}

std::string_view to_string(WaitReason r) {
  switch (r) {
    case WaitReason::None:
      return "none";
    case WaitReason::SuspendedByOwner:
      return "suspended by the owner";
    case WaitReason::WaitingForSlot:
      return "waiting for a background transfer slot";
    case WaitReason::BackingOff:
      return "backing off after an error";
    case WaitReason::RetryAfter:
      return "the server asked to retry later (Retry-After)";
    case WaitReason::NeedsAction:
      return "waiting for the application";
  }
  return "none";
}

std::uint32_t JobRecord::current_file() const {
  for (std::uint32_t i = 0; i < files.size(); ++i) {
    if (!files[i].transferred) return i;
  }
  return static_cast<std::uint32_t>(files.size());
}

std::uint64_t JobRecord::bytes_transferred() const {
  std::uint64_t sum = 0;
  for (const auto& f : files) sum += f.bytes_transferred;
  return sum;
}

std::optional<std::uint64_t> JobRecord::bytes_total() const {
  std::uint64_t sum = 0;
  for (const auto& f : files) {
    if (!f.bytes_total) return std::nullopt;
    sum += *f.bytes_total;
  }
  return sum;
}

std::uint32_t JobRecord::files_transferred() const {
  std::uint32_t n = 0;
  for (const auto& f : files) n += f.transferred ? 1 : 0;
  return n;
}

}  // namespace bgcopy::engine
