// bgcopyd: the background transfer service. Parses the command line, resolves paths and config,
// opens the job service, serves the socket API until SIGTERM/SIGINT, then shuts down in order.
#include "base/log.hpp"
#include "daemon/api_server.hpp"
#include "daemon/config.hpp"
#include "daemon/listen_socket.hpp"
#include "daemon/notify.hpp"
#include "daemon/paths.hpp"
#include "daemon/service.hpp"

#include <CLI/CLI.hpp>
#include <sys/stat.h>

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

namespace {

using namespace bgcopy;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr const char* kDescription =
    "bgcopyd - the bgcopy background transfer service\n\n"
    "Runs download jobs with Windows BITS semantics: jobs survive network drops, daemon\n"
    "restarts and reboots, resume from their last checkpoint, and nothing reaches its final\n"
    "path until the application completes the job. Applications talk to it over HTTP/1.1 +\n"
    "JSON on a Unix socket (docs/api.md), usually through the bgcopy command or libbgcopy.\n\n"
    "In user mode (the default) one bgcopyd serves its own user; `bgcopy` starts it on demand.\n"
    "In system mode (--system, normally started by systemd as root) it serves every local user:\n"
    "callers are identified by SO_PEERCRED and each job is visible only to its owner and root.\n"
    "bgcopyd always runs in the foreground and logs to stderr (the journal under systemd).";

constexpr const char* kFooter =
    "FILES\n"
    "  User mode:   socket   $XDG_RUNTIME_DIR/bgcopy/bgcopyd.sock\n"
    "                        (else /run/user/UID/bgcopy/, else /tmp/bgcopy-UID/)\n"
    "               state    $XDG_STATE_HOME/bgcopy/ (default ~/.local/state/bgcopy/)\n"
    "               config   $XDG_CONFIG_HOME/bgcopy/bgcopyd.toml (default ~/.config/...)\n"
    "  System mode: socket   /run/bgcopy/bgcopyd.sock (mode 0666; access is per uid)\n"
    "               state    /var/lib/bgcopy/\n"
    "               config   /etc/bgcopy/bgcopyd.toml\n"
    "\n"
    "CONFIG FILE (TOML; every key optional; unknown keys are errors)\n"
    "  log_level = \"info\"            trace, debug, info, warn, error, off\n"
    "  [scheduler]  max_background_jobs = 1   time_slice = 300 (seconds)\n"
    "  [limits]     jobs_per_user = 300  files_per_job = 1000  ranges_per_file = 500\n"
    "               display_name = 256  description = 1024 (characters; root is exempt\n"
    "               from the three count limits)\n"
    "  [retention]  inactive_days = 90  (untouched jobs are cancelled; 0 = never)\n"
    "  [bandwidth]  background = 0  (bytes/s for background jobs, or \"8MiB\"; 0 = unlimited)\n"
    "  [transfer]   checkpoint_bytes = \"1MiB\"  checkpoint_ms = 1000\n"
    "               stall_timeout = 60  connect_timeout = 30  (seconds)\n"
    "  [api]        request_timeout = 30 (seconds to send one request)\n"
    "               max_connections = 256\n\n"
    "ENVIRONMENT\n"
    "  BGCOPY_SOCKET     socket path (overrides the mode's default; --socket wins over it)\n"
    "  BGCOPY_STATE_DIR  state directory (likewise; --state-dir wins over it)\n"
    "  LISTEN_FDS        systemd socket activation: one listening Unix socket is used as is\n"
    "  NOTIFY_SOCKET     systemd readiness: READY=1 is sent once the API is serving\n\n"
    "SIGNALS\n"
    "  SIGTERM, SIGINT   stop accepting, checkpoint every transfer, exit 0\n\n"
    "EXIT STATUS\n"
    "  0 clean shutdown; 1 failure (another bgcopyd is serving the socket or holds the state\n"
    "  directory, bad config, I/O error); 2 usage error.";

struct Options {
  bool system = false;
  bool foreground = false;
  std::string config;
  std::string socket;
  std::string state_dir;
  std::string log_level;
};

int fail(const std::string& what) {
  log::error(what);
  return kExitFailure;
}

// Removes the socket file at exit only if it is still the one we bound (a newer daemon may
// have replaced it).
struct SocketFile {
  std::string path;
  ino_t inode = 0;
  dev_t device = 0;
  SocketFile() = default;
  SocketFile(const SocketFile&) = delete;
  SocketFile& operator=(const SocketFile&) = delete;
  ~SocketFile() {
    struct stat st {};
    if (!path.empty() && ::lstat(path.c_str(), &st) == 0 && st.st_ino == inode &&
        st.st_dev == device) {
      ::unlink(path.c_str());
    }
  }
};

int run(const Options& opt) {
  const daemon::Mode mode = opt.system ? daemon::Mode::System : daemon::Mode::User;
  const uid_t uid = ::geteuid();

  auto paths =
      daemon::resolve_paths(mode, daemon::PathOverrides{opt.socket, opt.state_dir, opt.config}, uid,
                            [](const char* name) { return std::getenv(name); });
  if (!paths) return fail(paths.error().message);

  auto config = daemon::load_config(paths->config, paths->config_explicit);
  if (!config) return fail(config.error().message);
  if (opt.log_level.empty() && config->log_level) log::set_level(*config->log_level);
  if (mode == daemon::Mode::System && uid != 0) {
    log::warn("system mode without root: files can only be written where uid " +
              std::to_string(uid) + " may write");
  }

  auto activated = daemon::activated_socket();
  if (!activated) return fail(activated.error().message);
  const bool socket_activated = activated->has_value();
  if (!socket_activated) {
    if (auto st = daemon::prepare_socket_dir(paths->socket, mode, uid, !paths->socket_explicit);
        !st) {
      return fail(st.error().message);
    }
    // Checked before the service opens so a second daemon never touches the jobs at all.
    if (daemon::probe_socket(paths->socket) == daemon::SocketProbe::Live) {
      return fail("another bgcopyd is already serving " + paths->socket);
    }
  }

  if (auto st =
          daemon::make_dirs(paths->state_dir.substr(0, paths->state_dir.find_last_of('/')), 0700);
      !st) {
    return fail(st.error().message);
  }
  auto service = daemon::Service::open(daemon::ServiceOptions{paths->state_dir, config->engine,
                                                              config->transfer.connections_per_file,
                                                              config->transfer.segment_min_size});
  if (!service) return fail(service.error().message);

  UniqueFd listening;
  SocketFile socket_file;
  if (socket_activated) {
    listening = std::move(**activated);
  } else {
    auto fd = daemon::listen_unix(paths->socket, mode == daemon::Mode::System ? 0666 : 0600);
    if (!fd) return fail(fd.error().message);
    listening = std::move(*fd);
    struct stat st {};
    if (::lstat(paths->socket.c_str(), &st) == 0) {
      socket_file.path = paths->socket;
      socket_file.inode = st.st_ino;
      socket_file.device = st.st_dev;
    }
  }

  daemon::NotifyRunner notify((*service)->host(), (*service)->events());
  daemon::ApiOptions api;
  api.mode = mode;
  api.version = BGCOPY_VERSION;
  api.max_connections = config->api.max_connections;
  api.max_connections_per_uid = config->api.max_connections_per_user;
  api.read_timeout = std::chrono::seconds(config->api.request_timeout_s);
  api.write_timeout = std::chrono::seconds(config->api.write_timeout_s);
  daemon::ApiServer server((*service)->host(), (*service)->events(), api);
  if (auto st = server.start(std::move(listening)); !st) return fail(st.error().message);

  const std::string where = socket_activated ? "a socket from systemd" : paths->socket;
  log::info("bgcopyd " BGCOPY_VERSION " serving on " + where + " (" +
            std::string(daemon::mode_name(mode)) + " mode), state in " + paths->state_dir);
  daemon::notify_ready("Serving on " + where);

  sigset_t waited;
  sigemptyset(&waited);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&waited, sig);
  for (;;) {
    siginfo_t info{};
    const int sig = ::sigwaitinfo(&waited, &info);
    if (sig == SIGCHLD) {
      notify.reap();
    } else if (sig == SIGHUP) {
      log::info("SIGHUP ignored: restart bgcopyd to apply a changed config");
    } else if (sig == SIGTERM || sig == SIGINT) {
      log::info(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") +
                "; shutting down");
      break;
    }
  }

