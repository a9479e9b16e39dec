#include "transfer/curl_transfer.hpp"

#include "base/log.hpp"
#include "base/thread_name.hpp"
#include "base/unique_fd.hpp"
#include "fs/access.hpp"
#include "fs/batch_sync.hpp"
#include "fs/credentials.hpp"
#include "transfer/curl_handles.hpp"
#include "transfer/curl_loop.hpp"
#include "transfer/error_map.hpp"
#include "transfer/fetch_session.hpp"
#include "transfer/http_headers.hpp"
#include "transfer/local_source.hpp"
#include "transfer/rate_limiter.hpp"

#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace bgcopy::transfer {
namespace {

constexpr std::size_t kLocalChunk = std::size_t{256} * 1024;  // one file:// read per loop iteration
constexpr std::size_t kVerifyBudget = 4U << 20;  // SHA-256 bytes hashed per loop iteration
constexpr long kCurlBufferSize = 128L * 1024;
constexpr Millis kIdleWait{5000};

MonoTime mono_now() {
  return std::chrono::steady_clock::now();
}

bool same_file_state(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

std::string proxy_list_entry(const std::string& list) {
  const auto start = list.find_first_not_of(" \t,;");
  if (start == std::string::npos) {
    return {};
  }
  const auto end = list.find_first_of(" \t,;", start);
  return list.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::string bypass_to_noproxy(const std::string& bypass) {
  std::string out;
  std::size_t pos = 0;
  while ((pos = bypass.find_first_not_of(" \t,;", pos)) != std::string::npos) {
    const auto end = bypass.find_first_of(" \t,;", pos);
    if (!out.empty()) {
      out += ',';
    }
    out += bypass.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end;
  }
  return out;
}

// --- libcurl callbacks (run inside curl_multi_perform, on the transfer thread) ---

size_t header_line(HttpLeg& leg, char* buffer, size_t size, size_t nitems) {
  const size_t n = size * nitems;
  ActiveTransfer* t = leg.owner;
  if (leg.decided) {
    return n;  // trailers
  }
  const std::string_view line(buffer, n);
  if (const auto status = parse_status_line(line)) {
    leg.head = ResponseHead{};
    leg.head.status = *status;
    leg.has_location = false;
    return n;
  }
  if (is_blank_line(line)) {
    const long s = leg.head.status;
    if (s >= 100 && s < 200) {
      return n;  // interim response; the real one follows
    }
    if (s >= 300 && s < 400 && s != 304 && leg.has_location) {
      return n;  // a redirect hop that libcurl follows
    }
    leg.decided = true;
    char* url = nullptr;
    curl_easy_getinfo(leg.easy.get(), CURLINFO_EFFECTIVE_URL, &url);
    leg.head.url = url != nullptr ? url : t->session.request().file.spec.remote_url;
    if (t->session.on_response(leg.head, leg.id) == FetchSession::Verdict::Accept) {
      return n;
    }
    leg.aborted = true;
    return 0;
  }
  if (const auto field = split_header_line(line)) {
    auto& h = leg.head;
    if (header_name_is(field->name, "Content-Range")) {
      h.content_range = parse_content_range(field->value);
      h.content_range_malformed = !h.content_range;
    } else if (header_name_is(field->name, "Content-Length")) {
      h.content_length = parse_content_length(field->value);
    } else if (header_name_is(field->name, "ETag")) {
      h.validators.etag = etag_value(field->value);
    } else if (header_name_is(field->name, "Last-Modified")) {
      h.validators.last_modified = std::string(field->value);
      h.remote_mtime = parse_http_date(field->value);
    } else if (header_name_is(field->name, "Retry-After")) {
      h.retry_after = parse_retry_after(field->value, std::chrono::system_clock::now());
    } else if (header_name_is(field->name, "Location")) {
      leg.has_location = !field->value.empty();
    }
  }
  return n;
}

size_t body_data(HttpLeg& leg, char* ptr, size_t size, size_t nmemb) {
  const size_t n = size * nmemb;
  ActiveTransfer* t = leg.owner;
  if (!leg.decided) {
    // Body bytes without a header block we accepted (e.g. HTTP/0.9): refuse them.
    leg.decided = true;
    ResponseHead none;
    none.url = t->session.request().file.spec.remote_url;
    (void)t->session.on_response(none, leg.id);
    leg.aborted = true;
    return 0;
  }
  if (!t->limiter.admit(n, mono_now())) {
    // libcurl keeps this chunk and delivers it again after curl_easy_pause(CURLPAUSE_CONT);
    // meanwhile the socket is not read, so TCP flow control slows the sender down.
    leg.paused = true;
    return CURL_WRITEFUNC_PAUSE;
  }
  if (t->session.on_body(ptr, n, leg.id) == FetchSession::BodyVerdict::Continue) {
    return n;
  }
  // Returning less than n makes libcurl end the request with CURLE_WRITE_ERROR; the session
  // already knows whether that is a success (piece complete) or which failure it is.
  leg.aborted = true;
  return 0;
}

// No exception may unwind through libcurl's C frames: one that escapes ends the request as a
// transient failure instead.
size_t on_header(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* leg = static_cast<HttpLeg*>(userdata);
  try {
    return header_line(*leg, buffer, size, nitems);
  } catch (const std::exception& e) {
    log::error(std::string("transfer header callback failed: ") + e.what());
  }
  leg->owner->session.fail(Classified{Error::make(hr::EFail, "internal error while reading headers",
                                                  ErrorContext::GeneralTransport),
                                      true, std::nullopt});
  leg->aborted = true;
  return 0;
}

size_t on_write(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* leg = static_cast<HttpLeg*>(userdata);
  try {
    return body_data(*leg, ptr, size, nmemb);
  } catch (const std::exception& e) {
    log::error(std::string("transfer write callback failed: ") + e.what());
  }
  leg->owner->session.fail(Classified{
      Error::make(hr::EFail, "internal error while writing data", ErrorContext::GeneralTransport),
      true, std::nullopt});
  leg->aborted = true;
  return 0;
}

}  // namespace

CurlTransfer::Loop::Loop(EventCallback on_event, Options options)
    : on_event_(std::move(on_event)), options_(options), buf_(kLocalChunk) {
  ensure_curl_global_init();
  multi_.reset(curl_multi_init());
  if (!multi_) {
    throw std::runtime_error("curl_multi_init failed");
  }
  syncer_ = std::thread([this] { run_syncer(); });
  thread_ = std::thread([this] { run(); });
}

CurlTransfer::Loop::~Loop() {
  Command quit;
  quit.kind = Command::Kind::Quit;
  post(std::move(quit));
  thread_.join();
  {
    std::lock_guard lock(sync_mu_);
    sync_quit_ = true;
  }
  sync_cv_.notify_one();
  syncer_.join();
}

bool CurlTransfer::Loop::submit_sync(const JobId& job, std::uint64_t serial, SyncJob& sync) {
  {
    std::lock_guard lock(sync_mu_);
    if (sync_quit_) {
      return false;
    }
    SyncTask task;
    task.job = job;
    task.serial = serial;
    task.sync = std::move(sync);
    sync_queue_.push_back(std::move(task));
  }
  sync_cv_.notify_one();
  return true;
}

bool CurlTransfer::Loop::submit_final_sync(const JobId& job, FinalSync which, UniqueFd& fd,
                                           std::uint64_t bytes, bool more_coming) {
  {
    std::lock_guard lock(sync_mu_);
    if (sync_quit_ || sync_queue_.size() >= kMaxQueuedSyncs) {
      return false;
    }
    SyncTask task;
    task.job = job;
    task.sync.fd = std::move(fd);
    task.sync.bytes = bytes;
    task.final_sync = std::move(which);
    task.more_coming = more_coming;
    sync_queue_.push_back(std::move(task));
  }
  sync_cv_.notify_one();
  return true;
}

void CurlTransfer::Loop::flush_final_syncs() {
  // Through the transfer thread first: it emits a FileDone and queues that file's sync in one
  // step, so a marker it queues comes after the sync of every FileDone already out.
  Command flush;
  flush.kind = Command::Kind::Flush;
  auto done = flush.reply.get_future();
  post(std::move(flush));
  // Answered once the syncer reached the marker, or broken if the loop quits first: either way
  // the wait ends.
  done.wait();
}

void CurlTransfer::Loop::run_syncer() {
  set_thread_name("bgcopy-sync");
  std::vector<SyncTask> batch;
  for (;;) {
    batch.clear();
    {
      std::unique_lock lock(sync_mu_);
      sync_cv_.wait(lock, [this] { return sync_quit_ || !sync_queue_.empty(); });
      if (sync_quit_) {
        // Whatever is left belongs to transfers that were already stopped (and synced).
        sync_queue_.clear();
        return;
      }
      // A run of final syncs at the front is taken together: fs::sync_all flushes them with
      // one syncfs. While the newest says more files of its job are coming, it waits for them
      // a moment (kGatherSyncs). Checkpoint syncs and flush markers keep their place in the
      // order and end the gathering.
      take_syncs(batch);
      const auto deadline = std::chrono::steady_clock::now() + kGatherSyncs;
      while (batch.back().final_sync && batch.back().more_coming &&
             batch.size() < kMaxGatheredSyncs && sync_queue_.empty() && !sync_quit_) {
        if (sync_cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
          break;
        }
        if (!sync_queue_.empty() && sync_queue_.front().final_sync) {
          take_syncs(batch);
        }
      }
      if (batch.back().final_sync && batch.size() < kMaxGatheredSyncs && !sync_queue_.empty() &&
          sync_queue_.front().final_sync) {
        take_syncs(batch);  // what came in while the last wait timed out
      }
    }
    SyncTask& first = batch.front();
    if (first.flush) {
      // Every sync queued before the marker has run and posted its SyncDone: the transfer
      // thread reaches this command after them, so their Synced events are out when it answers.
      Command flush;
      flush.kind = Command::Kind::Flush;
      flush.flushed = true;
      flush.reply = std::move(first.reply);
      post(std::move(flush));
      continue;
    }
    // A finished file was sealed (mode, mtime): fsync (or a syncfs covering it) makes that
    // durable with its data. A checkpoint needs only its data.
    std::vector<int> errs;
    if (!first.final_sync) {
      errs.push_back(datasync_errno(first.sync.fd.get()));
    } else {
      std::vector<int> fds;
      fds.reserve(batch.size());
      for (const SyncTask& t : batch) fds.push_back(t.sync.fd.get());
      errs = fs::sync_all(fds);
    }
    std::vector<Command> done(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      SyncTask& task = batch[i];
      task.sync.fd.reset();
      Command& c = done[i];
      c.kind = Command::Kind::SyncDone;
      c.job = task.job;
      c.serial = task.serial;
      c.generation = task.sync.generation;
      c.bytes = task.sync.bytes;
      c.err = errs[i];
      c.final_sync = std::move(task.final_sync);
    }
    post_all(std::move(done));
  }
}

void CurlTransfer::Loop::take_syncs(std::vector<SyncTask>& batch) {
  // sync_mu_ held. The front task, then (after a final sync) the final syncs right behind it.
  do {
    batch.push_back(std::move(sync_queue_.front()));
    sync_queue_.pop_front();
  } while (batch.back().final_sync && batch.size() < kMaxGatheredSyncs && !sync_queue_.empty() &&
           sync_queue_.front().final_sync);
}

void CurlTransfer::Loop::emit(engine::TransferEvent ev) {
  // The callback must not throw; if it does, the event is lost but the thread lives.
  try {
    on_event_(std::move(ev));
  } catch (const std::exception& e) {
    log::error(std::string("transfer event callback threw: ") + e.what());
  }
}

void CurlTransfer::Loop::emit_synced(const Command& c, std::uint64_t transfer_id) {
  // Its session is gone (the file finished); the engine matches the event by file and id.
  engine::TransferEvent ev;
  ev.job = c.job;
  ev.transfer_id = transfer_id;
  ev.file_index = c.final_sync->file_index;
  ev.kind = engine::TransferEvent::Kind::Synced;
  ev.bytes_transferred = c.bytes;
  ev.durable = c.err == 0;
  if (c.err != 0) {
    Error e = Error::from_errno(c.err, "cannot sync the staging file of " + c.final_sync->path);
    e.context = ErrorContext::LocalFile;
    ev.error = std::move(e);
  }
  emit(std::move(ev));
}

void CurlTransfer::Loop::on_sync_done(const Command& c) {
  if (c.final_sync) {
    if (c.final_sync->transfer_id == 0) {
      on_ahead_synced(c);
    } else {
      emit_synced(c, c.final_sync->transfer_id);
    }
    return;
  }
  ActiveTransfer* t = find_serial(c.job, c.serial);
  if (t == nullptr) {
    return;  // stopped (or restarted by start()) since: its final sync already covered this
  }
  if (!t->session.on_sync_done(c.generation, c.bytes, c.err)) {
    drop_legs(*t);
  }
}

void CurlTransfer::Loop::post(Command command) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(command));
  }
  curl_multi_wakeup(multi_.get());
}

