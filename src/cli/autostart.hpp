// Starting the user's bgcopyd on demand, so `bgcopy transfer URL PATH` works on a fresh login.
#pragma once

#include <bgcopy/manager.hpp>
#include <bgcopy/result.hpp>

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace bgcopy::cli {

/// bgcopyd in the directory of `self_exe` when it is executable there, else the first
/// executable bgcopyd in PATH; nullopt when there is none.
std::optional<std::filesystem::path> find_daemon(const std::filesystem::path& self_exe);

/// The user service's state directory: $BGCOPY_STATE_DIR, else $XDG_STATE_HOME/bgcopy (when
/// absolute), else $HOME/.local/state/bgcopy; nullopt when none can be found.
std::optional<std::filesystem::path> user_state_dir();

/// Starts `daemon` detached from us: in a new session (double fork, so it is nobody's zombie),
/// stdin from /dev/null, stdout and stderr appended to `log` (or /dev/null when it cannot be
/// opened), no other descriptors inherited. With a non-empty `socket`, BGCOPY_SOCKET is set
/// for it. Returns as soon as the program has been exec'd, with its pid in *pid_out (when
/// given); 0xC0D00000 + errno when it could not be started.
Status spawn_detached(const std::filesystem::path& daemon, const std::filesystem::path& log,
                      const std::string& socket, pid_t* pid_out = nullptr);

/// Manager::connect(options). When that finds nothing listening (ENOENT, ECONNREFUSED) and
/// `autostart` is true: starts the user service (find_daemon, log in user_state_dir()/
/// bgcopyd.log) and retries until it answers or `deadline` passes. The failure then says what
/// was tried and where the log is.
Result<Manager> connect_with_autostart(const ConnectOptions& options, bool autostart,
                                       const std::filesystem::path& self_exe,
                                       std::chrono::milliseconds deadline);

}  // namespace bgcopy::cli
