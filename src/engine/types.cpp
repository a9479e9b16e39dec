#include "engine/types.hpp"

#include <array>
#include <utility>

namespace bgcopy::engine {
namespace {

template <class E, std::size_t N>
bool parse_enum(std::string_view s, const std::array<std::pair<std::string_view, E>, N>& table,
                E& out) {
  for (const auto& [name, value] : table) {
    if (name.size() != s.size()) continue;
    bool eq = true;
    for (std::size_t i = 0; i < s.size() && eq; ++i) {
      char c = s[i];
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (c == '-') c = '_';
      eq = c == name[i];
    }
    if (eq) {
      out = value;
      return true;
    }
  }
  return false;
}

constexpr std::array<std::pair<std::string_view, JobState>, 9> kStates{{
    {"QUEUED", JobState::Queued},
    {"CONNECTING", JobState::Connecting},
    {"TRANSFERRING", JobState::Transferring},
    {"SUSPENDED", JobState::Suspended},
    {"ERROR", JobState::Error},
    {"TRANSIENT_ERROR", JobState::TransientError},
    {"TRANSFERRED", JobState::Transferred},
    {"ACKNOWLEDGED", JobState::Acknowledged},
    {"CANCELLED", JobState::Cancelled},
}};
constexpr std::array<std::pair<std::string_view, JobPriority>, 4> kPriorities{{
    {"FOREGROUND", JobPriority::Foreground},
    {"HIGH", JobPriority::High},
    {"NORMAL", JobPriority::Normal},
    {"LOW", JobPriority::Low},
}};
constexpr std::array<std::pair<std::string_view, JobType>, 3> kTypes{{
    {"DOWNLOAD", JobType::Download},
    {"UPLOAD", JobType::Upload},
    {"UPLOAD_REPLY", JobType::UploadReply},
}};
constexpr std::array<std::pair<std::string_view, ProxyUsage>, 4> kProxy{{
    {"PRECONFIG", ProxyUsage::Preconfig},
    {"NO_PROXY", ProxyUsage::NoProxy},
    {"OVERRIDE", ProxyUsage::Override},
    {"AUTODETECT", ProxyUsage::Autodetect},
}};

template <class E, std::size_t N>
std::string_view name_of(E v, const std::array<std::pair<std::string_view, E>, N>& table) {
  for (const auto& [name, value] : table) {
    if (value == v) return name;
  }
  return "UNKNOWN";
}

}  // namespace

std::string_view to_string(JobState s) {
  return name_of(s, kStates);
}
std::string_view to_string(JobPriority p) {
  return name_of(p, kPriorities);
}
std::string_view to_string(JobType t) {
  return name_of(t, kTypes);
}
std::string_view to_string(ProxyUsage p) {
  return name_of(p, kProxy);
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

bool parse_state(std::string_view s, JobState& out) {
  return parse_enum(s, kStates, out);
}
bool parse_priority(std::string_view s, JobPriority& out) {
  return parse_enum(s, kPriorities, out);
}
bool parse_type(std::string_view s, JobType& out) {
  return parse_enum(s, kTypes, out);
}
bool parse_proxy_usage(std::string_view s, ProxyUsage& out) {
  return parse_enum(s, kProxy, out);
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
