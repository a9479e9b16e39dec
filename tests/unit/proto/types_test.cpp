#include <bgcopy/types.hpp>

#include <gtest/gtest.h>

namespace bgcopy {
namespace {

TEST(PublicTypesTest, StateNamesRoundTrip) {
  for (int i = 0; i <= 8; ++i) {
    const auto s = static_cast<JobState>(i);
    JobState parsed{};
    ASSERT_TRUE(parse_state(state_name(s), parsed)) << state_name(s);
    EXPECT_EQ(parsed, s);
  }
  EXPECT_EQ(state_name(JobState::TransientError), "TRANSIENT_ERROR");
}

TEST(PublicTypesTest, ParsingIsCaseInsensitiveAndAcceptsDashes) {
  JobState s{};
  EXPECT_TRUE(parse_state("transient-error", s));
  EXPECT_EQ(s, JobState::TransientError);
  JobPriority p{};
  EXPECT_TRUE(parse_priority("Foreground", p));
  EXPECT_EQ(p, JobPriority::Foreground);
  JobType t{};
  EXPECT_TRUE(parse_type("upload-reply", t));
  EXPECT_EQ(t, JobType::UploadReply);
  ProxyUsage u{};
  EXPECT_TRUE(parse_proxy_usage("no_proxy", u));
  EXPECT_EQ(u, ProxyUsage::NoProxy);
  ErrorContext c{};
  EXPECT_TRUE(parse_context("remote_file", c));
  EXPECT_EQ(c, ErrorContext::RemoteFile);
  EventType e{};
  EXPECT_TRUE(parse_event_type("jobtransferred", e));
  EXPECT_EQ(e, EventType::JobTransferred);
}

TEST(PublicTypesTest, UnknownNamesAreRejectedAndLeaveOutAlone) {
  JobState s = JobState::Queued;
  EXPECT_FALSE(parse_state("RUNNING", s));
  EXPECT_FALSE(parse_state("", s));
  EXPECT_FALSE(parse_state("QUEUED ", s));
  EXPECT_EQ(s, JobState::Queued);
  JobPriority p{};
  EXPECT_FALSE(parse_priority("URGENT", p));
  EventType e{};
  EXPECT_FALSE(parse_event_type("JobExploded", e));
}

TEST(PublicTypesTest, EveryEnumHasAName) {
  for (int i = 0; i <= 3; ++i) {
    EXPECT_NE(priority_name(static_cast<JobPriority>(i)), "UNKNOWN");
    EXPECT_NE(proxy_usage_name(static_cast<ProxyUsage>(i)), "UNKNOWN");
    EXPECT_NE(event_type_name(static_cast<EventType>(i)), "UNKNOWN");
  }
  for (int i = 0; i <= 2; ++i) EXPECT_NE(type_name(static_cast<JobType>(i)), "UNKNOWN");
  for (int i = 0; i <= 8; ++i) {
    if (i == 1) continue;  // ErrorContext::Unknown is really called UNKNOWN
    EXPECT_NE(context_name(static_cast<ErrorContext>(i)), "UNKNOWN") << i;
  }
  EXPECT_EQ(context_name(ErrorContext::Unknown), "UNKNOWN");
  EXPECT_EQ(event_type_name(EventType::FileTransferred), "FileTransferred");
}

}  // namespace
}  // namespace bgcopy
