#include "fs/segment_map.hpp"

#include <sys/xattr.h>

#include <array>
#include <cerrno>
#include <charconv>

namespace bgcopy::fs {
namespace {

constexpr std::string_view kMagic = "bgcopy-segments 1";
// ext4 keeps an xattr in one block; the map of 16 connections needs a few hundred bytes.
constexpr std::size_t kMaxMapBytes = 4000;

bool parse_u64(std::string_view text, std::uint64_t& out) {
  if (text.empty()) {
    return false;
  }
  const auto* end = text.data() + text.size();
  const auto r = std::from_chars(text.data(), end, out);
  return r.ec == std::errc{} && r.ptr == end;
}

// "a-b a-b ..." into sorted, disjoint, non-empty ranges inside [0, size).
bool parse_held(std::string_view text, std::uint64_t size,
                std::vector<std::pair<std::uint64_t, std::uint64_t>>& out) {
  std::uint64_t previous_end = 0;
  while (!text.empty()) {
    const auto space = text.find(' ');
    const auto item = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
    if (item.empty()) {
      continue;
    }
    const auto dash = item.find('-');
    std::uint64_t first = 0;
    std::uint64_t end = 0;
    if (dash == std::string_view::npos || !parse_u64(item.substr(0, dash), first) ||
        !parse_u64(item.substr(dash + 1), end) || first >= end || end > size ||
        (!out.empty() && first <= previous_end)) {
      return false;
    }
    out.emplace_back(first, end);
    previous_end = end;
  }
  return true;
}

}  // namespace

std::uint64_t SegmentMap::held_end() const {
  return held.empty() ? 0 : held.back().second;
}

std::string encode_segment_map(const SegmentMap& map) {
  std::string out(kMagic);
  out += "\nsize " + std::to_string(map.size);
  out += "\netag " + map.etag;
  out += "\nlast-modified " + map.last_modified;
  out += "\nheld";
  for (const auto& [first, end] : map.held) {
    out += " " + std::to_string(first) + "-" + std::to_string(end);
  }
  out += "\n";
  return out;
}

std::optional<SegmentMap> decode_segment_map(std::string_view text) {
  SegmentMap map;
  bool have_size = false;
  bool have_held = false;
  bool first_line = true;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    if (nl == std::string_view::npos) {
      return std::nullopt;  // every line ends with a newline: anything else was cut short
    }
    const auto line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (first_line) {
      if (line != kMagic) {
        return std::nullopt;
      }
      first_line = false;
      continue;
    }
    const auto space = line.find(' ');
    const auto key = line.substr(0, space);
    const auto value =
        space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
    if (key == "size") {
      have_size = parse_u64(value, map.size);
      if (!have_size) {
        return std::nullopt;
      }
    } else if (key == "etag") {
      map.etag = std::string(value);
    } else if (key == "last-modified") {
      map.last_modified = std::string(value);
    } else if (key == "held") {
      // "held" comes last, after "size", in what encode writes.
      if (!have_size || !parse_held(value, map.size, map.held)) {
        return std::nullopt;
      }
      have_held = true;
    } else {
      return std::nullopt;
    }
  }
  if (first_line || !have_held) {
    return std::nullopt;
  }
  return map;
}

Status write_segment_map(int fd, const SegmentMap& map) {
  const auto text = encode_segment_map(map);
  if (text.size() > kMaxMapBytes) {
    return Error::from_errno(E2BIG, "segment map too large");
  }
  if (fsetxattr(fd, kSegmentMapXattr, text.data(), text.size(), 0) != 0) {
    return Error::from_errno(errno, "cannot record the segment map");
  }
  return {};
}

std::optional<SegmentMap> read_segment_map(int fd) {
  std::array<char, kMaxMapBytes> buf{};
  const ssize_t n = fgetxattr(fd, kSegmentMapXattr, buf.data(), buf.size());
  if (n <= 0) {
    return std::nullopt;
  }
  return decode_segment_map(std::string_view(buf.data(), static_cast<std::size_t>(n)));
}

Status remove_segment_map(int fd) {
  if (fremovexattr(fd, kSegmentMapXattr) != 0 && errno != ENODATA && errno != ENOTSUP) {
    return Error::from_errno(errno, "cannot remove the segment map");
  }
  return {};
}

}  // namespace bgcopy::fs
