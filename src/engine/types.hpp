// The job model's vocabulary: states, priorities, types and the records the engine keeps.
// Plain data; no behaviour, no I/O. Numbers match BITS (bits-do-spec section 1.1).
#pragma once

#include "base/clock.hpp"
#include "base/error.hpp"
#include "base/guid.hpp"

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bgcopy::engine {

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

/// Why a job that is not moving is not moving (shown by `info`).
enum class WaitReason : std::uint8_t {
  None = 0,              // moving, or final
  SuspendedByOwner = 1,  // SUSPENDED
  WaitingForSlot = 2,    // QUEUED behind other background jobs
  BackingOff = 3,        // TRANSIENT_ERROR until retry_at
  RetryAfter = 4,        // TRANSIENT_ERROR, the server asked for Retry-After
  NeedsAction = 5,       // ERROR or TRANSFERRED: the application must act
};

std::string_view to_string(JobState s);
std::string_view to_string(JobPriority p);
std::string_view to_string(JobType t);
std::string_view to_string(ProxyUsage p);
std::string_view to_string(WaitReason r);

constexpr bool is_final(JobState s) {
  return s == JobState::Acknowledged || s == JobState::Cancelled;
}
constexpr bool is_active(JobState s) {
  return s == JobState::Queued || s == JobState::Connecting || s == JobState::Transferring;
}

inline constexpr std::uint64_t kLengthToEof = UINT64_MAX;

struct FileRange {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;  // kLengthToEof: to the end of the remote file
  friend bool operator==(const FileRange&, const FileRange&) = default;
};

/// Notification flags (BG_NOTIFY_*).
namespace notify {
inline constexpr std::uint32_t JobTransferred = 0x01;
inline constexpr std::uint32_t JobError = 0x02;
inline constexpr std::uint32_t Disable = 0x04;
inline constexpr std::uint32_t JobModification = 0x08;
inline constexpr std::uint32_t FileTransferred = 0x10;
inline constexpr std::uint32_t All = 0x1F;
inline constexpr std::uint32_t Default = JobTransferred | JobError;
}  // namespace notify

/// What the application asks for when it adds a file.
struct FileSpec {
  std::string remote_url;
  std::string local_path;             // absolute
  std::vector<FileRange> ranges;      // empty: the whole file
  std::optional<std::string> sha256;  // lower-case hex, 64 chars
  friend bool operator==(const FileSpec&, const FileSpec&) = default;
};

/// What identifies one version of a remote file (for If-Range and change detection).
struct Validators {
  std::string etag;           // as sent, quotes included; empty if none
  std::string last_modified;  // the raw Last-Modified header value; empty if none
  friend bool operator==(const Validators&, const Validators&) = default;
};

struct FileRecord {
  FileSpec spec;
  std::string staging_name;  // basename of the staging file, in local_path's directory
  std::optional<std::uint64_t> bytes_total;  // nullopt until known
  std::uint64_t bytes_transferred = 0;       // durable (checkpointed) bytes in the staging file
  bool transferred = false;  // every byte is in the staging file (and verified if sha256 set)
  bool completed = false;    // renamed to local_path by complete
  bool verified = false;     // sha256 given and matched
  Validators validators;
  std::optional<std::int64_t> remote_mtime;  // seconds since epoch, from Last-Modified/file mtime
  std::uint32_t restarts = 0;  // times the file restarted from 0 because the remote changed
  friend bool operator==(const FileRecord&, const FileRecord&) = default;
};

struct ErrorInfo {
  Error error;  // code, context, message, file_index
  friend bool operator==(const ErrorInfo&, const ErrorInfo&) = default;
};

struct JobTimes {
  WallTime created{};
  WallTime modified{};
  std::optional<WallTime> transfer_completed;
  friend bool operator==(const JobTimes&, const JobTimes&) = default;
};

struct ProxySettings {
  ProxyUsage usage = ProxyUsage::Preconfig;
  std::string list;    // space-delimited, only with Override
  std::string bypass;  // space-delimited, only with Override
  friend bool operator==(const ProxySettings&, const ProxySettings&) = default;
};

/// A job's settings that Set* calls change.
struct JobSettings {
  std::string display_name;
  std::string description;
  JobPriority priority = JobPriority::Normal;
  std::uint32_t notify_flags = notify::Default;
  std::vector<std::string> notify_cmdline;  // argv; empty = none
  std::uint32_t min_retry_delay_s = 600;
  std::uint32_t no_progress_timeout_s = 1'209'600;
  std::uint32_t max_download_time_s = 7'776'000;
  ProxySettings proxy;
  bool tls_verify = true;
  friend bool operator==(const JobSettings&, const JobSettings&) = default;
};

/// The whole persisted job. The store saves and loads exactly this.
struct JobRecord {
  JobId id;
  JobType type = JobType::Download;
  uid_t owner = 0;
  JobState state = JobState::Suspended;
  JobSettings settings;
  std::vector<FileRecord> files;
  std::optional<ErrorInfo> error;  // last error; reported only in (TRANSIENT_)ERROR
  std::uint32_t error_count = 0;   // never resets
  JobTimes times;
  std::optional<WallTime> retry_at;           // pending automatic retry (TRANSIENT_ERROR)
  bool retry_after_from_server = false;       // retry_at came from a Retry-After header
  std::optional<WallTime> no_progress_since;  // first transient error with no progress since
  std::uint64_t active_ms = 0;  // time spent CONNECTING/TRANSFERRING since the last resume
  friend bool operator==(const JobRecord&, const JobRecord&) = default;

  std::uint32_t current_file() const;  // index of the first file not yet transferred
  std::uint64_t bytes_transferred() const;
  std::optional<std::uint64_t> bytes_total() const;
  std::uint32_t files_transferred() const;
};

/// Who is calling: the peer's uid from SO_PEERCRED. Root may see and change every job.
struct Caller {
  uid_t uid = 0;
  bool is_root() const { return uid == 0; }
};

}  // namespace bgcopy::engine
