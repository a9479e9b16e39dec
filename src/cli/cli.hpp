// The bgcopy command line (SPEC section 4): argument parsing, the verbs and their output.
// Built only on libbgcopy. main() is in src/exe/bgcopy.cpp; tests call run() with their own
// streams.
#pragma once

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace bgcopy::cli {

/// Exit statuses; part of the contract scripts depend on.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;        // a request failed, or the job ended in ERROR
inline constexpr int kExitUsage = 2;          // bad command line
inline constexpr int kExitTimeout = 3;        // wait --timeout passed
inline constexpr int kExitInterrupted = 130;  // transfer: Ctrl-C (job suspended)

/// The process's surroundings, injectable for tests.
struct Io {
  Io(std::ostream& out_stream, std::ostream& err_stream) : out(out_stream), err(err_stream) {}

  std::ostream& out;
  std::ostream& err;
  bool out_is_tty = false;
  bool err_is_tty = false;
  /// Relative local paths are made absolute against this.
  std::filesystem::path cwd;
  /// Terminal size for live output; nullptr: 80 columns, 24 rows.
  std::function<int()> columns;
  std::function<int()> rows;
  /// The bgcopy executable (for finding bgcopyd next to it); empty: PATH only.
  std::filesystem::path self_exe;
};

/// Runs one command line; args[0] is the program name. Never throws.
int run(const std::vector<std::string>& args, Io& io);

/// The real process: std::cout / std::cerr, isatty, the current directory, /proc/self/exe.
int main(int argc, char** argv);

}  // namespace bgcopy::cli
