// download_with_progress: fetch one file through the bgcopy service with libbgcopy, printing a
// progress line whenever the service reports a change (and once a second regardless).
//
//   download_with_progress URL LOCAL_PATH
//
// Needs a running bgcopyd (the `bgcopy` command starts one on demand; this example does not).
#include <bgcopy/bgcopy.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>

namespace {

void report(const char* what, const bgcopy::Status& status) {
  std::fprintf(stderr, "download_with_progress: %s failed: %s\n", what, status.to_string().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s URL LOCAL_PATH\n", argv[0]);
    return 2;
  }
  const std::string url = argv[1];
  // The service wants absolute paths.
  const std::string path = std::filesystem::absolute(argv[2]).lexically_normal().string();

  auto manager = bgcopy::Manager::connect();
  if (!manager) {
    report("connect", manager.status());
    return 1;
  }
  auto job = manager->create_job("download_with_progress", bgcopy::JobType::Download,
                                 bgcopy::JobPriority::Foreground);
  if (!job) {
    report("create_job", job.status());
    return 1;
  }
  if (auto s = job->add_file(url, path); !s) {
    report("add_file", s);
    (void)job->cancel();
    return 1;
  }

  // Events only wake us up; the job's record, read after each one, is what we print.
  std::mutex mu;
  std::condition_variable cv;
  bool woken = false;
  auto subscription = job->subscribe([&](const bgcopy::JobEvent&) {
    {
      std::lock_guard lock(mu);
      woken = true;
    }
    cv.notify_one();
  });
  if (!subscription) {
    report("subscribe", subscription.status());  // not fatal: we also poll once a second
  }
  if (auto s = job->resume(); !s) {
    report("resume", s);
    (void)job->cancel();
    return 1;
  }

  for (;;) {
    auto progress = job->progress();
    auto state = job->state();
    if (!progress || !state) {
      report("read progress", progress ? state.status() : progress.status());
      return 1;
    }
    const std::string total = progress->bytes_total ? std::to_string(*progress->bytes_total) : "?";
    std::printf("%-15s %llu / %s bytes\n", std::string(bgcopy::state_name(*state)).c_str(),
                static_cast<unsigned long long>(progress->bytes_transferred), total.c_str());
    std::fflush(stdout);

    if (*state == bgcopy::JobState::Transferred) {
      break;
    }
    if (*state == bgcopy::JobState::Error) {
      auto error = job->error();
      report("transfer", error ? bgcopy::Status(error->code, error->message) : error.status());
      (void)job->cancel();
      return 1;
    }
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(1), [&] { return woken; });
    woken = false;
  }

  if (auto s = job->complete(); !s) {
    report("complete", s);
    return 1;
  }
  std::printf("saved %s\n", path.c_str());
  return 0;
}
