#include "fs/paths.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace bgcopy::fs {
namespace {

TEST(Paths, StagingDirAndBaseName) {
  EXPECT_EQ(staging_dir("/a/b/c.txt"), "/a/b");
  EXPECT_EQ(staging_dir("/c.txt"), "/");
  EXPECT_EQ(base_name("/a/b/c.txt"), "c.txt");
  EXPECT_EQ(base_name("/c.txt"), "c.txt");
}

TEST(Paths, StagingPathJoinsDirectoryAndStagingName) {
  engine::FileRecord f;
  f.spec.local_path = "/data/x.iso";
  f.staging_name = ".x.iso.bgcopy-J-0.part";
  EXPECT_EQ(staging_path(f), "/data/.x.iso.bgcopy-J-0.part");
  f.spec.local_path = "/x.iso";
  EXPECT_EQ(staging_path(f), "/.x.iso.bgcopy-J-0.part");
}

TEST(Paths, AcceptsNormalisedAbsolutePaths) {
  EXPECT_TRUE(check_path_syntax("/tmp/file").ok());
  EXPECT_TRUE(check_path_syntax("/file").ok());
  EXPECT_TRUE(check_path_syntax("/a/.hidden").ok());
  EXPECT_TRUE(check_path_syntax("/a/..dots").ok());
  EXPECT_TRUE(check_path_syntax("/a/" + std::string(255, 'x')).ok());
}

TEST(Paths, RejectsBadSyntaxWithInvalidArg) {
  for (const std::string& bad : std::vector<std::string>{
           "", "relative/file", "file", "/a//b", "/a/./b", "/a/../b", "/a/b/", "/", "/..", "/a/.",
           "/a/" + std::string(256, 'x'), std::string("/a/b\0c", 6)}) {
    const auto st = check_path_syntax(bad);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.error().code, hr::EInvalidArg) << bad;
    EXPECT_EQ(st.error().context, ErrorContext::LocalFile);
    EXPECT_FALSE(st.error().message.empty());
  }
}

TEST(Paths, StagingNameMustBeOneComponent) {
  EXPECT_TRUE(check_staging_name(".f.bgcopy-{ID}-0.part").ok());
  EXPECT_FALSE(check_staging_name("").ok());
  EXPECT_FALSE(check_staging_name(".").ok());
  EXPECT_FALSE(check_staging_name("..").ok());
  EXPECT_FALSE(check_staging_name("a/b").ok());
  EXPECT_FALSE(check_staging_name(std::string(256, 'x')).ok());
}

TEST(Paths, PseudoFilesystems) {
  EXPECT_TRUE(is_pseudo_fs_path("/proc"));
  EXPECT_TRUE(is_pseudo_fs_path("/proc/self/x"));
  EXPECT_TRUE(is_pseudo_fs_path("/sys/kernel/x"));
  EXPECT_TRUE(is_pseudo_fs_path("/dev/null"));
  EXPECT_FALSE(is_pseudo_fs_path("/process/x"));
  EXPECT_FALSE(is_pseudo_fs_path("/devices"));
  EXPECT_FALSE(is_pseudo_fs_path("/home/dev/x"));
}

}  // namespace
}  // namespace bgcopy::fs
