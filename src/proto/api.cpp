#include "proto/api.hpp"

namespace bgcopy::proto {
namespace {

std::string_view strip_braces(std::string_view id) {
  if (id.size() >= 2 && id.front() == '{' && id.back() == '}') {
    return id.substr(1, id.size() - 2);
  }
  return id;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      // Two hex digits must follow the '%'.
      const bool room = i + 2 < text.size();
      const int hi = room ? hex_value(text[i + 1]) : -1;
      const int lo = room ? hex_value(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return Error::make(hr::EInvalidArg, "bad percent-escape in request target");
      }
      c = static_cast<char>(hi * 16 + lo);
      if (c == '\0') {
        return Error::make(hr::EInvalidArg, "request target decodes to a NUL byte");
      }
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string job_path(std::string_view job_id, std::string_view sub) {
  std::string path(route::kJobs);
  path += '/';
  path += percent_encode(strip_braces(job_id));
  if (!sub.empty()) {
    path += '/';
    path += sub;
  }
  return path;
}

std::string events_path(std::string_view job_id) {
  std::string path(route::kEvents);
  if (!job_id.empty()) {
    path += '?';
    path += route::kJobParam;
    path += '=';
    path += percent_encode(strip_braces(job_id));
  }
  return path;
}

std::optional<std::string> Target::param(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) {
      return v;
    }
  }
  return std::nullopt;
}

Result<Target> parse_target(std::string_view target) {
  if (target.empty() || target.front() != '/') {
    return Error::make(hr::EInvalidArg, "request target must start with '/'");
  }
  Target t;
  const std::size_t q = target.find('?');
  auto path = percent_decode(target.substr(0, q), false);
  if (!path) {
    return std::move(path).error();
  }
  t.path = std::move(*path);
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      const std::size_t amp = rest.find('&');
      std::string_view pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
      if (pair.empty()) {
        continue;
      }
      const std::size_t eq = pair.find('=');
      auto key = percent_decode(pair.substr(0, eq), true);
      if (!key) {
        return std::move(key).error();
      }
      std::string value;
      if (eq != std::string_view::npos) {
        auto v = percent_decode(pair.substr(eq + 1), true);
        if (!v) {
          return std::move(v).error();
        }
        value = std::move(*v);
      }
      t.query.emplace_back(std::move(*key), std::move(value));
    }
  }
  return t;
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  if (path.empty() || path.front() != '/') {
    return parts;
  }
  path.remove_prefix(1);
  for (;;) {
    const std::size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) {
      break;
    }
    path.remove_prefix(slash + 1);
  }
  return parts;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

int http_status_for(Hresult code) {
  if (succeeded(code)) {
    return 200;
  }
  switch (code) {
    case hr::EInvalidArg:
    case hr::DoEInvalidRange:
    case hr::DoEOverlappingRanges:
    case hr::BgEStringTooLong:
      return 400;
    case hr::EAccessDenied:
      return 403;
    case hr::DoEJobNotFound:
      return 404;
    case hr::DoEInvalidState:
    case hr::DoEJobEmpty:
    case hr::DoEErrorInformationUnavailable:
    case hr::BgETooManyJobsPerUser:
    case hr::BgETooManyFilesInJob:
    case hr::BgETooManyRangesInFile:
      return 409;
    case hr::ENotImpl:
      return 501;
    default:
      return 500;
  }
}

}  // namespace bgcopy::proto
