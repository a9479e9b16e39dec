#include "transfer/segment_table.hpp"

#include <algorithm>

namespace bgcopy::transfer {

ByteRanges::ByteRanges(const std::vector<Range>& ranges) {
  for (const auto& [first, end] : ranges) {
    add(first, end);
  }
}

void ByteRanges::add(std::uint64_t first, std::uint64_t end) {
  if (first >= end) {
    return;
  }
  // Merge with every range that overlaps or touches [first, end).
  auto it = ranges_.upper_bound(first);
  if (it != ranges_.begin()) {
    auto prev = std::prev(it);
    if (prev->second >= first) {
      first = prev->first;
      end = std::max(end, prev->second);
      it = ranges_.erase(prev);
    }
  }
  while (it != ranges_.end() && it->first <= end) {
    end = std::max(end, it->second);
    it = ranges_.erase(it);
  }
  ranges_.emplace(first, end);
}

std::uint64_t ByteRanges::total() const {
  std::uint64_t n = 0;
  for (const auto& [first, end] : ranges_) {
    n += end - first;
  }
  return n;
}

std::uint64_t ByteRanges::prefix() const {
  if (ranges_.empty() || ranges_.begin()->first != 0) {
    return 0;
  }
  return ranges_.begin()->second;
}

std::uint64_t ByteRanges::end() const {
  return ranges_.empty() ? 0 : std::prev(ranges_.end())->second;
}

bool ByteRanges::covers(std::uint64_t first, std::uint64_t end) const {
  if (first >= end) {
    return true;
  }
  auto it = ranges_.upper_bound(first);
  if (it == ranges_.begin()) {
    return false;
  }
  --it;
  return it->first <= first && it->second >= end;
}

std::vector<ByteRanges::Range> ByteRanges::ranges() const {
  return {ranges_.begin(), ranges_.end()};
}

std::vector<ByteRanges::Range> ByteRanges::gaps(std::uint64_t size) const {
  std::vector<Range> out;
  std::uint64_t at = 0;
  for (const auto& [first, end] : ranges_) {
    if (first >= size) {
      break;
    }
    if (first > at) {
      out.emplace_back(at, first);
    }
    at = std::max(at, end);
  }
  if (at < size) {
    out.emplace_back(at, size);
  }
  return out;
}

SegmentTable::SegmentTable(std::uint64_t size, ByteRanges held, std::uint32_t max_legs,
                           std::uint64_t min_size)
    : size_(size),
      max_legs_(std::max<std::uint32_t>(1, max_legs)),
      min_size_(std::max<std::uint64_t>(1, min_size)),
      written_(std::move(held)) {
  for (const auto& [first, end] : written_.gaps(size_)) {
    segments_.push_back(Segment{first, end, std::nullopt, 0});
  }
  // Halve the longest segment while there are fewer than max_legs and halves stay >= min_size.
  while (segments_.size() < max_legs_) {
    auto longest =
        std::max_element(segments_.begin(), segments_.end(),
                         [](const auto& a, const auto& b) { return a.left() < b.left(); });
    if (longest == segments_.end() || longest->left() < 2 * min_size_) {
      break;
    }
    const auto mid = longest->pos + longest->left() / 2;
    Segment tail{mid, longest->end, std::nullopt, 0};
    longest->end = mid;
    segments_.push_back(tail);
  }
  std::sort(segments_.begin(), segments_.end(),
            [](const auto& a, const auto& b) { return a.pos < b.pos; });
}

std::size_t SegmentTable::legs() const {
  return static_cast<std::size_t>(
      std::count_if(segments_.begin(), segments_.end(), [](const auto& s) { return s.leg; }));
}

std::optional<std::size_t> SegmentTable::take_idle() {
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    if (!segments_[i].done() && !segments_[i].leg) {
      return i;
    }
  }
  std::optional<std::size_t> busiest;
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    if (segments_[i].leg && !segments_[i].done() &&
        (!busiest || segments_[i].left() > segments_[*busiest].left())) {
      busiest = i;
    }
  }
  if (!busiest || segments_[*busiest].left() < 2 * min_size_) {
    return std::nullopt;
  }
  auto& victim = segments_[*busiest];
  const Segment tail{victim.pos + victim.left() / 2, victim.end, std::nullopt, 0};
  victim.end = tail.pos;      // its leg stops there (FetchSession cuts its body)
  segments_.push_back(tail);  // last: it may move every segment
  return segments_.size() - 1;
}

std::optional<std::size_t> SegmentTable::find(LegId leg) const {
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    if (segments_[i].leg == leg) {
      return i;
    }
  }
  return std::nullopt;
}

void SegmentTable::release(LegId leg) {
  if (const auto i = find(leg)) {
    segments_[*i].leg.reset();
  }
}

void SegmentTable::advance(std::size_t i, std::uint64_t n) {
  auto& s = segments_[i];
  n = std::min(n, s.left());
  if (n == 0) {
    return;
  }
  written_.add(s.pos, s.pos + n);
  s.pos += n;
  s.failures = 0;
}

}  // namespace bgcopy::transfer