void CurlTransfer::Loop::post_all(std::vector<Command> commands) {
  {
    std::lock_guard lock(mu_);
    for (Command& c : commands) queue_.push_back(std::move(c));
  }
  curl_multi_wakeup(multi_.get());
}

void CurlTransfer::Loop::start(const engine::TransferRequest& request) {
  Command c;
  c.kind = Command::Kind::Start;
  c.request = request;
  post(std::move(c));
}

std::optional<std::uint64_t> CurlTransfer::Loop::stop(const JobId& job) {
  if (std::this_thread::get_id() == thread_.get_id()) {
    // Waiting here would wait for ourselves.
    log::error("CurlTransfer::stop called from the event callback; ignored");
    return std::nullopt;
  }
  Command c;
  c.kind = Command::Kind::Stop;
  c.job = job;
  auto done = c.reply.get_future();
  post(std::move(c));
  return done.get();
}

void CurlTransfer::Loop::set_rate_limit(const JobId& job, std::uint64_t bps) {
  Command c;
  c.kind = Command::Kind::SetRate;
  c.job = job;
  c.bps = bps;
  post(std::move(c));
}

void CurlTransfer::Loop::run() {
  set_thread_name("bgcopy-curl");
  for (;;) {
    if (!process_commands()) {
      break;
    }
    int running = 0;
    curl_multi_perform(multi_.get(), &running);
    drain_messages();
    const auto now = mono_now();
    for (auto& entry : transfers_) {
      service(*entry.second, now);
    }
    for (auto& [job, w] : ahead_) {
      for (auto& [index, a] : w.files) {
        if (a.t && !a.gave_up && !a.t->session.finished()) {
          service(*a.t, now);
        }
      }
    }
    for (auto it = transfers_.begin(); it != transfers_.end();) {
      if (it->second->session.finished()) {
        drop_legs(*it->second);
        it = transfers_.erase(it);
      } else {
        ++it;
      }
    }
    sweep_ahead();
    curl_multi_poll(multi_.get(), nullptr, 0, poll_timeout_ms(mono_now()), nullptr);
  }
  for (auto& entry : transfers_) {
    end_silently(*entry.second);
  }
  transfers_.clear();
  for (auto& [job, w] : ahead_) {
    end_window(w);
  }
  ahead_.clear();
}

