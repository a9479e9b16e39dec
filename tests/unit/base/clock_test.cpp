#include "base/clock.hpp"

#include <gtest/gtest.h>

namespace bgcopy {
namespace {

using namespace std::chrono;

TEST(ManualClock, StartsAtAFixedInstant) {
  ManualClock clock;
  EXPECT_EQ(clock.wall(), WallTime(sys_days{year{2026} / 1 / 1}));
  ManualClock other;
  EXPECT_EQ(clock.mono(), other.mono());
}

TEST(ManualClock, AdvanceMovesBothFaces) {
  ManualClock clock;
  const MonoTime m0 = clock.mono();
  const WallTime w0 = clock.wall();
  clock.advance(seconds(90));
  EXPECT_EQ(clock.mono() - m0, seconds(90));
  EXPECT_EQ(clock.wall() - w0, seconds(90));
  clock.advance(milliseconds(5));
  EXPECT_EQ(clock.mono() - m0, milliseconds(90005));
  EXPECT_EQ(clock.wall() - w0, milliseconds(90005));
}

TEST(ManualClock, JumpWallLeavesMonotonicTimeAlone) {
  ManualClock clock;
  const MonoTime m0 = clock.mono();
  const WallTime w0 = clock.wall();
  clock.jump_wall(hours(-3));
  EXPECT_EQ(clock.mono(), m0);
  EXPECT_EQ(clock.wall() - w0, hours(-3));
  clock.jump_wall(hours(24));
  EXPECT_EQ(clock.wall() - w0, hours(21));
  EXPECT_EQ(clock.mono(), m0);
}

TEST(ManualClock, UsableThroughTheInterface) {
  ManualClock manual;
  const Clock& clock = manual;
  const MonoTime before = clock.mono();
  manual.advance(seconds(1));
  EXPECT_EQ(clock.mono() - before, seconds(1));
}

TEST(Clock, UnixMillisRoundTrip) {
  WallTime t = sys_days{year{2026} / 1 / 1} + milliseconds(1234);
  EXPECT_EQ(to_unix_ms(t), 1767225601234);
  EXPECT_EQ(from_unix_ms(to_unix_ms(t)), t);
  EXPECT_EQ(to_unix_ms(WallTime{}), 0);
}

TEST(SystemClock, MonotonicNeverGoesBack) {
  SystemClock clock;
  MonoTime a = clock.mono();
  MonoTime b = clock.mono();
  EXPECT_LE(a, b);
}

}  // namespace
}  // namespace bgcopy
