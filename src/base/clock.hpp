// Time, injected. The engine reads time only through Clock so tests drive it by hand.
#pragma once

#include <chrono>
#include <cstdint>

namespace bgcopy {

/// Monotonic instant: timers (retry, no-progress, time slices) use it, so changing the wall
/// clock neither shortens nor lengthens them.
using MonoTime = std::chrono::steady_clock::time_point;
/// Wall-clock instant, for what users see (created, modified, retry_at) and for what must
/// survive a restart.
using WallTime = std::chrono::system_clock::time_point;
using Seconds = std::chrono::seconds;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoTime mono() const = 0;
  virtual WallTime wall() const = 0;
};

class SystemClock final : public Clock {
 public:
  MonoTime mono() const override { return std::chrono::steady_clock::now(); }
  WallTime wall() const override { return std::chrono::system_clock::now(); }
};

/// A clock that moves only when told to. Both faces advance together.
class ManualClock final : public Clock {
 public:
  ManualClock() : wall_(std::chrono::sys_days{std::chrono::year{2026} / 1 / 1}) {}
  MonoTime mono() const override { return mono_; }
  WallTime wall() const override { return wall_; }
  void advance(std::chrono::nanoseconds d) {
    mono_ += d;
    wall_ += std::chrono::duration_cast<WallTime::duration>(d);
  }
  /// Moves only the wall clock, as an administrator or NTP would.
  void jump_wall(std::chrono::nanoseconds d) {
    wall_ += std::chrono::duration_cast<WallTime::duration>(d);
  }

 private:
  MonoTime mono_{std::chrono::hours(1)};
  WallTime wall_;
};

/// Milliseconds since the Unix epoch, the store's representation of wall time.
inline std::int64_t to_unix_ms(WallTime t) {
  return std::chrono::duration_cast<Millis>(t.time_since_epoch()).count();
}
inline WallTime from_unix_ms(std::int64_t ms) {
  return WallTime{Millis{ms}};
}

}  // namespace bgcopy
