// Soak: the real bgcopyd is SIGKILLed BGCOPY_SOAK_KILLS times (default 100) at random moments
// (seeded; BGCOPY_SOAK_SEED repeats a run) while jobs of mixed sizes run: a few KiB to tens of
// MiB, whole files and ranges, from a throttled nginx, from file:// and from the fault origin
// (dropped connections, 503s). It is started again each time; a client thread keeps driving
// the jobs through libbgcopy and, after every restart, re-attaches by job id and checks that no
// job was lost. At the end every job is completed, every file has the right SHA-256, no staging
// file is left, and the bytes fetched twice are reported and bounded.
#include "bgcopyd_process.hpp"
#include "files.hpp"
#include "nginx_fixture.hpp"
#include "origin_fixture.hpp"
#include "soak_support.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"
#include <bgcopy/bgcopy.hpp>

#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#ifndef BGCOPYD_PATH
#error "BGCOPYD_PATH must name the bgcopyd executable"
#endif

namespace bgcopy::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::uint64_t kCheckpointBytes = 256 * 1024;
// Progress is durable every kCheckpointBytes or 250 ms, so a kill may cost each running file
// about one checkpoint interval, plus what nginx had already written into socket buffers that
// the daemon never read; the bound allows twice the interval.
constexpr std::uint64_t kLossPerRunningFile = 2 * kCheckpointBytes;
constexpr std::size_t kRunningJobs = 8;      // the client keeps this many jobs unfinished
constexpr std::uint64_t kRate = 512 * 1024;  // nginx's default limit per response

constexpr const char* kConfig =
    "[scheduler]\n"
    "max_background_jobs = 64\n"
    "[transfer]\n"
    "checkpoint_bytes = \"256KiB\"\n"
    "checkpoint_ms = 250\n"
    "stall_timeout = 10\n"
    "connect_timeout = 5\n";

// --- The sources --------------------------------------------------------------------------

enum class Origin { Nginx, File, Faults };

/// One file a job may download: where from, and what its local copy must hash to.
struct Recipe {
  Origin origin = Origin::Nginx;
  std::string url;
  std::vector<FileRange> ranges;
  std::string sha;
  std::uint64_t bytes = 0;  // size of the local copy (what the network must deliver once)
};

class Catalogue {
 public:
  Catalogue(NginxServer& nginx, FaultOrigin& origin, const fs::path& src) {
    std::uint64_t seed = 1000;
    auto nginx_file = [&](const std::string& name, std::uint64_t size, const std::string& query) {
      const std::string data = gen_content(size, ++seed);
      write_file(nginx.docroot() / name, data);
      whole_.push_back(
          {Origin::Nginx, nginx.url("/" + name + query), {}, sha256_bytes(data), size});
      return data;
    };
    for (std::uint64_t size : {4096ULL, 17 * 1024ULL + 5, 64 * 1024ULL}) {
      nginx_file("small" + std::to_string(size), size, "");
    }
    for (std::uint64_t size : {1024 * 1024ULL, 2 * 1024 * 1024ULL + 77, 3 * 1024 * 1024ULL}) {
      nginx_file("medium" + std::to_string(size), size, "");
    }
    // Tens of MiB, faster (4 MiB/s) so that they finish within the soak.
    for (std::uint64_t size : {16ULL << 20, (24ULL << 20) + 3, 32ULL << 20}) {
      nginx_file("large" + std::to_string(size), size, "?limit_rate=4194304");
    }
    // Ranges of a 4 MiB file, listed out of order.
    {
      const std::string data = nginx_file("ranged", 4 << 20, "");
      whole_.pop_back();
      const std::vector<FileRange> ranges = {
          {3 << 20, 700 * 1024}, {10, 100 * 1024}, {(1 << 20) + 1, 1536 * 1024}};
      std::string local;
      for (const auto& r : ranges) local += data.substr(r.offset, r.length);
      ranged_ = {Origin::Nginx, nginx.url("/ranged"), ranges, sha256_bytes(local), local.size()};
    }
    for (std::uint64_t size : {8192ULL, 2ULL << 20, 24ULL << 20}) {
      const std::string data = gen_content(size, ++seed);
      const fs::path p = src / ("local" + std::to_string(size));
      write_file(p, data);
      whole_.push_back({Origin::File, "file://" + p.string(), {}, sha256_bytes(data), size});
    }
    // The fault origin, 1 MiB/s: two dropped connections, or a 503 before the first byte.
    for (std::uint64_t size : {1ULL << 20, 3ULL << 20}) {
      const std::uint64_t s = ++seed;
      const std::string sha = sha256_bytes(gen_content(size, s));
      faults_.push_back({Origin::Faults,
                         "/gen/" + std::to_string(size) + "?seed=" + std::to_string(s) +
                             "&rate=1048576&drop_after=300000&drop_times=2",
                         {},
                         sha,
                         size});
      faults_.push_back({Origin::Faults,
                         "/gen/" + std::to_string(size) + "?seed=" + std::to_string(s) +
                             "&rate=1048576&fail_first=1",
                         {},
                         sha,
                         size});
    }
    origin_ = &origin;
  }