  daemon::notify_stopping();
  server.stop();       // no new calls; event streams end
  notify.stop();       // no new notify commands
  (*service)->stop();  // checkpoint and stop every transfer
  service->reset();
  log::info("bgcopyd stopped");
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken synchronously by the main thread (sigwaitinfo); every thread started
  // later inherits this mask, so none of them is interrupted by them.
  sigset_t blocked;
  sigemptyset(&blocked);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&blocked, sig);
  ::pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  CLI::App app{kDescription, "bgcopyd"};
  app.footer(kFooter);
  app.get_formatter()->column_width(28);
  Options opt;
  app.set_version_flag("--version", "bgcopyd " BGCOPY_VERSION, "Print the version and exit");
  app.add_flag("--system", opt.system,
               "System mode: serve every local user (run as root, normally by systemd)");
  app.add_flag("--foreground", opt.foreground,
               "Run in the foreground (always the case; accepted for compatibility)");
  app.add_option("--config", opt.config, "Config file to read; it must exist")->type_name("PATH");
  app.add_option("--socket", opt.socket, "Listen on this Unix socket path")->type_name("PATH");
  app.add_option("--state-dir", opt.state_dir, "Keep the job database in this directory")
      ->type_name("DIR");
  app.add_option("--log-level", opt.log_level,
                 "trace, debug, info, warn, error or off (default info)")
      ->type_name("LEVEL");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (!opt.log_level.empty()) {
    log::Level level{};
    if (!log::parse_level(opt.log_level, level)) {
      std::cerr << "bgcopyd: unknown log level '" << opt.log_level
                << "' (trace, debug, info, warn, error, off)\n";
      return kExitUsage;
    }
    log::set_level(level);
  }
  for (const std::string* p : {&opt.config, &opt.socket, &opt.state_dir}) {
    if (!p->empty() && p->front() != '/') {
      std::cerr << "bgcopyd: paths must be absolute: " << *p << "\n";
      return kExitUsage;
    }
  }
  return run(opt);
}
