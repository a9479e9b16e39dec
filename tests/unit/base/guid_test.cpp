#include "base/guid.hpp"

#include <gtest/gtest.h>

#include <unordered_set>

namespace bgcopy {
namespace {

constexpr std::string_view kCanonical = "{C775D194-090F-431F-B5FB-8334D00D1CB6}";

TEST(JobId, ParseFormatRoundTrip) {
  auto id = JobId::parse(kCanonical);
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->to_string(), kCanonical);
  EXPECT_EQ(id->bytes()[0], 0xC7);
  EXPECT_EQ(id->bytes()[15], 0xB6);
  EXPECT_FALSE(id->is_nil());
}

TEST(JobId, BracesAreOptionalAndCaseIsIgnored) {
  auto braced = JobId::parse(kCanonical);
  auto bare = JobId::parse("C775D194-090F-431F-B5FB-8334D00D1CB6");
  auto lower = JobId::parse("{c775d194-090f-431f-b5fb-8334d00d1cb6}");
  auto mixed = JobId::parse("c775D194-090f-431F-b5Fb-8334d00D1cB6");
  ASSERT_TRUE(braced && bare && lower && mixed);
  EXPECT_EQ(*braced, *bare);
  EXPECT_EQ(*braced, *lower);
  EXPECT_EQ(*braced, *mixed);
  EXPECT_EQ(lower->to_string(), kCanonical);  // Always printed upper-case with braces.
}

TEST(JobId, RejectsMalformedText) {
  for (std::string_view bad : {
           "",
           "{}",
           "C775D194090F431FB5FB8334D00D1CB6",       // no dashes
           "{C775D194-090F-431F-B5FB-8334D00D1CB}",  // one digit short
           "{C775D194-090F-431F-B5FB-8334D00D1CB6",  // unbalanced brace
           "C775D194-090F-431F-B5FB-8334D00D1CB6}",  // unbalanced brace
           "{C775D194-090F-431F-B5FB-8334D00D1CB6}}",
           "(C775D194-090F-431F-B5FB-8334D00D1CB6)",  // wrong brackets
           "{G775D194-090F-431F-B5FB-8334D00D1CB6}",  // not hex
           "{C775D194-090F-431F-B5FB_8334D00D1CB6}",  // wrong separator
           "{C775D194-090F4-31F-B5FB-8334D00D1CB6}",  // dash in the wrong place
           " C775D194-090F-431F-B5FB-8334D00D1CB6",   // leading space
           "{C775D194-090F-431F-B5FB-8334D00D1CB6} ",
       }) {
    EXPECT_FALSE(JobId::parse(bad).has_value()) << "accepted: \"" << bad << "\"";
  }
}

TEST(JobId, DefaultIsNil) {
  JobId nil;
  EXPECT_TRUE(nil.is_nil());
  EXPECT_EQ(nil.to_string(), "{00000000-0000-0000-0000-000000000000}");
  EXPECT_EQ(JobId::parse(nil.to_string()), nil);
}

TEST(JobId, GenerateMakesDistinctVersion4Ids) {
  std::unordered_set<JobId> seen;
  for (int i = 0; i < 1000; ++i) {
    JobId id = JobId::generate();
    EXPECT_FALSE(id.is_nil());
    EXPECT_EQ(id.bytes()[6] >> 4, 4) << id.to_string();       // version 4
    EXPECT_EQ(id.bytes()[8] & 0xC0, 0x80) << id.to_string();  // RFC 4122 variant
    auto back = JobId::parse(id.to_string());
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, id);
    EXPECT_TRUE(seen.insert(id).second) << "duplicate " << id.to_string();
  }
}

TEST(JobId, OrdersByBytes) {
  auto a = JobId::parse("{00000000-0000-0000-0000-000000000001}");
  auto b = JobId::parse("{00000000-0000-0000-0000-000000000002}");
  ASSERT_TRUE(a && b);
  EXPECT_LT(*a, *b);
  EXPECT_NE(*a, *b);
}

}  // namespace
}  // namespace bgcopy
