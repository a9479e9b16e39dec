// Exit codes and output discipline of the command line without a service: usage errors exit 2
// with nothing on stdout, --help exits 0 with the manual, a dead socket exits 1 with the
// documented failure line.
#include "cli/cli.hpp"
#include "cli/help.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

namespace bgcopy::cli {
namespace {

struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
};

class CliUsage : public ::testing::Test {
 protected:
  void SetUp() override {
    // Nothing answers here and nothing may be started: a command that got past its argument
    // checks fails fast with exit 1 instead of reaching a real service.
    ::setenv("BGCOPY_SOCKET", "/nonexistent/bgcopy-usage-test/bgcopyd.sock", 1);
    ::setenv("BGCOPY_NO_AUTOSTART", "1", 1);
  }

  static Outcome run_cli(std::vector<std::string> args) {
    args.insert(args.begin(), "bgcopy");
    std::ostringstream out;
    std::ostringstream err;
    Io io(out, err);
    io.cwd = "/tmp";
    Outcome o;
    o.code = run(args, io);
    o.out = out.str();
    o.err = err.str();
    return o;
  }
};

TEST_F(CliUsage, UsageErrorsExit2WithNothingOnStdout) {
  const std::vector<std::vector<std::string>> cases{
      {},
      {"frobnicate"},
      {"--no-such-option", "list"},
      {"/create", "x"},  // bitsadmin syntax: a later issue
      {"create"},
      {"create", "--priority", "urgent", "x"},
      {"create", "--type", "fetch", "x"},
      {"create", "a", "b"},
      {"add", "job", "http://h/a"},
      {"add", "job", "http://h/a", "/tmp/a", "--range", "0:abc"},
      {"add", "job", "http://h/a", "/tmp/a", "--range", ""},
      {"add", "job", "http://h/a", "/tmp/a", "--sha256", "abc"},
      {"add-set", "job"},
      {"resume"},
      {"suspend", "a", "b"},
      {"cancel"},
      {"complete"},
      {"info"},
      {"info", "job", "--yaml"},
      {"files"},
      {"list", "extra"},
      {"list", "--all"},
      {"set", "job", "priority"},
      {"set", "job", "colour", "red"},
      {"set", "job", "priority", "urgent"},
      {"set", "job", "notify-flags", "lots"},
      {"set", "job", "min-retry-delay", "soon"},
      {"wait"},
      {"wait", "job", "--timeout", "soon"},
      {"monitor", "a", "b"},
      {"transfer"},
      {"transfer", "http://h/a"},
      {"transfer", "http://h/a", "/tmp/a", "http://h/b"},
      {"transfer", "--sha256", std::string(64, 'a'), "--sha256", std::string(64, 'b'), "http://h/a",
       "/tmp/a"},
      {"transfer", "--sha256", "xyz", "http://h/a", "/tmp/a"},
      {"transfer", "--priority", "urgent", "http://h/a", "/tmp/a"},
      {"--socket", "/tmp/s", "--system", "list"},
  };
  for (const auto& args : cases) {
    auto o = run_cli(args);
    std::string shown;
    for (const auto& a : args) shown += " " + a;
    EXPECT_EQ(o.code, kExitUsage) << "bgcopy" << shown << "\nstderr: " << o.err;
    EXPECT_EQ(o.out, "") << "bgcopy" << shown;
    EXPECT_FALSE(o.err.empty()) << "bgcopy" << shown;
  }
}

TEST_F(CliUsage, UsageMessagesNameTheProblem) {
  auto o = run_cli({"add", "job", "http://h/a", "/tmp/a", "--range", "0:100,5"});
  EXPECT_EQ(o.code, kExitUsage);
  EXPECT_NE(o.err.find("--range"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("bgcopy add --help"), std::string::npos) << o.err;

  o = run_cli({"frobnicate"});
  EXPECT_NE(o.err.find("unknown command 'frobnicate'"), std::string::npos) << o.err;
}

TEST_F(CliUsage, HelpForEveryVerbIsAManualPage) {
  for (auto verb : verbs()) {
    auto o = run_cli({std::string(verb), "--help"});
    EXPECT_EQ(o.code, kExitOk) << verb;
    EXPECT_EQ(o.err, "") << verb;
    for (const char* section : {"NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "EXAMPLES"}) {
      EXPECT_NE(("\n" + o.out).find(std::string("\n") + section + "\n"), std::string::npos)
          << verb << " --help lacks " << section;
    }
    EXPECT_NE(o.out.find("bgcopy " + std::string(verb)), std::string::npos) << verb;
    EXPECT_EQ(o.out, help_text(verb));
  }
  // -h too, and after other arguments.
  EXPECT_EQ(run_cli({"add", "x", "-h"}).out, help_text("add"));
}

TEST_F(CliUsage, TopLevelHelpAndVersion) {
  auto o = run_cli({"--help"});
  EXPECT_EQ(o.code, kExitOk);
  EXPECT_EQ(o.out, help_text(""));
  for (auto verb : verbs()) {
    EXPECT_NE(o.out.find("    " + std::string(verb) + " "), std::string::npos) << verb;
  }
  o = run_cli({"--version"});
  EXPECT_EQ(o.code, kExitOk);
  EXPECT_EQ(o.out.rfind("bgcopy 0.", 0), 0U) << o.out;
}

TEST_F(CliUsage, DeadSocketIsAFailureNotAUsageError) {
  auto o = run_cli({"list"});
  EXPECT_EQ(o.code, kExitFailure);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err.rfind("bgcopy: list failed: 0xC0D00002 ERRNO_ENOENT: ", 0), 0U) << o.err;
  EXPECT_EQ(o.err.back(), '\n');
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;

  o = run_cli({"resume", "nightly"});
  EXPECT_EQ(o.code, kExitFailure);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err.rfind("bgcopy: resume failed: 0xC0D00002 ERRNO_ENOENT: ", 0), 0U) << o.err;
}

TEST_F(CliUsage, AddSetRejectsRelativePathsBeforeConnecting) {
  const std::string list = ::testing::TempDir() + "/bgcopy-usage-list.txt";
  {
    std::FILE* f = std::fopen(list.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("# c\nhttp://h/a relative.bin\n", f);
    std::fclose(f);
  }
  auto o = run_cli({"add-set", "job", list});
  EXPECT_EQ(o.code, kExitFailure);
  EXPECT_EQ(o.out, "");
  EXPECT_NE(o.err.find("bgcopy: add-set failed: 0x80070057 E_INVALIDARG: "), std::string::npos)
      << o.err;
  EXPECT_NE(o.err.find(":2: local path must be absolute"), std::string::npos) << o.err;

  o = run_cli({"add-set", "job", "/nonexistent/list.txt"});
  EXPECT_EQ(o.code, kExitFailure);
  EXPECT_NE(o.err.find("0xC0D00002 ERRNO_ENOENT"), std::string::npos) << o.err;
  std::remove(list.c_str());
}

}  // namespace
}  // namespace bgcopy::cli