  /// A file for job number n: the fault origin's counters are per key, so each job gets its
  /// own key and sees its faults afresh.
  Recipe pick(std::mt19937_64& rng, int n) const {
    const int k = std::uniform_int_distribution<int>(0, 9)(rng);
    if (k == 0) return ranged_;
    if (k <= 2) {
      Recipe r = faults_[std::uniform_int_distribution<std::size_t>(0, faults_.size() - 1)(rng)];
      r.url = origin_->url(r.url + "&key=job" + std::to_string(n));
      return r;
    }
    return whole_[std::uniform_int_distribution<std::size_t>(0, whole_.size() - 1)(rng)];
  }

 private:
  std::vector<Recipe> whole_;
  std::vector<Recipe> faults_;
  Recipe ranged_;
  FaultOrigin* origin_ = nullptr;
};

// --- The client -----------------------------------------------------------------------------

struct Tracked {
  enum class Phase { Create, Add, Resume, Run, Complete, Done };
  std::string name;  // unique: how a job whose create answer was lost is found again
  std::string id;    // "" until known
  JobPriority priority = JobPriority::Normal;
  std::vector<Recipe> recipes;
  std::vector<std::string> dests;
  Phase phase = Phase::Create;
  std::optional<Job> handle;  // dropped at every re-attach
  Clock::time_point next_poll{};
};

/// Drives jobs through libbgcopy while the daemon dies under it. Runs on its own thread.
class Client {
 public:
  Client(const Catalogue& catalogue, ConnectOptions connect, fs::path dest, std::uint64_t seed)
      : catalogue_(catalogue), connect_(std::move(connect)), dest_(std::move(dest)), rng_(seed) {}

  void run() {
    while (!stop_.load()) {
      if (!manager_) {
        auto m = Manager::connect(connect_);
        if (!m.ok()) {
          std::this_thread::sleep_for(10ms);  // the daemon is restarting: try again soon
          continue;
        }
        manager_ = *m;
        reconcile_needed_ = true;
      }
      if (reconcile_needed_ && !reconcile()) continue;
      top_up();
      for (auto& t : jobs_) {
        if (t.phase == Tracked::Phase::Done) continue;
        if (!advance(t)) break;  // the daemon went away: re-attach first
      }
      unfinished_.store(count_unfinished());
      // A polling client (pacing, not synchronisation): each job is re-read every 50 ms.
      std::this_thread::sleep_for(5ms);
    }
  }

  void stop() { stop_.store(true); }
  void stop_creating() { creating_.store(false); }
  std::size_t unfinished() const { return unfinished_.load(); }
  bool all_done() const { return !creating_.load() && unfinished_.load() == 0; }

  // Read after run() returned.
  const std::vector<Tracked>& jobs() const { return jobs_; }
  const std::vector<std::string>& failures() const { return failures_; }
  int reconciles() const { return reconciles_; }
  int transport_errors() const { return transport_errors_; }
  int adopted() const { return adopted_; }
  int resumed_after_error() const { return resumed_after_error_; }

 private:
  void fail(const std::string& what) {
    if (failures_.size() < 50) failures_.push_back(what);
  }

  // A code from a call: true if it is one of `ok`. A transport code means the daemon died:
  // re-attach before anything else. Anything else is a failure of the test.
  bool answer(Hresult code, std::initializer_list<Hresult> ok, const std::string& what,
              const std::string& message) {
    if (std::find(ok.begin(), ok.end(), code) != ok.end()) return true;
    if (is_transport(code)) {
      ++transport_errors_;
      reconcile_needed_ = true;
      return false;
    }
    fail(what + ": " + hresult_name(code) + " " + message);
    return false;
  }

  std::size_t count_unfinished() const {
    std::size_t n = 0;
    for (const auto& t : jobs_) n += t.phase != Tracked::Phase::Done;
    return n;
  }

