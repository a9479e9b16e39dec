#include "cli/parse.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace bgcopy::cli {
namespace {

Status invalid(std::string message) {
  return Status(hr::EInvalidArg, std::move(message));
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

/// Key form: lower-case, '_' -> '-'.
std::string key_form(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    out.push_back(c == '_' ? '-' : lower(c));
  }
  return out;
}

/// Decimal digits only; false on anything else or on overflow.
bool parse_u64(std::string_view text, std::uint64_t& out) {
  if (text.empty() || text.size() > 20) {
    return false;
  }
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
      return false;
    }
    v = v * 10 + d;
  }
  out = v;
  return true;
}

/// Decimal or 0x-prefixed hex, into 32 bits.
bool parse_u32_any(std::string_view text, std::uint32_t& out) {
  std::uint64_t v = 0;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    if (text.empty() || text.size() > 8) {
      return false;
    }
    for (char c : text) {
      int d = -1;
      if (c >= '0' && c <= '9') d = c - '0';
      if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d < 0) {
        return false;
      }
      v = v * 16 + static_cast<std::uint64_t>(d);
    }
  } else if (!parse_u64(text, v)) {
    return false;
  }
  if (v > std::numeric_limits<std::uint32_t>::max()) {
    return false;
  }
  out = static_cast<std::uint32_t>(v);
  return true;
}

std::string shown(std::string_view s) {
  std::string out = "\"";
  out += s.substr(0, 80);
  if (s.size() > 80) {
    out += "...";
  }
  out += '"';
  return out;
}

Result<std::uint32_t> duration_seconds(std::string_view key, std::string_view value) {
  auto ms = parse_duration_ms(value);
  if (!ms) {
    return Status(hr::EInvalidArg, std::string(key) + ": " + ms.message());
  }
  const std::uint64_t s = *ms / 1000;
  if (*ms % 1000 != 0) {
    return invalid(std::string(key) + ": whole seconds only: " + shown(value));
  }
  if (s > std::numeric_limits<std::uint32_t>::max()) {
    return invalid(std::string(key) + ": at most 4294967295 seconds: " + shown(value));
  }
  return static_cast<std::uint32_t>(s);
}

Status expect_values(std::string_view key, const std::vector<std::string>& values, std::size_t min,
                     std::size_t max) {
  if (values.size() < min || values.size() > max) {
    std::string want =
        min == max ? std::to_string(min) : std::to_string(min) + " to " + std::to_string(max);
    return invalid(std::string(key) + " takes " + want + " value" + (max == 1 ? "" : "s") +
                   ", got " + std::to_string(values.size()));
  }
  return Status();
}

}  // namespace

Result<std::vector<FileRange>> parse_range_list(std::string_view text) {
  std::vector<FileRange> ranges;
  if (trim(text).empty()) {
    return invalid("empty range list (expected OFF:LEN[,OFF:LEN...])");
  }
  std::size_t item = 0;
  while (true) {
    ++item;
    const auto comma = text.find(',');
    const std::string_view part = trim(text.substr(0, comma));
    const auto colon = part.find(':');
    const std::string where = "range " + std::to_string(item) + " " + shown(part);
    if (colon == std::string_view::npos) {
      return invalid(where + ": expected OFF:LEN");
    }
    FileRange r;
    if (!parse_u64(trim(part.substr(0, colon)), r.offset)) {
      return invalid(where + ": offset is not a decimal number");
    }
    const std::string_view len = trim(part.substr(colon + 1));
    if (iequals(len, "eof")) {
      r.length = kLengthToEof;
    } else if (!parse_u64(len, r.length) || r.length == kLengthToEof) {
      return invalid(where + ": length is not a decimal number or \"eof\"");
    } else if (r.length > 0 && r.offset > std::numeric_limits<std::uint64_t>::max() - r.length) {
      return invalid(where + ": offset + length overflows 64 bits");
    }
    ranges.push_back(r);
    if (comma == std::string_view::npos) {
      break;
    }
    text.remove_prefix(comma + 1);
  }
  return ranges;
}

Result<std::string> parse_sha256(std::string_view text) {
  if (text.size() != 64) {
    return invalid("sha256 must be 64 hexadecimal digits, got " + std::to_string(text.size()) +
                   " characters");
  }
  std::string out;
  out.reserve(64);
  for (char c : text) {
    const char l = lower(c);
    if (!((l >= '0' && l <= '9') || (l >= 'a' && l <= 'f'))) {
      return invalid("sha256 must be 64 hexadecimal digits: " + shown(text));
    }
    out.push_back(l);
  }
  return out;
}

