#include "base/time_format.hpp"

#include <gtest/gtest.h>

namespace bgcopy {
namespace {

using namespace std::chrono;

TEST(TimeFormat, FormatsUtcWholeSeconds) {
  WallTime t = sys_days{year{2026} / 11 / 24} + hours(2) + minutes(40) + seconds(57);
  EXPECT_EQ(format_rfc3339(t), "2026-11-24T02:40:57Z");
  EXPECT_EQ(format_rfc3339(t + milliseconds(999)), "2026-11-24T02:40:57Z");  // Truncates.
  EXPECT_EQ(format_rfc3339(WallTime{}), "1970-01-01T00:00:00Z");
}

TEST(TimeFormat, ParsesWhatItFormats) {
  WallTime t = sys_days{year{2030} / 2 / 28} + hours(23) + minutes(59) + seconds(59);
  auto back = parse_rfc3339(format_rfc3339(t));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, t);
  auto leap = parse_rfc3339("2028-02-29T12:00:00Z");
  ASSERT_TRUE(leap.has_value());
  EXPECT_EQ(*leap, sys_days{year{2028} / 2 / 29} + hours(12));
}

TEST(TimeFormat, RejectsOtherText) {
  for (std::string_view bad : {"", "2026-11-24", "2026-11-24T02:40:57", "2026-11-24T02:40:57Zx",
                               "2026-11-24 02:40:57Z", "yesterday"}) {
    EXPECT_FALSE(parse_rfc3339(bad).has_value()) << "accepted: \"" << bad << "\"";
  }
}

// Found by fuzz/json_body: a year outside WallTime's range (64-bit nanoseconds, 1677 to 2262)
// overflowed a signed multiplication in the conversion (undefined behaviour).
TEST(TimeFormat, RejectsTimesWallTimeCannotHold) {
  for (std::string_view bad : {"1013-11-24T02:41:03Z", "1677-09-21T00:12:43Z",
                               "2262-04-11T23:47:17Z", "9999-12-31T23:59:59Z"}) {
    EXPECT_FALSE(parse_rfc3339(bad).has_value()) << "accepted: \"" << bad << "\"";
  }
  // The ends of the range still parse.
  EXPECT_TRUE(parse_rfc3339("1677-09-21T00:12:44Z").has_value());
  EXPECT_TRUE(parse_rfc3339("2262-04-11T23:47:16Z").has_value());
}

}  // namespace
}  // namespace bgcopy
