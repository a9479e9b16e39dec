#include "daemon/convert.hpp"

#include <pwd.h>

#include <vector>

namespace bgcopy::daemon {
namespace {

// A renamed or new account shows up within this long.
constexpr auto kNameTtl = std::chrono::minutes(5);

ProxySettings to_public(const engine::ProxySettings& p) {
  return ProxySettings{static_cast<ProxyUsage>(p.usage), p.list, p.bypass};
}
engine::ProxySettings to_engine(const ProxySettings& p) {
  return engine::ProxySettings{static_cast<engine::ProxyUsage>(p.usage), p.list, p.bypass};
}

std::vector<FileRange> to_public(const std::vector<engine::FileRange>& ranges) {
  std::vector<FileRange> out;
  out.reserve(ranges.size());
  for (const auto& r : ranges) out.push_back(FileRange{r.offset, r.length});
  return out;
}

}  // namespace

std::string UserNames::name_of(uid_t uid) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(uid);
    if (it != cache_.end() && now - it->second.fetched < kNameTtl) {
      return it->second.name;
    }
  }
  std::string name = std::to_string(uid);
  struct passwd pw {};
  struct passwd* result = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &result) == 0 && result != nullptr &&
      pw.pw_name != nullptr) {
    name = pw.pw_name;
  }
  std::lock_guard lock(mu_);
  cache_[uid] = Entry{name, now};
  return name;
}

FileInfo to_public(const engine::FileRecord& f, std::uint32_t index) {
  FileInfo out;
  out.index = index;
  out.remote_url = f.spec.remote_url;
  out.local_path = f.spec.local_path;
  out.ranges = to_public(f.spec.ranges);
  out.sha256 = f.spec.sha256;
  out.bytes_total = f.bytes_total;
  out.bytes_transferred = f.bytes_transferred;
  out.transferred = f.transferred;
  out.completed = f.completed;
  out.verified = f.verified;
  out.restarts = f.restarts;
  return out;
}

ErrorInfo to_public(const engine::ErrorInfo& e, const std::vector<engine::FileRecord>& files) {
  ErrorInfo out;
  out.code = e.error.code;
  out.context = e.error.context;
  out.message = e.error.message;
  out.file_index = e.error.file_index;
  if (e.error.file_index && *e.error.file_index < files.size()) {
    out.file = files[*e.error.file_index].spec.local_path;
  }
  return out;
}

JobInfo to_public(const engine::JobView& view, std::string owner_name) {
  const engine::JobRecord& r = view.record;
  JobInfo j;
  j.id = r.id.to_string();
  j.display_name = r.settings.display_name;
  j.description = r.settings.description;
  j.type = static_cast<JobType>(r.type);
  j.state = to_public(r.state);
  j.priority = static_cast<JobPriority>(r.settings.priority);
  j.owner = r.owner;
  j.owner_name = std::move(owner_name);
  j.bytes_total = r.bytes_total();
  j.bytes_transferred = r.bytes_transferred();
  j.files_total = static_cast<std::uint32_t>(r.files.size());
  j.files_transferred = r.files_transferred();
  j.error_count = r.error_count;
  if (r.error &&
      (r.state == engine::JobState::Error || r.state == engine::JobState::TransientError)) {
    j.error = to_public(*r.error, r.files);
  }
  j.created = r.times.created;
  j.modified = r.times.modified;
  j.transfer_completed = r.times.transfer_completed;
  j.retry_at = r.state == engine::JobState::TransientError ? r.retry_at : std::nullopt;
  if (view.wait_reason != engine::WaitReason::None) {
    j.wait_reason = std::string(engine::to_string(view.wait_reason));
  }
  j.notify_flags = r.settings.notify_flags;
  j.notify_cmdline = r.settings.notify_cmdline;
  j.min_retry_delay = r.settings.min_retry_delay_s;
  j.no_progress_timeout = r.settings.no_progress_timeout_s;
  j.max_download_time = r.settings.max_download_time_s;
  j.proxy = to_public(r.settings.proxy);
  j.tls_verify = r.settings.tls_verify;
  j.files.reserve(r.files.size());
  for (std::size_t i = 0; i < r.files.size(); ++i) {
    j.files.push_back(to_public(r.files[i], static_cast<std::uint32_t>(i)));
  }
  return j;
}

engine::FileSpec to_engine(const FileSpec& spec) {
  engine::FileSpec out;
  out.remote_url = spec.remote_url;
  out.local_path = spec.local_path;
  out.ranges.reserve(spec.ranges.size());
  for (const auto& r : spec.ranges) out.ranges.push_back(engine::FileRange{r.offset, r.length});
  out.sha256 = spec.sha256;
  return out;
}

engine::SettingsPatch to_engine(const JobSettingsPatch& p) {
  engine::SettingsPatch out;
  out.display_name = p.display_name;
  out.description = p.description;
  if (p.priority) out.priority = to_engine(*p.priority);
  out.notify_flags = p.notify_flags;
  out.notify_cmdline = p.notify_cmdline;
  out.min_retry_delay_s = p.min_retry_delay;
  out.no_progress_timeout_s = p.no_progress_timeout;
  out.max_download_time_s = p.max_download_time;
  if (p.proxy) out.proxy = to_engine(*p.proxy);
  out.tls_verify = p.tls_verify;
  return out;
}

engine::JobType to_engine(JobType type) {
  return static_cast<engine::JobType>(type);
}
engine::JobPriority to_engine(JobPriority priority) {
  return static_cast<engine::JobPriority>(priority);
}
JobState to_public(engine::JobState state) {
  return static_cast<JobState>(state);
}

EventType to_public(engine::Event::Kind kind) {
  switch (kind) {
    case engine::Event::Kind::JobTransferred:
      return EventType::JobTransferred;
    case engine::Event::Kind::JobError:
      return EventType::JobError;
    case engine::Event::Kind::JobModification:
      return EventType::JobModification;
    case engine::Event::Kind::FileTransferred:
      return EventType::FileTransferred;
  }
  return EventType::JobModification;
}

}  // namespace bgcopy::daemon
