#include "base/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>

namespace bgcopy::log {
namespace {

std::atomic<Level> g_level{Level::Info};

std::shared_ptr<spdlog::logger> logger() {
  // stderr, so stdout stays clean for programs whose output is parsed.
  static auto l = [] {
    auto lg = spdlog::stderr_logger_mt("bgcopy");
    lg->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    lg->set_level(spdlog::level::trace);
    return lg;
  }();
  return l;
}

spdlog::level::level_enum to_spd(Level l) {
  switch (l) {
    case Level::Trace:
      return spdlog::level::trace;
    case Level::Debug:
      return spdlog::level::debug;
    case Level::Info:
      return spdlog::level::info;
    case Level::Warn:
      return spdlog::level::warn;
    case Level::Error:
      return spdlog::level::err;
    case Level::Off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

}  // namespace

void set_level(Level level) {
  g_level.store(level);
}
Level level() {
  return g_level.load();
}

bool parse_level(std::string_view text, Level& out) {
  if (text == "trace")
    out = Level::Trace;
  else if (text == "debug")
    out = Level::Debug;
  else if (text == "info")
    out = Level::Info;
  else if (text == "warn" || text == "warning")
    out = Level::Warn;
  else if (text == "error")
    out = Level::Error;
  else if (text == "off")
    out = Level::Off;
  else
    return false;
  return true;
}

void write(Level l, std::string_view message) {
  if (l < g_level.load() || l == Level::Off) {
    return;
  }
  logger()->log(to_spd(l), "{}", message);
}

}  // namespace bgcopy::log
