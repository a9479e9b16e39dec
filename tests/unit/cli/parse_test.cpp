// Pure parsers of the command line's arguments (src/cli/parse.hpp).
#include "cli/parse.hpp"

#include <gtest/gtest.h>

namespace bgcopy::cli {
namespace {

TEST(RangeList, ParsesPairsAndEof) {
  auto r = parse_range_list("0:100,2000:100,5000:eof");
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->size(), 3U);
  EXPECT_EQ((*r)[0], (FileRange{0, 100}));
  EXPECT_EQ((*r)[1], (FileRange{2000, 100}));
  EXPECT_EQ((*r)[2], (FileRange{5000, kLengthToEof}));
}

TEST(RangeList, AcceptsSpacesAndEofInAnyCase) {
  auto r = parse_range_list(" 1:2 , 3:EOF ");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(*r, (std::vector<FileRange>{{1, 2}, {3, kLengthToEof}}));
}

TEST(RangeList, KeepsOrderAndLeavesSemanticsToTheService) {
  // Overlap and zero length are DO_E_OVERLAPPING_RANGES / DO_E_INVALID_RANGE from the service.
  auto r = parse_range_list("100:10,0:0,105:10");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->size(), 3U);
  EXPECT_EQ((*r)[0].offset, 100U);
}

TEST(RangeList, MaxValuesFit) {
  auto r = parse_range_list("18446744073709551614:1");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ((*r)[0].offset, 18446744073709551614ULL);
}

TEST(RangeList, RejectsMalformedText) {
  for (const char* bad : {"", " ", "0", "0:", ":5", "a:5", "0:abc", "0:-1", "-1:5", "0:100,",
                          ",0:100", "0:100;5:5", "1:2:3", "0x10:5", "0:18446744073709551615",
                          "18446744073709551615:1", "99999999999999999999:1", "0: 1 0"}) {
    auto r = parse_range_list(bad);
    EXPECT_FALSE(r.ok()) << "accepted \"" << bad << "\"";
    EXPECT_EQ(r.code(), hr::EInvalidArg) << bad;
  }
}

TEST(RangeList, MessageNamesTheBadItem) {
  auto r = parse_range_list("0:10,5:x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("range 2"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("5:x"), std::string::npos) << r.message();
}

TEST(Sha256, LowerCasesAndChecksLength) {
  const std::string upper(64, 'A');
  auto r = parse_sha256(upper);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, std::string(64, 'a'));
  EXPECT_FALSE(parse_sha256(std::string(63, 'a')).ok());
  EXPECT_FALSE(parse_sha256(std::string(65, 'a')).ok());
  EXPECT_FALSE(parse_sha256(std::string(63, 'a') + "g").ok());
}

TEST(Names, PriorityAndType) {
  EXPECT_EQ(*parse_priority_arg("foreground"), JobPriority::Foreground);
  EXPECT_EQ(*parse_priority_arg("HIGH"), JobPriority::High);
  EXPECT_EQ(*parse_priority_arg("Normal"), JobPriority::Normal);
  EXPECT_EQ(*parse_priority_arg("low"), JobPriority::Low);
  EXPECT_FALSE(parse_priority_arg("urgent").ok());
  EXPECT_EQ(*parse_type_arg("download"), JobType::Download);
  EXPECT_EQ(*parse_type_arg("Upload"), JobType::Upload);
  EXPECT_EQ(*parse_type_arg("upload-reply"), JobType::UploadReply);
  EXPECT_EQ(*parse_type_arg("upload_reply"), JobType::UploadReply);
  EXPECT_FALSE(parse_type_arg("fetch").ok());
}

