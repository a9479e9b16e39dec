// Load: a real bgcopyd (the binary) serves 50 client threads, each with its own libbgcopy
// Manager, issuing a seeded-random mix of calls for BGCOPY_SOAK_SECONDS (default 60) while 20
// throttled transfers keep running. Every answer is checked against the thread's own model of
// its jobs: the state must be one the model allows and the code exactly the documented one.
// At the end the throttle is lifted and the 20 files must arrive intact; the daemon's memory,
// descriptors and threads must not have grown without bound, and it must exit cleanly.
#include "bgcopyd_process.hpp"
#include "files.hpp"
#include "nginx_fixture.hpp"
#include "proc_stats.hpp"
#include "soak_support.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"
#include <bgcopy/bgcopy.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
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

constexpr int kClients = 50;
constexpr int kTransfers = 20;
constexpr int kMaxLiveJobs = 3;                 // per client thread
constexpr int kMaxFilesPerJob = 3;              // per job of a client thread
constexpr std::uint64_t kLongRate = 32 * 1024;  // bytes/s of each of the 20 long transfers
constexpr std::uint64_t kSlowRate = 8 * 1024;   // bytes/s of a client's "slow" file

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

Hresult code_of(const Status& s) {
  return s.code();
}
template <class T>
Hresult code_of(const Result<T>& r) {
  return r.code();
}
const std::string& message_of(const Status& s) {
  return s.message();
}
template <class T>
const std::string& message_of(const Result<T>& r) {
  return r.message();
}

// --- What every thread records --------------------------------------------------------------

struct CallStats {
  std::vector<std::uint32_t> micros;
  std::map<Hresult, std::uint64_t> codes;
};

struct Tally {
  std::map<std::string, CallStats> calls;
  std::uint64_t unexpected = 0;
  std::uint64_t transport = 0;
  std::vector<std::string> notes;  // the first unexpected answers, for the failure message

  std::map<std::string, std::uint64_t> by_category;  // the note with its numbers taken out

  void note(std::string what) {
    ++unexpected;
    std::string category;
    for (char c : what) {
      if (c < '0' || c > '9') category.push_back(c);
    }
    ++by_category[category.substr(0, 80)];
    if (notes.size() < 10) notes.push_back(std::move(what));
  }
  void merge(Tally&& other) {
    for (auto& [kind, s] : other.calls) {
      auto& mine = calls[kind];
      mine.micros.insert(mine.micros.end(), s.micros.begin(), s.micros.end());
      for (auto [code, n] : s.codes) mine.codes[code] += n;
    }
    unexpected += other.unexpected;
    for (auto& [c, n] : other.by_category) by_category[c] += n;
    transport += other.transport;
    for (auto& n : other.notes) {
      if (notes.size() < 20) notes.push_back(std::move(n));
    }
  }
};

