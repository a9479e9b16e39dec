// What /proc says about a process: resident memory, open descriptors and threads. Used by
// load and soak tests to show that a long-running bgcopyd does not grow without bound.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace bgcopy::test {

struct ProcStats {
  std::uint64_t rss_bytes = 0;  ///< VmRSS
  std::uint64_t hwm_bytes = 0;  ///< VmHWM: the peak resident set so far
  int threads = 0;
  int open_fds = 0;  ///< entries in /proc/<pid>/fd
};

/// nullopt when the process is gone (or /proc cannot be read).
std::optional<ProcStats> proc_stats(pid_t pid);

/// How many of `pid`'s descriptors are Unix sockets bound to `path`: its listening socket plus
/// one per accepted connection (an accepted socket carries its listener's address in
/// /proc/net/unix). Lets a test ask "are all API connections gone?" without counting the
/// descriptors the transfers open and close meanwhile. nullopt when /proc cannot be read.
std::optional<int> unix_sockets_at(pid_t pid, const std::string& path);

}  // namespace bgcopy::test
