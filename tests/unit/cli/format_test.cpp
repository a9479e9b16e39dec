// Human formatting (src/cli/format.hpp): sizes, rates, ETA, durations, times, bars.
#include "cli/format.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

namespace bgcopy::cli {
namespace {

using namespace std::chrono_literals;

TEST(FormatSize, IecUnitsOneDecimal) {
  EXPECT_EQ(format_size(0), "0 B");
  EXPECT_EQ(format_size(1), "1 B");
  EXPECT_EQ(format_size(1023), "1023 B");
  EXPECT_EQ(format_size(1024), "1.0 KiB");
  EXPECT_EQ(format_size(1536), "1.5 KiB");
  EXPECT_EQ(format_size(1048576), "1.0 MiB");
  EXPECT_EQ(format_size(1048575), "1.0 MiB");  // 1023.999 KiB rounds up into the next unit
  EXPECT_EQ(format_size(5ULL * 1024 * 1024 * 1024 + 512ULL * 1024 * 1024), "5.5 GiB");
  EXPECT_EQ(format_size(UINT64_MAX), "16.0 EiB");
}

TEST(FormatRate, PerSecond) {
  EXPECT_EQ(format_rate(0), "0 B/s");
  EXPECT_EQ(format_rate(1258291.2), "1.2 MiB/s");
  EXPECT_EQ(format_rate(-5), "0 B/s");
  EXPECT_EQ(format_rate(1.0 / 0.0), "0 B/s");
}

TEST(FormatEta, Clock) {
  EXPECT_EQ(format_eta(std::nullopt), "--:--");
  EXPECT_EQ(format_eta(0.0), "0:00");
  EXPECT_EQ(format_eta(4.2), "0:05");  // rounded up: never promise too early
  EXPECT_EQ(format_eta(754.0), "12:34");
  EXPECT_EQ(format_eta(3723.0), "1:02:03");
  EXPECT_EQ(format_eta(100.0 * 3600), ">99h");
  EXPECT_EQ(format_eta(-1.0), "--:--");
}

TEST(FormatDuration, TwoUnitsAtMost) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(45), "45s");
  EXPECT_EQ(format_duration(600), "10m");
  EXPECT_EQ(format_duration(5400), "1h30m");
  EXPECT_EQ(format_duration(1209600), "14d");
  EXPECT_EQ(format_duration(93600), "1d2h");
  EXPECT_EQ(format_duration(86401), "1d");
  EXPECT_EQ(format_duration(3661), "1h1m");
}

TEST(FormatTime, LocalZone) {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  const SystemTime t = std::chrono::sys_days{std::chrono::year{2026} / 11 / 24} + 2h + 40min + 57s;
  EXPECT_EQ(format_time(t), "2026-11-24 02:40:57 UTC");
  ::setenv("TZ", "EST5", 1);
  ::tzset();
  EXPECT_EQ(format_time(t), "2026-11-23 21:40:57 EST");
  ::setenv("TZ", "UTC", 1);
  ::tzset();
}

TEST(FormatCounts, PairsAndPercent) {
  EXPECT_EQ(format_count_pair(5, 10), "5 / 10");
  EXPECT_EQ(format_count_pair(5, std::nullopt), "5 / UNKNOWN");
  EXPECT_EQ(format_percent(1, 3), "33.3%");
  EXPECT_EQ(format_percent(999, 1000), "99.9%");
  EXPECT_EQ(format_percent(9999, 10000), "99.9%");  // never 100% before the end
  EXPECT_EQ(format_percent(10, 10), "100.0%");
  EXPECT_EQ(format_percent(0, 0), "100.0%");
  EXPECT_EQ(format_percent(5, std::nullopt), "");
  EXPECT_EQ(format_percent(UINT64_MAX / 2, UINT64_MAX), "49.9%");
}

TEST(ProgressBar, Cells) {
  EXPECT_EQ(progress_bar(0, 100, 10), "[..........]");
  EXPECT_EQ(progress_bar(50, 100, 10), "[#####.....]");
  EXPECT_EQ(progress_bar(99, 100, 10), "[#########.]");
  EXPECT_EQ(progress_bar(100, 100, 10), "[##########]");
  EXPECT_EQ(progress_bar(7, std::nullopt, 4), "[....]");
  EXPECT_EQ(progress_bar(0, 0, 4), "[####]");
}

TEST(NotifyFlags, Names) {
  EXPECT_EQ(format_notify_flags(3), "0x3 (TRANSFERRED|ERROR)");
  EXPECT_EQ(format_notify_flags(0), "0x0 (none)");
  EXPECT_EQ(format_notify_flags(0x1F),
            "0x1F (TRANSFERRED|ERROR|DISABLE|MODIFICATION|FILE_TRANSFERRED)");
  EXPECT_EQ(format_notify_flags(0x41), "0x41 (TRANSFERRED|?)");
}

TEST(RateMeter, RateAndEtaOverTheWindow) {
  RateMeter m(5s);
  const auto t0 = RateMeter::Clock::time_point{} + 1h;
  EXPECT_FALSE(m.rate());
  m.add(t0, 0);
  m.add(t0 + 200ms, 100);
  EXPECT_FALSE(m.rate()) << "under half a second is too short to measure";
  m.add(t0 + 1s, 1000);
  ASSERT_TRUE(m.rate());
  EXPECT_DOUBLE_EQ(*m.rate(), 1000.0);
  ASSERT_TRUE(m.eta(5000));
  EXPECT_DOUBLE_EQ(*m.eta(5000), 4.0);
  EXPECT_FALSE(m.eta(std::nullopt));
  // Old samples leave the window: the rate follows the recent speed.
  m.add(t0 + 10s, 1000);
  m.add(t0 + 11s, 1000);
  ASSERT_TRUE(m.rate());
  EXPECT_DOUBLE_EQ(*m.rate(), 0.0);
  EXPECT_FALSE(m.eta(5000)) << "no ETA at zero speed";
}

TEST(RateMeter, RestartClearsHistory) {
  RateMeter m;
  const auto t0 = RateMeter::Clock::time_point{} + 1h;
  m.add(t0, 0);
  m.add(t0 + 1s, 5000);
  ASSERT_TRUE(m.rate());
  m.add(t0 + 2s, 10);  // the file restarted from 0
  EXPECT_FALSE(m.rate());
}

}  // namespace
}  // namespace bgcopy::cli
