#pragma once

#include <cstdint>

namespace bgcopy::engine {

/// Service-wide settings (bgcopyd.toml). Defaults need no file.
struct EngineConfig {
  std::uint32_t max_background_jobs = 1;    // BITS runs one background job at a time
  std::uint32_t time_slice_s = 300;         // round-robin slice among equal background jobs
  std::uint32_t max_jobs_per_user = 300;    // root exempt
  std::uint32_t max_files_per_job = 1000;   // root exempt
  std::uint32_t max_ranges_per_file = 500;  // root exempt
  std::uint32_t max_display_name = 256;
  std::uint32_t max_description = 1024;
  std::uint32_t max_url_length = 8192;
  std::uint32_t max_path_length = 4096;
  std::uint32_t inactivity_retention_s = 90U * 24 * 3600;  // untouched jobs are cancelled
  std::uint32_t min_retry_delay_floor_s = 5;   // min_retry_delay is clamped to at least this
  std::uint64_t background_bandwidth_bps = 0;  // 0 = unlimited; applies to background jobs only
  std::uint64_t checkpoint_bytes = 1U << 20;   // checkpoint progress every 1 MiB ...
  std::uint32_t checkpoint_ms = 1000;          // ... or every second, whichever first
  std::uint32_t stall_timeout_s = 60;          // no byte for this long: transient timeout
  std::uint32_t connect_timeout_s = 30;
  // A FOREGROUND job without a rate cap lets the transfer fetch up to this many of its next
  // files while the current one runs (0 = one file at a time); the transfer takes only files of
  // at most one checkpoint. Background jobs never do: a background service does not open
  // several connections to someone else's server unasked.
  std::uint32_t files_ahead = 8;
};

}  // namespace bgcopy::engine