  void top_up() {
    while (creating_.load() && count_unfinished() < kRunningJobs) {
      Tracked t;
      const int n = static_cast<int>(jobs_.size());
      t.name = "soak-" + std::to_string(n);
      static constexpr JobPriority kPriorities[] = {JobPriority::Foreground, JobPriority::High,
                                                    JobPriority::Normal, JobPriority::Low};
      t.priority = kPriorities[std::uniform_int_distribution<int>(0, 3)(rng_)];
      const int files = std::uniform_int_distribution<int>(0, 3)(rng_) == 0 ? 3 : 1;
      for (int i = 0; i < files; ++i) {
        t.recipes.push_back(catalogue_.pick(rng_, n * 4 + i));
        t.dests.push_back((dest_ / (t.name + "-" + std::to_string(i))).string());
      }
      jobs_.push_back(std::move(t));
    }
  }

  // After a restart: every job the client knows must still be there, unless its complete was
  // under way, in which case its files must be at their final names.
  bool reconcile() {
    auto list = manager_->enum_jobs();
    if (!list.ok()) {
      if (!is_transport(list.code())) fail("enum_jobs: " + list.status().to_string());
      std::this_thread::sleep_for(10ms);
      return false;
    }
    ++reconciles_;
    std::map<std::string, std::vector<const JobInfo*>> by_name;
    std::map<std::string, const JobInfo*> by_id;
    for (const auto& i : *list) {
      by_name[i.display_name].push_back(&i);
      by_id[i.id] = &i;
    }
    for (auto& t : jobs_) {
      using P = Tracked::Phase;
      if (t.phase == P::Create) {
        // The create answer may have been lost with the daemon: adopt the job if it exists.
        auto it = by_name.find(t.name);
        if (it == by_name.end()) continue;
        t.id = it->second.front()->id;
        t.phase = P::Add;
        ++adopted_;
        if (it->second.size() > 1)
          fail(t.name + " exists " + std::to_string(it->second.size()) + " times");
      }
      if (t.phase == P::Done) {
        if (by_id.count(t.id) != 0) fail(t.name + " is listed after it was completed");
        continue;
      }
      auto found = by_id.find(t.id);
      if (found == by_id.end()) {
        if (t.phase == P::Complete) {
          finish(t);  // the complete committed before the kill
        } else {
          fail(t.name + " " + t.id + " was lost (phase " +
               std::to_string(static_cast<int>(t.phase)) + ")");
          t.phase = P::Done;
        }
        continue;
      }
      // Re-attach by id, as an application that kept only the id would.
      auto job = manager_->get_job(t.id);
      if (!answer(job.code(), {hr::SOk}, "get_job " + t.name, job.message())) return false;
      t.handle = *job;
      const JobInfo& info = *found->second;
      if (t.phase == P::Add && info.files_total == t.recipes.size()) t.phase = P::Resume;
      if (t.phase == P::Add && info.files_total != 0) {
        fail(t.name + " has " + std::to_string(info.files_total) + " files: add was not atomic");
      }
    }
    reconcile_needed_ = false;
    return true;
  }

