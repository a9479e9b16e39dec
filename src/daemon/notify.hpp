// Runs a job's notify command line when it enters TRANSFERRED or ERROR and its notify flags ask
// for that event (and not DISABLE). The program runs as the job's owner, with no shell: argv as
// given, stdin/stdout/stderr on /dev/null, and only PATH, HOME, USER, BGCOPY_JOB_ID and
// BGCOPY_JOB_STATE in its environment.
//
// Events arrive on the engine thread; a worker thread of its own reads the job's settings
// through the host and spawns, so the engine never waits for a fork.
#pragma once

#include "base/error.hpp"
#include "daemon/engine_host.hpp"

#include <sys/types.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace bgcopy::daemon {

class NotifyRunner {
 public:
  /// Registers with the hub and starts the worker. host and hub must outlive the runner.
  NotifyRunner(EngineHost& host, EventHub& hub);
  ~NotifyRunner();
  NotifyRunner(const NotifyRunner&) = delete;
  NotifyRunner& operator=(const NotifyRunner&) = delete;

  /// Unregisters and joins the worker. Children keep running; reap() still collects them.
  void stop();
  /// Collects every spawned child that has exited. Any thread (bgcopyd calls it on SIGCHLD).
  void reap();
  /// Children spawned and not yet reaped.
  std::size_t running() const;

 private:
  struct Job {
    JobId id;
    engine::Event::Kind kind;
    engine::JobState state;
  };
  void work();
  void handle(const Job& job);

  EngineHost& host_;
  EventHub& hub_;
  std::uint64_t token_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::thread worker_;

  mutable std::mutex children_mu_;
  std::vector<pid_t> children_;
};

/// Starts argv[0] (an absolute path) with argv and env, as `owner` when this process is root and
/// owner is not 0 (supplementary groups, gid and uid of the owner are set in the child before
/// exec), with stdio on /dev/null and every other descriptor closed.
/// Errors: E_INVALIDARG (empty argv, relative program), E_ACCESSDENIED (unknown owner when a
/// switch of user is needed), 0xC0D00000 + errno when fork fails.
Result<pid_t> spawn_as(uid_t owner, const std::vector<std::string>& argv,
                       const std::vector<std::string>& env);

}  // namespace bgcopy::daemon
