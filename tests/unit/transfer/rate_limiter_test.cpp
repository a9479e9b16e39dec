#include "transfer/rate_limiter.hpp"

#include <gtest/gtest.h>

namespace bgcopy::transfer {
namespace {

const MonoTime kT0{std::chrono::hours(1)};

TEST(RateLimiter, UnlimitedAlwaysAllowsAFullChunk) {
  RateLimiter r;
  r.set_rate(0, kT0);
  EXPECT_EQ(r.allowance(4096, kT0), 4096U);
  r.consume(4096);
  EXPECT_EQ(r.allowance(4096, kT0), 4096U);
  EXPECT_EQ(r.wait(kT0).count(), 0);
}

TEST(RateLimiter, PacesToTheRate) {
  RateLimiter r;
  r.set_rate(20'000, kT0);  // quantum 1000 bytes (50 ms)
  const auto first = r.allowance(1U << 20, kT0);
  EXPECT_EQ(first, 1000U);
  r.consume(first);
  EXPECT_EQ(r.allowance(1U << 20, kT0), 0U);
  EXPECT_EQ(r.wait(kT0).count(), 50);
  const auto later = kT0 + std::chrono::milliseconds(51);
  EXPECT_GE(r.allowance(1U << 20, later), 1000U);
  EXPECT_LE(r.allowance(1U << 20, later), 1100U);
}

TEST(RateLimiter, AverageRateHoldsOverTime) {
  RateLimiter r;
  r.set_rate(100'000, kT0);
  std::uint64_t total = 0;
  auto now = kT0;
  for (int i = 0; i < 1000; ++i) {  // one second in 1 ms steps
    now += std::chrono::milliseconds(1);
    const auto n = r.allowance(1U << 20, now);
    r.consume(n);
    total += n;
  }
  EXPECT_GE(total, 95'000U);
  EXPECT_LE(total, 125'000U);
}

TEST(RateLimiter, BurstAfterIdleIsBounded) {
  RateLimiter r;
  r.set_rate(20'000, kT0);
  r.consume(r.allowance(1U << 20, kT0));
  const auto n = r.allowance(1U << 20, kT0 + std::chrono::seconds(60));
  EXPECT_LE(n, 4000U);
}

TEST(RateLimiter, TinyRatesStillMove) {
  RateLimiter r;
  r.set_rate(5, kT0);
  EXPECT_EQ(r.allowance(100, kT0), 1U);
  r.consume(1);
  EXPECT_EQ(r.wait(kT0).count(), 200);
}

}  // namespace
}  // namespace bgcopy::transfer