bool CurlTransfer::Loop::process_commands() {
  std::deque<Command> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(queue_);
  }
  bool keep_running = true;
  for (auto& c : batch) {
    switch (c.kind) {
      case Command::Kind::Start:
        if (keep_running) {
          begin(std::move(c.request));
        }
        break;
      case Command::Kind::Stop: {
        std::optional<std::uint64_t> durable;
        if (auto it = transfers_.find(c.job); it != transfers_.end()) {
          durable = end_silently(*it->second);
          transfers_.erase(it);
        }
        drop_window(c.job);
        c.reply.set_value(durable);
        break;
      }
      case Command::Kind::SetRate:
        if (c.bps != 0) {
          drop_window(c.job);  // files are fetched ahead only without a cap
        }
        if (auto it = transfers_.find(c.job); it != transfers_.end()) {
          auto& t = *it->second;
          t.session.set_max_recv_bps(c.bps);
          t.limiter.set_rate(c.bps, mono_now());
          for (auto& leg : t.legs) {
            // Allowed between curl_multi_perform calls, on the thread that owns the handle.
            curl_easy_setopt(leg->easy.get(), CURLOPT_MAX_RECV_SPEED_LARGE,
                             static_cast<curl_off_t>(c.bps));
          }
        }
        break;
      case Command::Kind::SyncDone:
        if (keep_running) {
          on_sync_done(c);
        }
        break;
      case Command::Kind::Flush:
        if (c.flushed) {
          c.reply.set_value(std::nullopt);  // every Synced before it is out
          break;
        }
        {
          std::unique_lock lock(sync_mu_);
          if (sync_quit_) {
            lock.unlock();
            c.reply.set_value(std::nullopt);  // no syncer: nothing will be flushed
            break;
          }
          SyncTask marker;
          marker.flush = true;
          marker.reply = std::move(c.reply);
          sync_queue_.push_back(std::move(marker));
        }
        sync_cv_.notify_one();
        break;
      case Command::Kind::Quit:
        keep_running = false;
        break;
    }
  }
  return keep_running;
}

