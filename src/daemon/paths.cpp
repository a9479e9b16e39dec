#include "daemon/paths.hpp"

#include <sys/stat.h>

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace bgcopy::daemon {
namespace {

std::optional<std::string> absolute_env(const EnvLookup& env, const char* name) {
  const char* v = env(name);
  if (v == nullptr || v[0] != '/') {
    return std::nullopt;
  }
  return std::string(v);
}

std::optional<std::string> home_dir(const EnvLookup& env, uid_t uid) {
  if (auto home = absolute_env(env, "HOME")) {
    return home;
  }
  struct passwd pw {};
  struct passwd* result = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &result) == 0 && result != nullptr &&
      pw.pw_dir != nullptr && pw.pw_dir[0] == '/') {
    return std::string(pw.pw_dir);
  }
  return std::nullopt;
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string parent_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::string_view mode_name(Mode mode) {
  return mode == Mode::System ? "system" : "user";
}

Result<Paths> resolve_paths(Mode mode, const PathOverrides& overrides, uid_t uid,
                            const EnvLookup& env) {
  Paths p;
  const std::string uid_text = std::to_string(uid);
  if (mode == Mode::System) {
    p.socket = "/run/bgcopy/bgcopyd.sock";
    p.state_dir = "/var/lib/bgcopy";
    p.config = "/etc/bgcopy/bgcopyd.toml";
  } else {
    if (auto rt = absolute_env(env, "XDG_RUNTIME_DIR")) {
      p.socket = *rt + "/bgcopy/bgcopyd.sock";
    } else if (is_dir("/run/user/" + uid_text)) {
      p.socket = "/run/user/" + uid_text + "/bgcopy/bgcopyd.sock";
    } else {
      p.socket = "/tmp/bgcopy-" + uid_text + "/bgcopyd.sock";
    }
    auto state_home = absolute_env(env, "XDG_STATE_HOME");
    auto config_home = absolute_env(env, "XDG_CONFIG_HOME");
    std::optional<std::string> home;
    if (!state_home || !config_home) {
      home = home_dir(env, uid);
    }
    if (state_home) {
      p.state_dir = *state_home + "/bgcopy";
    } else if (home) {
      p.state_dir = *home + "/.local/state/bgcopy";
    }
    if (config_home) {
      p.config = *config_home + "/bgcopy/bgcopyd.toml";
    } else if (home) {
      p.config = *home + "/.config/bgcopy/bgcopyd.toml";
    }
  }

  auto apply = [](std::string& field, const std::string& from_cli, const char* from_env,
                  const char* what, bool* overridden) -> Status {
    if (!from_cli.empty()) {
      field = from_cli;
    } else if (from_env != nullptr && from_env[0] != '\0') {
      field = from_env;
    } else {
      return {};
    }
    if (overridden != nullptr) {
      *overridden = true;
    }
    if (field.front() != '/') {
      return Error::make(hr::EInvalidArg,
                         std::string(what) + " must be an absolute path: " + field);
    }
    return {};
  };
  BGCOPY_TRY(apply(p.socket, overrides.socket, env("BGCOPY_SOCKET"), "the socket path",
                   &p.socket_explicit));
  BGCOPY_TRY(apply(p.state_dir, overrides.state_dir, env("BGCOPY_STATE_DIR"), "the state directory",
                   nullptr));
  if (!overrides.config.empty()) {
    p.config = overrides.config;
    p.config_explicit = true;
  }
  if (p.state_dir.empty()) {
    return Error::make(hr::EInvalidArg,
                       "no state directory: set HOME, XDG_STATE_HOME or BGCOPY_STATE_DIR");
  }
  return p;
}

Status make_dirs(const std::string& path, mode_t mode) {
  if (path.empty() || is_dir(path)) {
    return {};
  }
  const std::string parent = parent_of(path);
  if (parent != path) {
    BGCOPY_TRY(make_dirs(parent, mode));
  }
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return Error::from_errno(errno, "cannot create directory " + path);
  }
  return {};
}

Status prepare_socket_dir(const std::string& socket_path, Mode mode, uid_t uid, bool strict) {
  const std::string dir = parent_of(socket_path);
  const mode_t want = mode == Mode::User ? 0700 : 0755;
  // Parents the service creates (such as $XDG_RUNTIME_DIR itself) get the same tight mode.
  BGCOPY_TRY(make_dirs(parent_of(dir), want));
  if (::mkdir(dir.c_str(), want) != 0 && errno != EEXIST) {
    return Error::from_errno(errno, "cannot create socket directory " + dir);
  }
  if (!strict) {
    return {};
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    return Error::from_errno(errno, "cannot inspect socket directory " + dir);
  }
  if (!S_ISDIR(st.st_mode)) {
    return Error::make(hr::EAccessDenied,
                       "socket directory " + dir + " is not a directory (or is a symlink)");
  }
  if (mode == Mode::User) {
    // Someone else's directory (e.g. squatted /tmp/bgcopy-UID) could hold a fake socket.
    if (st.st_uid != uid) {
      return Error::make(hr::EAccessDenied, "socket directory " + dir + " belongs to uid " +
                                                std::to_string(st.st_uid) + ", not " +
                                                std::to_string(uid));
    }
    if ((st.st_mode & 0077) != 0 && ::chmod(dir.c_str(), 0700) != 0) {
      return Error::from_errno(errno, "cannot make socket directory " + dir + " private");
    }
  }
  return {};
}

}  // namespace bgcopy::daemon
