#include "transfer/rate_limiter.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace bgcopy::transfer {

void RateLimiter::set_rate(std::uint64_t bps, MonoTime now) {
  rate_ = bps;
  last_ = now;
  tokens_ = rate_ == 0 ? 0.0 : quantum();
}

double RateLimiter::quantum() const {
  return std::clamp(static_cast<double>(rate_) / 20.0, 1.0, 64.0 * 1024.0);
}

void RateLimiter::refill(MonoTime now) {
  if (now <= last_) {
    return;
  }
  const double dt = std::chrono::duration<double>(now - last_).count();
  // A burst of at most four quanta (about 200 ms) after an idle period.
  tokens_ = std::min(tokens_ + dt * static_cast<double>(rate_), 4.0 * quantum());
  last_ = now;
}

std::size_t RateLimiter::allowance(std::size_t max_chunk, MonoTime now) {
  if (rate_ == 0) {
    return max_chunk;
  }
  refill(now);
  if (tokens_ < quantum()) {
    return 0;
  }
  return std::min(max_chunk, static_cast<std::size_t>(tokens_));
}

void RateLimiter::consume(std::size_t bytes) {
  if (rate_ != 0) {
    tokens_ -= static_cast<double>(bytes);
  }
}

bool RateLimiter::admit(std::size_t bytes, MonoTime now) {
  if (rate_ == 0) {
    return true;
  }
  refill(now);
  if (tokens_ <= 0) {
    return false;
  }
  tokens_ -= static_cast<double>(bytes);
  return true;
}

Millis RateLimiter::wait(MonoTime now) const {
  if (rate_ == 0) {
    return Millis{0};
  }
  double tokens = tokens_;
  if (now > last_) {
    tokens += std::chrono::duration<double>(now - last_).count() * static_cast<double>(rate_);
  }
  const double need = quantum() - tokens;
  if (need <= 0) {
    return Millis{0};
  }
  return Millis{static_cast<long>(std::ceil(need * 1000.0 / static_cast<double>(rate_)))};
}

}  // namespace bgcopy::transfer