std::uint32_t percentile(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// --- Content every thread may download ------------------------------------------------------

struct Source {
  std::string data;
  std::string http_url;  // unthrottled (?limit_rate=0 overrides the server's default)
  std::string file_url;
};

struct World {
  std::vector<Source> fast;
  std::string slow_url;  // never finishes within the test
  ConnectOptions connect;
  fs::path dest_root;
  // Jobs made final by every client, for telling a forgotten final job from a wrong answer.
  mutable std::atomic<std::uint64_t> finals{0};
};

// bgcopyd remembers the newest 4096 final jobs of each owner (Engine::kMaxTombstonesPerOwner);
// older ones answer DO_E_JOB_NOT_FOUND to changes too. Every client here is one owner, so a
// client that was slow for a while may hold a final job the daemon has rightly forgotten.
// The margin covers finals counted a little late (the count follows the call).
constexpr std::uint64_t kRememberedFinals = 4096 - 256;

// --- One client thread and its model of its own jobs ----------------------------------------

enum class Kind { Empty, Slow, Fast };

struct FileExpect {
  FileSpec spec;
  std::string sha;  // of the final file ("" for slow files, which never finish)
};

struct ModelJob {
  explicit ModelJob(Job j) : job(std::move(j)) {}
  Job job;
  std::optional<Job> twin;  // a second handle, from get_job
  Kind kind = Kind::Empty;
  std::string name;
  std::string description;
  JobPriority priority = JobPriority::Normal;
  std::uint32_t notify_flags = 0x3;
  std::vector<FileExpect> files;
  // Where the job is, as far as this thread can know (SPEC section 2; the service changes it
  // only by transferring): Suspended; Active (resumed: queued, running, or already
  // TRANSFERRED); Transferred (seen, every file in); Stuck (TRANSFERRED, but a file was added
  // since: it waits for a resume).
  enum class Phase { Suspended, Active, Transferred, Stuck } phase = Phase::Suspended;
  // For Suspended: whether every file is in (complete answers S_OK, not BG_S_PARTIAL_COMPLETE).
  // Maybe: suspended while it may have been finishing.
  enum class Done { No, Yes, Maybe } done = Done::No;
};

struct FinalJob {
  Job job;
  std::optional<Job> twin;
  JobState state;
  std::uint64_t ordinal;  // World::finals when it was made final
};

std::string states_text(const std::vector<JobState>& states) {
  std::string out;
  for (auto s : states) out += std::string(out.empty() ? "" : "|") + std::string(state_name(s));
  return out;
}

class Client {
 public:
  Client(const World& world, int index, std::uint64_t seed)
      : world_(world),
        index_(index),
        rng_(seed),
        dest_(world.dest_root / ("c" + std::to_string(index))) {
    fs::create_directories(dest_);
  }

 private:
  // Runs one library call, recording its latency and code.
  template <class F>
  auto timed(const char* kind, F&& f) {
    const auto t0 = Clock::now();
    auto r = f();
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0);
    auto& s = tally_.calls[kind];
    s.micros.push_back(static_cast<std::uint32_t>(us.count()));
    ++s.codes[code_of(r)];
    return r;
  }

  // True when the answer's code is one of `allowed`; otherwise records why not.
  template <class R>
  bool check(const std::string& what, const R& r, const std::vector<Hresult>& allowed) {
    const Hresult c = code_of(r);
    if (std::find(allowed.begin(), allowed.end(), c) != allowed.end()) return true;
    if (is_transport(c)) ++tally_.transport;
    std::string want;
    for (auto a : allowed) want += (want.empty() ? "" : "|") + hresult_name(a);
    tally_.note("c" + std::to_string(index_) + " " + what + ": got " + hresult_name(c) + " (" +
                message_of(r) + "), expected " + want);
    return false;
  }

  void fail(const std::string& what) { tally_.note("c" + std::to_string(index_) + " " + what); }

  const Manager& mgr() const { return *manager_; }
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  ModelJob* any_live() {
    return live_.empty() ? nullptr : &live_[pick(static_cast<int>(live_.size()))];
  }

  using Phase = ModelJob::Phase;
  using Done = ModelJob::Done;

  static std::vector<JobState> allowed(const ModelJob& j) {
    using S = JobState;
    switch (j.phase) {
      case Phase::Suspended:
        return {S::Suspended};
      case Phase::Transferred:
      case Phase::Stuck:
        return {S::Transferred};
      case Phase::Active:
        break;
    }
    if (j.kind == Kind::Fast) return {S::Queued, S::Connecting, S::Transferring, S::Transferred};
    return {S::Queued, S::Connecting, S::Transferring};  // a slow file never finishes here
  }

  /// Checks a state read from the service; `files_in` (when known) says whether TRANSFERRED
  /// means every file (Transferred) or not (Stuck: a file was added after it finished).
  bool check_state(ModelJob& j, JobState s, const std::string& what,
                   std::optional<bool> files_in = std::nullopt) {
    const auto ok = allowed(j);
    if (std::find(ok.begin(), ok.end(), s) == ok.end()) {
      fail(what + " " + j.name + ": state " + std::string(state_name(s)) + ", model allows " +
           states_text(ok));
      return false;
    }
    if (s == JobState::Transferred && files_in) {
      if (j.phase == Phase::Transferred && !*files_in) {
        fail(what + " " + j.name + ": TRANSFERRED lost a file");
      }
      if (j.phase == Phase::Stuck && *files_in) {
        fail(what + " " + j.name + ": TRANSFERRED with a file added after it, still waiting");
      }
      j.phase = *files_in ? Phase::Transferred : Phase::Stuck;
    }
    return true;
  }

  void step() {
    const int r = pick(100);
    if (r < 8) return do_create();
    if (r < 18) return do_add();
    if (r < 36) return do_info();
    if (r < 39) return do_list();
    if (r < 49) return do_set();
    if (r < 57) return do_suspend();
    if (r < 67) return do_resume();
    if (r < 72) return live_.empty() ? void() : do_cancel(pick(static_cast<int>(live_.size())));
    if (r < 79) return live_.empty() ? void() : do_complete(pick(static_cast<int>(live_.size())));
    if (r < 83) return do_subscribe();
    return do_illegal();
  }

  FileExpect make_file(const ModelJob& j) {
    FileExpect f;
    f.spec.local_path = (dest_ / (j.name + "-" + std::to_string(next_file_++))).string();
    if (j.kind == Kind::Slow) {
      f.spec.remote_url = world_.slow_url;
      return f;
    }
    const Source& src =
        world_.fast[static_cast<std::size_t>(pick(static_cast<int>(world_.fast.size())))];
    f.spec.remote_url = pick(3) == 0 ? src.file_url : src.http_url;
    if (pick(4) == 0 && src.data.size() >= 64) {
      // Up to three disjoint ranges, listed in a random order.
      const std::uint64_t size = src.data.size();
      std::vector<FileRange> ranges;
      const int n = 1 + pick(3);
      const std::uint64_t part = size / static_cast<std::uint64_t>(n);
      for (int i = 0; i < n; ++i) {
        const std::uint64_t base = part * static_cast<std::uint64_t>(i);
        const std::uint64_t off =
            base + static_cast<std::uint64_t>(pick(static_cast<int>(part / 2)));
        const std::uint64_t len = 1 + static_cast<std::uint64_t>(pick(static_cast<int>(part / 2)));
        ranges.push_back({off, len});
      }
      std::shuffle(ranges.begin(), ranges.end(), rng_);
      std::string expect;
      for (const auto& rg : ranges) expect += src.data.substr(rg.offset, rg.length);
      f.spec.ranges = std::move(ranges);
      f.sha = sha256_bytes(expect);
    } else {
      f.sha = sha256_bytes(src.data);
      if (pick(2) == 0) f.spec.sha256 = f.sha;
    }
    return f;
  }

  void do_create() {
    if (static_cast<int>(live_.size()) >= kMaxLiveJobs) return do_complete(pick(kMaxLiveJobs));
    const std::string name = "c" + std::to_string(index_) + "-j" + std::to_string(next_job_++);
    const int k = pick(10);
    static constexpr JobPriority kPriorities[] = {JobPriority::Foreground, JobPriority::High,
                                                  JobPriority::Normal, JobPriority::Low};
    const JobPriority priority = kPriorities[pick(4)];
    auto r =
        timed("create_job", [&] { return mgr().create_job(name, JobType::Download, priority); });
    if (!check("create_job", r, {hr::SOk})) return;
    ModelJob j(*r);
    j.name = name;
    j.kind = k < 2 ? Kind::Empty : (k < 5 ? Kind::Slow : Kind::Fast);
    j.priority = priority;
    auto twin = timed("get_job", [&] { return mgr().get_job(j.job.id()); });
    if (check("get_job " + j.name, twin, {hr::SOk})) {
      j.twin = *twin;
      if (twin->id() != j.job.id()) fail("get_job returned another id for " + j.name);
    }
    live_.push_back(std::move(j));
  }

  void do_add() {
    ModelJob* j = any_live();
    if (j == nullptr || j->kind == Kind::Empty ||
        static_cast<int>(j->files.size()) >= kMaxFilesPerJob) {
      return do_info();
    }
    std::vector<FileExpect> add{make_file(*j)};
    Status st;
    const int how = pick(3);
    if (how == 0 && j->files.size() + 2 <= static_cast<std::size_t>(kMaxFilesPerJob)) {
      add.push_back(make_file(*j));
      st = timed("add_file_set", [&] { return j->job.add_file_set({add[0].spec, add[1].spec}); });
    } else if (how == 1 && !add[0].spec.ranges.empty()) {
      st = timed("add_file_with_ranges", [&] {
        return j->job.add_file_with_ranges(add[0].spec.remote_url, add[0].spec.local_path,
                                           add[0].spec.ranges);
      });
    } else {
      st = timed("add_file", [&] { return j->job.add_file(add[0].spec); });
    }
    // SPEC section 2: files may be added in every non-final state. A TRANSFERRED job stays so
    // (with the new file waiting for a resume).
    if (!check("add " + j->name, st, {hr::SOk})) return;
    for (auto& f : add) j->files.push_back(std::move(f));
    j->done = Done::No;
    if (j->phase == Phase::Transferred) j->phase = Phase::Stuck;
  }

  void do_info() {
    ModelJob* j = any_live();
    if (j == nullptr) return do_create();
    const int how = pick(4);
    if (how == 0) {
      auto s = timed("state", [&] { return j->job.state(); });
      if (check("state " + j->name, s, {hr::SOk})) check_state(*j, *s, "state");
      return;
    }
    if (how == 1) {
      auto files = timed("enum_files", [&] { return j->job.enum_files(); });
      if (check("enum_files " + j->name, files, {hr::SOk}) && files->size() != j->files.size()) {
        fail("enum_files " + j->name + ": " + std::to_string(files->size()) + " files, model " +
             std::to_string(j->files.size()));
      }
      return;
    }
    auto r = timed("info", [&] { return j->job.info(); });
    if (!check("info " + j->name, r, {hr::SOk})) return;
    const JobInfo& i = *r;
    check_state(*j, i.state, "info", i.files_transferred == i.files_total);
    std::ostringstream bad;
    if (i.id != j->job.id()) bad << " id " << i.id;
    if (i.display_name != j->name) bad << " name " << i.display_name;
    if (i.description != j->description) bad << " description";
    if (i.priority != j->priority) bad << " priority " << priority_name(i.priority);
    if (i.notify_flags != j->notify_flags) bad << " notify_flags " << i.notify_flags;
    if (i.files_total != j->files.size() || i.files.size() != j->files.size()) {
      bad << " files " << i.files_total << "/" << i.files.size();
    } else {
      for (std::size_t n = 0; n < i.files.size(); ++n) {
        if (i.files[n].local_path != j->files[n].spec.local_path ||
            i.files[n].remote_url != j->files[n].spec.remote_url) {
          bad << " file " << n << " " << i.files[n].local_path;
        }
      }
    }
    if (i.files_transferred > i.files_total) bad << " files_transferred " << i.files_transferred;
    if (i.bytes_total && i.bytes_transferred > *i.bytes_total) bad << " bytes past total";
    if (i.state == JobState::Transferred && i.files_transferred == i.files_total &&
        (!i.bytes_total || i.bytes_transferred != *i.bytes_total)) {
      bad << " TRANSFERRED with " << i.bytes_transferred << " bytes of "
          << i.bytes_total.value_or(0);
    }
    if (i.error) bad << " error " << hresult_name(i.error->code) << ": " << i.error->message;
    if (!bad.str().empty()) fail("info " + j->name + ":" + bad.str());
  }

  void do_list() {
    auto r = timed("enum_jobs", [&] { return mgr().enum_jobs(); });
    if (!check("enum_jobs", r, {hr::SOk})) return;
    std::map<std::string, const JobInfo*> by_id;
    for (const auto& i : *r) {
      if (i.state == JobState::Acknowledged || i.state == JobState::Cancelled) {
        fail("enum_jobs lists final job " + i.id);
      }
      if (!by_id.emplace(i.id, &i).second) fail("enum_jobs lists " + i.id + " twice");
    }
    for (auto& j : live_) {
      auto it = by_id.find(j.job.id());
      if (it == by_id.end()) {
        fail("enum_jobs misses " + j.name);
        continue;
      }
      check_state(j, it->second->state, "enum_jobs",
                  it->second->files_transferred == it->second->files_total);
      if (it->second->display_name != j.name) fail("enum_jobs: wrong name for " + j.name);
    }
    for (auto& f : finals_) {
      if (by_id.count(f.job.id()) != 0) fail("enum_jobs lists final " + f.job.id());
    }
  }

  void do_set() {
    ModelJob* j = any_live();
    if (j == nullptr) return do_create();
    JobSettingsPatch p;
    ModelJob next = *j;
    switch (pick(7)) {
      case 0:
        next.name = j->name;  // names identify jobs in this test; rename to the same text
        p.display_name = next.name;
        p.description = next.description = "d" + std::to_string(pick(1000000));
        break;
      case 1:
        p.description = next.description = std::string(static_cast<std::size_t>(pick(200)), 'x');
        break;
      case 2: {
        static constexpr JobPriority kPriorities[] = {JobPriority::High, JobPriority::Normal,
                                                      JobPriority::Low, JobPriority::Foreground};
        p.priority = next.priority = kPriorities[pick(4)];
        break;
      }
      case 3:
        p.notify_flags = next.notify_flags = static_cast<std::uint32_t>(pick(0x20));
        break;
      case 4:
        p.min_retry_delay = 5 + static_cast<std::uint32_t>(pick(3600));
        p.no_progress_timeout = 3600 + static_cast<std::uint32_t>(pick(3600));
        break;
      case 5:
        p.max_download_time = 86400 + static_cast<std::uint32_t>(pick(86400));
        p.tls_verify = pick(2) == 0;
        break;
      default:
        p.proxy = ProxySettings{pick(2) == 0 ? ProxyUsage::NoProxy : ProxyUsage::Preconfig, "", ""};
        break;
    }
    auto st = timed("set", [&] { return j->job.set(p); });
    if (!check("set " + j->name, st, {hr::SOk})) return;
    j->description = next.description;
    j->priority = next.priority;
    j->notify_flags = next.notify_flags;
  }

  void do_suspend() {
    ModelJob* j = any_live();
    if (j == nullptr) return do_create();
    // SPEC section 2: suspend is legal in every non-final state, TRANSFERRED included.
    auto st = timed("suspend", [&] { return j->job.suspend(); });
    if (!check("suspend " + j->name, st, {hr::SOk})) return;
    switch (j->phase) {
      case Phase::Suspended:
        break;
      case Phase::Active:
        j->done = j->kind == Kind::Fast ? Done::Maybe : Done::No;
        break;
      case Phase::Transferred:
        j->done = Done::Yes;
        break;
      case Phase::Stuck:
        j->done = Done::No;
        break;
    }
    j->phase = Phase::Suspended;
  }

  void do_resume() {
    ModelJob* j = any_live();
    if (j == nullptr) return do_create();
    auto st = timed("resume", [&] { return j->job.resume(); });
    if (j->files.empty()) {
      check("resume empty " + j->name, st, {hr::DoEJobEmpty});
      return;
    }
    // Legal in every non-final state; a TRANSFERRED job with every file stays so.
    if (check("resume " + j->name, st, {hr::SOk}) && j->phase != Phase::Transferred) {
      j->phase = Phase::Active;
    }
  }

  /// Names in the destination that are staging files of `job`.
  std::vector<std::string> staging_of(const Job& job) const {
    std::string hex;
    for (char c : job.id()) {
      if (c != '{' && c != '}' && c != '-') hex.push_back(c);
    }
    std::vector<std::string> out;
    for (const auto& name : list_dir(dest_)) {
      if (name.find(hex) != std::string::npos) out.push_back(name);
    }
    return out;
  }

  void finish(std::size_t at, JobState state) {
    ModelJob j = std::move(live_[at]);
    live_.erase(live_.begin() + static_cast<std::ptrdiff_t>(at));
    for (const auto& name : staging_of(j.job)) {
      fail(std::string(state_name(state)) + " " + j.name + " left " + name);
    }
    auto s = timed("state", [&] { return j.job.state(); });
    if (check("state after final " + j.name, s, {hr::SOk}) && *s != state) {
      fail("state after final " + j.name + ": " + std::string(state_name(*s)));
    }
    finals_.push_back(FinalJob{j.job, j.twin, state, world_.finals.fetch_add(1) + 1});
    if (finals_.size() > 4) finals_.erase(finals_.begin());
  }

  void do_cancel(std::size_t at) {
    ModelJob& j = live_[at];
    auto st = timed("cancel", [&] { return j.job.cancel(); });
    const bool ok = check("cancel " + j.name, st, {hr::SOk});
    if (!st.ok()) return;
    if (ok) {
      for (const auto& f : j.files) {
        if (fs::exists(f.spec.local_path)) fail("cancel " + j.name + " left " + f.spec.local_path);
      }
    }
    finish(at, JobState::Cancelled);
  }

  void do_complete(std::size_t at) {
    ModelJob& j = live_[at];
    auto st = timed("complete", [&] { return j.job.complete(); });
    const bool all_in = j.files.empty() || j.phase == Phase::Transferred ||
                        (j.phase == Phase::Suspended && j.done == Done::Yes);
    const bool maybe = (j.phase == Phase::Active && j.kind == Kind::Fast) ||
                       (j.phase == Phase::Suspended && j.done == Done::Maybe);
    bool ok = false;
    if (all_in) {
      ok = check("complete " + j.name, st, {hr::SOk});
    } else if (maybe) {
      ok = check("complete " + j.name, st, {hr::SOk, hr::BgSPartialComplete});
    } else {
      ok = check("complete unfinished " + j.name, st, {hr::BgSPartialComplete});
    }
    if (!st.ok()) return;
    for (const auto& f : j.files) {
      const bool there = fs::exists(f.spec.local_path);
      if (!there) {
        if (ok && st.code() == hr::SOk) {
          fail("complete " + j.name + ": missing " + f.spec.local_path);
        }
        continue;
      }
      if (f.sha.empty()) {
        fail("complete " + j.name + ": a slow file was delivered: " + f.spec.local_path);
      } else if (sha256_file(f.spec.local_path) != f.sha) {
        fail("complete " + j.name + ": wrong content in " + f.spec.local_path);
      }
      fs::remove(f.spec.local_path);
    }
    finish(at, JobState::Acknowledged);
  }

  void do_subscribe() {
    ModelJob* j = any_live();
    if (j == nullptr) return do_create();
    struct Seen {
      std::mutex mu;
      int mine = 0;
      std::vector<std::string> others;
    };
    auto seen = std::make_shared<Seen>();
    const std::string id = j->job.id();
    const bool job_scoped = pick(2) == 0;
    auto cb = [seen, id](const JobEvent& e) {
      std::lock_guard<std::mutex> lock(seen->mu);
      if (e.job_id == id) {
        ++seen->mine;
      } else {
        seen->others.push_back(e.job_id);
      }
    };
    auto sub = job_scoped ? timed("subscribe", [&] { return j->job.subscribe(cb); })
                          : timed("subscribe", [&] { return mgr().subscribe(cb); });
    if (!check("subscribe " + j->name, sub, {hr::SOk})) return;
    // A change the service must announce: every stream carries JobModification events.
    j->description = "event " + std::to_string(pick(1000000));
    JobSettingsPatch p;
    p.description = j->description;
    auto st = timed("set", [&] { return j->job.set(p); });
    if (check("set for event " + j->name, st, {hr::SOk})) {
      const bool got = wait_until(
          [&] {
            std::lock_guard<std::mutex> lock(seen->mu);
            return seen->mine > 0;
          },
          std::chrono::seconds(10), std::chrono::milliseconds(2));
      if (!got) {
        // Say what the stream did: it tells a lost event from a lost stream.
        std::size_t others = 0;
        {
          std::lock_guard<std::mutex> lock(seen->mu);
          others = seen->others.size();
        }
        auto now = j->job.info();
        fail("subscribe " + j->name + " " + id + ": no event for the change within 10 s (" +
             (job_scoped ? "job" : "manager") +
             " stream, active=" + (sub->active() ? "yes" : "no") +
             ", events of other jobs=" + std::to_string(others) + ", job now " +
             (now.ok()
                  ? std::string(state_name(now->state)) + " description '" + now->description + "'"
                  : hresult_name(now.status().code())) +
             ")");
      }
    }
    sub->stop();
    std::lock_guard<std::mutex> lock(seen->mu);
    if (job_scoped && !seen->others.empty()) {
      fail("job stream of " + j->name + " delivered an event of " + seen->others.front());
    }
  }

  void do_illegal() {
    ModelJob* j = any_live();
    switch (pick(9)) {
      case 0: {
        if (j == nullptr) break;
        auto r = timed("error", [&] { return j->job.error(); });
        check("error() of " + j->name, r, {hr::DoEErrorInformationUnavailable});
        return;
      }
      case 1: {
        auto r = timed("get_job", [&] { return mgr().get_job("not-a-guid"); });
        check("get_job(not-a-guid)", r, {hr::EInvalidArg});
        return;
      }
      case 2: {
        auto r = timed("get_job", [&] {
          return mgr().get_job("{0BADC0DE-0000-4000-8000-00000000000" + std::to_string(pick(10)) +
                               "}");
        });
        check("get_job(unknown)", r, {hr::DoEJobNotFound});
        return;
      }
      case 3: {
        if (j == nullptr) break;
        auto st =
            timed("add_file", [&] { return j->job.add_file(world_.slow_url, "relative/path"); });
        check("add_file relative " + j->name, st, {hr::EInvalidArg});
        return;
      }
      case 4: {
        if (j == nullptr) break;
        auto st = timed("add_file_with_ranges", [&] {
          return j->job.add_file_with_ranges(world_.slow_url, (dest_ / "overlap").string(),
                                             {{0, 100}, {50, 100}});
        });
        check("add overlapping ranges " + j->name, st, {hr::DoEOverlappingRanges});
        return;
      }
      case 5: {
        if (j == nullptr) break;
        JobSettingsPatch p;
        const int which = pick(3);
        Hresult want = hr::BgEStringTooLong;
        if (which == 0) {
          p.display_name = std::string(300, 'n');
        } else if (which == 1) {
          p.description = std::string(1100, 'd');
        } else {
          p.proxy = ProxySettings{ProxyUsage::Override, "", ""};  // OVERRIDE needs a list
          want = hr::EInvalidArg;
        }
        auto st = timed("set", [&] { return j->job.set(p); });
        check("bad set " + std::to_string(which) + " " + j->name, st, {want});
        return;
      }
      case 6: {
        if (j == nullptr) break;
        auto st = timed("add_file", [&] {
          return j->job.add_file("gopher://127.0.0.1/x", (dest_ / "scheme").string());
        });
        check("add_file gopher:// " + j->name, st, {hr::EInvalidArg});
        return;
      }
      case 7: {
        if (j == nullptr) break;
        auto st = timed("add_file_with_ranges", [&] {
          return j->job.add_file_with_ranges(world_.slow_url, (dest_ / "empty-range").string(),
                                             {{10, 0}});
        });
        check("add zero-length range " + j->name, st, {hr::DoEInvalidRange});
        return;
      }
      default:
        break;
    }
    final_checks();
  }

  // A job made final: its own handle answers DO_E_INVALID_STATE (and remembers the state),
  // another handle DO_E_JOB_NOT_FOUND to reads and DO_E_INVALID_STATE to changes.
  void final_checks() {
    if (finals_.empty()) return;
    FinalJob& f = finals_[static_cast<std::size_t>(pick(static_cast<int>(finals_.size())))];
    const std::string what = std::string(state_name(f.state)) + " " + f.job.id();
    auto s = timed("state", [&] { return f.job.state(); });
    if (check("state of " + what, s, {hr::SOk}) && *s != f.state) fail("state of " + what);
    check("suspend " + what, timed("suspend", [&] { return f.job.suspend(); }),
          {hr::DoEInvalidState});
    check("info " + what, timed("info", [&] { return f.job.info(); }), {hr::DoEInvalidState});
    check("get_job " + what, timed("get_job", [&] { return mgr().get_job(f.job.id()); }),
          {hr::DoEJobNotFound});
    if (f.twin) {
      check("twin info " + what, timed("info", [&] { return f.twin->info(); }),
            {hr::DoEJobNotFound});
      std::vector<Hresult> change = {hr::DoEInvalidState};
      if (world_.finals.load() - f.ordinal >= kRememberedFinals)
        change.push_back(hr::DoEJobNotFound);
      check("twin resume " + what, timed("resume", [&] { return f.twin->resume(); }), change);
      check("twin complete " + what, timed("complete", [&] { return f.twin->complete(); }), change);
    }
  }

 public:
  Tally run(Clock::time_point until) {
    auto m = timed("connect", [&] { return Manager::connect(world_.connect); });
    if (!check("connect", m, {hr::SOk})) return std::move(tally_);
    manager_ = *m;
    while (Clock::now() < until) step();
    // Leave nothing behind: every job ends through cancel or complete, checked as usual.
    while (!live_.empty()) {
      const std::size_t before = live_.size();
      (pick(2) == 0) ? do_cancel(0) : do_complete(0);
      if (live_.size() == before) live_.erase(live_.begin());  // failed, and noted as such
    }
    for (const auto& name : list_dir(dest_)) {
      tally_.note("c" + std::to_string(index_) + ": left in the destination: " + name);
    }
    return std::move(tally_);
  }

 private:
  const World& world_;
  const int index_;
  std::mt19937_64 rng_;
  const fs::path dest_;
  std::optional<Manager> manager_;
  std::vector<ModelJob> live_;
  std::vector<FinalJob> finals_;
  int next_job_ = 0;
  int next_file_ = 0;
  Tally tally_;
};