void CurlTransfer::Loop::arm(ActiveTransfer& t) {
  const auto& r = t.session.request();
  t.session.set_async_sync([this, job = r.job, serial = t.serial](SyncJob& sync) {
    return submit_sync(job, serial, sync);
  });
  // The transfer id is read when the sync is submitted: a file fetched ahead may have been
  // adopted by then.
  t.session.set_final_sync([this, tp = &t, job = r.job, index = r.file_index,
                            path = r.file.spec.local_path](UniqueFd& fd, std::uint64_t bytes) {
    return submit_final_sync(job, FinalSync{tp->transfer_id, index, path, tp->serial}, fd, bytes,
                             has_other_ahead(job, index));
  });
  t.limiter.set_rate(r.max_recv_bps, mono_now());
}

void CurlTransfer::Loop::begin(engine::TransferRequest request) {
  std::vector<engine::AheadFile> listed = std::move(request.ahead);
  request.ahead.clear();
  if (auto it = transfers_.find(request.job); it != transfers_.end()) {
    end_silently(*it->second);
    transfers_.erase(it);
  }
  if (!adopt(request)) {
    start_fresh(request);
  }
  fill_window(request, std::move(listed));
}

void CurlTransfer::Loop::start_fresh(const engine::TransferRequest& request) {
  auto t = std::make_unique<ActiveTransfer>(
      request,
      [this](ActiveTransfer& from, engine::TransferEvent ev) { route(from, std::move(ev)); });
  t->serial = ++next_serial_;
  t->transfer_id = request.transfer_id;
  arm(*t);
  const auto& url = request.file.spec.remote_url;
  t->local = is_file_url(url);
  if (t->local) {
    auto path = file_url_path(url);
    if (!path) {
      // The staging file is not touched: its durable bytes stay as they are.
      t->session.fail(Classified{std::move(path).error(), false, std::nullopt});
      return;
    }
    t->local_path = std::move(*path);
  } else if (options_.connections_per_file > 1) {
    t->session.set_segmenting(
        SegmentOptions{options_.connections_per_file, options_.segment_min_size});
  }
  if (!t->session.open()) {
    return;  // Failed already emitted
  }
  auto& ref = *t;
  transfers_.emplace(request.job, std::move(t));
  drive(ref);
}