TEST(Duration, SecondsDecimalsAndUnits) {
  EXPECT_EQ(*parse_duration_ms("600"), 600'000U);
  EXPECT_EQ(*parse_duration_ms("0"), 0U);
  EXPECT_EQ(*parse_duration_ms("1.5"), 1'500U);
  EXPECT_EQ(*parse_duration_ms("0.25s"), 250U);
  EXPECT_EQ(*parse_duration_ms("90s"), 90'000U);
  EXPECT_EQ(*parse_duration_ms("10m"), 600'000U);
  EXPECT_EQ(*parse_duration_ms("2h"), 7'200'000U);
  EXPECT_EQ(*parse_duration_ms("14d"), 1'209'600'000U);
  EXPECT_EQ(*parse_duration_ms("1.5h"), 5'400'000U);
  for (const char* bad : {"", "s", "-1", "1.", ".5", "1.5.5", "abc", "10x", "1e3", "1 0"}) {
    EXPECT_FALSE(parse_duration_ms(bad).ok()) << "accepted \"" << bad << "\"";
  }
}

TEST(FileSet, ParsesLinesCommentsAndBlankLines) {
  const std::string text =
      "# mirror list\r\n"
      "\n"
      "http://h/a /srv/a\n"
      "   # indented comment\n"
      "http://h/b\t/srv/dir with space/b  \r\n"
      "http://h/c   /srv/c";  // no final newline
  auto r = parse_file_set(text, "list.txt");
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->size(), 3U);
  EXPECT_EQ((*r)[0].remote_url, "http://h/a");
  EXPECT_EQ((*r)[0].local_path, "/srv/a");
  EXPECT_EQ((*r)[1].local_path, "/srv/dir with space/b");
  EXPECT_EQ((*r)[2].remote_url, "http://h/c");
  EXPECT_EQ((*r)[2].local_path, "/srv/c");
}

TEST(FileSet, RelativeLocalPathIsAnErrorNamingTheLine) {
  auto r = parse_file_set("http://h/a /srv/a\nhttp://h/b b.txt\n", "list.txt");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), hr::EInvalidArg);
  EXPECT_NE(r.message().find("list.txt:2:"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("absolute"), std::string::npos) << r.message();
}

TEST(FileSet, MissingPathAndEmptyListAreErrors) {
  EXPECT_FALSE(parse_file_set("http://h/a\n", "f").ok());
  EXPECT_FALSE(parse_file_set("# only a comment\n\n", "f").ok());
  EXPECT_FALSE(parse_file_set("", "f").ok());
}

TEST(SplitCommandLine, ShellWords) {
  auto r = split_command_line(R"(/usr/bin/logger -t 'bg copy' "say \"hi\"" a\ b)");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(*r,
            (std::vector<std::string>{"/usr/bin/logger", "-t", "bg copy", "say \"hi\"", "a b"}));
  EXPECT_EQ(*split_command_line("  "), std::vector<std::string>{});
  EXPECT_EQ(*split_command_line("''"), std::vector<std::string>{""});
  EXPECT_FALSE(split_command_line("'open").ok());
  EXPECT_FALSE(split_command_line("\"open").ok());
  EXPECT_FALSE(split_command_line("trailing\\").ok());
}

TEST(Setting, EveryKey) {
  auto p = parse_setting("priority", {"low"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->priority, JobPriority::Low);

  p = parse_setting("display-name", {"new name"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->display_name, "new name");

  p = parse_setting("description", {""});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->description, "");

  p = parse_setting("min-retry-delay", {"30s"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->min_retry_delay, 30U);

  p = parse_setting("no-progress-timeout", {"0"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->no_progress_timeout, 0U);

  p = parse_setting("max-download-time", {"1d"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->max_download_time, 86400U);

  p = parse_setting("notify-flags", {"0x1B"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->notify_flags, 0x1BU);
  p = parse_setting("notify-flags", {"3"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->notify_flags, 3U);

  p = parse_setting("notify-cmdline", {"/bin/echo 'job done'"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->notify_cmdline, (std::vector<std::string>{"/bin/echo", "job done"}));
  p = parse_setting("notify-cmdline", {"/bin/echo", "a b"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->notify_cmdline, (std::vector<std::string>{"/bin/echo", "a b"}));
  p = parse_setting("notify-cmdline", {"NULL"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->notify_cmdline, std::vector<std::string>{});

  p = parse_setting("proxy", {"no-proxy"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->proxy->usage, ProxyUsage::NoProxy);
  p = parse_setting("proxy", {"override", "http://proxy:3128", "<local>"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->proxy, (ProxySettings{ProxyUsage::Override, "http://proxy:3128", "<local>"}));

  p = parse_setting("tls-verify", {"false"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->tls_verify, false);

  // Keys are case-insensitive, '_' for '-'.
  p = parse_setting("Min_Retry_Delay", {"60"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->min_retry_delay, 60U);
}

TEST(Setting, OnlyTheGivenFieldIsSet) {
  auto p = parse_setting("priority", {"high"});
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->display_name);
  EXPECT_FALSE(p->description);
  EXPECT_FALSE(p->notify_flags);
  EXPECT_FALSE(p->notify_cmdline);
  EXPECT_FALSE(p->min_retry_delay);
  EXPECT_FALSE(p->no_progress_timeout);
  EXPECT_FALSE(p->proxy);
  EXPECT_FALSE(p->tls_verify);
}

TEST(Setting, Rejections) {
  struct Case {
    const char* key;
    std::vector<std::string> values;
  };
  const std::vector<Case> cases{
      {"colour", {"red"}},
      {"priority", {"urgent"}},
      {"priority", {"low", "high"}},
      {"min-retry-delay", {"-5"}},
      {"min-retry-delay", {"1.5"}},
      {"no-progress-timeout", {"99999999999"}},
      {"notify-flags", {"abc"}},
      {"notify-flags", {"0x100000000"}},
      {"notify-cmdline", {}},
      {"notify-cmdline", {"'unterminated"}},
      {"proxy", {}},
      {"proxy", {"sometimes"}},
      {"proxy", {"override"}},
      {"proxy", {"no-proxy", "extra"}},
      {"tls-verify", {"maybe"}},
      {"display-name", {}},
  };
  for (const auto& c : cases) {
    auto p = parse_setting(c.key, c.values);
    EXPECT_FALSE(p.ok()) << c.key;
    EXPECT_EQ(p.code(), hr::EInvalidArg) << c.key;
  }
}

TEST(AbsolutePath, RelativeAgainstCwdNormalised) {
  EXPECT_EQ(absolute_path("file.iso", "/home/u"), "/home/u/file.iso");
  EXPECT_EQ(absolute_path("./a/../b.iso", "/home/u"), "/home/u/b.iso");
  EXPECT_EQ(absolute_path("../x", "/home/u"), "/home/x");
  EXPECT_EQ(absolute_path("/srv/a", "/home/u"), "/srv/a");
  EXPECT_EQ(absolute_path("/srv//a/./b", "/home/u"), "/srv/a/b");
}

}  // namespace
}  // namespace bgcopy::cli
