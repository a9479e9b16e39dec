// Bookkeeping of a segmented download: the whole remote file [0, size) fetched over several
// connections ("legs") at once, each writing its own segment at its own offset of the staging
// file. Pure: no I/O, no clock. FetchSession does the writes, the syncs and the events.
//
// Segments are cut from the bytes not yet held, largest first, until there are as many as
// connections or each is below twice the minimum size. A leg that finishes while others still
// have far to go takes the second half of the longest running segment (work stealing), so one
// slow connection does not hold up the end of the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace bgcopy::transfer {

/// A set of disjoint byte ranges [first, end); adjacent ranges merge.
class ByteRanges {
 public:
  using Range = std::pair<std::uint64_t, std::uint64_t>;
  ByteRanges() = default;
  explicit ByteRanges(const std::vector<Range>& ranges);

  void add(std::uint64_t first, std::uint64_t end);
  void clear() { ranges_.clear(); }
  bool empty() const { return ranges_.empty(); }
  /// Bytes held.
  std::uint64_t total() const;
  /// Bytes held from 0 without a hole: where a plain byte-count resume could start.
  std::uint64_t prefix() const;
  /// End of the last range (0 when empty).
  std::uint64_t end() const;
  bool covers(std::uint64_t first, std::uint64_t end) const;
  std::vector<Range> ranges() const;
  /// The holes in [0, size).
  std::vector<Range> gaps(std::uint64_t size) const;
  friend bool operator==(const ByteRanges&, const ByteRanges&) = default;

 private:
  std::map<std::uint64_t, std::uint64_t> ranges_;  // first -> end
};

class SegmentTable {
 public:
  using LegId = std::uint32_t;
  struct Segment {
    std::uint64_t pos = 0;  // next byte to fetch
    std::uint64_t end = 0;  // exclusive; may shrink when another leg takes the tail
    std::optional<LegId> leg;
    std::uint32_t failures = 0;  // failed requests in a row without a byte of progress
    bool done() const { return pos >= end; }
    std::uint64_t left() const { return end - pos; }
  };

  /// Plans [0, size) minus `held` for up to `max_legs` connections, no segment (but the last
  /// piece of a hole) shorter than min_size.
  SegmentTable(std::uint64_t size, ByteRanges held, std::uint32_t max_legs, std::uint64_t min_size);

  std::uint64_t size() const { return size_; }
  const ByteRanges& written() const { return written_; }
  bool complete() const { return written_.total() == size_; }
  std::size_t legs() const;
  std::uint32_t max_legs() const { return max_legs_; }

  /// A segment for a new leg: an idle unfinished one, else the tail half of the running
  /// segment with the most left if that half is at least min_size. nullopt: nothing to give.
  std::optional<std::size_t> take_idle();
  void assign(std::size_t i, LegId leg) { segments_[i].leg = leg; }
  std::optional<std::size_t> find(LegId leg) const;
  /// The leg ended; its segment (if unfinished) becomes idle.
  void release(LegId leg);
  /// n bytes were written at segment i's position.
  void advance(std::size_t i, std::uint64_t n);
  Segment& at(std::size_t i) { return segments_[i]; }
  const Segment& at(std::size_t i) const { return segments_[i]; }
  std::size_t count() const { return segments_.size(); }

 private:
  std::uint64_t size_;
  std::uint32_t max_legs_;
  std::uint64_t min_size_;
  ByteRanges written_;
  std::vector<Segment> segments_;
};

}  // namespace bgcopy::transfer
