// Token bucket pacing received bytes. libcurl's CURLOPT_MAX_RECV_SPEED_LARGE only holds the
// average: it reads everything the socket has (megabytes on a fast link) and then waits, so a
// "background" transfer would still saturate the link in bursts. This bucket refills about every
// 50 ms and holds at most ~200 ms worth of data, so the rate is held at that granularity:
// file:// reads are sized from it, and HTTP bodies are paused from the write callback while it
// is empty.
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
  /// For data that arrives in chunks of the sender's choosing: takes the whole chunk (the bucket
  /// may go negative) if any token is left, else returns false and the caller pauses.
  bool admit(std::size_t bytes, MonoTime now);
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
