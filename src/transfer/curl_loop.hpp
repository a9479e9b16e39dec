// CurlTransfer's private parts, shared by its two translation units: curl_transfer.cpp (the
// loop, commands, the syncer, HTTP and file:// legs) and curl_ahead.cpp (files fetched ahead
// of their turn). Not part of any module interface; include only from those two files.
#pragma once

#include "base/unique_fd.hpp"
#include "transfer/ahead.hpp"
#include "transfer/curl_handles.hpp"
#include "transfer/curl_transfer.hpp"
#include "transfer/error_map.hpp"
#include "transfer/fetch_session.hpp"
#include "transfer/rate_limiter.hpp"

#include <curl/curl.h>
#include <sys/stat.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace bgcopy::transfer {

struct ActiveTransfer;

// One HTTP request in flight (a segmented file has several).
struct HttpLeg {
  ActiveTransfer* owner = nullptr;
  LegId id = 0;  // the session's name for this request
  EasyPtr easy;
  SlistPtr headers;
  std::array<char, CURL_ERROR_SIZE> errbuf{};
  ResponseHead head;  // the response whose headers are arriving
  bool has_location = false;
  bool decided = false;  // the final response's head went to the session
  bool aborted = false;  // a callback ended the request on the session's behalf
  bool paused = false;   // receiving is paused by the rate limiter
};

// One file:// request in flight.
struct LocalLeg {
  UniqueFd fd;
  struct stat at_start {};
  std::uint64_t offset = 0;
  std::uint64_t end = 0;  // exclusive
};

struct ActiveTransfer {
  // Where the session's events go: to the engine, or held while the file is fetched ahead.
  using Route = std::function<void(ActiveTransfer&, engine::TransferEvent)>;
  ActiveTransfer(const engine::TransferRequest& r, Route to)
      : session(
            r, [this, to = std::move(to)](engine::TransferEvent ev) { to(*this, std::move(ev)); }) {
  }
  FetchSession session;
  std::uint64_t serial = 0;       // tells this run of the job from a later one (sync completions)
  std::uint64_t transfer_id = 0;  // the engine's id; 0 while fetched ahead (not asked for yet)
  bool ahead = false;
  bool local = false;
  std::string local_path;
  RateLimiter limiter;  // one per file: the cap holds for all its connections together
  std::vector<std::unique_ptr<HttpLeg>> legs;
  std::unique_ptr<LocalLeg> file;
};

class CurlTransfer::Loop {
 public:
  Loop(EventCallback on_event, Options options);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  void start(const engine::TransferRequest& request);
  std::optional<std::uint64_t> stop(const JobId& job);
  void set_rate_limit(const JobId& job, std::uint64_t bps);
  void flush_final_syncs();

 private:
  // Which finished file a final sync belongs to: its session is gone when the sync ends.
  struct FinalSync {
    std::uint64_t transfer_id = 0;  // 0: a file fetched ahead when its sync was submitted
    std::uint32_t file_index = 0;
    std::string path;  // the file's local path, for the message
    std::uint64_t serial = 0;
  };

  // A later file of a job, fetched before its turn (ahead.hpp).
  struct Ahead {
    std::unique_ptr<ActiveTransfer> t;
    engine::AheadFile listed;
    HeldEvents held;
    bool gave_up = false;  // failed or too large: ended at the next sweep
  };
  struct AheadWindow {
    engine::TransferRequest settings;  // the start() that listed the files (its ahead empty)
    std::map<std::uint32_t, Ahead> files;
    std::set<std::uint32_t> gave_up;  // not fetched ahead again: they wait for their turn
    bool drop = false;                // the job's current file failed: end them all
  };

  struct Command {
    enum class Kind : std::uint8_t { Start, Stop, SetRate, SyncDone, Flush, Quit };
    Kind kind = Kind::Quit;
    engine::TransferRequest request;
    JobId job;
    std::uint64_t bps = 0;
    // SyncDone: which run of the job, and what the checkpoint sync covered.
    std::uint64_t serial = 0;
    std::uint64_t generation = 0;
    std::uint64_t bytes = 0;
    int err = 0;
    std::optional<FinalSync> final_sync;  // SyncDone of a finished file: reported as Synced
    std::promise<std::optional<std::uint64_t>> reply;  // Stop; Flush (nullopt)
    bool flushed = false;  // Flush: false from the caller, true back from the syncer
  };