std::uint64_t CurlTransfer::Loop::end_silently(ActiveTransfer& t) {
  drop_legs(t);
  return t.session.shutdown();
}

void CurlTransfer::Loop::remove_leg(ActiveTransfer& t, HttpLeg& leg) {
  curl_multi_remove_handle(multi_.get(), leg.easy.get());
  std::erase_if(t.legs, [&leg](const auto& l) { return l.get() == &leg; });
}

// Abandons the requests the session no longer wants (a restart dropped them).
void CurlTransfer::Loop::prune_legs(ActiveTransfer& t) {
  for (auto it = t.legs.begin(); it != t.legs.end();) {
    if (t.session.leg_live((*it)->id)) {
      ++it;
    } else {
      curl_multi_remove_handle(multi_.get(), (*it)->easy.get());
      it = t.legs.erase(it);
    }
  }
}

void CurlTransfer::Loop::drop_legs(ActiveTransfer& t) {
  for (auto& leg : t.legs) {
    curl_multi_remove_handle(multi_.get(), leg->easy.get());
  }
  t.legs.clear();
  t.file.reset();
}

// Starts requests until as many are in flight as the session wants (one, unless segmented) or
// it has nothing more to fetch.
void CurlTransfer::Loop::drive(ActiveTransfer& t) {
  prune_legs(t);
  while (!t.file && t.session.wants_request(t.legs.size())) {
    const auto spec = t.session.next_request();
    if (!spec) {
      return;
    }
    if (t.local) {
      start_local(t, *spec);
    } else {
      start_http(t, *spec);
    }
  }
}

