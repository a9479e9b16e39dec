// The verbs that follow a job over time: wait, monitor, transfer.
#include "cli/context.hpp"
#include "cli/format.hpp"
#include "cli/parse.hpp"
#include "cli/render.hpp"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <map>
#include <mutex>
#include <ostream>

namespace bgcopy::cli {
namespace {

using SteadyClock = std::chrono::steady_clock;

// --- Interruption -----------------------------------------------------------------------------

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_interrupt(int /*sig*/) {
  g_interrupted = 1;
}

/// Catches SIGINT and SIGTERM while alive (so a loop can clean up), restoring the previous
/// handlers afterwards.
class InterruptGuard {
 public:
  InterruptGuard() {
    g_interrupted = 0;
    struct sigaction sa {};
    sa.sa_handler = &on_interrupt;
    ::sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptGuard() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  static bool interrupted() { return g_interrupted != 0; }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

/// Wake-ups from the event stream.
class Wakeup {
 public:
  void notify(bool urgent) {
    {
      std::lock_guard lock(mu_);
      ++count_;
      if (urgent) ++urgent_;
    }
    cv_.notify_all();
  }
  /// Waits until an event arrives, `d` passes or the process is interrupted (checked every
  /// 100 ms: a signal cannot wake a condition variable). Events that cannot end a wait (a
  /// file done, progress) wake at most every 100 ms: each wake-up re-reads the whole job, and
  /// a job of many small files sends one per file.
  void wait(std::chrono::milliseconds d) {
    constexpr auto kMinSpacing = std::chrono::milliseconds(100);
    const auto end = SteadyClock::now() + d;
    std::unique_lock lock(mu_);
    for (;;) {
      const auto now = SteadyClock::now();
      if (urgent_ != seen_urgent_ || InterruptGuard::interrupted() || now >= end) break;
      const auto calm_from = last_return_ + kMinSpacing;
      if (count_ != seen_ && now >= calm_from) break;
      auto until = std::min(end, now + kMinSpacing);
      if (count_ != seen_) until = std::min(until, calm_from);
      cv_.wait_until(lock, until);
    }
    seen_ = count_;
    seen_urgent_ = urgent_;
    last_return_ = SteadyClock::now();
  }
  EventCallback callback() {
    return [this](const JobEvent& e) {
      notify(e.state == JobState::Transferred || e.state == JobState::Error ||
             e.state == JobState::Acknowledged || e.state == JobState::Cancelled);
    };
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t count_ = 0;
  std::uint64_t seen_ = 0;
  std::uint64_t urgent_ = 0;
  std::uint64_t seen_urgent_ = 0;
  SteadyClock::time_point last_return_{};
};

int columns(Io& io) {
  const int c = io.columns ? io.columns() : 80;
  return c > 20 ? c : 80;
}

int rows(Io& io) {
  const int r = io.rows ? io.rows() : 24;
  return r > 3 ? r : 24;
}

/// Cuts a line to `width` characters, so a redraw never wraps (a wrapped line would break the
/// cursor arithmetic).
std::string fit(std::string line, int width) {
  const auto w = static_cast<std::size_t>(std::max(width - 1, 10));
  if (line.size() > w) {
    line.resize(w - 3);
    line += "...";
  }
  return line;
}

std::string job_label(const JobInfo& job) {
  return job.id + " '" + printable(job.display_name) + "'";
}

/// The terminal's label: the id's first 8 digits (enough to tell jobs apart at a glance, and
/// accepted by nothing, so nobody scripts against it) and the name cut to 24 characters.
std::string short_label(const JobInfo& job) {
  std::string name = printable(job.display_name);
  if (name.size() > 24) {
    name = name.substr(0, 21) + "...";
  }
  return job.id.substr(1, 8) + " '" + name + "'";
}

/// Per-job progress memory for live output.
struct Tracked {
  RateMeter meter;
  JobState last_state = JobState::Suspended;
  std::uint64_t last_bytes = 0;
  SteadyClock::time_point last_print{};
  bool printed = false;
  std::string label;
};

std::string progress_of(const JobInfo& job, Tracked& t, int bar_width) {
  return render_progress(job, t.meter.rate(), t.meter.eta(job.bytes_total), bar_width);
}

/// `prefix` + progress, with the widest bar (up to 30 cells) that keeps the line within
/// `width` columns; no bar when fewer than 5 cells fit.
std::string fitted_progress(const std::string& prefix, const JobInfo& job, Tracked& t, int width) {
  const std::string plain = progress_of(job, t, 0);
  const int room = width - 1 - static_cast<int>(prefix.size() + plain.size()) - 3;
  const int bar = std::min(room, 30);
  return fit(prefix + (bar >= 5 ? progress_of(job, t, bar) : plain), width);
}

/// Plain-line mode: should this job get a line now?
bool due(const JobInfo& job, Tracked& t, SteadyClock::time_point now) {
  const bool changed_state = !t.printed || job.state != t.last_state;
  const bool moved = job.bytes_transferred != t.last_bytes;
  const bool print = changed_state || (moved && now - t.last_print >= std::chrono::seconds(1));
  if (print) {
    t.printed = true;
    t.last_state = job.state;
    t.last_bytes = job.bytes_transferred;
    t.last_print = now;
  }
  return print;
}

Status job_error_status(const JobInfo& job) {
  if (!job.error) {
    return Status(hr::EFail, "the job is in ERROR (no error information)");
  }
  std::string message = job.error->message;
  // Name the file: its URL unless the message already does, and its local path.
  std::string file = job.error->file;
  if (job.error->file_index) {
    for (const auto& f : job.files) {
      if (f.index == *job.error->file_index) {
        file = message.find(f.remote_url) == std::string::npos
                   ? f.remote_url + " -> " + f.local_path
                   : f.local_path;
      }
    }
  }
  if (!file.empty() && message.find(file) == std::string::npos) {
    message += (message.empty() ? "" : " ") + std::string("(") + file + ")";
  }
  return Status(job.error->code, std::move(message));
}

}  // namespace

// --- wait -----------------------------------------------------------------------------------

int cmd_wait(Context& ctx, const WaitArgs& args) {
  auto timeout = std::chrono::milliseconds::max();
  if (!args.timeout.empty()) {
    auto ms = parse_duration_ms(args.timeout);
    if (!ms) {
      return ctx.usage("wait", "--timeout: " + ms.message());
    }
    timeout = std::chrono::milliseconds(std::min<std::uint64_t>(
        *ms, static_cast<std::uint64_t>(std::chrono::milliseconds::max().count())));
  }
  auto job = ctx.resolve(args.job);
  if (!job) {
    return ctx.fail("wait", job.status());
  }
  auto state = job->wait(timeout);
  if (!state) {
    return ctx.fail("wait", state.status());
  }
  if (*state == JobState::Transferred) {
    ctx.io().out << state_name(*state) << '\n';
    return kExitOk;
  }
  if (*state == JobState::Error) {
    auto info = job->info();
    const Status why = info ? job_error_status(*info) : Status(hr::EFail, "the job is in ERROR");
    return ctx.fail("job " + job->id(), why);
  }
  ctx.io().err << "bgcopy: wait timed out (--timeout " << args.timeout << "): job " << job->id()
               << " is " << state_name(*state) << '\n';
  return kExitTimeout;
}

// --- monitor --------------------------------------------------------------------------------

int cmd_monitor(Context& ctx, const std::string& job_ref) {
  Io& io = ctx.io();
  auto mgr = ctx.manager();
  if (!mgr) {
    return ctx.fail("monitor", mgr.status());
  }
  std::optional<Job> single;
  if (!job_ref.empty()) {
    auto job = ctx.resolve(job_ref);
    if (!job) {
      return ctx.fail("monitor", job.status());
    }
    single = *job;
  }
  InterruptGuard interrupt;
  Wakeup wakeup;
  // Without events (an unusual failure) the one-second refresh still keeps the view current.
  auto subscription =
      single ? single->subscribe(wakeup.callback()) : mgr->subscribe(wakeup.callback());
  (void)subscription;

  const bool tty = io.out_is_tty;
  std::map<std::string, Tracked> tracked;
  std::size_t drawn_lines = 0;
  int exit_code = kExitOk;
  if (tty) {
    io.out << "\x1b[?25l" << std::flush;  // hide the cursor while redrawing
  }
  for (;;) {
    std::vector<JobInfo> jobs;
    bool gone = false;
    if (single) {
      auto info = single->info();
      if (!info && info.code() == hr::DoEJobNotFound) {
        gone = true;
      } else if (!info) {
        exit_code = ctx.fail("monitor", info.status());
        break;
      } else {
        jobs.push_back(std::move(*info));
      }
    } else {
      auto all = mgr->enum_jobs(false);
      if (!all) {
        exit_code = ctx.fail("monitor", all.status());
        break;
      }
      jobs = std::move(*all);
    }
    const auto now = SteadyClock::now();
    std::map<std::string, Tracked> next;
    for (const auto& job : jobs) {
      auto node = tracked.extract(job.id);
      Tracked t = node.empty() ? Tracked{} : std::move(node.mapped());
      t.meter.add(now, job.bytes_transferred);
      t.label = tty ? short_label(job) : job_label(job);
      next.emplace(job.id, std::move(t));
    }
    if (tty) {
      std::vector<std::string> lines;
      const int width = columns(io);
      lines.push_back(fit("bgcopy monitor: " + std::to_string(jobs.size()) + " job" +
                              (jobs.size() == 1 ? "" : "s") + " (Ctrl-C to quit)",
                          width));
      // What fits on the screen (a redraw taller than it would scroll and break the cursor
      // arithmetic): the header, the jobs, and a last line for those left out.
      const std::size_t room = static_cast<std::size_t>(rows(io) - 2);
      const std::size_t shown = jobs.size() > room ? room - 1 : jobs.size();
      for (std::size_t i = 0; i < shown; ++i) {
        auto& t = next.at(jobs[i].id);
        lines.push_back(fitted_progress(t.label + " ", jobs[i], t, width));
      }
      if (shown < jobs.size()) {
        lines.push_back("... and " + std::to_string(jobs.size() - shown) + " more");
      }
      if (gone) {
        lines.push_back("job " + job_ref + " is gone (completed or cancelled)");
      }
      if (drawn_lines > 0) {
        io.out << "\x1b[" << drawn_lines << 'F';
      }
      for (const auto& line : lines) {
        io.out << "\x1b[2K" << line << '\n';
      }
      io.out << "\x1b[J" << std::flush;
      drawn_lines = lines.size();
    } else {
      for (const auto& job : jobs) {
        auto& t = next.at(job.id);
        if (due(job, t, now)) {
          io.out << t.label << ' ' << progress_of(job, t, 0) << '\n';
        }
      }
      for (const auto& [id, t] : tracked) {  // those not seen this time
        io.out << t.label << " GONE\n";
      }
      if (gone && tracked.empty() && next.empty()) {
        io.out << "job " << job_ref << " GONE\n";
      }
      io.out.flush();
    }
    tracked = std::move(next);

    if (single) {
      if (gone) {
        break;
      }
      if (jobs.front().state == JobState::Transferred) {
        break;
      }
      if (jobs.front().state == JobState::Error) {
        if (tty) {
          io.out << "\x1b[?25h" << std::flush;
        }
        exit_code = ctx.fail("job " + jobs.front().id, job_error_status(jobs.front()));
        return exit_code;
      }
    }
    if (InterruptGuard::interrupted()) {
      break;
    }
    wakeup.wait(std::chrono::seconds(1));
    if (InterruptGuard::interrupted()) {
      break;
    }
  }
  if (tty) {
    io.out << "\x1b[?25h" << std::flush;
  }
  return exit_code;
}

// --- transfer -------------------------------------------------------------------------------

int cmd_transfer(Context& ctx, const TransferArgs& args) {
  Io& io = ctx.io();
  if (args.pairs.size() < 2 || args.pairs.size() % 2 != 0) {
    return ctx.usage("transfer", "expected URL LOCAL_PATH pairs, got " +
                                     std::to_string(args.pairs.size()) + " argument" +
                                     (args.pairs.size() == 1 ? "" : "s"));
  }
  const std::size_t count = args.pairs.size() / 2;
  if (!args.sha256.empty() && args.sha256.size() != count) {
    return ctx.usage("transfer", "--sha256 given " + std::to_string(args.sha256.size()) +
                                     " times for " + std::to_string(count) +
                                     " files; give it once per file, in order, or not at all");
  }
  auto priority = parse_priority_arg(args.priority);
  if (!priority) {
    return ctx.usage("transfer", "--priority: " + priority.message());
  }
  std::vector<FileSpec> files;
  for (std::size_t i = 0; i < count; ++i) {
    FileSpec spec;
    spec.remote_url = args.pairs[2 * i];
    spec.local_path = absolute_path(args.pairs[2 * i + 1], io.cwd);
    if (!args.sha256.empty()) {
      auto sha = parse_sha256(args.sha256[i]);
      if (!sha) {
        return ctx.usage("transfer", "--sha256: " + sha.message());
      }
      spec.sha256 = *sha;
    }
    files.push_back(std::move(spec));
  }

  auto mgr = ctx.manager();
  if (!mgr) {
    return ctx.fail("transfer", mgr.status());
  }
  // Created, given its files and resumed in one request: a job exists only once it is whole
  // and running, and any error (a bad URL or path, a limit) leaves no job behind.
  auto submitted = mgr->submit_job(args.name, files, *priority, /*resume=*/true);
  if (!submitted) {
    return ctx.fail("transfer", submitted.status());
  }
  const Job job = *submitted;
  InterruptGuard interrupt;  // from here on, Ctrl-C suspends or cancels instead of leaving it
  const auto give_up = [&](const Status& why) {
    (void)job.cancel();
    return ctx.fail("transfer", why);
  };
  Wakeup wakeup;
  // Subscribed after the start: the loop reads the job's state first, so nothing is missed.
  auto subscription = job.subscribe(wakeup.callback());
  (void)subscription;  // without events the one-second re-read still drives the loop
  if (InterruptGuard::interrupted()) {
    (void)job.cancel();
    io.err << "bgcopy: transfer interrupted before it started; job " << job.id() << " cancelled\n";
    return kExitInterrupted;
  }

  const bool tty = io.err_is_tty;
  Tracked tracked;
  bool line_open = false;  // a progress line is on screen without its newline
  const auto clear_line = [&] {
    if (line_open) {
      io.err << "\r\x1b[2K" << std::flush;
      line_open = false;
    }
  };
  for (;;) {
    auto info = job.info();
    if (!info) {
      clear_line();
      return ctx.fail("transfer", info.status());
    }
    const auto now = SteadyClock::now();
    tracked.meter.add(now, info->bytes_transferred);
    if (tty) {
      io.err << "\r\x1b[2K" << fitted_progress("", *info, tracked, columns(io)) << std::flush;
      line_open = true;
    } else if (due(*info, tracked, now)) {
      io.err << progress_of(*info, tracked, 0) << '\n' << std::flush;
    }
    if (info->state == JobState::Transferred) {
      break;
    }
    if (info->state == JobState::Error) {
      clear_line();
      return give_up(job_error_status(*info));
    }
    if (InterruptGuard::interrupted()) {
      clear_line();
      const Status s = job.suspend();
      if (!s) {
        return ctx.fail("transfer", s);
      }
      io.err << "bgcopy: interrupted; job " << job.id() << " is suspended with what it has.\n"
             << "  continue: bgcopy resume " << job.id() << " && bgcopy wait " << job.id()
             << " && bgcopy complete " << job.id() << "\n"
             << "  discard:  bgcopy cancel " << job.id() << '\n';
      return kExitInterrupted;
    }
    wakeup.wait(std::chrono::seconds(1));
  }
  if (tty) {
    io.err << '\n';
    line_open = false;
  }
  const Status done = job.complete();
  if (!done) {
    io.err << "bgcopy: the files are transferred; run 'bgcopy complete " << job.id()
           << "' to retry moving them into place\n";
    return ctx.fail("transfer", done);
  }
  ctx.note_partial("transfer", done);
  io.out << "Transfer complete.\n";
  return kExitOk;
}

}  // namespace bgcopy::cli
