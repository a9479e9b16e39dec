#include "daemon/paths.hpp"

#include "temp_dir.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>

namespace bgcopy::daemon {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(DaemonPathsTest, UserModeFollowsXdg) {
  auto p = resolve_paths(Mode::User, {}, 1000,
                         env_of({{"XDG_RUNTIME_DIR", "/run/user/1000"},
                                 {"XDG_STATE_HOME", "/home/a/.st"},
                                 {"XDG_CONFIG_HOME", "/home/a/.cf"},
                                 {"HOME", "/home/a"}}));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->socket, "/run/user/1000/bgcopy/bgcopyd.sock");
  EXPECT_EQ(p->state_dir, "/home/a/.st/bgcopy");
  EXPECT_EQ(p->config, "/home/a/.cf/bgcopy/bgcopyd.toml");
  EXPECT_FALSE(p->socket_explicit);
  EXPECT_FALSE(p->config_explicit);
}

TEST(DaemonPathsTest, UserModeDefaultsUnderHome) {
  // A relative XDG value is ignored, as the XDG spec requires. uid 4242424 has no /run/user.
  auto p = resolve_paths(Mode::User, {}, 4242424,
                         env_of({{"HOME", "/home/b"}, {"XDG_STATE_HOME", "rel"}}));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->socket, "/tmp/bgcopy-4242424/bgcopyd.sock");
  EXPECT_EQ(p->state_dir, "/home/b/.local/state/bgcopy");
  EXPECT_EQ(p->config, "/home/b/.config/bgcopy/bgcopyd.toml");
}

TEST(DaemonPathsTest, SystemModeAndOverrides) {
  auto p = resolve_paths(Mode::System, {}, 0, env_of({}));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->socket, "/run/bgcopy/bgcopyd.sock");
  EXPECT_EQ(p->state_dir, "/var/lib/bgcopy");
  EXPECT_EQ(p->config, "/etc/bgcopy/bgcopyd.toml");

  auto e = resolve_paths(Mode::System, {}, 0,
                         env_of({{"BGCOPY_SOCKET", "/t/s.sock"}, {"BGCOPY_STATE_DIR", "/t/st"}}));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->socket, "/t/s.sock");
  EXPECT_EQ(e->state_dir, "/t/st");
  EXPECT_TRUE(e->socket_explicit);

  // The command line wins over the environment.
  auto c = resolve_paths(Mode::User, PathOverrides{"/c/s.sock", "/c/st", "/c/x.toml"}, 0,
                         env_of({{"BGCOPY_SOCKET", "/t/s.sock"}, {"HOME", "/root"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->socket, "/c/s.sock");
  EXPECT_EQ(c->state_dir, "/c/st");
  EXPECT_EQ(c->config, "/c/x.toml");
  EXPECT_TRUE(c->config_explicit);

  EXPECT_FALSE(
      resolve_paths(Mode::User, {}, 0, env_of({{"BGCOPY_SOCKET", "rel.sock"}, {"HOME", "/root"}}))
          .ok());
}

TEST(DaemonPathsTest, SocketDirIsCreatedPrivateInUserMode) {
  test::TempDir tmp;
  const std::string sock = (tmp.path() / "a/b/bgcopyd.sock").string();
  ASSERT_TRUE(prepare_socket_dir(sock, Mode::User, ::geteuid(), true).ok());
  struct stat st {};
  ASSERT_EQ(::stat((tmp.path() / "a/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700U);

  // An existing directory open to others is tightened ...
  ASSERT_EQ(::chmod((tmp.path() / "a/b").c_str(), 0777), 0);
  ASSERT_TRUE(prepare_socket_dir(sock, Mode::User, ::geteuid(), true).ok());
  ASSERT_EQ(::stat((tmp.path() / "a/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700U);
  // ... and one owned by someone else is refused.
  auto other = prepare_socket_dir(sock, Mode::User, ::geteuid() + 1, true);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, hr::EAccessDenied);
  // A symlinked socket directory is refused.
  std::filesystem::create_directory_symlink(tmp.path() / "a/b", tmp.path() / "link");
  EXPECT_FALSE(
      prepare_socket_dir((tmp.path() / "link/s.sock").string(), Mode::User, ::geteuid(), true)
          .ok());
  // An explicitly chosen directory is left as it is.
  ASSERT_EQ(::chmod((tmp.path() / "a/b").c_str(), 0755), 0);
  ASSERT_TRUE(prepare_socket_dir(sock, Mode::User, ::geteuid() + 1, false).ok());
  ASSERT_EQ(::stat((tmp.path() / "a/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755U);
}

}  // namespace
}  // namespace bgcopy::daemon
