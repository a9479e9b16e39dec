#include "engine/validate.hpp"

#include <algorithm>
#include <cctype>

namespace bgcopy::engine {
namespace {

Error invalid(std::string message) {
  return Error::make(hr::EInvalidArg, std::move(message));
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

}  // namespace

bool is_clean_text(std::string_view text, std::uint32_t max_chars, bool allow_newlines) {
  std::uint32_t chars = 0;
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = 0;
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && !(allow_newlines && (c == '\n' || c == '\r'))) || c == 0x7F) {
        return false;
      }
      len = 1;
    } else if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
      len = 2;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
    } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
      len = 4;
    } else {
      return false;
    }
    if (i + len > text.size()) return false;
    std::uint32_t cp = len == 1 ? c : (c & (0x7FU >> len));
    for (std::size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3FU);
    }
    // Overlong forms, UTF-16 surrogates, beyond U+10FFFF, and C1 controls are not clean.
    static constexpr std::uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ||
        (cp >= 0x80 && cp <= 0x9F)) {
      return false;
    }
    i += len;
    if (++chars > max_chars) return false;
  }
  return true;
}

Status validate_url(std::string_view url, const EngineConfig& config) {
  if (url.empty()) return invalid("the remote URL is empty");
  if (url.size() > config.max_url_length) {
    return invalid("the remote URL is longer than " + std::to_string(config.max_url_length) +
                   " bytes");
  }
  for (char ch : url) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7F) {
      return invalid("the remote URL contains a space or control character");
    }
  }
  std::string_view rest;
  if (starts_with_ci(url, "http://")) {
    rest = url.substr(7);
  } else if (starts_with_ci(url, "https://")) {
    rest = url.substr(8);
  } else if (starts_with_ci(url, "file://")) {
    rest = url.substr(7);
    // Only local files: file:///path or file://localhost/path.
    if (starts_with_ci(rest, "localhost/")) rest = rest.substr(9);
    if (rest.empty() || rest.front() != '/') {
      return invalid("a file:// URL must name an absolute local path (file:///path)");
    }
    return {};
  } else {
    return invalid("unsupported URL scheme in '" + std::string(url.substr(0, 64)) +
                   "': use http://, https:// or file://");
  }
  std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = host.rfind('@'); at != std::string_view::npos) host = host.substr(at + 1);
  if (host.empty() || host.front() == ':') return invalid("the remote URL has no host");
  return {};
}

Status validate_local_path(std::string_view path, const EngineConfig& config) {
  if (path.empty()) return invalid("the local path is empty");
  if (path.size() > config.max_path_length) return invalid("the local path is too long");
  if (path.front() != '/') {
    return invalid("the local path must be absolute: '" + std::string(path) + "'");
  }
  if (path.back() == '/')
    return invalid("the local path names a directory: '" + std::string(path) + "'");
  if (!is_clean_text(path, config.max_path_length, false) ||
      path.find('\t') != std::string_view::npos) {
    return invalid("the local path contains control characters or invalid UTF-8");
  }
  std::size_t pos = 1;
  while (pos <= path.size()) {
    std::size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    std::string_view seg = path.substr(pos, next - pos);
    if (seg.empty() || seg == "." || seg == "..") {
      return invalid("the local path must be normalised (no '.', '..' or '//'): '" +
                     std::string(path) + "'");
    }
    if (seg.size() > 255) return invalid("a component of the local path is longer than 255 bytes");
    pos = next + 1;
  }
  return {};
}

Status validate_ranges(const std::vector<FileRange>& ranges, std::uint32_t max_ranges) {
  if (ranges.empty()) return Error::make(hr::EInvalidArg, "a range list must not be empty");
  if (max_ranges != 0 && ranges.size() > max_ranges) {
    return Error::make(hr::BgETooManyRangesInFile,
                       "a file may have at most " + std::to_string(max_ranges) + " ranges");
  }
  std::vector<FileRange> sorted = ranges;
  for (const auto& r : sorted) {
    if (r.offset == kLengthToEof || r.length == 0) {
      return Error::make(hr::DoEInvalidRange, "invalid range " + std::to_string(r.offset) + ":" +
                                                  std::to_string(r.length) +
                                                  " (length must be > 0)");
    }
    if (r.length != kLengthToEof && r.offset > kLengthToEof - r.length) {
      return Error::make(hr::DoEInvalidRange, "a range runs past the largest file offset");
    }
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const FileRange& a, const FileRange& b) { return a.offset < b.offset; });
  for (std::size_t i = 1; i < sorted.size(); ++i) {
    const auto& prev = sorted[i - 1];
    if (prev.length == kLengthToEof || prev.offset + prev.length > sorted[i].offset) {
      return Error::make(hr::DoEOverlappingRanges,
                         "ranges at offsets " + std::to_string(prev.offset) + " and " +
                             std::to_string(sorted[i].offset) + " overlap");
    }
  }
  return {};
}

Status normalise_sha256(std::string& hex) {
  if (hex.size() != 64) return invalid("a SHA-256 checksum is 64 hexadecimal digits");
  for (char& c : hex) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return invalid("a SHA-256 checksum is 64 hexadecimal digits");
    }
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return {};
}

std::string staging_name_for(std::string_view local_path, const JobId& job, std::uint32_t index) {
  std::string_view base = local_path.substr(local_path.rfind('/') + 1);
  std::string id = job.to_string();
  std::string hex;
  for (char c : id) {
    if (c != '{' && c != '}' && c != '-') hex.push_back(c);
  }
  std::string suffix = ".bgcopy-" + hex + "-" + std::to_string(index) + ".part";
  const std::size_t max_base = 255 - 1 - suffix.size();
  std::size_t keep = std::min(base.size(), max_base);
  // Never cut a UTF-8 sequence in half: back off to the start of the character.
  if (keep < base.size()) {
    while (keep > 0 && (static_cast<unsigned char>(base[keep]) & 0xC0) == 0x80) --keep;
  }
  std::string name = ".";
  name.append(base.substr(0, keep));
  name += suffix;
  return name;
}

}  // namespace bgcopy::engine