  // A checkpoint sync, or a finished file's final sync, handed to the syncer thread; or a
  // flush marker, answered once everything queued before it is done and reported.
  struct SyncTask {
    JobId job;
    std::uint64_t serial = 0;
    SyncJob sync;
    std::optional<FinalSync> final_sync;
    // Final sync of a file whose job has other files in its ahead window (has_other_ahead):
    // more final syncs follow soon, so the syncer may wait a moment to flush them together.
    bool more_coming = false;
    bool flush = false;
    std::promise<std::optional<std::uint64_t>> reply;  // flush only
  };
  // Final syncs queued beyond this run on the transfer thread instead: a slow disk must not
  // collect one open descriptor per small file.
  static constexpr std::size_t kMaxQueuedSyncs = 64;
  // How long the syncer holds a final sync whose job has more files coming, and how many it
  // gathers at most: a burst of small files is flushed with one syncfs instead of one fsync
  // each (fs/batch_sync.hpp). The wait only delays recording those files, never the next
  // file's transfer; a job's last file is never held.
  static constexpr std::chrono::milliseconds kGatherSyncs{5};
  static constexpr std::size_t kMaxGatheredSyncs = 64;

  void post(Command command);
  void post_all(std::vector<Command> commands);  // one lock, one wake-up
  bool submit_sync(const JobId& job, std::uint64_t serial, SyncJob& sync);
  bool submit_final_sync(const JobId& job, FinalSync which, UniqueFd& fd, std::uint64_t bytes,
                         bool more_coming);
  bool has_other_ahead(const JobId& job, std::uint32_t index) const;
  void take_syncs(std::vector<SyncTask>& batch);
  void emit(engine::TransferEvent ev);
  void run_syncer();
  void on_sync_done(const Command& c);
  void run();
  bool process_commands();
  void route(ActiveTransfer& t, engine::TransferEvent ev);
  void arm(ActiveTransfer& t);
  void begin(engine::TransferRequest request);
  void start_fresh(const engine::TransferRequest& request);
  bool adopt(const engine::TransferRequest& request);
  void fill_window(const engine::TransferRequest& request, std::vector<engine::AheadFile> listed);
  void start_ahead(AheadWindow& w, const engine::TransferRequest& base, engine::AheadFile file);
  Ahead* find_ahead(const JobId& job, std::uint32_t index, std::uint64_t serial);
  ActiveTransfer* find_serial(const JobId& job, std::uint64_t serial);
  void give_up(const JobId& job, Ahead& a);
  void end_window(AheadWindow& w);
  void drop_window(const JobId& job);
  void sweep_ahead();
  void on_ahead_synced(const Command& c);
  void emit_synced(const Command& c, std::uint64_t transfer_id);
  std::uint64_t end_silently(ActiveTransfer& t);
  void drive(ActiveTransfer& t);
  void start_http(ActiveTransfer& t, const RequestSpec& spec);
  void start_local(ActiveTransfer& t, const RequestSpec& spec);
  void step_local(ActiveTransfer& t, MonoTime now);
  void end_local(ActiveTransfer& t, std::optional<Classified> error);
  void on_http_done(ActiveTransfer& t, HttpLeg& leg, CURLcode result);
  void resume_paused(ActiveTransfer& t, MonoTime now);
  void remove_leg(ActiveTransfer& t, HttpLeg& leg);
  void prune_legs(ActiveTransfer& t);
  void drop_legs(ActiveTransfer& t);
  void drain_messages();
  void service(ActiveTransfer& t, MonoTime now);
  int poll_timeout_ms(MonoTime now);

  EventCallback on_event_;
  Options options_;
  MultiPtr multi_;
  std::mutex mu_;
  std::deque<Command> queue_;  // guarded by mu_
  // Owned by the transfer thread.
  std::unordered_map<JobId, std::unique_ptr<ActiveTransfer>> transfers_;
  std::unordered_map<JobId, AheadWindow> ahead_;
  // Files adopted while their final sync was still running: serial -> the adopting transfer id,
  // under which their Synced goes out.
  std::unordered_map<std::uint64_t, std::uint64_t> adopted_syncs_;
  std::vector<char> buf_;
  std::uint64_t next_serial_ = 0;
  // The syncer: syncs checkpoint and finished-file descriptors off the transfer thread (a run
  // of finished files together, see run_syncer) and posts each result back as a SyncDone
  // command.
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::deque<SyncTask> sync_queue_;  // guarded by sync_mu_
  bool sync_quit_ = false;           // guarded by sync_mu_
  // Last: the threads start once everything above exists.
  std::thread syncer_;
  std::thread thread_;
};

}  // namespace bgcopy::transfer
