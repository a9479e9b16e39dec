// What every verb shares: the streams, the global options, the (lazily opened) connection to
// the service, the JOB resolver and the uniform failure output.
#pragma once

#include "cli/cli.hpp"
#include <bgcopy/bgcopy.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace bgcopy::cli {

struct GlobalOptions {
  std::string socket;   // --socket
  bool system = false;  // --system
};

class Context {
 public:
  Context(Io& io, GlobalOptions global) : io_(io), global_(std::move(global)) {}

  Io& io() { return io_; }
  const GlobalOptions& global() const { return global_; }

  /// Connects on first use (starting the user service when nothing answers, see autostart.hpp).
  Result<Manager> manager();
  /// JOB: a GUID (looked up by id, then, if no such job, as a name), else a display name
  /// that must match exactly one of the caller's jobs.
  Result<Job> resolve(std::string_view ref);

  /// Prints "bgcopy: <what> failed: 0xXXXXXXXX NAME: <message>" on stderr; returns 1.
  int fail(std::string_view what, const Status& status);
  /// Prints "bgcopy <verb>: <message>" and a pointer to --help on stderr; returns 2.
  int usage(std::string_view verb, std::string_view message);
  /// For a success code other than S_OK (BG_S_PARTIAL_COMPLETE, ...): a warning on stderr.
  void note_partial(std::string_view what, const Status& status);
  /// JSON indentation: pretty on a terminal, one line otherwise.
  int json_indent() const { return io_.out_is_tty ? 2 : -1; }

 private:
  Io& io_;
  GlobalOptions global_;
  std::optional<Manager> manager_;
};

// --- Verbs (commands.cpp, watch.cpp) ------------------------------------------------------

struct CreateArgs {
  std::string name;
  std::string type = "download";
  std::string priority = "normal";
};
struct AddArgs {
  std::string job;
  std::string url;
  std::string local_path;
  std::string sha256;  // "" when not given
  std::string ranges;  // "" when not given
  bool has_sha256 = false;
  bool has_ranges = false;
};
struct SetArgs {
  std::string job;
  std::string key;
  std::vector<std::string> values;
};
struct WaitArgs {
  std::string job;
  std::string timeout;  // "" = forever
};
struct TransferArgs {
  std::vector<std::string> pairs;  // URL LOCAL_PATH URL LOCAL_PATH ...
  std::vector<std::string> sha256;
  std::string priority = "foreground";
  std::string name = "bgcopy transfer";
};

int cmd_create(Context& ctx, const CreateArgs& args);
int cmd_add(Context& ctx, const AddArgs& args);
int cmd_add_set(Context& ctx, const std::string& job, const std::string& list_file);
/// resume, suspend, cancel, complete.
int cmd_action(Context& ctx, std::string_view verb, const std::string& job);
int cmd_info(Context& ctx, const std::string& job, bool json);
int cmd_files(Context& ctx, const std::string& job, bool json);
int cmd_list(Context& ctx, bool all_users, bool json);
int cmd_set(Context& ctx, const SetArgs& args);
int cmd_wait(Context& ctx, const WaitArgs& args);
int cmd_monitor(Context& ctx, const std::string& job);  // "" = every job
int cmd_transfer(Context& ctx, const TransferArgs& args);

}  // namespace bgcopy::cli
