// Human formatting for the command line: sizes, rates, durations, times, progress bars.
// Pure and locale-independent (integer arithmetic, no printf of floating point, no locale
// facets); times use the process's time zone (TZ), nothing else.
#pragma once

#include <bgcopy/types.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>

namespace bgcopy::cli {

/// IEC units with one decimal from KiB up: "0 B", "1023 B", "1.0 KiB", "1.5 MiB", "16.0 EiB".
std::string format_size(std::uint64_t bytes);
/// format_size per second: "1.2 MiB/s". Negative or non-finite rates print "0 B/s".
std::string format_rate(double bytes_per_second);
/// Time left, as a clock: "0:05", "12:34", "1:02:03"; "--:--" when unknown; ">99h" beyond
/// 99 hours.
std::string format_eta(std::optional<double> seconds);
/// Compact duration with up to two units: "0s", "45s", "10m", "1h30m", "14d", "1d2h".
std::string format_duration(std::uint64_t seconds);
/// "2026-11-24 02:40:57 UTC" in the local time zone (the zone's abbreviation at that time).
std::string format_time(SystemTime t);
/// "524288 / 1048576", or "524288 / UNKNOWN" when the total is not known.
std::string format_count_pair(std::uint64_t done, std::optional<std::uint64_t> total);
/// "45.3%" (rounded down to a tenth, so 100.0% only when done == total); "" when the total is
/// unknown; "100.0%" for a zero total.
std::string format_percent(std::uint64_t done, std::optional<std::uint64_t> total);
/// "[########............]" with `width` cells inside the brackets; all '.' when unknown.
std::string progress_bar(std::uint64_t done, std::optional<std::uint64_t> total, int width);
/// "0x3 (TRANSFERRED|ERROR)", "0x0 (none)".
std::string format_notify_flags(std::uint32_t flags);

/// Transfer rate over a sliding window of samples.
class RateMeter {
 public:
  using Clock = std::chrono::steady_clock;
  RateMeter() = default;
  explicit RateMeter(std::chrono::milliseconds window) : window_(window) {}

  /// Records `bytes` transferred so far at `now`. A smaller count than before (a restart)
  /// clears the history.
  void add(Clock::time_point now, std::uint64_t bytes);
  /// Bytes per second over the window; nullopt until the samples span at least half a second.
  std::optional<double> rate() const;
  /// Seconds to reach `total` at the current rate; nullopt when rate or total is unknown or
  /// the rate is zero.
  std::optional<double> eta(std::optional<std::uint64_t> total) const;

 private:
  std::chrono::milliseconds window_{std::chrono::seconds(5)};
  std::deque<std::pair<Clock::time_point, std::uint64_t>> samples_;
};

}  // namespace bgcopy::cli
