#include "daemon/config.hpp"

#include <toml++/toml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <vector>

namespace bgcopy::daemon {
namespace {

Error config_error(const std::string& source, const toml::source_region& where,
                   const std::string& what) {
  std::string msg = source;
  if (where.begin.line != 0) {
    msg += ":" + std::to_string(where.begin.line);
  }
  return Error::make(hr::EInvalidArg, msg + ": " + what);
}

// One setting: its dotted key, and how to apply a node to the config.
struct Setting {
  std::string_view key;
  std::function<Status(const toml::node&, DaemonConfig&, const std::string& where)> apply;
};

// Integer in [lo, hi] written into `field`.
template <class T>
Setting integer(std::string_view key, T engine::EngineConfig::*field, std::int64_t lo,
                std::int64_t hi, std::int64_t scale = 1) {
  return Setting{key,
                 [key, field, lo, hi, scale](const toml::node& n, DaemonConfig& c,
                                             const std::string& where) -> Status {
                   const auto v = n.value_exact<std::int64_t>();
                   if (!v || *v < lo || *v > hi) {
                     return Error::make(hr::EInvalidArg, where + ": " + std::string(key) +
                                                             ": expected an integer from " +
                                                             std::to_string(lo) + " to " +
                                                             std::to_string(hi));
                   }
                   c.engine.*field = static_cast<T>(*v * scale);
                   return {};
                 }};
}

// A byte count: an integer or a string with a unit ("8MiB").
Setting bytes(std::string_view key, std::uint64_t engine::EngineConfig::*field, std::uint64_t lo,
              std::uint64_t hi) {
  return Setting{key,
                 [key, field, lo, hi](const toml::node& n, DaemonConfig& c,
                                      const std::string& where) -> Status {
                   std::optional<std::uint64_t> v;
                   if (auto i = n.value_exact<std::int64_t>(); i && *i >= 0) {
                     v = static_cast<std::uint64_t>(*i);
                   } else if (auto s = n.value_exact<std::string>()) {
                     v = parse_byte_size(*s);
                   }
                   if (!v || *v < lo || *v > hi) {
                     return Error::make(hr::EInvalidArg,
                                        where + ": " + std::string(key) +
                                            ": expected a byte count from " + std::to_string(lo) +
                                            " to " + std::to_string(hi) +
                                            " (an integer, or a string such as \"8MiB\")");
                   }
                   c.engine.*field = *v;
                   return {};
                 }};
}

Setting api_integer(std::string_view key, std::uint32_t ApiLimits::*field, std::int64_t lo,
                    std::int64_t hi) {
  return Setting{key,
                 [key, field, lo, hi](const toml::node& n, DaemonConfig& c,
                                      const std::string& where) -> Status {
                   const auto v = n.value_exact<std::int64_t>();
                   if (!v || *v < lo || *v > hi) {
                     return Error::make(hr::EInvalidArg, where + ": " + std::string(key) +
                                                             ": expected an integer from " +
                                                             std::to_string(lo) + " to " +
                                                             std::to_string(hi));
                   }
                   c.api.*field = static_cast<std::uint32_t>(*v);
                   return {};
                 }};
}

// A [transfer] tuning key: an integer, or for byte counts also a string with a unit.
template <class T>
Setting tuning(std::string_view key, T TransferTuning::*field, std::uint64_t lo, std::uint64_t hi,
               bool byte_count) {
  return Setting{key,
                 [key, field, lo, hi, byte_count](const toml::node& n, DaemonConfig& c,
                                                  const std::string& where) -> Status {
                   std::optional<std::uint64_t> v;
                   if (auto i = n.value_exact<std::int64_t>(); i && *i >= 0) {
                     v = static_cast<std::uint64_t>(*i);
                   } else if (auto s = n.value_exact<std::string>(); s && byte_count) {
                     v = parse_byte_size(*s);
                   }
                   if (!v || *v < lo || *v > hi) {
                     return Error::make(hr::EInvalidArg,
                                        where + ": " + std::string(key) + ": expected " +
                                            (byte_count ? "a byte count" : "an integer") +
                                            " from " + std::to_string(lo) + " to " +
                                            std::to_string(hi));
                   }
                   c.transfer.*field = static_cast<T>(*v);
                   return {};
                 }};
}

const std::vector<Setting>& settings() {
  using E = engine::EngineConfig;
  static const std::vector<Setting> kSettings = [] {
    std::vector<Setting> s;
    s.push_back(Setting{
        "log_level", [](const toml::node& n, DaemonConfig& c, const std::string& where) -> Status {
          log::Level level{};
          const auto v = n.value_exact<std::string>();
          if (!v || !log::parse_level(*v, level)) {
            return Error::make(hr::EInvalidArg, where +
                                                    ": log_level: expected one of trace, "
                                                    "debug, info, warn, error, off");
          }
          c.log_level = level;
          return {};
        }});
    s.push_back(integer("scheduler.max_background_jobs", &E::max_background_jobs, 1, 1024));
    s.push_back(integer("scheduler.time_slice", &E::time_slice_s, 1, 7 * 86400));
    s.push_back(integer("limits.jobs_per_user", &E::max_jobs_per_user, 1, 1'000'000));
    s.push_back(integer("limits.files_per_job", &E::max_files_per_job, 1, 1'000'000));
    s.push_back(integer("limits.ranges_per_file", &E::max_ranges_per_file, 1, 1'000'000));
    // The socket API rejects longer strings outright, so these can only be lowered.
    s.push_back(integer("limits.display_name", &E::max_display_name, 1, 256));
    s.push_back(integer("limits.description", &E::max_description, 1, 1024));
    s.push_back(integer("retention.inactive_days", &E::inactivity_retention_s, 0, 49'000, 86400));
    s.push_back(bytes("bandwidth.background", &E::background_bandwidth_bps, 0,
                      std::numeric_limits<std::int64_t>::max()));
    s.push_back(bytes("transfer.checkpoint_bytes", &E::checkpoint_bytes, 4096, 1ULL << 32));
    s.push_back(integer("transfer.checkpoint_ms", &E::checkpoint_ms, 10, 3'600'000));
    s.push_back(integer("transfer.stall_timeout", &E::stall_timeout_s, 1, 86400));
    s.push_back(integer("transfer.connect_timeout", &E::connect_timeout_s, 1, 3600));
    s.push_back(integer("transfer.files_ahead", &E::files_ahead, 0, 64));
    s.push_back(tuning("transfer.connections_per_file", &TransferTuning::connections_per_file, 1,
                       16, false));
    s.push_back(tuning("transfer.segment_min_size", &TransferTuning::segment_min_size, 64 * 1024,
                       1ULL << 40, true));
    s.push_back(api_integer("api.request_timeout", &ApiLimits::request_timeout_s, 1, 3600));
    s.push_back(api_integer("api.max_connections", &ApiLimits::max_connections, 1, 65536));
    s.push_back(api_integer("api.max_connections_per_user", &ApiLimits::max_connections_per_user, 1,
                            65536));
    s.push_back(api_integer("api.write_timeout", &ApiLimits::write_timeout_s, 1, 3600));
    return s;
  }();
  return kSettings;
}

const Setting* find_setting(std::string_view key) {
  for (const auto& s : settings()) {
    if (s.key == key) {
      return &s;
    }
  }
  return nullptr;
}

bool is_section(std::string_view name) {
  for (const auto& s : settings()) {
    if (s.key.size() > name.size() && s.key.substr(0, name.size()) == name &&
        s.key[name.size()] == '.') {
      return true;
    }
  }
  return false;
}

Status apply_table(const toml::table& table, const std::string& prefix, DaemonConfig& config,
                   const std::string& source) {
  for (const auto& [k, node] : table) {
    const std::string key =
        prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    const auto& region = node.source().begin.line != 0 ? node.source() : k.source();
    if (const auto* sub = node.as_table()) {
      if (!prefix.empty() || !is_section(key)) {
        return config_error(source, region, "unknown section [" + key + "]");
      }
      BGCOPY_TRY(apply_table(*sub, key, config, source));
      continue;
    }
    const Setting* s = find_setting(key);
    if (s == nullptr) {
      return config_error(source, region, "unknown key \"" + key + "\"");
    }
    std::string where = source;
    if (region.begin.line != 0) {
      where += ":" + std::to_string(region.begin.line);
    }
    BGCOPY_TRY(s->apply(node, config, where));
  }
  return {};
}

}  // namespace

std::optional<std::uint64_t> parse_byte_size(std::string_view text) {
  std::size_t i = 0;
  std::uint64_t value = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      return std::nullopt;
    }
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) {
    return std::nullopt;
  }
  while (i < text.size() && text[i] == ' ') ++i;
  std::string unit(text.substr(i));
  for (auto& ch : unit) {
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
  }
  struct Unit {
    std::string_view name;
    std::uint64_t factor;
  };
  static constexpr Unit kUnits[] = {
      {"", 1},
      {"B", 1},
      {"K", 1ULL << 10},
      {"KIB", 1ULL << 10},
      {"KB", 1000ULL},
      {"M", 1ULL << 20},
      {"MIB", 1ULL << 20},
      {"MB", 1000ULL * 1000},
      {"G", 1ULL << 30},
      {"GIB", 1ULL << 30},
      {"GB", 1000ULL * 1000 * 1000},
  };
  for (const auto& u : kUnits) {
    if (unit == u.name) {
      if (value > std::numeric_limits<std::uint64_t>::max() / u.factor) {
        return std::nullopt;
      }
      return value * u.factor;
    }
  }
  return std::nullopt;
}

Result<DaemonConfig> parse_config(std::string_view text, const std::string& source) {
  DaemonConfig config;
  toml::table table;
  // toml++ reports syntax errors only by exception; it is caught here.
  try {
    table = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return config_error(source, e.source(), std::string(e.description()));
  }
  BGCOPY_TRY(apply_table(table, "", config, source));
  return config;
}

Result<DaemonConfig> load_config(const std::string& path, bool must_exist) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    if (err == ENOENT && !must_exist) {
      return DaemonConfig{};
    }
    return Error::from_errno(err != 0 ? err : ENOENT, "cannot read config file " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

}  // namespace bgcopy::daemon
