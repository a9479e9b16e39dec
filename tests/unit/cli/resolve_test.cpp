// JOB argument resolution (src/cli/resolve.hpp).
#include "cli/resolve.hpp"

#include <gtest/gtest.h>

namespace bgcopy::cli {
namespace {

constexpr const char* kId = "{C775D194-090F-431F-B5FB-8334D00D1CB6}";

JobInfo job(std::string id, std::string name) {
  JobInfo j;
  j.id = std::move(id);
  j.display_name = std::move(name);
  return j;
}

TEST(CanonicalGuid, BracesAndCaseOptional) {
  EXPECT_EQ(canonical_guid(kId), kId);
  EXPECT_EQ(canonical_guid("c775d194-090f-431f-b5fb-8334d00d1cb6"), kId);
  EXPECT_EQ(canonical_guid("{c775d194-090F-431f-B5FB-8334d00d1cb6}"), kId);
}

TEST(CanonicalGuid, RejectsEverythingElse) {
  for (const char* bad :
       {"", "nightly", "{C775D194-090F-431F-B5FB-8334D00D1CB6",
        "C775D194-090F-431F-B5FB-8334D00D1CB6}", "C775D194090F431FB5FB8334D00D1CB6",
        "{G775D194-090F-431F-B5FB-8334D00D1CB6}", "C775D194-090F-431F-B5FB-8334D00D1CB",
        "C775D194-090F-431F-B5FB_8334D00D1CB6", "(C775D194-090F-431F-B5FB-8334D00D1CB6)"}) {
    EXPECT_FALSE(canonical_guid(bad)) << bad;
  }
}

TEST(ResolveByName, ExactlyOneMatch) {
  const std::vector<JobInfo> jobs{job("{A}", "nightly"), job("{B}", "weekly"),
                                  job("{C}", "Nightly")};
  auto r = resolve_by_name("nightly", jobs);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(*r, "{A}");
  // Case-sensitive: "Nightly" is another job.
  EXPECT_EQ(*resolve_by_name("Nightly", jobs), "{C}");
}

TEST(ResolveByName, NoneIsNotFound) {
  const std::vector<JobInfo> jobs{job("{A}", "nightly")};
  auto r = resolve_by_name("night", jobs);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), hr::DoEJobNotFound);
  EXPECT_NE(r.message().find("'night'"), std::string::npos) << r.message();
  EXPECT_EQ(resolve_by_name("x", {}).code(), hr::DoEJobNotFound);
}

TEST(ResolveByName, AmbiguousListsTheIds) {
  const std::vector<JobInfo> jobs{job("{A}", "dup"), job("{B}", "other"), job("{C}", "dup")};
  auto r = resolve_by_name("dup", jobs);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), hr::EInvalidArg);
  EXPECT_NE(r.message().find("ambiguous"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("{A}"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("{C}"), std::string::npos) << r.message();
  EXPECT_EQ(r.message().find("{B}"), std::string::npos) << r.message();
}

}  // namespace
}  // namespace bgcopy::cli