void CurlTransfer::Loop::start_http(ActiveTransfer& t, const RequestSpec& spec) {
  const auto& req = t.session.request();
  auto leg = std::make_unique<HttpLeg>();
  leg->owner = &t;
  leg->id = spec.leg;
  leg->easy.reset(curl_easy_init());
  if (!leg->easy) {
    t.session.fail(classify_curl(CURLE_OUT_OF_MEMORY, 0, 0, req.file.spec.remote_url));
    return;
  }
  CURL* e = leg->easy.get();
  CURLcode rc = CURLE_OK;
  const auto set = [&rc, e](CURLoption opt, auto value) {
    if (rc == CURLE_OK) {
      rc = curl_easy_setopt(e, opt, value);
    }
  };
  curl_slist* raw = nullptr;
  const auto add_header = [&raw](const std::string& h) {
    if (auto* next = curl_slist_append(raw, h.c_str())) {
      raw = next;
    }
  };
  // Exact bytes: no content coding, so Content-Length and Content-Range count stored bytes.
  add_header("Accept-Encoding: identity");
  if (spec.ranged) {
    add_header("Range: " + spec.range_header_value());
    if (!spec.if_range.empty()) {
      add_header("If-Range: " + spec.if_range);
    }
  }
  leg->headers.reset(raw);

  set(CURLOPT_URL, req.file.spec.remote_url.c_str());
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  set(CURLOPT_FOLLOWLOCATION, 1L);
  set(CURLOPT_MAXREDIRS, 10L);
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_USERAGENT, "bgcopy/0.1");
  set(CURLOPT_HTTPHEADER, leg->headers.get());
  set(CURLOPT_HTTP_CONTENT_DECODING, 0L);
  set(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  set(CURLOPT_TCP_KEEPALIVE, 1L);
  // Smaller reads under a low cap keep each paced step (and each pause) short.
  const auto bps = t.session.max_recv_bps();
  set(CURLOPT_BUFFERSIZE,
      bps == 0 ? kCurlBufferSize
               : std::clamp(static_cast<long>(std::min<std::uint64_t>(bps / 10, kCurlBufferSize)),
                            1024L, kCurlBufferSize));
  set(CURLOPT_CONNECTTIMEOUT, static_cast<long>(req.connect_timeout_s));
  // A stall is less than one byte per second for stall_timeout_s (CURLE_OPERATION_TIMEDOUT).
  set(CURLOPT_LOW_SPEED_LIMIT, 1L);
  set(CURLOPT_LOW_SPEED_TIME, static_cast<long>(req.stall_timeout_s));
  // Kept as a backstop for the average; the pacing itself is the write callback's (see
  // rate_limiter.hpp).
  set(CURLOPT_MAX_RECV_SPEED_LARGE, static_cast<curl_off_t>(bps));
  set(CURLOPT_SSL_VERIFYPEER, req.tls_verify ? 1L : 0L);
  set(CURLOPT_SSL_VERIFYHOST, req.tls_verify ? 2L : 0L);
  switch (req.proxy.usage) {
    case engine::ProxyUsage::NoProxy:
      set(CURLOPT_PROXY, "");
      set(CURLOPT_NOPROXY, "*");
      break;
    case engine::ProxyUsage::Override: {
      const auto proxy = proxy_list_entry(req.proxy.list);
      if (!proxy.empty()) {
        set(CURLOPT_PROXY, proxy.c_str());
      }
      const auto bypass = bypass_to_noproxy(req.proxy.bypass);
      if (!bypass.empty()) {
        set(CURLOPT_NOPROXY, bypass.c_str());
      }
      break;
    }
    case engine::ProxyUsage::Preconfig:
    case engine::ProxyUsage::Autodetect:
      break;  // libcurl's default: the *_proxy environment variables
  }
  set(CURLOPT_ERRORBUFFER, leg->errbuf.data());
  set(CURLOPT_HEADERFUNCTION, &on_header);
  set(CURLOPT_HEADERDATA, static_cast<void*>(leg.get()));
  set(CURLOPT_WRITEFUNCTION, &on_write);
  set(CURLOPT_WRITEDATA, static_cast<void*>(leg.get()));
  set(CURLOPT_PRIVATE, static_cast<void*>(&t));
  if (rc != CURLE_OK) {
    t.session.fail(classify_curl(rc, 0, 0, req.file.spec.remote_url));
    return;
  }
  if (const auto mrc = curl_multi_add_handle(multi_.get(), e); mrc != CURLM_OK) {
    t.session.fail(Classified{
        Error::make(hr::EFail, std::string("cannot start transfer: ") + curl_multi_strerror(mrc),
                    ErrorContext::GeneralTransport),
        true, std::nullopt});
    return;
  }
  t.legs.push_back(std::move(leg));
}

