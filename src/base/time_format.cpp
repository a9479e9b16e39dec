#include "base/time_format.hpp"

#include <ctime>

namespace bgcopy {

std::string format_rfc3339(WallTime t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<WallTime> parse_rfc3339(std::string_view text) {
  std::tm tm{};
  std::string s(text);
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (end == nullptr || *end != '\0') {
    return std::nullopt;
  }
  // WallTime counts nanoseconds in 64 bits (years 1677 to 2262); converting a time outside that
  // would overflow, and the text comes from outside (API answers, the store).
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  constexpr auto kMin = duration_cast<seconds>(WallTime::duration::min()).count();
  constexpr auto kMax = duration_cast<seconds>(WallTime::duration::max()).count();
  const std::time_t secs = timegm(&tm);
  if (secs < kMin || secs > kMax) {
    return std::nullopt;
  }
  return std::chrono::system_clock::from_time_t(secs);
}

}  // namespace bgcopy
