// A process that hosts the job service for tests (issue: engine before daemon). It keeps a
// manifest of downloads going until every file is at its final path, completing jobs as they
// finish. Tests SIGKILL it at random moments and start it again: every restart must pick up
// where the last checkpoint left off.
//
//   engine_driver run  --state DIR --manifest FILE [--complete] [--checkpoint-ms N] ...
//   engine_driver list --state DIR
//
// Manifest: one "NAME URL LOCAL_PATH [SHA256]" per line; '#' starts a comment.
#include "base/log.hpp"
#include "daemon/service.hpp"

#include <CLI/CLI.hpp>
#include <sys/stat.h>

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

using namespace bgcopy;

namespace {

std::atomic<bool> g_stop{false};

struct Entry {
  std::string name, url, path;
  std::optional<std::string> sha256;
};

std::vector<Entry> read_manifest(const std::string& path) {
  std::vector<Entry> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    Entry e;
    std::string sha;
    ss >> e.name >> e.url >> e.path >> sha;
    if (!sha.empty()) e.sha256 = sha;
    out.push_back(e);
  }
  return out;
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

void print_job(const engine::JobView& v) {
  const auto& r = v.record;
  std::cout << r.id.to_string() << ' ' << r.settings.display_name << ' ' << to_string(r.state)
            << ' ' << r.files_transferred() << '/' << r.files.size() << ' ' << r.bytes_transferred()
            << '/' << (r.bytes_total() ? std::to_string(*r.bytes_total()) : "UNKNOWN") << ' '
            << r.error_count;
  if (r.error) std::cout << ' ' << hresult_name(r.error->error.code);
  std::cout << '\n';
}

int fail(const std::string& what, const Error& e) {
  std::cerr << "engine_driver: " << what << " failed: " << hresult_hex(e.code) << ' '
            << hresult_name(e.code) << ": " << e.message << '\n';
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bgcopy engine test driver"};
  app.require_subcommand(1);
  std::string state_dir, manifest;
  bool complete = false;
  daemon::ServiceOptions opts;
  auto* run = app.add_subcommand("run", "host the service and drive the manifest to completion");
  run->add_option("--state", state_dir)->required();
  run->add_option("--manifest", manifest)->required();
  run->add_flag("--complete", complete, "complete each job once TRANSFERRED");
  run->add_option("--checkpoint-ms", opts.config.checkpoint_ms);
  run->add_option("--checkpoint-bytes", opts.config.checkpoint_bytes);
  run->add_option("--stall-timeout", opts.config.stall_timeout_s);
  run->add_option("--max-background-jobs", opts.config.max_background_jobs);
  auto* list = app.add_subcommand("list", "print every job");
  list->add_option("--state", state_dir)->required();
  CLI11_PARSE(app, argc, argv);

  log::set_level(log::Level::Warn);
  opts.state_dir = state_dir;
  auto service = daemon::Service::open(opts);
  if (!service) return fail("open", service.error());
  auto& host = (*service)->host();
  const engine::Caller me{::getuid()};

  if (list->parsed()) {
    auto jobs = host.call([&](engine::Engine& e) { return e.enum_jobs(me, false); });
    if (!jobs) return fail("list", jobs.error());
    for (const auto& v : *jobs) print_job(v);
    return 0;
  }

  std::signal(SIGTERM, [](int) { g_stop = true; });
  std::signal(SIGINT, [](int) { g_stop = true; });
  const std::vector<Entry> entries = read_manifest(manifest);

  // Idempotent set-up: a crash may have happened after create, after add or after resume.
  auto jobs = host.call([&](engine::Engine& e) { return e.enum_jobs(me, false); });
  if (!jobs) return fail("list", jobs.error());
  for (const auto& entry : entries) {
    const engine::JobView* found = nullptr;
    for (const auto& v : *jobs) {
      if (v.record.settings.display_name == entry.name) found = &v;
    }
    if (!found && exists(entry.path)) continue;  // completed by an earlier run
    Status st = host.call([&](engine::Engine& e) -> Status {
      JobId id;
      std::size_t files = 0;
      if (found) {
        id = found->record.id;
        files = found->record.files.size();
      } else {
        auto created = e.create_job(me, entry.name, engine::JobType::Download);
        if (!created) return std::move(created).error();
        id = *created;
      }
      if (files == 0) {
        BGCOPY_TRY(
            e.add_files(me, id, {engine::FileSpec{entry.url, entry.path, {}, entry.sha256}}));
      }
      return e.resume(me, id);
    });
    if (!st) return fail("set up " + entry.name, st.error());
  }

  // Drive: complete what is transferred; stop on ERROR or when nothing is left.
  while (!g_stop) {
    auto now = host.call([&](engine::Engine& e) { return e.enum_jobs(me, false); });
    if (!now) return fail("list", now.error());
    bool all_done = true;
    for (const auto& v : *now) {
      const auto& r = v.record;
      if (r.state == engine::JobState::Error) {
        print_job(v);
        return fail("job " + r.settings.display_name, r.error ? r.error->error : Error{});
      }
      if (r.state == engine::JobState::Transferred && complete) {
        auto done = host.call([&](engine::Engine& e) { return e.complete(me, r.id); });
        if (!done) return fail("complete " + r.settings.display_name, done.error());
        continue;
      }
      all_done = false;
    }
    if (all_done) {
      std::cout << "all done\n";
      return 0;
    }
    // A polling tool, not a test: the engine does the real work on its own threads.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  (*service)->stop();
  return 3;
}