  bool advance(Tracked& t) {
    using P = Tracked::Phase;
    if (t.phase == P::Create) {
      auto job = manager_->create_job(t.name, JobType::Download, t.priority);
      if (!answer(job.code(), {hr::SOk}, "create " + t.name, job.message()))
        return !reconcile_needed_;
      t.id = job->id();
      t.handle = *job;
      t.phase = P::Add;
    }
    if (t.phase == P::Run && Clock::now() < t.next_poll) return true;
    if (!t.handle) {
      auto found = manager_->get_job(t.id);
      if (!answer(found.code(), {hr::SOk}, "get_job " + t.name, found.message())) {
        return !reconcile_needed_;
      }
      t.handle = *found;
    }
    const Job* job = &*t.handle;
    if (t.phase == P::Add) {
      Status st;
      if (t.recipes.size() == 1 && !t.recipes[0].ranges.empty()) {
        st = job->add_file_with_ranges(t.recipes[0].url, t.dests[0], t.recipes[0].ranges);
      } else {
        std::vector<FileSpec> specs;
        for (std::size_t i = 0; i < t.recipes.size(); ++i) {
          specs.push_back({t.recipes[i].url, t.dests[i], t.recipes[i].ranges,
                           t.recipes[i].ranges.empty()
                               ? std::optional<std::string>(t.recipes[i].sha)
                               : std::nullopt});
        }
        st = job->add_file_set(specs);
      }
      if (!answer(st.code(), {hr::SOk}, "add " + t.name, st.message())) return !reconcile_needed_;
      t.phase = P::Resume;
    }
    if (t.phase == P::Resume) {
      auto st = job->resume();
      // DO_E_INVALID_STATE: it already finished (a resume answer lost with the daemon).
      if (!answer(st.code(), {hr::SOk, hr::DoEInvalidState}, "resume " + t.name, st.message())) {
        return !reconcile_needed_;
      }
      t.phase = P::Run;
    }
    if (t.phase == P::Run) {
      t.next_poll = Clock::now() + 50ms;
      auto info = job->info();
      if (!answer(info.code(), {hr::SOk}, "info " + t.name, info.message()))
        return !reconcile_needed_;
      switch (info->state) {
        case JobState::Transferred:
          t.phase = P::Complete;
          break;
        case JobState::TransientError:
          // Dropped connections and 503s: resume at once rather than after min_retry_delay.
          ++resumed_after_error_;
          (void)job->resume();
          return true;
        case JobState::Error:
        case JobState::Suspended:
          fail(t.name + " in " + std::string(state_name(info->state)) +
               (info->error ? " " + hresult_name(info->error->code) + " " + info->error->message
                            : ""));
          (void)job->resume();
          return true;
        default:
          return true;
      }
    }
    if (t.phase == P::Complete) {
      auto st = job->complete();
      // Any success made the job final; only S_OK means nothing was dropped.
      if (!answer(st.code(), {hr::SOk}, "complete " + t.name + " " + t.id, st.message()) &&
          !st.ok()) {
        return !reconcile_needed_;
      }
      finish(t);
    }
    return true;
  }

  // The job is ACKNOWLEDGED: its files must be there and right; then they are removed to keep
  // the disk small (so at the end the destination must be empty).
  void finish(Tracked& t) {
    for (std::size_t i = 0; i < t.dests.size(); ++i) {
      if (!fs::exists(t.dests[i])) {
        fail(t.name + ": " + t.dests[i] + " missing after complete");
      } else if (sha256_file(t.dests[i]) != t.recipes[i].sha) {
        fail(t.name + ": wrong content in " + t.dests[i]);
      } else {
        fs::remove(t.dests[i]);
      }
    }
    t.phase = Tracked::Phase::Done;
  }

  const Catalogue& catalogue_;
  const ConnectOptions connect_;
  const fs::path dest_;
  std::mt19937_64 rng_;
  std::optional<Manager> manager_;
  std::vector<Tracked> jobs_;
  std::vector<std::string> failures_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> creating_{true};
  std::atomic<std::size_t> unfinished_{0};
  bool reconcile_needed_ = true;
  int reconciles_ = 0;
  int transport_errors_ = 0;
  int adopted_ = 0;
  int resumed_after_error_ = 0;
};

