#include "cli/cli.hpp"

#include "cli/context.hpp"
#include "cli/help.hpp"

#include <CLI/CLI.hpp>
#include <sys/ioctl.h>

#include <unistd.h>

#include <iostream>
#include <memory>
#include <system_error>

namespace bgcopy::cli {
namespace {

constexpr std::string_view kShortUsage =
    "usage: bgcopy [--socket PATH | --system] COMMAND [ARGUMENTS...]\n"
    "commands: create add add-set resume suspend cancel complete info files list set wait\n"
    "          monitor transfer\n"
    "Run 'bgcopy --help' for the manual, 'bgcopy COMMAND --help' for a command.\n";

std::shared_ptr<CLI::FormatterLambda> manual(std::string verb) {
  return std::make_shared<CLI::FormatterLambda>(
      [verb = std::move(verb)](const CLI::App*, std::string, CLI::AppFormatMode) {
        return help_text(verb);
      });
}

bool is_verb(std::string_view word) {
  const auto& all = verbs();
  return std::find(all.begin(), all.end(), word) != all.end();
}

/// The verb among the arguments (the first word that is one), for messages.
std::string verb_in(const std::vector<std::string>& args) {
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (is_verb(args[i])) {
      return args[i];
    }
  }
  return {};
}

int run_unguarded(const std::vector<std::string>& args, Io& io) {
  if (args.size() <= 1) {
    io.err << kShortUsage;
    return kExitUsage;
  }
  if (args[1].size() > 1 && args[1].front() == '/') {
    io.err << "bgcopy: bitsadmin syntax (" << args[1] << " ...) is not supported yet\n"
           << "Run 'bgcopy --help' for usage.\n";
    return kExitUsage;
  }

  CLI::App app{"bgcopy", "bgcopy"};
  app.formatter(manual(""));
  app.fallthrough();
  app.require_subcommand(1, 1);
  GlobalOptions global;
  auto* socket_opt = app.add_option("--socket", global.socket, "socket of the service");
  auto* system_opt = app.add_flag("--system", global.system, "use the system service");
  socket_opt->excludes(system_opt);
  app.set_version_flag("--version", std::string("bgcopy ") + BGCOPY_VERSION_STRING +
                                        " (libbgcopy " + library_version() + ")");

  const auto verb = [&app](const char* name, const char* summary) {
    auto* sub = app.add_subcommand(name, summary);
    sub->formatter(manual(name));
    return sub;
  };

  CreateArgs create;
  auto* create_cmd = verb("create", "create an empty job");
  create_cmd->add_option("--type", create.type);
  create_cmd->add_option("--priority", create.priority);
  create_cmd->add_option("NAME", create.name)->required();

  AddArgs add;
  auto* add_cmd = verb("add", "add a file to a job");
  add_cmd->add_option("JOB", add.job)->required();
  add_cmd->add_option("URL", add.url)->required();
  add_cmd->add_option("LOCAL_PATH", add.local_path)->required();
  auto* add_sha = add_cmd->add_option("--sha256", add.sha256);
  auto* add_range = add_cmd->add_option("--range", add.ranges);

  std::string job_ref;
  std::string list_file;
  auto* add_set_cmd = verb("add-set", "add the files listed in a file");
  add_set_cmd->add_option("JOB", job_ref)->required();
  add_set_cmd->add_option("LISTFILE", list_file)->required();

  std::vector<std::pair<std::string_view, CLI::App*>> actions;
  for (const char* name : {"resume", "suspend", "cancel", "complete"}) {
    auto* sub = verb(name, "change a job's state");
    sub->add_option("JOB", job_ref)->required();
    actions.emplace_back(name, sub);
  }

  bool json = false;
  auto* info_cmd = verb("info", "show a job");
  info_cmd->add_option("JOB", job_ref)->required();
  info_cmd->add_flag("--json", json);

  auto* files_cmd = verb("files", "show a job's files");
  files_cmd->add_option("JOB", job_ref)->required();
  files_cmd->add_flag("--json", json);

  bool all_users = false;
  auto* list_cmd = verb("list", "show your jobs");
  list_cmd->add_flag("--all-users", all_users);
  list_cmd->add_flag("--json", json);

  SetArgs set;
  auto* set_cmd = verb("set", "change a setting of a job");
  set_cmd->add_option("JOB", set.job)->required();
  set_cmd->add_option("KEY", set.key)->required();
  set_cmd->add_option("VALUE", set.values)->required();

  WaitArgs wait;
  auto* wait_cmd = verb("wait", "wait for a job");
  wait_cmd->add_option("JOB", wait.job)->required();
  wait_cmd->add_option("--timeout", wait.timeout);

  auto* monitor_cmd = verb("monitor", "live progress");
  monitor_cmd->add_option("JOB", job_ref);

  TransferArgs transfer;
  auto* transfer_cmd = verb("transfer", "download now");
  transfer_cmd->add_option("--priority", transfer.priority);
  transfer_cmd->add_option("--name", transfer.name);
  transfer_cmd->add_option("--sha256", transfer.sha256)
      ->expected(1)
      ->allow_extra_args(false)
      ->take_all();
  transfer_cmd->add_option("URL_LOCAL_PATH", transfer.pairs)->required();

  std::vector<const char*> argv;
  argv.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.c_str());
  }
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::CallForHelp&) {
    io.out << app.help();
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    io.out << app.help();
    return kExitOk;
  } catch (const CLI::CallForVersion&) {
    io.out << app.version() << '\n';
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    const std::string v = verb_in(args);
    if (v.empty()) {
      const std::string& first = args[1];
      if (!first.empty() && first.front() != '-') {
        io.err << "bgcopy: unknown command '" << first << "'\n" << kShortUsage;
        return kExitUsage;
      }
    }
    Context ctx(io, global);
    return ctx.usage(v, e.what());
  }

  Context ctx(io, std::move(global));
  if (create_cmd->parsed()) {
    return cmd_create(ctx, create);
  }
  if (add_cmd->parsed()) {
    add.has_sha256 = add_sha->count() > 0;
    add.has_ranges = add_range->count() > 0;
    return cmd_add(ctx, add);
  }
  if (add_set_cmd->parsed()) {
    return cmd_add_set(ctx, job_ref, list_file);
  }
  for (const auto& [name, sub] : actions) {
    if (sub->parsed()) {
      return cmd_action(ctx, name, job_ref);
    }
  }
  if (info_cmd->parsed()) {
    return cmd_info(ctx, job_ref, json);
  }
  if (files_cmd->parsed()) {
    return cmd_files(ctx, job_ref, json);
  }
  if (list_cmd->parsed()) {
    return cmd_list(ctx, all_users, json);
  }
  if (set_cmd->parsed()) {
    return cmd_set(ctx, set);
  }
  if (wait_cmd->parsed()) {
    return cmd_wait(ctx, wait);
  }
  if (monitor_cmd->parsed()) {
    return cmd_monitor(ctx, job_ref);
  }
  if (transfer_cmd->parsed()) {
    return cmd_transfer(ctx, transfer);
  }
  io.err << kShortUsage;
  return kExitUsage;
}

int terminal_rows() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) {
    return ws.ws_row;
  }
  return 24;
}

int terminal_columns() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    return ws.ws_col;
  }
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    return ws.ws_col;
  }
  return 80;
}

}  // namespace

int run(const std::vector<std::string>& args, Io& io) {
  try {
    return run_unguarded(args, io);
  } catch (const std::exception& e) {
    io.err << "bgcopy: internal error: " << e.what() << '\n';
  } catch (...) {
    io.err << "bgcopy: internal error\n";
  }
  return kExitFailure;
}

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  std::error_code ec;
  Io io{std::cout, std::cerr};
  io.out_is_tty = ::isatty(STDOUT_FILENO) == 1;
  io.err_is_tty = ::isatty(STDERR_FILENO) == 1;
  io.cwd = std::filesystem::current_path(ec);
  io.columns = &terminal_columns;
  io.rows = &terminal_rows;
  io.self_exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  const int code = run(args, io);
  std::cout.flush();
  return code;
}

}  // namespace bgcopy::cli
