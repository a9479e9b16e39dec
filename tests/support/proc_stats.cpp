#include "proc_stats.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <unordered_set>

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

std::optional<int> unix_sockets_at(pid_t pid, const std::string& path) {
  // /proc/net/unix: "Num RefCount Protocol Flags Type St Inode Path", one socket per line.
  std::ifstream table("/proc/net/unix");
  if (!table) return std::nullopt;
  std::unordered_set<std::string> inodes;
  std::string line;
  std::getline(table, line);  // the header
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string num, refs, proto, flags, type, st, inode, where;
    if (fields >> num >> refs >> proto >> flags >> type >> st >> inode >> where && where == path) {
      inodes.insert(inode);
    }
  }
  std::error_code ec;
  int n = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end;
       !ec && it != end; it.increment(ec)) {
    std::error_code lec;
    const std::string target = std::filesystem::read_symlink(it->path(), lec).string();
    // "socket:[12345]"
    if (lec || target.rfind("socket:[", 0) != 0 || target.back() != ']') continue;
    if (inodes.count(target.substr(8, target.size() - 9)) != 0) ++n;
  }
  if (ec) return std::nullopt;
  return n;
}

}  // namespace bgcopy::test
