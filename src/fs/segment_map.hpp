// The durable map of a segmented download, kept on the staging file itself as the extended
// attribute "user.bgcopy.segments". A file fetched over several connections is written at many
// offsets at once, so its bytes are not one contiguous prefix and the single byte count the
// engine records cannot describe them. The map lists every byte range that was fdatasync'ed
// before the map was written, and names the remote version (size and validators) those bytes
// belong to. It is written only after the sync it describes, so after a crash it never vouches
// for bytes that are not on disk; holes in a sparse staging file are never in it.
//
// Keeping it on the file (not in the job store) means the engine, the store and the wire need no
// notion of segments, and the map disappears with the file. Filesystems without user xattrs
// (ENOTSUP) just lose it: the download then resumes from the recorded contiguous prefix.
#pragma once

#include "base/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bgcopy::fs {

inline constexpr const char* kSegmentMapXattr = "user.bgcopy.segments";

struct SegmentMap {
  std::uint64_t size = 0;  // the remote file's size
  std::string etag;        // validators of the version the held bytes came from
  std::string last_modified;
  /// [first, end) byte ranges known durable, sorted, disjoint, inside [0, size).
  std::vector<std::pair<std::uint64_t, std::uint64_t>> held;

  /// End of the last held range (0 when nothing is held).
  std::uint64_t held_end() const;
  friend bool operator==(const SegmentMap&, const SegmentMap&) = default;
};

/// Text form: versioned, one field per line, so a newer format is recognised and ignored.
std::string encode_segment_map(const SegmentMap& map);
/// nullopt for anything malformed (unknown version, unsorted or out-of-range ranges).
std::optional<SegmentMap> decode_segment_map(std::string_view text);

/// Replaces the map on the open file. Errors: 0xC0D00000 + errno (ENOTSUP where the filesystem
/// has no user xattrs).
Status write_segment_map(int fd, const SegmentMap& map);
/// The file's map, or nullopt if it has none, it cannot be read, or it is malformed.
std::optional<SegmentMap> read_segment_map(int fd);
/// Removes the map; a file without one is fine. Errors: 0xC0D00000 + errno.
Status remove_segment_map(int fd);

}  // namespace bgcopy::fs
