#include "proc_stats.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

namespace bgcopy::test {

std::optional<ProcStats> proc_stats(pid_t pid) {
  const std::string base = "/proc/" + std::to_string(pid);
  std::ifstream status(base + "/status");
  if (!status) return std::nullopt;
  ProcStats out;
  bool seen_rss = false;
  std::string line;
  while (std::getline(status, line)) {
    std::istringstream fields(line);
    std::string key;
    std::uint64_t value = 0;
    fields >> key >> value;
    // Values of Vm* lines are in kB (KiB) regardless of the unit's spelling.
    if (key == "VmRSS:") {
      out.rss_bytes = value * 1024;
      seen_rss = true;
    } else if (key == "VmHWM:") {
      out.hwm_bytes = value * 1024;
    } else if (key == "Threads:") {
      out.threads = static_cast<int>(value);
    }
  }
  if (!seen_rss) return std::nullopt;  // a zombie has no VmRSS line
  std::error_code ec;
  for (std::filesystem::directory_iterator it(base + "/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++out.open_fds;
  }
  return out;
}

}  // namespace bgcopy::test
