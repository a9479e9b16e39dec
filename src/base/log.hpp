// Logging facade. Implementation uses spdlog; callers never see it, so a module's headers stay
// free of third-party includes. Never pass credentials or custom headers to these functions.
#pragma once

#include <string_view>

namespace bgcopy::log {

enum class Level { Trace, Debug, Info, Warn, Error, Off };

void set_level(Level level);
Level level();
bool parse_level(std::string_view text, Level& out);

void write(Level level, std::string_view message);
inline void debug(std::string_view m) {
  write(Level::Debug, m);
}
inline void info(std::string_view m) {
  write(Level::Info, m);
}
inline void warn(std::string_view m) {
  write(Level::Warn, m);
}
inline void error(std::string_view m) {
  write(Level::Error, m);
}

}  // namespace bgcopy::log