void CurlTransfer::Loop::on_http_done(ActiveTransfer& t, HttpLeg& leg, CURLcode result) {
  std::optional<Classified> error;
  if (result != CURLE_OK && !leg.aborted) {
    long status = 0;
    long os_errno = 0;
    char* url = nullptr;
    curl_easy_getinfo(leg.easy.get(), CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(leg.easy.get(), CURLINFO_OS_ERRNO, &os_errno);
    curl_easy_getinfo(leg.easy.get(), CURLINFO_EFFECTIVE_URL, &url);
    const std::string where =
        url_peer(url != nullptr ? std::string(url) : t.session.request().file.spec.remote_url);
    error = classify_curl(result, status, os_errno, where, leg.errbuf.data());
  }
  const LegId id = leg.id;
  remove_leg(t, leg);
  t.session.on_request_end(std::move(error), id);
  drive(t);
}

void CurlTransfer::Loop::drain_messages() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &left)) {
    if (msg->msg != CURLMSG_DONE) {
      continue;
    }
    void* priv = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
    const CURLcode result = msg->data.result;
    auto* t = static_cast<ActiveTransfer*>(priv);
    if (t == nullptr) {
      continue;
    }
    for (auto& leg : t->legs) {
      if (leg->easy.get() == msg->easy_handle) {
        on_http_done(*t, *leg, result);
        break;
      }
    }
  }
}