Result<JobPriority> parse_priority_arg(std::string_view text) {
  for (auto p :
       {JobPriority::Foreground, JobPriority::High, JobPriority::Normal, JobPriority::Low}) {
    if (iequals(text, priority_name(p))) {
      return p;
    }
  }
  return invalid("unknown priority " + shown(text) + " (expected foreground, high, normal or low)");
}

Result<JobType> parse_type_arg(std::string_view text) {
  const std::string k = key_form(text);
  if (k == "download") return JobType::Download;
  if (k == "upload") return JobType::Upload;
  if (k == "upload-reply") return JobType::UploadReply;
  return invalid("unknown job type " + shown(text) +
                 " (expected download, upload or upload-reply)");
}

Result<std::uint64_t> parse_duration_ms(std::string_view text) {
  std::string_view t = trim(text);
  std::uint64_t unit = 1000;  // milliseconds per unit
  if (!t.empty()) {
    switch (lower(t.back())) {
      case 's':
        unit = 1000;
        t.remove_suffix(1);
        break;
      case 'm':
        unit = 60'000;
        t.remove_suffix(1);
        break;
      case 'h':
        unit = 3'600'000;
        t.remove_suffix(1);
        break;
      case 'd':
        unit = 86'400'000;
        t.remove_suffix(1);
        break;
      default:
        break;
    }
  }
  const auto dot = t.find('.');
  std::uint64_t whole = 0;
  std::uint64_t frac_ms = 0;
  const std::string_view whole_text = t.substr(0, dot);
  if (!parse_u64(whole_text, whole)) {
    return invalid("not a duration: " + shown(text) +
                   " (expected seconds, or a number with s, m, h or d)");
  }
  if (dot != std::string_view::npos) {
    std::string_view frac = t.substr(dot + 1);
    if (frac.empty() || frac.size() > 9 ||
        !std::all_of(frac.begin(), frac.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return invalid("not a duration: " + shown(text));
    }
    // Fraction of one unit, in milliseconds, rounded down.
    std::uint64_t num = 0;
    std::uint64_t den = 1;
    for (char c : frac) {
      num = num * 10 + static_cast<std::uint64_t>(c - '0');
      den *= 10;
    }
    frac_ms = num * unit / den;
  }
  if (whole > (std::numeric_limits<std::uint64_t>::max() - frac_ms) / unit) {
    return invalid("duration too large: " + shown(text));
  }
  return whole * unit + frac_ms;
}

Result<std::vector<FileSpec>> parse_file_set(std::string_view text, std::string_view origin) {
  std::vector<FileSpec> files;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    line = trim(line);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    const std::string where = std::string(origin) + ":" + std::to_string(line_no) + ": ";
    const auto gap = line.find_first_of(" \t");
    if (gap == std::string_view::npos) {
      return invalid(where + "expected \"URL LOCAL_PATH\"");
    }
    FileSpec spec;
    spec.remote_url = std::string(line.substr(0, gap));
    spec.local_path = std::string(trim(line.substr(gap)));
    if (spec.local_path.empty() || spec.local_path.front() != '/') {
      return invalid(where + "local path must be absolute: " + shown(spec.local_path));
    }
    files.push_back(std::move(spec));
  }
  if (files.empty()) {
    return invalid(std::string(origin) + ": no files listed");
  }
  return files;
}

Result<std::vector<std::string>> split_command_line(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (is_space(c)) {
      if (in_word) {
        words.push_back(std::move(word));
        word.clear();
        in_word = false;
      }
      continue;
    }
    in_word = true;
    if (c == '\\') {
      if (i + 1 >= text.size()) {
        return invalid("command line ends with a backslash");
      }
      word.push_back(text[++i]);
    } else if (c == '\'') {
      const auto end = text.find('\'', i + 1);
      if (end == std::string_view::npos) {
        return invalid("unterminated ' in command line");
      }
      word.append(text.substr(i + 1, end - i - 1));
      i = end;
    } else if (c == '"') {
      ++i;
      for (;; ++i) {
        if (i >= text.size()) {
          return invalid("unterminated \" in command line");
        }
        const char d = text[i];
        if (d == '"') {
          break;
        }
        if (d == '\\' && i + 1 < text.size() &&
            (text[i + 1] == '"' || text[i + 1] == '\\' || text[i + 1] == '$' ||
             text[i + 1] == '`')) {
          word.push_back(text[++i]);
        } else {
          word.push_back(d);
        }
      }
    } else {
      word.push_back(c);
    }
  }
  if (in_word) {
    words.push_back(std::move(word));
  }
  return words;
}

const std::vector<std::string_view>& setting_keys() {
  static const std::vector<std::string_view> keys{
      "priority",        "display-name",        "description",
      "min-retry-delay", "no-progress-timeout", "max-download-time",
      "notify-flags",    "notify-cmdline",      "proxy",
      "tls-verify"};
  return keys;
}

