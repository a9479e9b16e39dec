// Names of the public enums (include/bgcopy/types.hpp) as printed and sent on the wire.
#include <bgcopy/types.hpp>

#include <array>
#include <utility>

namespace bgcopy {
namespace {

template <class E>
using NameTable = std::pair<std::string_view, E>;

// Case-insensitive, '-' for '_', so "transient-error" and "Transient_Error" both parse.
bool same_name(std::string_view text, std::string_view name) {
  if (text.size() != name.size()) {
    return false;
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    char a = text[i];
    char b = name[i];
    if (a >= 'a' && a <= 'z') a = static_cast<char>(a - 'a' + 'A');
    if (b >= 'a' && b <= 'z') b = static_cast<char>(b - 'a' + 'A');
    if (a == '-') a = '_';
    if (a != b) {
      return false;
    }
  }
  return true;
}

template <class E, std::size_t N>
bool parse_in(std::string_view text, const std::array<NameTable<E>, N>& table, E& out) {
  for (const auto& [name, value] : table) {
    if (same_name(text, name)) {
      out = value;
      return true;
    }
  }
  return false;
}

template <class E, std::size_t N>
std::string_view name_in(E value, const std::array<NameTable<E>, N>& table) {
  for (const auto& [name, v] : table) {
    if (v == value) {
      return name;
    }
  }
  return "UNKNOWN";
}

constexpr std::array<NameTable<JobState>, 9> kStates{{
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
constexpr std::array<NameTable<JobPriority>, 4> kPriorities{{
    {"FOREGROUND", JobPriority::Foreground},
    {"HIGH", JobPriority::High},
    {"NORMAL", JobPriority::Normal},
    {"LOW", JobPriority::Low},
}};
constexpr std::array<NameTable<JobType>, 3> kTypes{{
    {"DOWNLOAD", JobType::Download},
    {"UPLOAD", JobType::Upload},
    {"UPLOAD_REPLY", JobType::UploadReply},
}};
constexpr std::array<NameTable<ProxyUsage>, 4> kProxyUsages{{
    {"PRECONFIG", ProxyUsage::Preconfig},
    {"NO_PROXY", ProxyUsage::NoProxy},
    {"OVERRIDE", ProxyUsage::Override},
    {"AUTODETECT", ProxyUsage::Autodetect},
}};
constexpr std::array<NameTable<ErrorContext>, 9> kContexts{{
    {"NONE", ErrorContext::None},
    {"UNKNOWN", ErrorContext::Unknown},
    {"GENERAL_QUEUE_MANAGER", ErrorContext::GeneralQueueManager},
    {"QUEUE_MANAGER_NOTIFICATION", ErrorContext::QueueManagerNotification},
    {"LOCAL_FILE", ErrorContext::LocalFile},
    {"REMOTE_FILE", ErrorContext::RemoteFile},
    {"GENERAL_TRANSPORT", ErrorContext::GeneralTransport},
    {"REMOTE_APPLICATION", ErrorContext::RemoteApplication},
    {"SERVER_CERTIFICATE_CALLBACK", ErrorContext::ServerCertificateCallback},
}};
constexpr std::array<NameTable<EventType>, 4> kEventTypes{{
    {"JobTransferred", EventType::JobTransferred},
    {"JobError", EventType::JobError},
    {"JobModification", EventType::JobModification},
    {"FileTransferred", EventType::FileTransferred},
}};

}  // namespace

std::string_view state_name(JobState s) {
  return name_in(s, kStates);
}
std::string_view priority_name(JobPriority p) {
  return name_in(p, kPriorities);
}
std::string_view type_name(JobType t) {
  return name_in(t, kTypes);
}
std::string_view proxy_usage_name(ProxyUsage p) {
  return name_in(p, kProxyUsages);
}
std::string_view context_name(ErrorContext c) {
  return name_in(c, kContexts);
}
std::string_view event_type_name(EventType t) {
  return name_in(t, kEventTypes);
}

bool parse_state(std::string_view text, JobState& out) {
  return parse_in(text, kStates, out);
}
bool parse_priority(std::string_view text, JobPriority& out) {
  return parse_in(text, kPriorities, out);
}
bool parse_type(std::string_view text, JobType& out) {
  return parse_in(text, kTypes, out);
}
bool parse_proxy_usage(std::string_view text, ProxyUsage& out) {
  return parse_in(text, kProxyUsages, out);
}
bool parse_context(std::string_view text, ErrorContext& out) {
  return parse_in(text, kContexts, out);
}
bool parse_event_type(std::string_view text, EventType& out) {
  return parse_in(text, kEventTypes, out);
}

}  // namespace bgcopy
