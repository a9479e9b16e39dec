// bgcopyd.toml: the service-wide settings (limits, bandwidth, concurrency, retention, logging).
// Every key is optional; defaults need no file. Unknown keys and bad values are errors that
// name the file, the line and the key, so a typo never silently falls back to a default.
//
//   log_level = "info"            # trace, debug, info, warn, error, off
//
//   [scheduler]
//   max_background_jobs = 1       # background jobs transferring at once (1..1024)
//   time_slice = 300              # seconds of round-robin among equal background jobs
//
//   [limits]                      # root is exempt from the three count limits
//   jobs_per_user = 300
//   files_per_job = 1000
//   ranges_per_file = 500
//   display_name = 256            # characters, at most 256
//   description = 1024            # characters, at most 1024
//
//   [retention]
//   inactive_days = 90            # untouched jobs are cancelled; 0 = never
//
//   [bandwidth]
//   background = 0                # bytes/s for background jobs, or "8MiB", "512K"; 0 = unlimited
//
//   [transfer]
//   checkpoint_bytes = "1MiB"     # progress is made durable every this many bytes ...
//   checkpoint_ms = 1000          # ... or this often, whichever comes first
//   stall_timeout = 60            # seconds without a byte: transient error
//   connect_timeout = 30          # seconds
//   connections_per_file = 1      # 1..16 connections per http(s) file; > 1 splits large files
//   segment_min_size = "4MiB"     # files with less than twice this left are never split
//
//   [api]
//   request_timeout = 30          # seconds to receive one whole request; idle keep-alive too
//   max_connections = 256         # simultaneous API connections; beyond it new ones are closed
#pragma once

#include "base/error.hpp"
#include "base/log.hpp"
#include "engine/config.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace bgcopy::daemon {

struct ApiLimits {
  std::uint32_t request_timeout_s = 30;
  std::uint32_t max_connections = 256;
  std::uint32_t max_connections_per_user = 64;  // root exempt (held to max_connections)
  std::uint32_t write_timeout_s = 30;           // to send one response or event chunk
};

/// Segmented downloads ([transfer]): handed to transfer::CurlTransfer.
struct TransferTuning {
  std::uint32_t connections_per_file = 1;  // polite by default: one connection per file
  std::uint64_t segment_min_size = std::uint64_t{4} << 20;
};

struct DaemonConfig {
  engine::EngineConfig engine;
  TransferTuning transfer;
  ApiLimits api;
  std::optional<log::Level> log_level;  // unset: the command line's or the default
};

/// Parses TOML text; `source` names it in messages ("/etc/bgcopy/bgcopyd.toml:12: ...").
/// Errors: E_INVALIDARG with file:line and the key for syntax errors, unknown keys, wrong types
/// and out-of-range values.
Result<DaemonConfig> parse_config(std::string_view text, const std::string& source);

/// Reads and parses the file. A missing file yields the defaults unless must_exist.
/// Errors: as parse_config, plus 0xC0D00000 + errno when the file cannot be read.
Result<DaemonConfig> load_config(const std::string& path, bool must_exist);

/// "8MiB" -> 8388608; "512K" = "512KiB"; "10MB" = 10,000,000; plain digits are bytes.
std::optional<std::uint64_t> parse_byte_size(std::string_view text);

}  // namespace bgcopy::daemon
