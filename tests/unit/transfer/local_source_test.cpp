#include "transfer/local_source.hpp"

#include <gtest/gtest.h>

namespace bgcopy::transfer {
namespace {

struct stat file_stat(off_t size, time_t mtime, long nsec = 0) {
  struct stat st {};
  st.st_mode = S_IFREG | 0644;
  st.st_size = size;
  st.st_mtim.tv_sec = mtime;
  st.st_mtim.tv_nsec = nsec;
  return st;
}

TEST(FileUrl, Paths) {
  EXPECT_EQ(file_url_path("file:///tmp/a.bin").value(), "/tmp/a.bin");
  EXPECT_EQ(file_url_path("file://localhost/tmp/a.bin").value(), "/tmp/a.bin");
  EXPECT_EQ(file_url_path("file:///tmp/with%20space").value(), "/tmp/with space");
  EXPECT_EQ(file_url_path("FILE:///x").value(), "/x");
}

TEST(FileUrl, Rejections) {
  for (const char* bad :
       {"file://otherhost/tmp/a", "http://host/x", "file:///tmp/a%00b", "not a url at all"}) {
    const auto r = file_url_path(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, hr::EInvalidArg) << bad;
  }
}

TEST(FileUrl, SchemeDetection) {
  EXPECT_TRUE(is_file_url("file:///x"));
  EXPECT_TRUE(is_file_url("File:///x"));
  EXPECT_FALSE(is_file_url("http://x/file:"));
  EXPECT_FALSE(is_file_url("fil"));
}

TEST(LocalResponse, ValidatorsCarrySizeAndNanoseconds) {
  const auto v = local_validators(file_stat(1000, 784111777, 5));
  EXPECT_EQ(v.etag, "\"1000-784111777000000005\"");
  EXPECT_EQ(v.last_modified, "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST(LocalResponse, PlainRequestGetsTheWholeFile) {
  const auto h = local_response(file_stat(1000, 1), RequestSpec{}, "file:///f");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.content_length, std::optional<std::uint64_t>(1000));
  EXPECT_EQ(h.remote_mtime, std::optional<std::int64_t>(1));
}

TEST(LocalResponse, RangesAreClippedToTheFile) {
  RequestSpec s;
  s.ranged = true;
  s.first = 900;
  s.last = 1999;
  const auto h = local_response(file_stat(1000, 1), s, "file:///f");
  EXPECT_EQ(h.status, 206);
  ASSERT_TRUE(h.content_range);
  EXPECT_EQ(h.content_range->first, 900U);
  EXPECT_EQ(h.content_range->last, 999U);
  EXPECT_EQ(h.content_range->total, std::optional<std::uint64_t>(1000));
}

TEST(LocalResponse, RangePastTheEndIsUnsatisfiable) {
  RequestSpec s;
  s.ranged = true;
  s.first = 1000;
  const auto h = local_response(file_stat(1000, 1), s, "file:///f");
  EXPECT_EQ(h.status, 416);
  ASSERT_TRUE(h.content_range);
  EXPECT_FALSE(h.content_range->satisfied);
}

TEST(LocalResponse, IfRangeMismatchGivesTheWholeFile) {
  const auto st = file_stat(1000, 1);
  RequestSpec s;
  s.ranged = true;
  s.first = 10;
  s.if_range = "\"old\"";
  EXPECT_EQ(local_response(st, s, "file:///f").status, 200);
  s.if_range = local_validators(st).etag;
  EXPECT_EQ(local_response(st, s, "file:///f").status, 206);
}

TEST(UrlPeer, HostAndPort) {
  EXPECT_EQ(url_peer("http://127.0.0.1:8080/x"), "127.0.0.1:8080");
  EXPECT_EQ(url_peer("https://example.com/x"), "example.com:443");
  EXPECT_EQ(url_peer("http://user:pw@example.com/x"), "example.com:80");
}

}  // namespace
}  // namespace bgcopy::transfer
