// The bgcopy command line (cli::run): CLI11's parsing of every verb and option, then the
// parsers behind the verbs (--range, --sha256, --priority, --type, set KEY VALUE..., wait
// --timeout, transfer's URL/path pairs, add-set list files) up to the point where a verb needs
// the service. bgcopy has no bitsadmin syntax yet (run() refuses "/..." verbs); this is the
// argument parser that exists.
//
// Input: one argument per line (argv[0] is supplied). The service is out of reach by
// construction: BGCOPY_SOCKET names a path in an empty private directory, auto-start is off,
// --socket/--system are dropped, standard input is empty and /dev, /proc and /sys paths are
// replaced, so no input can talk to a real bgcopyd, start one, or block on a read.
#include "cli/cli.hpp"
#include "fuzz_check.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

char g_dir[] = "/tmp/bgcopy-cli-fuzz-XXXXXX";

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = ::mkdtemp(g_dir);
  if (dir == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  std::atexit([] { ::rmdir(g_dir); });  // nothing is ever created inside it
  const std::string d(dir);
  ::setenv("BGCOPY_SOCKET", (d + "/no-service.sock").c_str(), 1);
  ::setenv("BGCOPY_NO_AUTOSTART", "1", 1);
  ::setenv("BGCOPY_STATE_DIR", d.c_str(), 1);
  ::setenv("XDG_RUNTIME_DIR", d.c_str(), 1);
  ::setenv("XDG_STATE_HOME", d.c_str(), 1);
  ::setenv("HOME", d.c_str(), 1);
  ::setenv("PATH", d.c_str(), 1);  // find_daemon() finds nothing either
  static std::istringstream empty;
  std::cin.rdbuf(empty.rdbuf());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args{"bgcopy"};
  while (!input.empty() && args.size() < 64) {
    const auto nl = input.find('\n');
    std::string arg(input.substr(0, nl));
    input.remove_prefix(nl == std::string_view::npos ? input.size() : nl + 1);
    if (starts_with(arg, "--so") || starts_with(arg, "--sy")) continue;
    if (starts_with(arg, "/dev") || starts_with(arg, "/proc") || starts_with(arg, "/sys")) {
      arg = "/nonexistent";
    }
    args.push_back(std::move(arg));
  }

  std::ostringstream out;
  std::ostringstream err;
  bgcopy::cli::Io io(out, err);
  io.cwd = "/home/fuzz";
  io.columns = [] { return 80; };
  io.rows = [] { return 24; };
  const int code = bgcopy::cli::run(args, io);
  // The documented exit statuses only; and a usage error always says something.
  BGCOPY_FUZZ_CHECK(code == bgcopy::cli::kExitOk || code == bgcopy::cli::kExitFailure ||
                    code == bgcopy::cli::kExitUsage || code == bgcopy::cli::kExitTimeout);
  if (code == bgcopy::cli::kExitUsage) {
    BGCOPY_FUZZ_CHECK(!err.str().empty());
  }
  // "bgcopy: internal error" is run()'s last-resort catch: an exception escaped a verb. Only at
  // the start of a line: messages quote arguments, and an argument may say anything.
  const std::string e = err.str();
  BGCOPY_FUZZ_CHECK(e.rfind("bgcopy: internal error", 0) != 0 &&
                    e.find("\nbgcopy: internal error") == std::string::npos);
  return 0;
}
