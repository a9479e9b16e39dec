// kill -9 at random moments: a process hosting the engine is SIGKILLed at least 20 times
// while it downloads and completes a set of jobs, and started again each time. At the end every
// job's file is at its final path with the right SHA-256, no staging file is left, and no job
// was lost along the way. The bytes fetched twice are reported.
#include "files.hpp"
#include "nginx_fixture.hpp"
#include "process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <random>
#include <set>
#include <thread>

namespace bgcopy::test {
namespace {

NginxOptions rate_limited(std::uint64_t bytes_per_second) {
  NginxOptions o;
  o.limit_rate = bytes_per_second;
  return o;
}

struct Item {
  std::string name;
  std::string data;
  std::string dest;
};

std::string driver_path() {
  return BGCOPY_ENGINE_DRIVER;
}

std::vector<std::string> run_args(const std::filesystem::path& state,
                                  const std::filesystem::path& manifest) {
  return {driver_path(),
          "run",
          "--state",
          state.string(),
          "--manifest",
          manifest.string(),
          "--complete",
          "--checkpoint-ms",
          "250",
          "--checkpoint-bytes",
          "262144",
          "--max-background-jobs",
          "3"};
}

/// Jobs the store holds, by display name (via the driver's list command).
std::set<std::string> listed_jobs(const std::filesystem::path& state, const TempDir& dir) {
  SpawnOptions opts;
  opts.stdout_path = dir.file("list.out");
  opts.stderr_path = dir.file("list.err");
  auto st = run_process({driver_path(), "list", "--state", state.string()}, opts,
                        std::chrono::seconds(30));
  EXPECT_TRUE(st.success()) << st.describe() << " " << read_file(dir.file("list.err"));
  std::set<std::string> names;
  std::istringstream in(read_file(dir.file("list.out")));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string id, name;
    ls >> id >> name;
    if (!name.empty()) names.insert(name);
  }
  return names;
}

TEST(Crash, SigkillAtRandomMomentsLosesNothing) {
  if (!NginxServer::available()) GTEST_SKIP() << "nginx is not installed (run scripts/setup.sh)";
  // Slow enough that kills land mid-transfer, mid-checkpoint and mid-complete.
  // Small output buffers so the rate limit is not dodged by a multi-megabyte burst into
  // loopback socket buffers at every reconnect.
  NginxOptions nopts = rate_limited(512 * 1024);
  nopts.location_extra = "sendfile off; output_buffers 2 32k;";
  NginxServer ng(nopts);
  TempDir dir;
  const auto dest = dir.path() / "dest";
  const auto state = dir.path() / "state";
  std::filesystem::create_directories(dest);

  std::vector<Item> items;
  const std::vector<std::uint64_t> sizes = {64 * 1024,       700 * 1024,           1536 * 1024,
                                            3 * 1024 * 1024, 5 * 1024 * 1024,      300 * 1024,
                                            2 * 1024 * 1024, 4 * 1024 * 1024 + 123};
  std::uint64_t total = 0;
  std::ofstream manifest(dir.file("manifest"));
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    Item it{"job" + std::to_string(i), gen_content(sizes[i], 100 + i),
            (dest / ("f" + std::to_string(i))).string()};
    write_file(ng.docroot() / ("f" + std::to_string(i)), it.data);
    manifest << it.name << ' ' << ng.url("/f" + std::to_string(i)) << ' ' << it.dest << ' '
             << sha256_bytes(it.data) << '\n';
    total += sizes[i];
    items.push_back(std::move(it));
  }
  manifest.close();

  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> moment_ms(30, 700);
  int kills = 0;
  std::set<std::string> seen;
  bool finished_early = false;
  for (int round = 0; round < 24; ++round) {
    SpawnOptions opts;
    opts.stdout_path = dir.file("run.out");
    opts.stderr_path = dir.file("run.err");
    ChildProcess p(run_args(state, dir.file("manifest")), opts);
    // A random moment, not a synchronisation: the kill must land wherever the process is.
    std::this_thread::sleep_for(std::chrono::milliseconds(moment_ms(rng)));
    if (!p.running()) {
      auto st = p.wait();
      ASSERT_TRUE(st.success()) << st.describe() << ": " << read_file(dir.file("run.err"));
      finished_early = true;
      break;
    }
    ASSERT_TRUE(p.kill(SIGKILL));
    auto st = p.wait();
    ASSERT_TRUE(st.signaled) << st.describe();
    ++kills;
    // No job lost: each one is in the store, or already complete at its final path.
    // (A job the driver had not yet created before its first kill is not "seen" yet.)
    auto jobs = listed_jobs(state, dir);
    for (const auto& it : items) {
      const bool done = std::filesystem::exists(it.dest);
      if (done) {
        EXPECT_EQ(sha256_file(it.dest), sha256_bytes(it.data))
            << it.name << " after kill " << kills;
      }
      const bool present = done || jobs.count(it.name) != 0;
      if (seen.count(it.name) != 0) {
        EXPECT_TRUE(present) << it.name << " vanished after kill " << kills;
      }
      if (present) seen.insert(it.name);
    }
  }
  // The data is sized so that the work outlasts the kill rounds; finishing early means the
  // test did not test what it claims.
  EXPECT_FALSE(finished_early);
  EXPECT_GE(kills, 20);

  // Let it finish.
  SpawnOptions opts;
  opts.stdout_path = dir.file("final.out");
  opts.stderr_path = dir.file("final.err");
  auto st =
      run_process(run_args(state, dir.file("manifest")), opts, scaled(std::chrono::seconds(180)));
  ASSERT_TRUE(st.success()) << st.describe() << ": " << read_file(dir.file("final.err"));

  for (const auto& it : items) {
    ASSERT_TRUE(std::filesystem::exists(it.dest)) << it.name << " was lost";
    EXPECT_EQ(sha256_file(it.dest), sha256_bytes(it.data)) << it.name;
  }
  std::vector<std::string> leftovers;
  for (const auto& name : list_dir(dest)) {
    if (name.rfind('.', 0) == 0) leftovers.push_back(name);
  }
  EXPECT_TRUE(leftovers.empty()) << "orphaned staging file: " << leftovers.front();
  EXPECT_TRUE(listed_jobs(state, dir).empty()) << "every job was completed and is gone";

  std::uint64_t fetched = 0;
  for (const auto& e : ng.access_log()) fetched += e.bytes_sent;
  const std::uint64_t twice = fetched > total ? fetched - total : 0;
  std::cout << "[ crash ] kills=" << kills << " bytes=" << total << " fetched=" << fetched
            << " fetched_twice=" << twice << " ("
            << (100.0 * static_cast<double>(twice) / static_cast<double>(total)) << "%)\n";
  ::testing::Test::RecordProperty("kills", kills);
  ::testing::Test::RecordProperty("fetched_twice", std::to_string(twice));
  // Each kill may cost at most about one checkpoint interval per running file (3 at once) plus
  // what was in flight in socket buffers; anything beyond that means resume is broken.
  EXPECT_LE(twice, static_cast<std::uint64_t>(kills) * 3 * (1024 * 1024));
}

}  // namespace
}  // namespace bgcopy::test
