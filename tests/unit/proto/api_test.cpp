#include "proto/api.hpp"

#include <gtest/gtest.h>

namespace bgcopy::proto {
namespace {

TEST(ProtoApiTest, JobPathDropsBracesAndAddsSubResource) {
  EXPECT_EQ(job_path("{C775D194-090F-431F-B5FB-8334D00D1CB6}"),
            "/v1/jobs/C775D194-090F-431F-B5FB-8334D00D1CB6");
  EXPECT_EQ(job_path("c775d194-090f-431f-b5fb-8334d00d1cb6", route::kResume),
            "/v1/jobs/c775d194-090f-431f-b5fb-8334d00d1cb6/resume");
  EXPECT_EQ(job_path("a b"), "/v1/jobs/a%20b");
  EXPECT_EQ(events_path(), "/v1/events");
  EXPECT_EQ(events_path("{AB}"), "/v1/events?job=AB");
}

TEST(ProtoApiTest, ParseTargetDecodesPathAndQuery) {
  auto t = parse_target("/v1/jobs/%7BAB%7D?all_users=1&x=a+b%21&flag");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->path, "/v1/jobs/{AB}");
  EXPECT_EQ(t->param("all_users"), "1");
  EXPECT_EQ(t->param("x"), "a b!");
  EXPECT_EQ(t->param("flag"), "");
  EXPECT_FALSE(t->param("missing").has_value());
}

TEST(ProtoApiTest, ParseTargetRejectsBadInput) {
  EXPECT_FALSE(parse_target("").ok());
  EXPECT_FALSE(parse_target("http://x/v1/health").ok());
  EXPECT_FALSE(parse_target("/v1/%zz").ok());
  EXPECT_FALSE(parse_target("/v1/%4").ok());
  EXPECT_FALSE(parse_target("/v1/%").ok());
  EXPECT_FALSE(parse_target("/v1/a%00b").ok());
  auto e = parse_target("/v1/%g0");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, hr::EInvalidArg);
}

TEST(ProtoApiTest, SplitPathKeepsEmptySegments) {
  auto p = split_path("/v1/jobs/X/files");
  ASSERT_EQ(p.size(), 4U);
  EXPECT_EQ(p[0], "v1");
  EXPECT_EQ(p[3], "files");
  EXPECT_EQ(split_path("/v1/jobs/").size(), 3U);
  EXPECT_EQ(split_path("/v1//jobs").size(), 3U);
  EXPECT_TRUE(split_path("v1").empty());
}

TEST(ProtoApiTest, HttpStatusFollowsTheDocumentedTable) {
  EXPECT_EQ(http_status_for(hr::SOk), 200);
  EXPECT_EQ(http_status_for(hr::BgSPartialComplete), 200);
  EXPECT_EQ(http_status_for(hr::EInvalidArg), 400);
  EXPECT_EQ(http_status_for(hr::DoEInvalidRange), 400);
  EXPECT_EQ(http_status_for(hr::DoEOverlappingRanges), 400);
  EXPECT_EQ(http_status_for(hr::BgEStringTooLong), 400);
  EXPECT_EQ(http_status_for(hr::EAccessDenied), 403);
  EXPECT_EQ(http_status_for(hr::DoEJobNotFound), 404);
  EXPECT_EQ(http_status_for(hr::DoEInvalidState), 409);
  EXPECT_EQ(http_status_for(hr::DoEJobEmpty), 409);
  EXPECT_EQ(http_status_for(hr::DoEErrorInformationUnavailable), 409);
  EXPECT_EQ(http_status_for(hr::BgETooManyJobsPerUser), 409);
  EXPECT_EQ(http_status_for(hr::BgETooManyFilesInJob), 409);
  EXPECT_EQ(http_status_for(hr::BgETooManyRangesInFile), 409);
  EXPECT_EQ(http_status_for(hr::ENotImpl), 501);
  EXPECT_EQ(http_status_for(hr::EFail), 500);
  EXPECT_EQ(http_status_for(hresult_from_errno(28)), 500);
  EXPECT_EQ(http_status_for(hresult_from_http(404)), 500);
}

TEST(ProtoApiTest, PercentEncodeKeepsUnreserved) {
  EXPECT_EQ(percent_encode("Az09-._~"), "Az09-._~");
  EXPECT_EQ(percent_encode("{a}/?"), "%7Ba%7D%2F%3F");
}

}  // namespace
}  // namespace bgcopy::proto
