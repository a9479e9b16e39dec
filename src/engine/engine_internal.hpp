// What the engine's translation units share and nothing else sees: the in-memory job and a few
// helpers. engine.cpp (construction, load, persistence helpers), engine_calls.cpp (the API
// calls), engine_events.cpp (transfer events and the states they lead to) and
// engine_schedule.cpp (scheduler and timers) are one class split by purpose.
#pragma once

#include "engine/engine.hpp"
#include "engine/validate.hpp"

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace bgcopy::engine {

namespace detail {

inline constexpr auto kRetentionCheckEvery = std::chrono::minutes(1);

// BITS's split: text that is not clean (invalid UTF-8, control characters) is E_INVALIDARG,
// clean text over the limit BG_E_STRING_TOO_LONG, for create and set alike.
inline Status check_text(std::string_view text, std::string_view what, std::uint32_t max_chars,
                         bool allow_newlines) {
  if (!is_clean_text(text, std::numeric_limits<std::uint32_t>::max(), allow_newlines)) {
    return Error::make(hr::EInvalidArg, "the " + std::string(what) +
                                            " must be valid UTF-8 without control characters");
  }
  if (!is_clean_text(text, max_chars, allow_newlines)) {
    return Error::make(hr::BgEStringTooLong, "the " + std::string(what) + " is longer than " +
                                                 std::to_string(max_chars) + " characters");
  }
  return {};
}

inline Error not_found(const JobId& id) {
  return Error::make(hr::DoEJobNotFound, "no job " + id.to_string());
}

inline Error invalid_state(const JobRecord& job, std::string_view action) {
  return Error::make(hr::DoEInvalidState, std::string("cannot ") + std::string(action) + " job " +
                                              job.id.to_string() + " in state " +
                                              std::string(to_string(job.state)));
}

inline bool is_background(JobPriority p) {
  return p != JobPriority::Foreground;
}

// CONNECTING or TRANSFERRING: the states whose time counts against max_download_time.
inline bool is_running(JobState s) {
  return s == JobState::Connecting || s == JobState::Transferring;
}

// transfer_id of a job whose every byte is in while some file's sync still runs: the job
// counts as running (the scheduler leaves it alone) until the last Synced makes it
// TRANSFERRED. Real transfer ids count up from 1 and never reach it.
inline constexpr std::uint64_t kAwaitingSync = std::numeric_limits<std::uint64_t>::max();

}  // namespace detail

/// A job plus what only lives in memory while the daemon runs.
struct Engine::Live {
  JobRecord rec;
  // Per file: bytes known durable (synced) in the staging file. rec.files[i].bytes_transferred
  // holds the live count for display; the store only ever receives durable counts.
  std::vector<std::uint64_t> durable;
  std::uint64_t transfer_id = 0;  // nonzero while a transfer runs (or kAwaitingSync)
  // Files whose FileDone came before their final sync (index -> that transfer's id): counted
  // transferred in memory, recorded as their last checkpoint until Synced arrives.
  std::unordered_map<std::uint32_t, std::uint64_t> syncing;
  std::uint64_t queue_seq = 0;  // round-robin order among equal background jobs
  std::optional<MonoTime> retry_due;
  std::optional<MonoTime> no_progress_due;
  std::optional<MonoTime> run_started;    // entered CONNECTING (for max download time)
  std::optional<MonoTime> slice_started;  // background time slice
  // rec.times.modified on the monotonic clock, for inactivity retention: a wall-clock jump
  // must not cancel (or immortalise) jobs.
  MonoTime touched{};
};

}  // namespace bgcopy::engine
