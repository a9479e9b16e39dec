// Token bucket for sources that libcurl does not pace (file://). Reads happen in quanta of about
// 50 ms worth of data so a low rate does not turn into a storm of tiny reads.
#pragma once

#include "base/clock.hpp"

#include <cstddef>
#include <cstdint>

namespace bgcopy::transfer {

class RateLimiter {
 public:
  /// bytes per second; 0 = unlimited.
  void set_rate(std::uint64_t bps, MonoTime now);
  std::uint64_t rate() const { return rate_; }
  /// Bytes that may be read now, at most max_chunk; 0 means wait().
  std::size_t allowance(std::size_t max_chunk, MonoTime now);
  void consume(std::size_t bytes);
  /// Time until allowance() is non-zero (0 when it already is).
  Millis wait(MonoTime now) const;

 private:
  void refill(MonoTime now);
  double quantum() const;

  std::uint64_t rate_ = 0;
  double tokens_ = 0;
  MonoTime last_{};
};

}  // namespace bgcopy::transfer
