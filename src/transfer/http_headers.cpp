#include "transfer/http_headers.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <limits>

namespace bgcopy::transfer {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

// RFC 9110 tchar.
bool is_tchar(char c) {
  if (is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
    return true;
  }
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

// All-digit decimal with overflow detection; the whole view must be digits.
std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (s.empty() || s.size() > 20) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) {
      return std::nullopt;
    }
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
      return std::nullopt;
    }
    v = v * 10 + d;
  }
  return v;
}

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

std::optional<int> month_index(std::string_view s) {
  for (std::size_t i = 0; i < kMonths.size(); ++i) {
    if (iequals(s, kMonths[i])) {
      return static_cast<int>(i) + 1;
    }
  }
  return std::nullopt;
}

// A small cursor over the date string: every read either succeeds or leaves `ok` false.
struct Scanner {
  std::string_view s;
  std::size_t pos = 0;
  bool ok = true;

  void skip_spaces() {
    while (pos < s.size() && s[pos] == ' ') {
      ++pos;
    }
  }
  bool at_end() const { return pos >= s.size(); }
  void expect(char c) {
    if (ok && pos < s.size() && s[pos] == c) {
      ++pos;
    } else {
      ok = false;
    }
  }
  std::string_view letters() {
    const auto start = pos;
    while (pos < s.size() &&
           ((s[pos] >= 'a' && s[pos] <= 'z') || (s[pos] >= 'A' && s[pos] <= 'Z'))) {
      ++pos;
    }
    if (pos == start) {
      ok = false;
    }
    return s.substr(start, pos - start);
  }
  int number(std::size_t min_digits, std::size_t max_digits) {
    const auto start = pos;
    int v = 0;
    while (pos < s.size() && is_digit(s[pos]) && pos - start < max_digits) {
      v = v * 10 + (s[pos] - '0');
      ++pos;
    }
    if (pos - start < min_digits || (pos < s.size() && is_digit(s[pos]))) {
      ok = false;
    }
    return v;
  }
  void time_of_day(int& h, int& m, int& sec) {
    h = number(2, 2);
    expect(':');
    m = number(2, 2);
    expect(':');
    sec = number(2, 2);
  }
};

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

int days_in_month(int year, int month) {
  static constexpr std::array<int, 12> kLen = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kLen[static_cast<std::size_t>(month - 1)];
}

}  // namespace

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<ContentRange> parse_content_range(std::string_view value) {
  value = trim(value);
  constexpr std::string_view kUnit = "bytes";
  if (value.size() < kUnit.size() + 1 || !iequals(value.substr(0, kUnit.size()), kUnit) ||
      (value[kUnit.size()] != ' ' && value[kUnit.size()] != '\t')) {
    return std::nullopt;
  }
  value = trim(value.substr(kUnit.size()));
  const auto slash = value.find('/');
  if (slash == std::string_view::npos) {
    return std::nullopt;
  }
  const auto range = value.substr(0, slash);
  const auto total_text = value.substr(slash + 1);
  ContentRange cr;
  if (total_text != "*") {
    cr.total = parse_u64(total_text);
    if (!cr.total) {
      return std::nullopt;
    }
  }
  if (range == "*") {
    if (!cr.total) {
      return std::nullopt;  // "*/*" says nothing
    }
    cr.satisfied = false;
    return cr;
  }
  const auto dash = range.find('-');
  if (dash == std::string_view::npos) {
    return std::nullopt;
  }
  const auto first = parse_u64(range.substr(0, dash));
  const auto last = parse_u64(range.substr(dash + 1));
  if (!first || !last || *first > *last || (cr.total && *last >= *cr.total)) {
    return std::nullopt;
  }
  // 0-(2^64-1) without a total: 2^64 bytes, a length() that wraps to 0.
  if (*last - *first == std::numeric_limits<std::uint64_t>::max()) {
    return std::nullopt;
  }
  cr.first = *first;
  cr.last = *last;
  return cr;
}

std::optional<HeaderField> split_header_line(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  if (line.empty() || line.front() == ' ' || line.front() == '\t') {
    return std::nullopt;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return std::nullopt;
  }
  const auto name = line.substr(0, colon);
  for (char c : name) {
    if (!is_tchar(c)) {
      return std::nullopt;
    }
  }
  return HeaderField{name, trim(line.substr(colon + 1))};
}

bool header_name_is(std::string_view name, std::string_view expected) {
  return iequals(name, expected);
}

