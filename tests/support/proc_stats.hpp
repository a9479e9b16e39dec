// What /proc says about a process: resident memory, open descriptors and threads. Used by
// load and soak tests to show that a long-running bgcopyd does not grow without bound.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace bgcopy::test {

struct ProcStats {
  std::uint64_t rss_bytes = 0;  ///< VmRSS
  std::uint64_t hwm_bytes = 0;  ///< VmHWM: the peak resident set so far
  int threads = 0;
  int open_fds = 0;  ///< entries in /proc/<pid>/fd
};

/// nullopt when the process is gone (or /proc cannot be read).
std::optional<ProcStats> proc_stats(pid_t pid);

}  // namespace bgcopy::test
