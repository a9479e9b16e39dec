#include "cli/format.hpp"

#include <array>
#include <cmath>
#include <ctime>

namespace bgcopy::cli {
namespace {

__extension__ using U128 = unsigned __int128;  // exact products of 64-bit counts

std::string two_digits(std::uint64_t v) {
  std::string s = std::to_string(v);
  return v < 10 ? "0" + s : s;
}

}  // namespace

std::string format_size(std::uint64_t bytes) {
  static constexpr std::array<const char*, 7> kUnits{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) {
    return std::to_string(bytes) + " B";
  }
  std::size_t unit = 0;
  // Tenths of the unit, rounded to nearest, computed without floating point.
  U128 scaled = static_cast<U128>(bytes) * 10;
  U128 div = 1;
  while (unit + 1 < kUnits.size() && bytes / div >= 1024) {
    div *= 1024;
    ++unit;
  }
  auto tenths = static_cast<std::uint64_t>((scaled + div / 2) / div);
  if (tenths >= 10240 && unit + 1 < kUnits.size()) {  // 1023.96 KiB rounds to 1.0 MiB
    div *= 1024;
    ++unit;
    tenths = static_cast<std::uint64_t>((scaled + div / 2) / div);
  }
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " " + kUnits[unit];
}

std::string format_rate(double bytes_per_second) {
  if (!std::isfinite(bytes_per_second) || bytes_per_second < 0) {
    bytes_per_second = 0;
  }
  if (bytes_per_second > 1.8e19) {
    bytes_per_second = 1.8e19;
  }
  return format_size(static_cast<std::uint64_t>(std::llround(bytes_per_second))) + "/s";
}

std::string format_eta(std::optional<double> seconds) {
  if (!seconds || !std::isfinite(*seconds) || *seconds < 0) {
    return "--:--";
  }
  if (*seconds >= 99.0 * 3600) {
    return ">99h";
  }
  const auto s = static_cast<std::uint64_t>(std::ceil(*seconds));
  const std::uint64_t h = s / 3600;
  const std::uint64_t m = (s / 60) % 60;
  const std::uint64_t sec = s % 60;
  if (h > 0) {
    return std::to_string(h) + ":" + two_digits(m) + ":" + two_digits(sec);
  }
  return std::to_string(m) + ":" + two_digits(sec);
}

std::string format_duration(std::uint64_t seconds) {
  struct Unit {
    std::uint64_t size;
    const char* name;
  };
  static constexpr std::array<Unit, 4> kUnits{{{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}}};
  if (seconds == 0) {
    return "0s";
  }
  std::string out;
  int parts = 0;
  for (const auto& u : kUnits) {
    if (parts == 2) {
      break;
    }
    const std::uint64_t n = seconds / u.size;
    if (n > 0) {
      out += std::to_string(n) + u.name;
      seconds -= n * u.size;
      ++parts;
    } else if (parts == 1) {
      break;  // "1d" rather than "1d0h"; keep units adjacent
    }
  }
  return out;
}

std::string format_time(SystemTime t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::system_clock::duration>(t));
  std::tm tm{};
  if (::localtime_r(&tt, &tm) == nullptr) {
    return "?";
  }
  std::array<char, 64> buf{};
  // Only numeric fields and the zone abbreviation: independent of LC_TIME.
  const std::size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%d %H:%M:%S %Z", &tm);
  return std::string(buf.data(), n);
}

std::string format_count_pair(std::uint64_t done, std::optional<std::uint64_t> total) {
  return std::to_string(done) + " / " + (total ? std::to_string(*total) : "UNKNOWN");
}

std::string format_percent(std::uint64_t done, std::optional<std::uint64_t> total) {
  if (!total) {
    return "";
  }
  if (*total == 0 || done >= *total) {
    return done >= *total ? "100.0%" : "0.0%";
  }
  const auto tenths = static_cast<std::uint64_t>(static_cast<U128>(done) * 1000 / *total);
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + "%";
}

std::string progress_bar(std::uint64_t done, std::optional<std::uint64_t> total, int width) {
  if (width < 1) {
    width = 1;
  }
  int filled = 0;
  if (total) {
    filled =
        (*total == 0 || done >= *total)
            ? width
            : static_cast<int>(static_cast<U128>(done) * static_cast<unsigned>(width) / *total);
  }
  std::string bar = "[";
  bar.append(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(width - filled), '.');
  bar += ']';
  return bar;
}

std::string format_notify_flags(std::uint32_t flags) {
  static constexpr std::array<std::pair<std::uint32_t, const char*>, 5> kNames{{
      {notify_flag::JobTransferred, "TRANSFERRED"},
      {notify_flag::JobError, "ERROR"},
      {notify_flag::Disable, "DISABLE"},
      {notify_flag::JobModification, "MODIFICATION"},
      {notify_flag::FileTransferred, "FILE_TRANSFERRED"},
  }};
  static constexpr std::array<char, 17> kHex{"0123456789ABCDEF"};
  std::string hex;
  std::uint32_t v = flags;
  do {
    hex.insert(hex.begin(), kHex[v % 16]);
    v /= 16;
  } while (v != 0);
  std::string names;
  std::uint32_t known = 0;
  for (const auto& [bit, name] : kNames) {
    known |= bit;
    if ((flags & bit) != 0) {
      names += names.empty() ? "" : "|";
      names += name;
    }
  }
  if ((flags & ~known) != 0) {
    names += names.empty() ? "" : "|";
    names += "?";
  }
  return "0x" + hex + " (" + (names.empty() ? "none" : names) + ")";
}

void RateMeter::add(Clock::time_point now, std::uint64_t bytes) {
  if (!samples_.empty() && bytes < samples_.back().second) {
    samples_.clear();
  }
  samples_.emplace_back(now, bytes);
  // Keep one sample older than the window, so the span covers the whole window.
  while (samples_.size() > 2 && now - samples_[1].first >= window_) {
    samples_.pop_front();
  }
}

std::optional<double> RateMeter::rate() const {
  if (samples_.size() < 2) {
    return std::nullopt;
  }
  const auto span = std::chrono::duration<double>(samples_.back().first - samples_.front().first);
  if (span.count() < 0.5) {
    return std::nullopt;
  }
  return static_cast<double>(samples_.back().second - samples_.front().second) / span.count();
}

std::optional<double> RateMeter::eta(std::optional<std::uint64_t> total) const {
  auto r = rate();
  if (!r || !total || *r <= 0 || samples_.empty()) {
    return std::nullopt;
  }
  const std::uint64_t done = samples_.back().second;
  if (done >= *total) {
    return 0.0;
  }
  return static_cast<double>(*total - done) / *r;
}

}  // namespace bgcopy::cli
