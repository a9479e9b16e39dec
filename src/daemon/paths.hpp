// Where the service keeps its socket, its state and its config file, per mode (SPEC section 1).
#pragma once

#include "base/error.hpp"

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>

namespace bgcopy::daemon {

enum class Mode : std::uint8_t { User, System };

std::string_view mode_name(Mode mode);  // "user" / "system"

struct Paths {
  std::string socket;            // the API socket
  std::string state_dir;         // bgcopy.db and the lock file
  std::string config;            // the TOML file (need not exist unless given explicitly)
  bool config_explicit = false;  // from --config: a missing file is then an error
  bool socket_explicit = false;  // from --socket or BGCOPY_SOCKET
};

/// Command-line overrides; empty means "not given".
struct PathOverrides {
  std::string socket;
  std::string state_dir;
  std::string config;
};

/// Reads an environment variable; nullptr when unset. Injected so tests need not touch the
/// process environment.
using EnvLookup = std::function<const char*(const char*)>;

/// Resolves the paths. Precedence: command line, then BGCOPY_SOCKET / BGCOPY_STATE_DIR, then
/// the mode's defaults:
///   user:   socket $XDG_RUNTIME_DIR/bgcopy/bgcopyd.sock, else /run/user/$UID/bgcopy/...
///           when that directory exists, else /tmp/bgcopy-$UID/bgcopyd.sock;
///           state $XDG_STATE_HOME/bgcopy, else $HOME/.local/state/bgcopy;
///           config $XDG_CONFIG_HOME/bgcopy/bgcopyd.toml, else $HOME/.config/bgcopy/bgcopyd.toml
///   system: /run/bgcopy/bgcopyd.sock, /var/lib/bgcopy, /etc/bgcopy/bgcopyd.toml
/// Relative XDG values are ignored, as the XDG spec requires. Errors: E_INVALIDARG for a
/// relative override or when no home directory can be found.
Result<Paths> resolve_paths(Mode mode, const PathOverrides& overrides, uid_t uid,
                            const EnvLookup& env);

/// Creates the socket's directory (and missing parents): 0700 in user mode, 0755 in system mode
/// (where the socket itself is 0666 and callers are told apart by SO_PEERCRED).
/// With `strict` (the default locations), an existing directory in user mode must be a real
/// directory owned by uid and is made 0700, so nobody else can reach the socket or plant one
/// there (this matters for the /tmp fallback). An explicitly chosen path is the chooser's
/// business: its directory is created if missing but otherwise left alone.
/// Errors: E_ACCESSDENIED for a symlinked or foreign directory; 0xC0D00000 + errno otherwise.
Status prepare_socket_dir(const std::string& socket_path, Mode mode, uid_t uid, bool strict);

/// mkdir -p with `mode` for the directories it creates.
Status make_dirs(const std::string& path, mode_t mode);

}  // namespace bgcopy::daemon