struct Long {
  std::optional<Job> job;
  std::string sha;
  std::string dest;
  std::uint64_t size = 0;
  std::uint64_t bytes_at_start = 0;
};

std::string mib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

TEST(Load, FiftyClientsMixedCallsWhileTwentyTransfersRun) {
  if (!NginxServer::available()) GTEST_SKIP() << "nginx is not installed (run scripts/setup.sh)";
  const int seconds = env_int("BGCOPY_SOAK_SECONDS", 60);
  const std::uint64_t seed = seed_from_env();
  std::cout << "[ load ] seed=" << seed << " (BGCOPY_SOAK_SEED) seconds=" << seconds
            << " clients=" << kClients << " transfers=" << kTransfers << std::endl;
  ::testing::Test::RecordProperty("seed", std::to_string(seed));

  // Throttled by default (the 20 long transfers); clients' URLs choose their own rate.
  // Small output buffers so a throttled response is not sent ahead into socket buffers.
  NginxOptions nopts;
  nopts.limit_rate = kLongRate;
  nopts.location_extra = "sendfile off; output_buffers 2 32k;";
  NginxServer nginx(nopts);
  TempDir dir("bgcopy-load-");
  const fs::path src = dir.path() / "src";
  const fs::path dest = dir.path() / "dest";
  fs::create_directories(src);
  fs::create_directories(dest);

  World world;
  const std::vector<std::uint64_t> fast_sizes = {
      1024, 4096, 16 * 1024 + 7, 64 * 1024, 100 * 1024 + 3, 200 * 1024, 256 * 1024, 512 * 1024 + 1};
  for (std::size_t i = 0; i < fast_sizes.size(); ++i) {
    Source s;
    s.data = gen_content(fast_sizes[i], 500 + i);
    const std::string name = "fast" + std::to_string(i) + ".bin";
    write_file(nginx.docroot() / name, s.data);
    write_file(src / name, s.data);
    s.http_url = nginx.url("/" + name + "?limit_rate=0");
    s.file_url = "file://" + (src / name).string();
    world.fast.push_back(std::move(s));
  }
  write_file(nginx.docroot() / "slow.bin", gen_content(4 << 20, 499));
  world.slow_url = nginx.url("/slow.bin?limit_rate=" + std::to_string(kSlowRate));
  world.dest_root = dest / "clients";

  // Long enough at kLongRate to outlast the load period and the set-up around it.
  const std::uint64_t long_size = kLongRate * static_cast<std::uint64_t>(seconds + 30);
  std::vector<Long> longs(kTransfers);
  for (int i = 0; i < kTransfers; ++i) {
    const std::string data =
        gen_content(long_size + static_cast<std::uint64_t>(i), 600 + static_cast<std::uint64_t>(i));
    write_file(nginx.docroot() / ("long" + std::to_string(i)), data);
    longs[static_cast<std::size_t>(i)].sha = sha256_bytes(data);
    longs[static_cast<std::size_t>(i)].size = data.size();
    longs[static_cast<std::size_t>(i)].dest = (dest / ("long" + std::to_string(i))).string();
  }

  // Every background job may run at once: the test is about the API under load, not about
  // jobs waiting for a slot.
  BgcopydProcess daemon(BGCOPYD_PATH, dir.path() / "daemon",
                        "[scheduler]\nmax_background_jobs = 1024\n");
  ASSERT_TRUE(daemon.start()) << daemon.log();
  world.connect = daemon.connect_options();
  auto main_mgr = Manager::connect(world.connect);
  ASSERT_TRUE(main_mgr.ok()) << main_mgr.status().to_string();

  static constexpr JobPriority kPriorities[] = {JobPriority::Foreground, JobPriority::High,
                                                JobPriority::Normal, JobPriority::Low};
  for (int i = 0; i < kTransfers; ++i) {
    Long& l = longs[static_cast<std::size_t>(i)];
    auto job =
        main_mgr->create_job("long" + std::to_string(i), JobType::Download, kPriorities[i % 4]);
    ASSERT_TRUE(job.ok()) << job.status().to_string();
    l.job = *job;
    FileSpec f{nginx.url("/long" + std::to_string(i)), l.dest, {}, l.sha};
    ASSERT_TRUE(l.job->add_file(f).ok());
    ASSERT_TRUE(l.job->resume().ok());
  }
  ASSERT_TRUE(wait_until(
      [&] {
        for (auto& l : longs) {
          auto i = l.job->info();
          if (!i.ok() || i->state != JobState::Transferring || i->bytes_transferred == 0)
            return false;
        }
        return true;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(50)))
      << "the 20 transfers did not all start";
  for (auto& l : longs) l.bytes_at_start = l.job->info()->bytes_transferred;

  const auto before = proc_stats(daemon.pid());
  ASSERT_TRUE(before.has_value());
  const std::string api_socket = world.connect.socket_path;
  const auto api_before = unix_sockets_at(daemon.pid(), api_socket);
  ASSERT_TRUE(api_before.has_value());
  ASSERT_GE(*api_before, 1) << "the daemon's listening socket is not at " << api_socket;

  // The load.
  const auto start = Clock::now();
  const auto until = start + std::chrono::seconds(seconds);
  std::vector<Tally> tallies(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      Client c(world, i, seed + static_cast<std::uint64_t>(i));
      tallies[static_cast<std::size_t>(i)] = c.run(until);
    });
  }
  // Sample the daemon once a second while the clients run (a sampling period, not a wait).
  std::uint64_t rss_peak = before->rss_bytes;
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    while (!done.load()) {
      if (auto s = proc_stats(daemon.pid())) rss_peak = std::max(rss_peak, s->rss_bytes);
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  });
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  done = true;
  sampler.join();

  // The 20 were running all along: still in TRANSFERRING (no error), and moving.
  for (auto& l : longs) {
    auto i = l.job->info();
    ASSERT_TRUE(i.ok()) << i.status().to_string();
    EXPECT_EQ(i->state, JobState::Transferring) << i->display_name;
    EXPECT_EQ(i->error_count, 0U) << i->display_name;
    EXPECT_GT(i->bytes_transferred, l.bytes_at_start) << i->display_name;
    EXPECT_LT(i->bytes_transferred, l.size) << i->display_name << " finished before the load did";
  }

  // Every client connection is gone: the daemon holds exactly the API sockets it held before
  // (its listener and the main client's connection) and is back to its threads. The total
  // descriptor count only gets a loose bound: the 20 transfers still run and may hold a
  // reconnecting or cached connection to nginx more or less than before.
  std::optional<ProcStats> after;
  std::optional<int> api_after;
  const bool settled = wait_until(
      [&] {
        after = proc_stats(daemon.pid());
        api_after = unix_sockets_at(daemon.pid(), api_socket);
        return after && api_after && *api_after <= *api_before &&
               after->open_fds <= before->open_fds + 8 && after->threads <= before->threads;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(50));
  ASSERT_TRUE(after.has_value());
  EXPECT_TRUE(settled) << "API sockets " << *api_before << " -> " << api_after.value_or(-1)
                       << ", fds " << before->open_fds << " -> " << after->open_fds << ", threads "
                       << before->threads << " -> " << after->threads;

  Tally all;
  for (auto& t : tallies) all.merge(std::move(t));
  std::uint64_t calls = 0;
  for (auto& [kind, s] : all.calls) calls += s.micros.size();
  std::cout << "[ load ] " << calls << " calls in " << elapsed
            << " s = " << static_cast<std::uint64_t>(static_cast<double>(calls) / elapsed)
            << " calls/s\n";
  std::cout << "[ load ] per call kind: count p50 p99 max (microseconds); codes\n";
  for (auto& [kind, s] : all.calls) {
    std::vector<std::uint32_t> v = s.micros;
    const auto mx = v.empty() ? 0U : *std::max_element(v.begin(), v.end());
    std::cout << "[ load ]   " << kind << " " << v.size() << " " << percentile(v, 0.50) << " "
              << percentile(v, 0.99) << " " << mx << ";";
    for (auto [code, n] : s.codes) std::cout << " " << hresult_name(code) << "=" << n;
    std::cout << "\n";
  }
  std::cout << "[ load ] daemon rss start=" << mib(before->rss_bytes)
            << " end=" << mib(after->rss_bytes) << " peak=" << mib(rss_peak) << " fds "
            << before->open_fds << "->" << after->open_fds << " threads " << before->threads << "->"
            << after->threads << "\n";
  std::cout << "[ load ] unexpected=" << all.unexpected << " transport=" << all.transport
            << std::endl;
  for (const auto& n : all.notes) std::cout << "[ load ]   unexpected: " << n << "\n";
  for (const auto& [c, n] : all.by_category) std::cout << "[ load ]   " << n << " x " << c << "\n";
  if (all.unexpected > 0) {
    // The daemon's side of the story, for the answers above.
    const std::string log = daemon.log();
    std::cout << "[ load ] daemon log (last 8 KiB):\n"
              << log.substr(log.size() > 8192 ? log.size() - 8192 : 0) << std::endl;
  }
  ::testing::Test::RecordProperty("calls", std::to_string(calls));
  EXPECT_EQ(all.unexpected, 0U);
  EXPECT_EQ(all.transport, 0U);
  // A bounded heap: ~170 live jobs cost little; a leak per call (~10^5 calls) would not fit.
  // AddressSanitizer keeps freed memory in quarantine (256 MiB by default) and pads every
  // allocation, so its bound is looser.
  const std::uint64_t bound = kSanitized ? (384ULL << 20) : (48ULL << 20);
  EXPECT_LE(after->rss_bytes, before->rss_bytes + bound)
      << "daemon RSS grew from " << mib(before->rss_bytes) << " to " << mib(after->rss_bytes);

  // Lift the throttle. Restarting nginx breaks the 20 connections: each job resumes from its
  // checkpoint (a resume skips the transient-error back-off) and must arrive intact.
  nopts.limit_rate = 0;
  nginx.restart(nopts);
  const bool all_done = wait_until(
      [&] {
        bool every = true;
        for (auto& l : longs) {
          auto i = l.job->info();
          if (!i.ok()) return false;
          if (i->state == JobState::TransientError) (void)l.job->resume();
          every = every && i->state == JobState::Transferred;
        }
        return every;
      },
      std::chrono::seconds(120), std::chrono::milliseconds(100));
  ASSERT_TRUE(all_done) << "the 20 transfers did not finish after the throttle was lifted";
  for (auto& l : longs) {
    auto st = l.job->complete();
    EXPECT_EQ(st.code(), hr::SOk) << st.to_string();
    ASSERT_TRUE(fs::exists(l.dest));
    EXPECT_EQ(sha256_file(l.dest), l.sha) << l.dest;
  }
  auto left = main_mgr->enum_jobs();
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty()) << left->size() << " jobs left";
  for (const auto& name : list_dir(dest)) {
    EXPECT_EQ(name.rfind('.', 0), std::string::npos) << "staging file left: " << name;
  }

  const auto exit = daemon.stop();
  ASSERT_TRUE(exit.has_value()) << "bgcopyd did not stop on SIGTERM";
  EXPECT_TRUE(exit->success()) << exit->describe() << "\n" << daemon.log();

  std::cout << "[ load ] SUMMARY clients=" << kClients << " transfers=" << kTransfers
            << " seconds=" << seconds << " calls=" << calls
            << " calls_per_s=" << static_cast<std::uint64_t>(static_cast<double>(calls) / elapsed)
            << " unexpected=" << all.unexpected << " transport=" << all.transport
            << " rss_start=" << mib(before->rss_bytes) << " rss_end=" << mib(after->rss_bytes)
            << " rss_peak=" << mib(rss_peak) << " seed=" << seed << std::endl;
}

}  // namespace
}  // namespace bgcopy::test