TEST(Soak, SigkilledDaemonLosesNoJobAndNoByte) {
  if (!NginxServer::available()) GTEST_SKIP() << "nginx is not installed (run scripts/setup.sh)";
  const int kills = env_int("BGCOPY_SOAK_KILLS", 100);
  const std::uint64_t seed = seed_from_env();
  std::cout << "[ soak ] seed=" << seed << " (BGCOPY_SOAK_SEED) kills=" << kills << std::endl;
  ::testing::Test::RecordProperty("seed", std::to_string(seed));

  NginxOptions nopts;
  nopts.limit_rate = kRate;
  // Small output buffers so the throttle is not dodged by a burst into socket buffers.
  nopts.location_extra = "sendfile off; output_buffers 2 32k;";
  NginxServer nginx(nopts);
  FaultOrigin origin;
  TempDir dir("bgcopy-soak-");
  const fs::path src = dir.path() / "src";
  const fs::path dest = dir.path() / "dest";
  fs::create_directories(src);
  fs::create_directories(dest);
  const Catalogue catalogue(nginx, origin, src);

  BgcopydProcess daemon(BGCOPYD_PATH, dir.path() / "daemon", kConfig);
  ASSERT_TRUE(daemon.start()) << daemon.log();
  Client client(catalogue, daemon.connect_options(), dest, seed);
  std::thread worker([&] { client.run(); });
  // Stops the client however the test ends.
  struct Joiner {
    Client& c;
    std::thread& t;
    ~Joiner() {
      c.stop();
      if (t.joinable()) t.join();
    }
  } joiner{client, worker};

  std::mt19937_64 rng(seed ^ 0x9E3779B97F4A7C15ULL);
  std::uniform_int_distribution<int> moment_ms(50, 600);
  const auto start = Clock::now();
  std::uint64_t running_at_kills = 0;
  int idle_kills = 0;
  std::chrono::milliseconds slowest_restart{0};
  for (int k = 0; k < kills; ++k) {
    // A random moment, not a synchronisation: the kill must land wherever the daemon is.
    std::this_thread::sleep_for(std::chrono::milliseconds(moment_ms(rng)));
    const std::size_t running = client.unfinished();
    running_at_kills += running;
    idle_kills += running == 0;
    const ExitStatus st = daemon.kill();
    ASSERT_TRUE(st.signaled && st.signal == SIGKILL)
        << "kill " << k << ": " << st.describe() << "\n"
        << daemon.log();
    const auto t0 = Clock::now();
    ASSERT_TRUE(daemon.start()) << "restart " << k << " failed:\n" << daemon.log();
    slowest_restart = std::max(
        slowest_restart, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0));
  }
  const double kill_phase = std::chrono::duration<double>(Clock::now() - start).count();

  // Let the jobs still under way finish.
  client.stop_creating();
  const bool finished = wait_until([&] { return client.all_done(); }, 180s, 50ms);
  client.stop();
  worker.join();
  const double total_time = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_TRUE(finished) << client.unfinished() << " jobs did not finish after the last kill";

  for (const auto& f : client.failures()) ADD_FAILURE() << f;
  EXPECT_TRUE(client.failures().empty());
  // Kills landed while jobs ran, not on an idle daemon. The client refills its jobs as they
  // finish, so a kill can now and then fall in the moment between the last job's complete
  // and the next create; that is allowed for a few kills, not for the soak as a whole.
  EXPECT_LE(idle_kills, std::max(1, kills / 20));

  // Nothing left: no job in the service, no file in the destination (verified files were
  // removed as they were checked), in particular no staging file.
  auto mgr = Manager::connect(daemon.connect_options());
  ASSERT_TRUE(mgr.ok()) << mgr.status().to_string();
  auto left = mgr->enum_jobs();
  ASSERT_TRUE(left.ok()) << left.status().to_string();
  EXPECT_TRUE(left->empty()) << left->size() << " jobs left, first " << left->front().display_name;
  const auto leftovers = list_dir(dest);
  EXPECT_TRUE(leftovers.empty()) << "left in the destination: " << leftovers.front();

  std::uint64_t jobs = 0, files = 0, needed = 0;
  for (const auto& t : client.jobs()) {
    ++jobs;
    for (const auto& r : t.recipes) {
      ++files;
      if (r.origin != Origin::File) needed += r.bytes;
    }
  }
  std::uint64_t fetched = 0;
  for (const auto& e : nginx.access_log()) fetched += e.bytes_sent;
  for (const auto& r : origin.requests()) {
    if (r.status == 200 || r.status == 206) fetched += r.bytes_sent;
  }
  const std::uint64_t twice = fetched > needed ? fetched - needed : 0;
  const std::uint64_t bound = running_at_kills * kLossPerRunningFile;

  const auto exit = daemon.stop();
  ASSERT_TRUE(exit.has_value()) << "bgcopyd did not stop on SIGTERM";
  EXPECT_TRUE(exit->success()) << exit->describe() << "\n" << daemon.log();

  std::cout << "[ soak ] SUMMARY kills=" << kills << " jobs=" << jobs << " files=" << files
            << " network_bytes=" << needed << " fetched=" << fetched << " fetched_twice=" << twice
            << " ("
            << (needed ? 100.0 * static_cast<double>(twice) / static_cast<double>(needed) : 0.0)
            << "%) bound=" << bound << " running_files_at_kills=" << running_at_kills
            << " kill_phase_s=" << kill_phase << " total_s=" << total_time
            << " slowest_restart_ms=" << slowest_restart.count()
            << " reattaches=" << client.reconciles()
            << " transport_errors=" << client.transport_errors() << " adopted=" << client.adopted()
            << " resumes_after_transient=" << client.resumed_after_error() << " seed=" << seed
            << std::endl;
  ::testing::Test::RecordProperty("fetched_twice", std::to_string(twice));
  EXPECT_LE(twice, bound);
}

}  // namespace
}  // namespace bgcopy::test