std::optional<int> parse_status_line(std::string_view line) {
  constexpr std::string_view kProto = "HTTP/";
  if (line.size() < kProto.size() || line.substr(0, kProto.size()) != kProto) {
    return std::nullopt;
  }
  auto rest = line.substr(kProto.size());
  const auto sp = rest.find(' ');
  if (sp == 0 || sp == std::string_view::npos) {
    return std::nullopt;
  }
  for (char c : rest.substr(0, sp)) {
    if (!is_digit(c) && c != '.') {
      return std::nullopt;
    }
  }
  rest = rest.substr(sp + 1);
  while (!rest.empty() && rest.front() == ' ') {
    rest.remove_prefix(1);
  }
  if (rest.size() < 3 || !is_digit(rest[0]) || !is_digit(rest[1]) || !is_digit(rest[2])) {
    return std::nullopt;
  }
  if (rest.size() > 3 && !is_space(rest[3])) {
    return std::nullopt;
  }
  const int status = (rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0');
  if (status < 100) {
    return std::nullopt;
  }
  return status;
}

bool is_blank_line(std::string_view line) {
  return line == "\r\n" || line == "\n";
}

std::optional<std::uint64_t> parse_content_length(std::string_view value) {
  std::optional<std::uint64_t> result;
  while (true) {
    const auto comma = value.find(',');
    const auto item = parse_u64(trim(value.substr(0, comma)));
    if (!item || (result && *result != *item)) {
      return std::nullopt;
    }
    result = item;
    if (comma == std::string_view::npos) {
      return result;
    }
    value = value.substr(comma + 1);
  }
}

std::optional<std::int64_t> parse_http_date(std::string_view value) {
  value = trim(value);
  Scanner sc{value};
  int day = 0;
  int month = 0;
  int year = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  const auto weekday = sc.letters();
  if (!sc.ok) {
    return std::nullopt;
  }
  if (!sc.at_end() && value[sc.pos] == ',') {
    // IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" or RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT".
    sc.expect(',');
    sc.skip_spaces();
    day = sc.number(1, 2);
    if (sc.ok && !sc.at_end() && value[sc.pos] == '-') {
      sc.expect('-');
      const auto mon = month_index(sc.letters());
      sc.expect('-');
      const int yy = sc.number(2, 4);
      month = mon.value_or(0);
      // RFC 9110: a two-digit year more than 50 years ahead is in the past century.
      year = yy >= 100 ? yy : (yy < 70 ? 2000 + yy : 1900 + yy);
    } else {
      sc.skip_spaces();
      const auto mon = month_index(sc.letters());
      sc.skip_spaces();
      year = sc.number(4, 4);
      month = mon.value_or(0);
    }
    sc.skip_spaces();
    sc.time_of_day(hour, minute, second);
    sc.skip_spaces();
    const auto zone = sc.letters();
    if (!iequals(zone, "GMT") && !iequals(zone, "UTC")) {
      return std::nullopt;
    }
  } else {
    // asctime "Sun Nov  6 08:49:37 1994".
    bool known_day = false;
    for (auto d : kDays) {
      known_day = known_day || iequals(weekday, d);
    }
    if (!known_day) {
      return std::nullopt;
    }
    sc.skip_spaces();
    month = month_index(sc.letters()).value_or(0);
    sc.skip_spaces();
    day = sc.number(1, 2);
    sc.skip_spaces();
    sc.time_of_day(hour, minute, second);
    sc.skip_spaces();
    year = sc.number(4, 4);
  }
  sc.skip_spaces();
  if (!sc.ok || !sc.at_end() || month < 1 || year < 1900 || day < 1 ||
      day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  const auto days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  // A leap second is folded into the second before it.
  return days * 86400 + std::int64_t{hour} * 3600 + std::int64_t{minute} * 60 +
         (second == 60 ? 59 : second);
}

std::string format_http_date(std::int64_t unix_seconds) {
  std::int64_t days = unix_seconds / 86400;
  std::int64_t secs = unix_seconds % 86400;
  if (secs < 0) {
    secs += 86400;
    days -= 1;
  }
  // Civil from days (Hinnant).
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
  const auto wd = static_cast<std::size_t>(((days % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
  std::array<char, 64> buf{};
  (void)std::snprintf(buf.data(), buf.size(), "%s, %02u %s %04lld %02d:%02d:%02d GMT",
                      kDays[wd].data(), d, kMonths[m - 1].data(), static_cast<long long>(y),
                      static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                      static_cast<int>(secs % 60));
  return buf.data();
}

std::optional<std::uint32_t> parse_retry_after(std::string_view value, WallTime now) {
  value = trim(value);
  if (!value.empty() && is_digit(value.front())) {
    bool all_digits = true;
    for (char c : value) {
      all_digits = all_digits && is_digit(c);
    }
    if (!all_digits) {
      return std::nullopt;
    }
    const auto v = parse_u64(value);
    // More digits than fit in 64 bits still means "a very long time".
    if (!v || *v > std::numeric_limits<std::uint32_t>::max()) {
      return std::numeric_limits<std::uint32_t>::max();
    }
    return static_cast<std::uint32_t>(*v);
  }
  const auto at = parse_http_date(value);
  if (!at) {
    return std::nullopt;
  }
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::int64_t delta_ms = *at * 1000 - now_ms;
  if (delta_ms <= 0) {
    return 0;
  }
  const std::int64_t secs = (delta_ms + 999) / 1000;
  return secs > std::numeric_limits<std::uint32_t>::max()
             ? std::numeric_limits<std::uint32_t>::max()
             : static_cast<std::uint32_t>(secs);
}

std::string etag_value(std::string_view raw) {
  return std::string(trim(raw));
}

bool is_weak_etag(std::string_view etag) {
  etag = trim(etag);
  return etag.size() >= 2 && (etag[0] == 'W' || etag[0] == 'w') && etag[1] == '/';
}

std::string_view http_reason_phrase(long status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 425:
      return "Too Early";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 451:
      return "Unavailable For Legal Reasons";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    case 507:
      return "Insufficient Storage";
    case 508:
      return "Loop Detected";
    case 511:
      return "Network Authentication Required";
    default:
      return "";
  }
}

std::string redact_url(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return std::string(url);
  }
  const auto authority_start = scheme_end + 3;
  const auto authority_end = url.find_first_of("/?#", authority_start);
  const auto authority = url.substr(authority_start, authority_end == std::string_view::npos
                                                         ? std::string_view::npos
                                                         : authority_end - authority_start);
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) {
    return std::string(url);
  }
  std::string out(url.substr(0, authority_start));
  out += url.substr(authority_start + at + 1);
  return out;
}

}  // namespace bgcopy::transfer
