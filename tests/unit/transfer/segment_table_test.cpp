// Segment bookkeeping (pure) and the xattr map that makes segments survive a crash.
#include "transfer/segment_table.hpp"

#include "base/unique_fd.hpp"
#include "fs/segment_map.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

namespace bgcopy::transfer {
namespace {

using Ranges = std::vector<ByteRanges::Range>;

TEST(ByteRanges, MergesTouchingAndOverlappingRanges) {
  ByteRanges r;
  r.add(10, 20);
  r.add(30, 40);
  r.add(20, 25);  // touches the first
  r.add(35, 50);  // overlaps the second
  EXPECT_EQ(r.ranges(), (Ranges{{10, 25}, {30, 50}}));
  EXPECT_EQ(r.total(), 35U);
  EXPECT_EQ(r.prefix(), 0U);
  r.add(0, 10);
  EXPECT_EQ(r.prefix(), 25U);
  EXPECT_EQ(r.gaps(60), (Ranges{{25, 30}, {50, 60}}));
  EXPECT_TRUE(r.covers(31, 49));
  EXPECT_FALSE(r.covers(24, 31));
}

TEST(SegmentTable, SplitsIntoConnectionsButNotBelowMinSize) {
  SegmentTable four(100, {}, 4, 10);
  ASSERT_EQ(four.count(), 4U);
  std::uint64_t at = 0;
  for (std::size_t i = 0; i < four.count(); ++i) {
    EXPECT_EQ(four.at(i).pos, at);  // sorted, contiguous, covering the file
    EXPECT_GE(four.at(i).left(), 10U);
    at = four.at(i).end;
  }
  EXPECT_EQ(at, 100U);
  // 30 bytes with a 10-byte minimum: halving 30 gives 15+15, halving 15 would go below 10.
  SegmentTable small(30, {}, 8, 10);
  EXPECT_EQ(small.count(), 2U);
  SegmentTable tiny(19, {}, 8, 10);
  EXPECT_EQ(tiny.count(), 1U);
}

TEST(SegmentTable, PlansOnlyTheHoles) {
  SegmentTable t(100, ByteRanges(Ranges{{0, 40}, {60, 70}}), 1, 10);
  ASSERT_EQ(t.count(), 2U);
  EXPECT_EQ(t.at(0).pos, 40U);
  EXPECT_EQ(t.at(0).end, 60U);
  EXPECT_EQ(t.at(1).pos, 70U);
  EXPECT_EQ(t.at(1).end, 100U);
  EXPECT_EQ(t.written().total(), 50U);
  EXPECT_FALSE(t.complete());
}

TEST(SegmentTable, IdleLegTakesTheTailOfTheLongestRunningSegment) {
  SegmentTable t(100, {}, 2, 10);
  ASSERT_EQ(t.count(), 2U);
  const auto a = t.take_idle();
  ASSERT_TRUE(a);
  t.assign(*a, 1);
  const auto b = t.take_idle();
  ASSERT_TRUE(b);
  t.assign(*b, 2);
  t.advance(*b, 50);  // leg 2 is done with 50..100
  EXPECT_TRUE(t.at(*b).done());
  t.release(2);
  t.advance(*a, 10);  // leg 1 is at 10 of 0..50: 40 left, enough to give away 20
  const auto c = t.take_idle();
  ASSERT_TRUE(c);
  EXPECT_EQ(t.at(*a).end, 30U);
  EXPECT_EQ(t.at(*c).pos, 30U);
  EXPECT_EQ(t.at(*c).end, 50U);
  t.assign(*c, 3);
  t.advance(*a, 100);  // capped at the new end
  EXPECT_EQ(t.at(*a).pos, 30U);
  t.advance(*c, 20);
  EXPECT_TRUE(t.complete());
  EXPECT_FALSE(t.take_idle());
}

TEST(SegmentMap, RoundTripsAndRejectsMalformedText) {
  fs::SegmentMap m;
  m.size = 1000;
  m.etag = "\"abc\"";
  m.last_modified = "Tue, 14 Nov 2023 22:13:20 GMT";
  m.held = {{0, 100}, {500, 700}};
  const auto text = fs::encode_segment_map(m);
  EXPECT_EQ(fs::decode_segment_map(text), m);
  EXPECT_FALSE(fs::decode_segment_map(text.substr(0, text.size() - 1)));  // cut short
  auto bad = m;
  bad.held = {{500, 700}, {0, 100}};  // unsorted
  EXPECT_FALSE(fs::decode_segment_map(fs::encode_segment_map(bad)));
  bad.held = {{0, 1001}};  // past the end
  EXPECT_FALSE(fs::decode_segment_map(fs::encode_segment_map(bad)));
  EXPECT_FALSE(fs::decode_segment_map("bgcopy-segments 2\nsize 1\nheld\n"));
}

TEST(SegmentMap, LivesOnTheFileAsAnXattr) {
  testing::TempDir dir;
  const auto path = dir / "f";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(fd.valid());
  EXPECT_FALSE(fs::read_segment_map(fd.get()));
  fs::SegmentMap m;
  m.size = 10;
  m.etag = "\"e\"";
  m.held = {{2, 4}};
  auto st = fs::write_segment_map(fd.get(), m);
  if (!st && errno_of(st.error().code) == ENOTSUP) {
    GTEST_SKIP() << "no user xattrs on " << dir.path();
  }
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(fs::read_segment_map(fd.get()), m);
  ASSERT_TRUE(fs::remove_segment_map(fd.get()));
  EXPECT_FALSE(fs::read_segment_map(fd.get()));
  EXPECT_TRUE(fs::remove_segment_map(fd.get()));  // nothing to remove is fine
}

}  // namespace
}  // namespace bgcopy::transfer