void CurlTransfer::Loop::start_local(ActiveTransfer& t, const RequestSpec& spec) {
  const auto& req = t.session.request();
  const bool for_other = fs::acting_for_other_user(req.owner);
  auto deny = [&] {
    t.session.fail(
        Classified{Error::make(hr::EAccessDenied,
                               "uid " + std::to_string(req.owner) + " may not read " + t.local_path,
                               ErrorContext::RemoteFile),
                   false, std::nullopt});
  };
  if (for_other && !fs::user_can_read_path(req.owner, t.local_path)) {
    deny();
    return;
  }
  // O_NONBLOCK: a FIFO at the source path must not block the transfer thread. Opened with the
  // owner's identity, so the kernel decides what the owner may read (ACLs included).
  UniqueFd fd;
  {
    fs::ScopedFsCredentials as_owner(req.owner);
    if (!as_owner.ok()) {
      deny();
      return;
    }
    fd.reset(::open(t.local_path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  }
  if (!fd.valid()) {
    t.session.fail(classify_source_errno(errno, t.local_path));
    return;
  }
  auto leg = std::make_unique<LocalLeg>();
  if (fstat(fd.get(), &leg->at_start) != 0) {
    t.session.fail(classify_source_errno(errno, t.local_path));
    return;
  }
  if (S_ISDIR(leg->at_start.st_mode)) {
    t.session.fail(classify_source_errno(EISDIR, t.local_path));
    return;
  }
  // /proc and friends would hand out the service's own state (its environment, its maps).
  if (fs::on_kernel_pseudo_fs(fd.get())) {
    t.session.fail(Classified{
        Error::make(hr::EAccessDenied, "source is on a kernel pseudo filesystem: " + t.local_path,
                    ErrorContext::RemoteFile),
        false, std::nullopt});
    return;
  }
  // Checked again on what was opened: the path may have been swapped since the check above.
  if (for_other) {
    const auto who = fs::lookup_user(req.owner);
    const fs::UserIdentity id =
        who ? *who : fs::UserIdentity{req.owner, static_cast<gid_t>(-1), {}};
    if (!fs::user_may_access(id, leg->at_start, R_OK)) {
      deny();
      return;
    }
  }
  if (!S_ISREG(leg->at_start.st_mode)) {
    t.session.fail(
        Classified{Error::make(hr::EInvalidArg, "source is not a regular file: " + t.local_path,
                               ErrorContext::RemoteFile),
                   false, std::nullopt});
    return;
  }
  const auto head = local_response(leg->at_start, spec, req.file.spec.remote_url);
  if (t.session.on_response(head) != FetchSession::Verdict::Accept) {
    t.session.on_request_end(std::nullopt);
    return;
  }
  leg->fd = std::move(fd);
  if (head.status == 206 && head.content_range) {
    leg->offset = head.content_range->first;
    leg->end = head.content_range->last + 1;
  } else {
    leg->offset = 0;
    leg->end = static_cast<std::uint64_t>(leg->at_start.st_size);
  }
  t.file = std::move(leg);
}

void CurlTransfer::Loop::step_local(ActiveTransfer& t, MonoTime now) {
  LocalLeg& leg = *t.file;
  const auto want =
      static_cast<std::size_t>(std::min<std::uint64_t>(buf_.size(), leg.end - leg.offset));
  if (want == 0) {
    end_local(t, std::nullopt);
    return;
  }
  const auto allowed = t.limiter.allowance(want, now);
  if (allowed == 0) {
    return;
  }
  const ssize_t n = pread(leg.fd.get(), buf_.data(), allowed, static_cast<off_t>(leg.offset));
  if (n < 0) {
    if (errno != EINTR && errno != EAGAIN) {
      end_local(t, classify_source_errno(errno, t.local_path));
    }
    return;
  }
  if (n == 0) {
    end_local(t, std::nullopt);  // shorter than it was: end_local sees the change
    return;
  }
  t.limiter.consume(static_cast<std::size_t>(n));
  leg.offset += static_cast<std::uint64_t>(n);
  const auto verdict = t.session.on_body(buf_.data(), static_cast<std::size_t>(n));
  if (verdict != FetchSession::BodyVerdict::Continue || leg.offset >= leg.end) {
    end_local(t, std::nullopt);
  }
}

void CurlTransfer::Loop::end_local(ActiveTransfer& t, std::optional<Classified> error) {
  struct stat now_st {};
  if (!error && fstat(t.file->fd.get(), &now_st) == 0 &&
      !same_file_state(t.file->at_start, now_st)) {
    // Written to while we read it: the bytes may mix two versions.
    t.session.on_source_changed();
  }
  t.file.reset();
  t.session.on_request_end(std::move(error));
  drive(t);
}

void CurlTransfer::Loop::resume_paused(ActiveTransfer& t, MonoTime now) {
  // Paused legs take turns; each unpause may use up the bucket and pause the rest again.
  for (std::size_t i = 0; i < t.legs.size() && t.session.fetching();) {
    HttpLeg& leg = *t.legs[i];
    if (!leg.paused || t.limiter.wait(now) > Millis{0}) {
      ++i;
      continue;
    }
    leg.paused = false;
    // Delivers the held chunk to on_write right here, which may pause again or end the request.
    const CURLcode rc = curl_easy_pause(leg.easy.get(), CURLPAUSE_CONT);
    if (rc != CURLE_OK || leg.aborted) {
      // libcurl does not finish a transfer whose re-delivered data was refused; end it here.
      on_http_done(t, leg, rc == CURLE_OK ? CURLE_WRITE_ERROR : rc);
      i = 0;  // the legs changed under us; the ones already resumed are no longer paused
      continue;
    }
    ++i;
  }
}

void CurlTransfer::Loop::service(ActiveTransfer& t, MonoTime now) {
  resume_paused(t, now);
  if (!t.local && t.session.fetching()) {
    drive(t);  // legs a segmented session wants once its first response split the file
  }
  if (t.file) {
    step_local(t, now);
  }
  if (t.session.verifying()) {
    t.session.verify_step(kVerifyBudget);
  }
  if (!t.session.tick(now)) {
    drop_legs(t);
  }
}

int CurlTransfer::Loop::poll_timeout_ms(MonoTime now) {
  auto deadline = now + kIdleWait;
  long curl_ms = -1;
  if (curl_multi_timeout(multi_.get(), &curl_ms) == CURLM_OK && curl_ms >= 0) {
    deadline = std::min(deadline, now + Millis{curl_ms});
  }
  const auto account = [&](const ActiveTransfer& t) {
    const bool paused =
        std::any_of(t.legs.begin(), t.legs.end(), [](const auto& leg) { return leg->paused; });
    if (t.file || paused) {
      deadline = std::min(deadline, now + t.limiter.wait(now));
    }
    if (t.session.verifying()) {
      deadline = now;
    }
    deadline = std::min(deadline, t.session.next_deadline());
  };
  for (const auto& entry : transfers_) {
    account(*entry.second);
  }
  for (const auto& [job, w] : ahead_) {
    for (const auto& [index, a] : w.files) {
      if (a.t && !a.t->session.finished()) {
        account(*a.t);
      }
    }
  }
  if (deadline <= now) {
    return 0;
  }
  const auto ms = std::chrono::ceil<Millis>(deadline - now).count();
  return static_cast<int>(std::min<long long>(ms, kIdleWait.count()));
}

CurlTransfer::CurlTransfer(EventCallback on_event, Options options)
    : loop_(std::make_unique<Loop>(std::move(on_event), options)) {}

CurlTransfer::~CurlTransfer() = default;

void CurlTransfer::start(const engine::TransferRequest& request) {
  loop_->start(request);
}

std::optional<std::uint64_t> CurlTransfer::stop(const JobId& job) {
  return loop_->stop(job);
}

void CurlTransfer::set_rate_limit(const JobId& job, std::uint64_t max_recv_bps) {
  loop_->set_rate_limit(job, max_recv_bps);
}

void CurlTransfer::flush_final_syncs() {
  loop_->flush_final_syncs();
}

}  // namespace bgcopy::transfer
