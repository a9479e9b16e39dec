// Load generator for the 100,000-jobs case of bench/jobs.sh. It talks to bgcopyd only through
// the public libbgcopy API, as any client would, so what it measures is the socket path: HTTP
// framing, JSON, the engine and a store commit per call.
//
//   bgcopy_jobs_load create --socket S --jobs N --clients C --url URL --dest-dir DIR
//                           [--no-resume] [--atomic] [--first K]
//       creates N jobs, each with one file, and resumes each; prints one JSON line with the
//       throughput of whole create+add+resume sequences: three requests per job, or with
//       --atomic one (Manager::submit_job). Jobs are numbered from K (default 0), which names
//       their files, so runs into one DEST_DIR do not collide.
//   bgcopy_jobs_load ready --socket S [--timeout-ms T]
//       polls GET /v1/health until it answers; prints the wall-clock time (s since the epoch)
//       at which it first did, so a script can measure restart-to-serving.
#include <bgcopy/bgcopy.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Args {
  std::string mode;
  std::string socket;
  std::string url;
  std::string dest_dir;
  long jobs = 1000;
  int clients = 4;
  long timeout_ms = 30000;
  bool resume = true;
  bool atomic = false;
  long first = 0;
};

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: bgcopy_jobs_load create --socket S --jobs N --clients C --url URL "
               "--dest-dir DIR [--no-resume] [--atomic] [--first K]\n"
               "       bgcopy_jobs_load ready --socket S [--timeout-ms T]\n");
  std::exit(2);
}

Args parse(int argc, char** argv) {
  if (argc < 2) usage();
  Args a;
  a.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (k == "--socket") {
      a.socket = value();
    } else if (k == "--url") {
      a.url = value();
    } else if (k == "--dest-dir") {
      a.dest_dir = value();
    } else if (k == "--jobs") {
      a.jobs = std::stol(value());
    } else if (k == "--clients") {
      a.clients = std::stoi(value());
    } else if (k == "--timeout-ms") {
      a.timeout_ms = std::stol(value());
    } else if (k == "--no-resume") {
      a.resume = false;
    } else if (k == "--atomic") {
      a.atomic = true;
    } else if (k == "--first") {
      a.first = std::stol(value());
    } else {
      usage();
    }
  }
  if (a.socket.empty() || (a.mode != "create" && a.mode != "ready")) usage();
  if (a.mode == "create" && (a.url.empty() || a.dest_dir.empty() || a.clients < 1)) usage();
  return a;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int ready(const Args& a) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(a.timeout_ms);
  bgcopy::ConnectOptions opts;
  opts.socket_path = a.socket;
  opts.request_timeout = std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto m = bgcopy::Manager::connect(opts); m) {
      std::printf("%.6f\n", now_s());
      return 0;
    }
    // Polling a socket that is not there yet; 2 ms bounds the measurement error.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::fprintf(stderr, "bgcopy_jobs_load: service not ready within %ld ms\n", a.timeout_ms);
  return 1;
}

int create(const Args& a) {
  bgcopy::ConnectOptions opts;
  opts.socket_path = a.socket;
  std::atomic<long> next{0};
  std::atomic<long> failures{0};
  std::atomic<bool> reported{false};
  const double start = now_s();
  std::vector<std::thread> threads;
  for (int c = 0; c < a.clients; ++c) {
    threads.emplace_back([&] {
      auto m = bgcopy::Manager::connect(opts);
      if (!m) {
        failures += a.jobs;
        return;
      }
      for (long n = next++; n < a.jobs; n = next++) {
        const long i = a.first + n;
        auto fail = [&](const std::string& what, const std::string& msg) {
          ++failures;
          if (!reported.exchange(true)) {
            std::fprintf(stderr, "bgcopy_jobs_load: %s failed: %s\n", what.c_str(), msg.c_str());
          }
        };
        const std::string path = a.dest_dir + "/f" + std::to_string(i);
        if (a.atomic) {
          bgcopy::FileSpec spec;
          spec.remote_url = a.url;
          spec.local_path = path;
          auto job = m->submit_job("load-" + std::to_string(i), {spec}, bgcopy::JobPriority::Normal,
                                   a.resume);
          if (!job) fail("submit", job.status().to_string());
          continue;
        }
        auto job = m->create_job("load-" + std::to_string(i));
        if (!job) {
          fail("create", job.status().to_string());
          continue;
        }
        if (auto st = job->add_file(a.url, path); !st) {
          fail("add", st.to_string());
          continue;
        }
        if (a.resume) {
          if (auto st = job->resume(); !st) fail("resume", st.to_string());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double secs = now_s() - start;
  std::printf(
      "{\"jobs\":%ld,\"clients\":%d,\"seconds\":%.3f,\"jobs_per_s\":%.0f,\"failures\":%ld}\n",
      a.jobs, a.clients, secs, static_cast<double>(a.jobs) / secs, failures.load());
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  return a.mode == "ready" ? ready(a) : create(a);
}
