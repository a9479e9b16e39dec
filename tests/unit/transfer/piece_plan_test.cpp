#include "transfer/piece_plan.hpp"

#include <gtest/gtest.h>

namespace bgcopy::transfer {
namespace {

using engine::FileRange;
using engine::kLengthToEof;
using Pos = PiecePlan::Position;

TEST(PiecePlan, WholeFileWithUnknownSize) {
  auto p = PiecePlan::whole_file(std::nullopt);
  EXPECT_TRUE(p.whole());
  EXPECT_EQ(p.count(), 1U);
  EXPECT_FALSE(p.total());
  EXPECT_EQ(p.locate(0), (Pos{0, 0}));
  EXPECT_EQ(p.locate(12345), (Pos{0, 12345}));
  ASSERT_TRUE(p.apply_remote_size(100).ok());
  EXPECT_EQ(p.total(), std::optional<std::uint64_t>(100));
  EXPECT_EQ(p.locate(100), (Pos{1, 0}));
  EXPECT_FALSE(p.locate(101));
}

TEST(PiecePlan, RangesLocateByConcatenatedOffsets) {
  auto p = PiecePlan::from_ranges({{100, 100}, {900, 100}, {400, 100}});
  EXPECT_FALSE(p.whole());
  EXPECT_EQ(p.total(), std::optional<std::uint64_t>(300));
  EXPECT_EQ(p.locate(0), (Pos{0, 0}));
  EXPECT_EQ(p.locate(99), (Pos{0, 99}));
  EXPECT_EQ(p.locate(100), (Pos{1, 0}));
  EXPECT_EQ(p.locate(150), (Pos{1, 50}));
  EXPECT_EQ(p.locate(250), (Pos{2, 50}));
  EXPECT_EQ(p.locate(300), (Pos{3, 0}));
  EXPECT_FALSE(p.locate(301));
  EXPECT_EQ(p.staging_start(2), 200U);
}

TEST(PiecePlan, ZeroLengthRangesAreSkipped) {
  auto p = PiecePlan::from_ranges({{0, 10}, {50, 0}, {20, 5}});
  EXPECT_EQ(p.locate(10), (Pos{2, 0}));
}

TEST(PiecePlan, EofRangeIsOpenUntilTheSizeIsKnown) {
  auto p = PiecePlan::from_ranges({{0, 10}, {500, kLengthToEof}});
  EXPECT_FALSE(p.total());
  EXPECT_EQ(p.locate(10), (Pos{1, 0}));
  EXPECT_EQ(p.locate(400), (Pos{1, 390}));
  ASSERT_TRUE(p.apply_remote_size(1000).ok());
  EXPECT_EQ(p.length(1), std::optional<std::uint64_t>(500));
  EXPECT_EQ(p.total(), std::optional<std::uint64_t>(510));
  p.forget_remote_size();
  EXPECT_FALSE(p.total());
  EXPECT_EQ(p.length(0), std::optional<std::uint64_t>(10));
}

TEST(PiecePlan, RangesBeyondTheRemoteSizeAreInvalid) {
  auto p = PiecePlan::from_ranges({{100, 100}, {900, 100}});
  const auto st = p.apply_remote_size(950);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, hr::DoEInvalidRange);
  EXPECT_EQ(st.error().context, ErrorContext::RemoteFile);
  EXPECT_TRUE(p.apply_remote_size(1000).ok());
  auto q = PiecePlan::from_ranges({{1000, kLengthToEof}});
  EXPECT_FALSE(q.apply_remote_size(1000).ok());
  EXPECT_TRUE(q.apply_remote_size(1001).ok());
  auto huge = PiecePlan::from_ranges({{UINT64_MAX - 1, 10}});
  EXPECT_FALSE(huge.apply_remote_size(100).ok());
}

TEST(PiecePlan, RemoteSizeFromARecordedTotal) {
  auto one = PiecePlan::from_ranges({{0, 10}, {500, kLengthToEof}});
  EXPECT_EQ(one.remote_size_from_total(510), std::optional<std::uint64_t>(1000));
  auto two = PiecePlan::from_ranges({{100, kLengthToEof}, {300, kLengthToEof}});
  // (size-100) + (size-300) = 1200 -> size = 800
  EXPECT_EQ(two.remote_size_from_total(1200), std::optional<std::uint64_t>(800));
  EXPECT_FALSE(two.remote_size_from_total(1201));  // not divisible: inconsistent
  auto fixed = PiecePlan::from_ranges({{0, 10}});
  EXPECT_FALSE(fixed.remote_size_from_total(10));  // nothing open: cannot tell
  EXPECT_EQ(PiecePlan::whole_file(std::nullopt).remote_size_from_total(77),
            std::optional<std::uint64_t>(77));
}

TEST(PiecePlan, SetLengthClosesAnOpenPiece) {
  auto p = PiecePlan::from_ranges({{5, kLengthToEof}});
  p.set_length(0, 42);
  EXPECT_EQ(p.total(), std::optional<std::uint64_t>(42));
  EXPECT_EQ(p.locate(42), (Pos{1, 0}));
}

}  // namespace
}  // namespace bgcopy::transfer
