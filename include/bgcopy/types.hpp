// Public value types of the bgcopy client API: the job model as applications see it.
// Plain data, copyable, no hidden state. Numbers match BITS (IBackgroundCopyJob).
#pragma once

#include <bgcopy/codes.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bgcopy {

enum class JobState : std::uint8_t {
  Queued = 0,
  Connecting = 1,
  Transferring = 2,
  Suspended = 3,
  Error = 4,
  TransientError = 5,
  Transferred = 6,
  Acknowledged = 7,
  Cancelled = 8,
};
enum class JobPriority : std::uint8_t { Foreground = 0, High = 1, Normal = 2, Low = 3 };
enum class JobType : std::uint8_t { Download = 0, Upload = 1, UploadReply = 2 };
enum class ProxyUsage : std::uint8_t { Preconfig = 0, NoProxy = 1, Override = 2, Autodetect = 3 };

/// Upper-case names as printed and sent on the wire: "TRANSIENT_ERROR", "NORMAL", ...
std::string_view state_name(JobState s);
std::string_view priority_name(JobPriority p);
std::string_view type_name(JobType t);
std::string_view proxy_usage_name(ProxyUsage p);
std::string_view context_name(ErrorContext c);
/// Case-insensitive; '-' accepted for '_'. Return false if unknown.
bool parse_state(std::string_view text, JobState& out);
bool parse_priority(std::string_view text, JobPriority& out);
bool parse_type(std::string_view text, JobType& out);
bool parse_proxy_usage(std::string_view text, ProxyUsage& out);
bool parse_context(std::string_view text, ErrorContext& out);

using SystemTime = std::chrono::system_clock::time_point;

/// Notification flags (BG_NOTIFY_*).
namespace notify_flag {
inline constexpr std::uint32_t JobTransferred = 0x01;
inline constexpr std::uint32_t JobError = 0x02;
inline constexpr std::uint32_t Disable = 0x04;
inline constexpr std::uint32_t JobModification = 0x08;
inline constexpr std::uint32_t FileTransferred = 0x10;
}  // namespace notify_flag

inline constexpr std::uint64_t kLengthToEof = UINT64_MAX;

struct FileRange {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;  // kLengthToEof: to the end of the remote file
  friend bool operator==(const FileRange&, const FileRange&) = default;
};

/// What add_file / add_file_set take.
struct FileSpec {
  std::string remote_url;
  std::string local_path;
  std::vector<FileRange> ranges;
  std::optional<std::string> sha256;
  friend bool operator==(const FileSpec&, const FileSpec&) = default;
};

/// An error as the service reports it.
struct ErrorInfo {
  Hresult code = 0;
  ErrorContext context = ErrorContext::None;
  std::string message;
  std::optional<std::uint32_t> file_index;
  std::string file;  // local_path of the file it concerns, "" if none (job errors only)
  friend bool operator==(const ErrorInfo&, const ErrorInfo&) = default;
};

struct FileInfo {
  std::uint32_t index = 0;
  std::string remote_url;
  std::string local_path;
  std::vector<FileRange> ranges;
  std::optional<std::string> sha256;
  std::optional<std::uint64_t> bytes_total;  // nullopt while unknown
  std::uint64_t bytes_transferred = 0;
  bool transferred = false;    // all bytes held in the staging file
  bool completed = false;      // renamed to local_path by complete
  bool verified = false;       // a sha256 was given and matched
  std::uint32_t restarts = 0;  // restarted from 0 because the remote changed
  friend bool operator==(const FileInfo&, const FileInfo&) = default;
};

struct ProxySettings {
  ProxyUsage usage = ProxyUsage::Preconfig;
  std::string list;
  std::string bypass;
  friend bool operator==(const ProxySettings&, const ProxySettings&) = default;
};

struct JobInfo {
  std::string id;  // "{8-4-4-4-12}" upper-case
  std::string display_name;
  std::string description;
  JobType type = JobType::Download;
  JobState state = JobState::Suspended;
  JobPriority priority = JobPriority::Normal;
  std::uint32_t owner = 0;  // uid
  std::string owner_name;   // user name, or the uid as text if unknown
  std::optional<std::uint64_t> bytes_total;
  std::uint64_t bytes_transferred = 0;
  std::uint32_t files_total = 0;
  std::uint32_t files_transferred = 0;
  std::uint32_t error_count = 0;
  std::optional<ErrorInfo> error;  // only in ERROR / TRANSIENT_ERROR
  SystemTime created{};
  SystemTime modified{};
  std::optional<SystemTime> transfer_completed;
  std::optional<SystemTime> retry_at;
  std::string wait_reason;  // "" when moving; otherwise why not (human text)
  std::uint32_t notify_flags = 0x3;
  std::vector<std::string> notify_cmdline;
  std::uint32_t min_retry_delay = 600;
  std::uint32_t no_progress_timeout = 1'209'600;
  std::uint32_t max_download_time = 7'776'000;
  ProxySettings proxy;
  bool tls_verify = true;
  std::vector<FileInfo> files;
  friend bool operator==(const JobInfo&, const JobInfo&) = default;
};

/// Settings changed by Job::set (only the fields that are set).
struct JobSettingsPatch {
  std::optional<std::string> display_name;
  std::optional<std::string> description;
  std::optional<JobPriority> priority;
  std::optional<std::uint32_t> notify_flags;
  std::optional<std::vector<std::string>> notify_cmdline;
  std::optional<std::uint32_t> min_retry_delay;
  std::optional<std::uint32_t> no_progress_timeout;
  std::optional<std::uint32_t> max_download_time;
  std::optional<ProxySettings> proxy;
  std::optional<bool> tls_verify;
};

enum class EventType : std::uint8_t {
  JobTransferred = 0,
  JobError = 1,
  JobModification = 2,
  FileTransferred = 3,
};
std::string_view event_type_name(EventType t);
bool parse_event_type(std::string_view text, EventType& out);

struct JobEvent {
  std::uint64_t seq = 0;  // increasing per daemon run; a gap means events were coalesced;
                          // 0: the library's resync after a reconnect (Subscription)
  EventType type = EventType::JobModification;
  std::string job_id;
  JobState state = JobState::Suspended;
  std::optional<std::uint32_t> file_index;
  SystemTime time{};
  friend bool operator==(const JobEvent&, const JobEvent&) = default;
};

}  // namespace bgcopy
