// Translation between the engine's records and the public value types the socket API sends.
// The enums share their numbers (both follow BITS), so they convert by value.
#pragma once

#include "engine/engine.hpp"
#include "engine/types.hpp"
#include <bgcopy/types.hpp>

#include <sys/types.h>

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace bgcopy::daemon {

/// uid -> user name through getpwuid_r, cached: listing 100,000 jobs must not hit NSS for each.
/// Thread-safe.
class UserNames {
 public:
  /// The user's name, or the uid as text when the system does not know it.
  std::string name_of(uid_t uid);

 private:
  struct Entry {
    std::string name;
    std::chrono::steady_clock::time_point fetched;
  };
  std::mutex mu_;
  std::unordered_map<uid_t, Entry> cache_;
};

/// The job as the API shows it: wait_reason as text unless moving, error only in an error
/// state, error.file = the local path of the file it concerns.
JobInfo to_public(const engine::JobView& view, std::string owner_name);
FileInfo to_public(const engine::FileRecord& file, std::uint32_t index);
ErrorInfo to_public(const engine::ErrorInfo& error, const std::vector<engine::FileRecord>& files);

engine::FileSpec to_engine(const FileSpec& spec);
engine::SettingsPatch to_engine(const JobSettingsPatch& patch);
engine::JobType to_engine(JobType type);
engine::JobPriority to_engine(JobPriority priority);

JobState to_public(engine::JobState state);
EventType to_public(engine::Event::Kind kind);

}  // namespace bgcopy::daemon