Result<JobSettingsPatch> parse_setting(std::string_view key_text,
                                       const std::vector<std::string>& values) {
  const std::string key = key_form(key_text);
  JobSettingsPatch patch;
  const auto one = [&]() { return expect_values(key, values, 1, 1); };

  if (key == "priority") {
    if (auto s = one(); !s) return s;
    auto p = parse_priority_arg(values[0]);
    if (!p) return std::move(p).status();
    patch.priority = *p;
  } else if (key == "display-name") {
    if (auto s = one(); !s) return s;
    patch.display_name = values[0];
  } else if (key == "description") {
    if (auto s = one(); !s) return s;
    patch.description = values[0];
  } else if (key == "min-retry-delay") {
    if (auto s = one(); !s) return s;
    auto v = duration_seconds(key, values[0]);
    if (!v) return std::move(v).status();
    patch.min_retry_delay = *v;
  } else if (key == "no-progress-timeout") {
    if (auto s = one(); !s) return s;
    auto v = duration_seconds(key, values[0]);
    if (!v) return std::move(v).status();
    patch.no_progress_timeout = *v;
  } else if (key == "max-download-time") {
    if (auto s = one(); !s) return s;
    auto v = duration_seconds(key, values[0]);
    if (!v) return std::move(v).status();
    patch.max_download_time = *v;
  } else if (key == "notify-flags") {
    if (auto s = one(); !s) return s;
    std::uint32_t flags = 0;
    if (!parse_u32_any(trim(values[0]), flags)) {
      return invalid("notify-flags: expected a number (decimal or 0x hex): " + shown(values[0]));
    }
    patch.notify_flags = flags;
  } else if (key == "notify-cmdline") {
    if (values.empty()) {
      return invalid("notify-cmdline takes a program and its arguments (\"\" or NULL removes it)");
    }
    if (values.size() == 1) {
      if (trim(values[0]).empty() || values[0] == "NULL") {
        patch.notify_cmdline = std::vector<std::string>{};
      } else {
        auto words = split_command_line(values[0]);
        if (!words) return Status(hr::EInvalidArg, "notify-cmdline: " + words.message());
        patch.notify_cmdline = std::move(*words);
      }
    } else {
      patch.notify_cmdline = values;
    }
  } else if (key == "proxy") {
    if (values.empty()) {
      return invalid("proxy takes preconfig, autodetect, no-proxy, or override LIST [BYPASS]");
    }
    ProxySettings proxy;
    const std::string mode = key_form(values[0]);
    if (mode == "preconfig" || mode == "autodetect" || mode == "no-proxy" || mode == "none") {
      if (auto s = expect_values("proxy " + values[0], values, 1, 1); !s) return s;
      proxy.usage = mode == "preconfig"    ? ProxyUsage::Preconfig
                    : mode == "autodetect" ? ProxyUsage::Autodetect
                                           : ProxyUsage::NoProxy;
    } else if (mode == "override") {
      if (auto s = expect_values("proxy override", values, 2, 3); !s) return s;
      proxy.usage = ProxyUsage::Override;
      proxy.list = values[1];
      if (values.size() == 3) {
        proxy.bypass = values[2];
      }
    } else {
      return invalid("proxy: unknown usage " + shown(values[0]) +
                     " (expected preconfig, autodetect, no-proxy or override)");
    }
    patch.proxy = std::move(proxy);
  } else if (key == "tls-verify") {
    if (auto s = one(); !s) return s;
    const std::string v = key_form(values[0]);
    if (v == "true" || v == "yes" || v == "on" || v == "1") {
      patch.tls_verify = true;
    } else if (v == "false" || v == "no" || v == "off" || v == "0") {
      patch.tls_verify = false;
    } else {
      return invalid("tls-verify: expected true or false: " + shown(values[0]));
    }
  } else {
    std::string known;
    for (auto k : setting_keys()) {
      known += known.empty() ? "" : ", ";
      known += k;
    }
    return invalid("unknown setting " + shown(key_text) + " (known: " + known + ")");
  }
  return patch;
}

std::string absolute_path(std::string_view path, const std::filesystem::path& cwd) {
  std::filesystem::path p{std::string(path)};
  if (p.is_relative()) {
    p = cwd / p;
  }
  auto normal = p.lexically_normal().string();
  // "dir/." normalises to "dir/"; a trailing slash would make the service read a directory.
  if (normal.size() > 1 && normal.back() == '/') {
    normal.pop_back();
  }
  return normal;
}

}  // namespace bgcopy::cli
