#include "daemon/config.hpp"

#include <gtest/gtest.h>

namespace bgcopy::daemon {
namespace {

TEST(DaemonConfigTest, EmptyTextGivesTheDefaults) {
  auto c = parse_config("", "x.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->engine.max_background_jobs, engine::EngineConfig{}.max_background_jobs);
  EXPECT_EQ(c->engine.checkpoint_bytes, engine::EngineConfig{}.checkpoint_bytes);
  EXPECT_EQ(c->api.max_connections, 256U);
  EXPECT_FALSE(c->log_level.has_value());
}

TEST(DaemonConfigTest, EveryKeyMapsOntoTheEngineConfig) {
  auto c = parse_config(R"(
log_level = "debug"
[scheduler]
max_background_jobs = 4
time_slice = 60
[limits]
jobs_per_user = 10
files_per_job = 20
ranges_per_file = 30
display_name = 100
description = 200
[retention]
inactive_days = 7
[bandwidth]
background = "8MiB"
[transfer]
checkpoint_bytes = 65536
checkpoint_ms = 250
stall_timeout = 15
connect_timeout = 5
[api]
request_timeout = 9
max_connections = 12
)",
                        "bgcopyd.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const auto& e = c->engine;
  EXPECT_EQ(c->log_level, log::Level::Debug);
  EXPECT_EQ(e.max_background_jobs, 4U);
  EXPECT_EQ(e.time_slice_s, 60U);
  EXPECT_EQ(e.max_jobs_per_user, 10U);
  EXPECT_EQ(e.max_files_per_job, 20U);
  EXPECT_EQ(e.max_ranges_per_file, 30U);
  EXPECT_EQ(e.max_display_name, 100U);
  EXPECT_EQ(e.max_description, 200U);
  EXPECT_EQ(e.inactivity_retention_s, 7U * 86400);
  EXPECT_EQ(e.background_bandwidth_bps, 8U << 20);
  EXPECT_EQ(e.checkpoint_bytes, 65536U);
  EXPECT_EQ(e.checkpoint_ms, 250U);
  EXPECT_EQ(e.stall_timeout_s, 15U);
  EXPECT_EQ(e.connect_timeout_s, 5U);
  EXPECT_EQ(c->api.request_timeout_s, 9U);
  EXPECT_EQ(c->api.max_connections, 12U);
}

struct Bad {
  const char* text;
  const char* needle;
};

TEST(DaemonConfigTest, ErrorsNameFileLineAndKey) {
  const Bad cases[] = {
      {"[limits]\njobs_per_usr = 3\n", "cfg.toml:2: unknown key \"limits.jobs_per_usr\""},
      {"colour = 1\n", "cfg.toml:1: unknown key \"colour\""},
      {"[nonsense]\nx = 1\n", "unknown section [nonsense]"},
      {"[limits]\njobs_per_user = 0\n", "cfg.toml:2: limits.jobs_per_user: expected an integer"},
      {"[limits]\njobs_per_user = \"10\"\n", "limits.jobs_per_user"},
      {"[limits]\ndisplay_name = 1000\n", "limits.display_name"},
      {"[bandwidth]\nbackground = \"fast\"\n", "bandwidth.background: expected a byte count"},
      {"[scheduler]\nmax_background_jobs = 1.5\n", "scheduler.max_background_jobs"},
      {"log_level = \"loud\"\n", "cfg.toml:1: log_level"},
      {"[limits\n", "cfg.toml:1:"},
      {"[limits.deeper]\nx = 1\n", "unknown section [limits.deeper]"},
  };
  for (const auto& b : cases) {
    auto c = parse_config(b.text, "cfg.toml");
    ASSERT_FALSE(c.ok()) << b.text;
    EXPECT_EQ(c.error().code, hr::EInvalidArg);
    EXPECT_NE(c.error().message.find(b.needle), std::string::npos)
        << b.text << " -> " << c.error().message;
  }
}

TEST(DaemonConfigTest, SegmentedDownloadKeys) {
  auto d = parse_config("", "cfg.toml");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->transfer.connections_per_file, 1U);  // opt-in
  auto c = parse_config("[transfer]\nconnections_per_file = 8\nsegment_min_size = \"2MiB\"\n",
                        "cfg.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->transfer.connections_per_file, 8U);
  EXPECT_EQ(c->transfer.segment_min_size, 2U << 20);
  for (const char* bad :
       {"[transfer]\nconnections_per_file = 0\n", "[transfer]\nconnections_per_file = 17\n",
        "[transfer]\nconnections_per_file = \"4\"\n", "[transfer]\nsegment_min_size = 1024\n"}) {
    auto e = parse_config(bad, "cfg.toml");
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_NE(e.error().message.find("cfg.toml:2: transfer."), std::string::npos)
        << e.error().message;
  }
}

TEST(DaemonConfigTest, FilesAheadKey) {
  auto d = parse_config("", "cfg.toml");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->engine.files_ahead, 8U);
  auto off = parse_config("[transfer]\nfiles_ahead = 0\n", "cfg.toml");
  ASSERT_TRUE(off.ok()) << off.error().message;
  EXPECT_EQ(off->engine.files_ahead, 0U);
  for (const char* bad : {"[transfer]\nfiles_ahead = 65\n", "[transfer]\nfiles_ahead = -1\n"}) {
    auto e = parse_config(bad, "cfg.toml");
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_NE(e.error().message.find("transfer.files_ahead"), std::string::npos)
        << e.error().message;
  }
}

TEST(DaemonConfigTest, MissingFileIsFineUnlessRequired) {
  EXPECT_TRUE(load_config("/nonexistent/bgcopyd.toml", false).ok());
  auto c = load_config("/nonexistent/bgcopyd.toml", true);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("/nonexistent/bgcopyd.toml"), std::string::npos);
}

TEST(DaemonConfigTest, ByteSizes) {
  EXPECT_EQ(parse_byte_size("0"), 0U);
  EXPECT_EQ(parse_byte_size("512K"), 512U * 1024);
  EXPECT_EQ(parse_byte_size("512 KiB"), 512U * 1024);
  EXPECT_EQ(parse_byte_size("10MB"), 10'000'000U);
  EXPECT_EQ(parse_byte_size("1gib"), 1ULL << 30);
  EXPECT_FALSE(parse_byte_size("").has_value());
  EXPECT_FALSE(parse_byte_size("MiB").has_value());
  EXPECT_FALSE(parse_byte_size("1 parsec").has_value());
  EXPECT_FALSE(parse_byte_size("99999999999999999999").has_value());
  EXPECT_FALSE(parse_byte_size("17179869184G").has_value());
}

}  // namespace
}  // namespace bgcopy::daemon
