#include "transfer/fetch_session.hpp"

#include "base/log.hpp"
#include "fs/local_staging.hpp"
#include "fs/paths.hpp"
#include "fs/segment_map.hpp"

#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>

namespace bgcopy::transfer {
namespace {

using Kind = engine::TransferEvent::Kind;

MonoTime mono_now() {
  return std::chrono::steady_clock::now();
}

std::string_view strip_weak(std::string_view etag) {
  return is_weak_etag(etag) ? trim(etag).substr(2) : trim(etag);
}

std::string lower_hex(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// An fs error keeps its code and message; only the class is decided here.
Classified classify_fs_error(Error e) {
  const int err = errno_of(e.code);
  const bool transient = err == ENOSPC || err == EDQUOT;
  return Classified{std::move(e), transient, std::nullopt};
}

Classified connection_closed(std::string message) {
  return Classified{
      Error::make(hr::BgEConnectionClosed, std::move(message), ErrorContext::GeneralTransport),
      true, std::nullopt};
}

}  // namespace

int datasync_errno(int fd) {
  while (fdatasync(fd) != 0) {
    if (errno != EINTR) {
      return errno;
    }
  }
  return 0;
}

int fsync_errno(int fd) {
  while (fsync(fd) != 0) {
    if (errno != EINTR) {
      return errno;
    }
  }
  return 0;
}

std::string RequestSpec::range_header_value() const {
  if (!ranged) {
    return {};
  }
  std::string v = "bytes=" + std::to_string(first) + "-";
  if (last) {
    v += std::to_string(*last);
  }
  return v;
}

FetchSession::FetchSession(engine::TransferRequest request, Emit emit)
    : request_(std::move(request)),
      emit_(std::move(emit)),
      shown_path_(fs::staging_path(request_.file)),
      plan_(request_.file.spec.ranges.empty() ? PiecePlan::whole_file(std::nullopt)
                                              : PiecePlan::from_ranges(request_.file.spec.ranges)),
      // Until open() looks, the staging file holds what the engine says is durable.
      cursor_(request_.resume_from),
      durable_(request_.resume_from) {}

FetchSession::~FetchSession() = default;

bool FetchSession::open() {
  auto fd = fs::open_staging_for_write(request_.file, request_.owner);
  if (!fd) {
    finish_failed(classify_fs_error(std::move(fd).error()));
    return false;
  }
  fd_ = std::move(*fd);
  struct stat st {};
  if (fstat(fd_.get(), &st) != 0) {
    finish_failed(local_failure(errno));
    return false;
  }
  const auto on_disk = static_cast<std::uint64_t>(st.st_size);
  const auto& rec = request_.file;
  validators_ = rec.validators;
  remote_mtime_ = rec.remote_mtime;
  if (rec.bytes_total) {
    remote_size_ = plan_.remote_size_from_total(*rec.bytes_total);
    if (remote_size_ && !plan_.apply_remote_size(*remote_size_)) {
      // The record contradicts the ranges; let the server's answer decide.
      remote_size_.reset();
      plan_.forget_remote_size();
    }
  }

  std::uint64_t resume = request_.resume_from;
  if (resume > on_disk) {
    log::warn("staging file " + shown_path_ + " holds " + std::to_string(on_disk) +
              " bytes, fewer than the " + std::to_string(resume) + " checkpointed; restarting");
    resume = 0;
  }
  if (resume > 0 && validators_.etag.empty() && validators_.last_modified.empty() &&
      !remote_size_) {
    // Nothing could prove that the remote still is the version these bytes came from.
    resume = 0;
  }
  if (resume > 0 && !plan_.locate(resume)) {
    resume = 0;
  }
  if (resume > 0) {
    // A to-EOF range of unknown length that is not the last one cannot say where it ends, so
    // bytes past its start cannot be placed: keep only what precedes it.
    for (std::size_t i = 0; i + 1 < plan_.count(); ++i) {
      if (!plan_.length(i)) {
        resume = std::min(resume, plan_.staging_start(i));
        break;
      }
    }
  }
  if (request_.resume_from <= on_disk && resume_segments(on_disk, resume)) {
    return !finished();
  }
  if (on_disk > 0) {
    // A segment map from an earlier run that is not used now must not outlive these bytes.
    if (auto removed = fs::remove_segment_map(fd_.get()); !removed) {
      finish_failed(classify_fs_error(std::move(removed).error()));
      return false;
    }
  }
  if (on_disk != resume) {
    // Bytes past the durable checkpoint may be torn; they are fetched again.
    if (ftruncate(fd_.get(), static_cast<off_t>(resume)) != 0 || fdatasync(fd_.get()) != 0) {
      finish_failed(local_failure(errno));
      return false;
    }
  }
  if (resume == 0) {
    validators_ = {};
    remote_mtime_.reset();
    remote_size_.reset();
    plan_.forget_remote_size();
  }
  cursor_ = durable_ = resume;
  last_checkpoint_ = last_report_ = mono_now();
  last_reported_ = cursor_;
  if (resume != request_.resume_from) {
    auto ev = make_event(Kind::Progress);
    ev.durable = true;
    emit_(std::move(ev));
  }
  return true;
}

std::optional<RequestSpec> FetchSession::next_request() {
  if (phase_ != Phase::Fetching) {
    return std::nullopt;
  }
  if (segs_) {
    return seg_next_request();
  }
  const auto pos = plan_.locate(cursor_);
  if (!pos) {
    finish_failed(invalid_response("the staging file holds more bytes than the remote file"));
    return std::nullopt;
  }
  if (pos->index == plan_.count()) {
    finish_fetching();
    return std::nullopt;
  }
  RequestSpec s;
  s.leg = next_leg_++;
  piece_ = pos->index;
  if (plan_.whole()) {
    s.first = cursor_;
    // In segmented mode even the first request asks for a range: a 206 is the proof that the
    // server serves ranges, and only then is the file split.
    s.ranged = cursor_ > 0 || seg_opts_.connections > 1;
  } else {
    s.first = plan_.offset(piece_) + pos->within;
    s.ranged = true;
    if (const auto len = plan_.length(piece_)) {
      s.last = plan_.offset(piece_) + *len - 1;
    }
  }
  if (cursor_ > 0) {
    s.if_range = if_range_value();
  }
  single_in_flight_ = true;
  spec_ = std::move(s);
  mode_ = Mode::Waiting;
  skip_ = 0;
  take_.reset();
  request_bytes_ = 0;
  abort_failure_.reset();
  abort_restart_.reset();
  abort_success_ = false;
  return spec_;
}

std::string FetchSession::if_range_value() const {
  // Weak ETags never match in If-Range (RFC 9110 13.1.5); Last-Modified is the next best.
  if (!validators_.etag.empty() && !is_weak_etag(validators_.etag)) {
    return validators_.etag;
  }
  return validators_.last_modified;
}

bool FetchSession::wants_request(std::size_t in_flight) const {
  if (phase_ != Phase::Fetching) {
    return false;
  }
  return segs_ ? in_flight < segs_->max_legs() : in_flight == 0;
}

bool FetchSession::leg_live(LegId leg) const {
  if (phase_ != Phase::Fetching) {
    return false;
  }
  return segs_ ? seg_legs_.count(leg) != 0 : single_in_flight_ && spec_.leg == leg;
}

FetchSession::Verdict FetchSession::on_response(const ResponseHead& head, LegId leg) {
  if (segs_ && phase_ == Phase::Fetching) {
    const auto it = seg_legs_.find(leg);
    return it == seg_legs_.end() ? Verdict::Abort : seg_on_response(it->second, head);
  }
  if (phase_ != Phase::Fetching || mode_ != Mode::Waiting || (leg != kAnyLeg && leg != spec_.leg)) {
    return Verdict::Abort;
  }
  switch (head.status) {
    case 200:
    case 203:
      return accept_full(head);
    case 206:
      return accept_partial(head);
    case 416:
      return accept_unsatisfiable(head);
    default:
      return reject(classify_http(head.status, head.retry_after, head.url));
  }
}

bool FetchSession::same_version(const engine::Validators& v,
                                std::optional<std::uint64_t> size) const {
  bool comparable = false;
  bool differ = false;
  if (!v.etag.empty() && !validators_.etag.empty()) {
    comparable = true;
    differ = differ || strip_weak(v.etag) != strip_weak(validators_.etag);
  }
  if (!v.last_modified.empty() && !validators_.last_modified.empty()) {
    comparable = true;
    differ = differ || v.last_modified != validators_.last_modified;
  }
  if (size && remote_size_) {
    comparable = true;
    differ = differ || *size != *remote_size_;
  }
  return comparable && !differ;
}

void FetchSession::adopt(const ResponseHead& head, std::optional<std::uint64_t> remote_size) {
  validators_ = head.validators;
  remote_mtime_ = head.remote_mtime;
  if (remote_size) {
    remote_size_ = remote_size;
  }
}

FetchSession::Verdict FetchSession::reject(Classified failure) {
  abort_failure_ = std::move(failure);
  return Verdict::Abort;
}

// 200: the body is the whole file from byte 0, whatever we asked for.
FetchSession::Verdict FetchSession::accept_full(const ResponseHead& head) {
  const auto size = head.content_length;
  if (cursor_ > 0) {
    const bool same = same_version(head.validators, size);
    // A whole file restarts from 0 either way (the body starts there); ranges keep what they
    // have when the version is provably the same, since any piece can be cut from this body.
    if ((plan_.whole() || !same) && !restart_now(!same, &head)) {
      return Verdict::Abort;
    }
  }
  // Either nothing is held any more or the held bytes are provably from this same version.
  adopt(head, size);
  if (remote_size_) {
    if (auto st = plan_.apply_remote_size(*remote_size_); !st) {
      return reject(Classified{std::move(st).error(), false, std::nullopt});
    }
  }
  if (plan_.whole()) {
    mode_ = Mode::Append;
    take_ = size;
  } else {
    const auto pos = plan_.locate(cursor_);
    if (!pos || pos->index >= plan_.count()) {
      return reject(invalid_response("cannot place the response in the staging file"));
    }
    piece_ = pos->index;
    mode_ = Mode::SkipTrim;
    skip_ = plan_.offset(piece_) + pos->within;
    if (const auto len = plan_.length(piece_)) {
      take_ = *len - pos->within;
    }
  }
  emit_connected();
  return Verdict::Accept;
}

// 206: must be exactly the range we asked for, from the version we hold.
FetchSession::Verdict FetchSession::accept_partial(const ResponseHead& head) {
  if (!spec_.ranged) {
    return reject(invalid_response("HTTP 206 to a request without Range"));
  }
  const auto& cr = head.content_range;
  if (!cr || !cr->satisfied) {
    return reject(invalid_response("HTTP 206 without a usable Content-Range"));
  }
  if (cr->first != spec_.first || (spec_.last && cr->last > *spec_.last)) {
    return reject(invalid_response("asked for " + spec_.range_header_value() + ", got bytes " +
                                   std::to_string(cr->first) + "-" + std::to_string(cr->last)));
  }
  if (cursor_ > 0) {
    bool changed = false;
    const auto& v = head.validators;
    if (!v.etag.empty() && !validators_.etag.empty() &&
        strip_weak(v.etag) != strip_weak(validators_.etag)) {
      changed = true;
    }
    if (!v.last_modified.empty() && !validators_.last_modified.empty() &&
        v.last_modified != validators_.last_modified) {
      changed = true;
    }
    if (remote_size_ && cr->total && *cr->total != *remote_size_) {
      changed = true;
    }
    if (remote_size_ && !cr->total && validators_.etag.empty() &&
        validators_.last_modified.empty()) {
      changed = true;  // without validators only the total can vouch for the version
    }
    if (changed) {
      abort_restart_ = true;
      return Verdict::Abort;
    }
  }
  if (cursor_ == 0 || (validators_.etag.empty() && validators_.last_modified.empty())) {
    adopt(head, std::nullopt);
  }
  if (cr->total) {
    remote_size_ = cr->total;
    if (auto st = plan_.apply_remote_size(*remote_size_); !st) {
      return reject(Classified{std::move(st).error(), false, std::nullopt});
    }
  }
  mode_ = Mode::Append;
  take_ = cr->length();
  if (may_split(*cr)) {
    enter_segments(take_);
  }
  emit_connected();
  return Verdict::Accept;
}

// 416: for a resumed whole file, either everything is already here or the file shrank.
FetchSession::Verdict FetchSession::accept_unsatisfiable(const ResponseHead& head) {
  const auto total = head.content_range ? head.content_range->total : std::nullopt;
  if (plan_.whole() && spec_.ranged) {
    if (total && *total == spec_.first && (!remote_size_ || *remote_size_ == *total)) {
      remote_size_ = total;
      (void)plan_.apply_remote_size(*total);
      abort_success_ = true;
      emit_connected();
      return Verdict::Abort;
    }
    abort_restart_ = true;
    return Verdict::Abort;
  }
  auto c = classify_http(416, std::nullopt, head.url);
  c.error.message = "range " + spec_.range_header_value() + " is beyond the end of " +
                    redact_url(head.url.empty() ? request_.file.spec.remote_url : head.url) +
                    (total ? " (" + std::to_string(*total) + " bytes)" : std::string());
  return reject(std::move(c));
}

FetchSession::BodyVerdict FetchSession::on_body(const char* data, std::size_t size, LegId leg) {
  if (segs_ && phase_ == Phase::Fetching) {
    const auto it = seg_legs_.find(leg);
    return it == seg_legs_.end() ? BodyVerdict::Abort : seg_on_body(it->second, data, size);
  }
  if (phase_ != Phase::Fetching || abort_failure_ || (leg != kAnyLeg && leg != spec_.leg)) {
    return BodyVerdict::Abort;
  }
  if (mode_ == Mode::Waiting) {
    abort_failure_ = invalid_response("body data before an accepted response");
    return BodyVerdict::Abort;
  }
  std::size_t off = 0;
  if (skip_ > 0) {
    const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(skip_, size));
    skip_ -= k;
    off = k;
  }
  std::size_t n = size - off;
  if (take_) {
    n = static_cast<std::size_t>(std::min<std::uint64_t>(n, *take_));
  }
  if (n > 0) {
    if (!write_all(data + off, n)) {
      return BodyVerdict::Abort;
    }
    cursor_ += n;
    request_bytes_ += n;
    if (take_) {
      *take_ -= n;
    }
    const auto now = mono_now();
    if (cursor_ - durable_ >= request_.checkpoint_bytes ||
        now - last_checkpoint_ >= Millis{request_.checkpoint_ms}) {
      if (!checkpoint(now)) {
        return BodyVerdict::Abort;
      }
    } else {
      maybe_report(now);
    }
  }
  if (take_ && *take_ == 0 && (mode_ == Mode::SkipTrim || off + n < size)) {
    // The piece is complete; the rest of this body is not ours (a server ignoring Range).
    abort_success_ = true;
    return BodyVerdict::Stop;
  }
  return BodyVerdict::Continue;
}

void FetchSession::on_source_changed() {
  if (!abort_failure_) {
    abort_restart_ = true;
  }
}

void FetchSession::on_request_end(std::optional<Classified> transport_error, LegId leg) {
  if (phase_ != Phase::Fetching) {
    return;
  }
  if (segs_) {
    seg_on_request_end(leg, std::move(transport_error));
    return;
  }
  if (leg != kAnyLeg && (!single_in_flight_ || leg != spec_.leg)) {
    return;  // a leg of a segmented run that a restart dropped
  }
  single_in_flight_ = false;
  if (abort_failure_) {
    finish_failed(std::move(*abort_failure_));
    return;
  }
  if (abort_restart_) {
    const bool changed = *abort_restart_;
    abort_restart_.reset();
    (void)restart_now(changed);
    return;
  }
  if (!abort_success_ && transport_error) {
    finish_failed(std::move(*transport_error));
    return;
  }
  if (mode_ == Mode::Waiting && !abort_success_) {
    finish_failed(invalid_response("no usable response"));
    return;
  }
  if (mode_ == Mode::SkipTrim && (skip_ > 0 || (take_ && *take_ > 0))) {
    // A full body that ended before our range did: the range lies past the end of the file.
    finish_failed(Classified{
        Error::make(hr::DoEInvalidRange,
                    "range starting at " + std::to_string(spec_.first) +
                        " lies beyond the end of " + redact_url(request_.file.spec.remote_url),
                    ErrorContext::RemoteFile),
        false, std::nullopt});
    return;
  }
  if (mode_ == Mode::Append && take_ && *take_ > 0) {
    finish_failed(connection_closed("the connection to " +
                                    redact_url(request_.file.spec.remote_url) + " ended " +
                                    std::to_string(*take_) + " bytes early"));
    return;
  }
  if (mode_ != Mode::Waiting && !take_) {
    // Read to the end of the body: that is where this piece ends.
    if (plan_.whole()) {
      plan_.set_length(0, cursor_);
      remote_size_ = cursor_;
    } else if (!plan_.length(piece_)) {
      plan_.set_length(piece_, cursor_ - plan_.staging_start(piece_));
    }
  }
  const auto pos = plan_.locate(cursor_);
  if (request_bytes_ == 0 && pos && pos->index == piece_) {
    finish_failed(connection_closed("no data from " + redact_url(request_.file.spec.remote_url)));
  }
}

bool FetchSession::write_all(const char* data, std::size_t size) {
  std::uint64_t at = cursor_;
  while (size > 0) {
    const ssize_t n = pwrite(fd_.get(), data, size, static_cast<off_t>(at));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      abort_failure_ = local_failure(errno);
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
    at += static_cast<std::uint64_t>(n);
  }
  return true;
}

bool FetchSession::sync() {
  if (fdatasync(fd_.get()) != 0) {
    abort_failure_ = local_failure(errno);
    return false;
  }
  durable_ = cursor_;
  return true;
}

bool FetchSession::still_linked() {
  struct stat st {};
  if (fstat(fd_.get(), &st) != 0 || st.st_nlink > 0) {
    return true;  // a failing fstat proves nothing; the next write or sync will tell
  }
  // The staging file (or its whole directory) was deleted under us: every byte written through
  // this descriptor is gone with it, so nothing may be reported durable or, worse, transferred.
  ++generation_;
  cursor_ = durable_ = 0;
  fd_.reset();
  auto dir = fs::open_parent_dir(request_.file.spec.local_path, request_.owner);
  abort_failure_ = classify_fs_error(
      dir ? Error::from_errno(
                ENOENT, "staging file " + shown_path_ + " was deleted while it was being written")
          : std::move(dir).error());
  return false;
}

bool FetchSession::checkpoint(MonoTime now) {
  if (segs_) {
    return seg_checkpoint(now);
  }
  if (cursor_ == durable_) {
    return true;
  }
  if (!still_linked()) {
    return false;
  }
  if (submit_) {
    if (sync_in_flight_) {
      // The next checkpoint starts when this one completes (on_sync_done).
      maybe_report(now);
      return true;
    }
    if (start_async_checkpoint(now)) {
      return true;
    }
  }
  if (!sync()) {
    return false;
  }
  last_checkpoint_ = now;
  last_report_ = now;
  last_reported_ = cursor_;
  auto ev = make_event(Kind::Progress);
  ev.durable = true;
  emit_(std::move(ev));
  return true;
}

bool FetchSession::start_async_checkpoint(MonoTime now) {
  SyncJob job;
  job.fd = UniqueFd(fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
  if (!job.fd.valid()) {
    return false;
  }
  job.generation = generation_;
  job.bytes = cursor_;
  if (!submit_(job)) {
    return false;
  }
  sync_in_flight_ = true;
  last_checkpoint_ = now;
  maybe_report(now);
  return true;
}

bool FetchSession::on_sync_done(std::uint64_t generation, std::uint64_t bytes, int err) {
  sync_in_flight_ = false;
  if (phase_ != Phase::Fetching || generation != generation_) {
    return true;  // stale: the bytes it covered were discarded, or a final sync followed
  }
  if (err != 0) {
    finish_failed(local_failure(err));
    return false;
  }
  if (segs_) {
    seg_commit(sync_ranges_, true);
    return true;
  }
  if (bytes > durable_ && bytes <= cursor_) {
    durable_ = bytes;
    auto ev = make_event(Kind::Progress);
    ev.bytes_transferred = bytes;
    ev.durable = true;
    emit_(std::move(ev));
  }
  return true;
}

void FetchSession::maybe_report(MonoTime now) {
  if (held_bytes() != last_reported_ && now - last_report_ >= kProgressInterval) {
    last_report_ = now;
    last_reported_ = held_bytes();
    emit_(make_event(Kind::Progress));
  }
}

bool FetchSession::tick(MonoTime now) {
  if (phase_ != Phase::Fetching) {
    return true;
  }
  if (has_unsynced() && !sync_in_flight_ &&
      now - last_checkpoint_ >= Millis{request_.checkpoint_ms}) {
    if (!checkpoint(now)) {
      if (!finished()) {
        finish_failed(std::move(*abort_failure_));
      }
      return false;
    }
    return true;
  }
  maybe_report(now);
  return true;
}

MonoTime FetchSession::next_deadline() const {
  auto at = MonoTime::max();
  if (phase_ != Phase::Fetching) {
    return at;
  }
  if (has_unsynced() && !sync_in_flight_) {
    at = std::min(at, last_checkpoint_ + Millis{request_.checkpoint_ms});
  }
  if (held_bytes() != last_reported_) {
    at = std::min(at, last_report_ + kProgressInterval);
  }
  return at;
}

bool FetchSession::restart_now(bool remote_changed, const ResponseHead* new_version) {
  if (++restarts_ > kMaxRestartsPerRun) {
    finish_failed(Classified{Error::make(hr::BgERemoteFileChanged,
                                         redact_url(request_.file.spec.remote_url) +
                                             " kept changing while it was transferred",
                                         ErrorContext::RemoteFile),
                             true, std::nullopt});
    return false;
  }
  // An in-flight checkpoint sync no longer vouches for anything.
  ++generation_;
  // The map goes before the bytes it describes, so it never names bytes of another version.
  if (auto st = drop_segments(); !st) {
    finish_failed(classify_fs_error(std::move(st).error()));
    return false;
  }
  if (ftruncate(fd_.get(), 0) != 0) {
    finish_failed(local_failure(errno));
    return false;
  }
  cursor_ = 0;
  if (!sync()) {
    finish_failed(std::move(*abort_failure_));
    return false;
  }
  validators_ = {};
  remote_mtime_.reset();
  remote_size_.reset();
  plan_.forget_remote_size();
  if (new_version != nullptr) {
    adopt(*new_version, new_version->content_length);
    if (remote_size_) {
      (void)plan_.apply_remote_size(*remote_size_);  // checked again by the caller
    }
  }
  // The next accepted response announces the version now being fetched.
  connected_ = false;
  const auto now = mono_now();
  last_checkpoint_ = last_report_ = now;
  last_reported_ = 0;
  auto ev = make_event(remote_changed ? Kind::Restarted : Kind::Progress);
  ev.durable = true;
  emit_(std::move(ev));
  return true;
}

void FetchSession::finish_fetching() {
  const auto whole_total = plan_.total();
  if (final_submit_ && !segs_ && !request_.file.spec.sha256 &&
      (!whole_total || cursor_ == *whole_total)) {
    if (!still_linked()) {
      finish_failed(std::move(*abort_failure_));
      return;
    }
    finish_unsynced();
    return;
  }
  if (!still_linked() || !sync()) {
    finish_failed(std::move(*abort_failure_));
    return;
  }
  if (segs_) {
    // Every byte is synced; the delivered file must not carry our bookkeeping.
    if (auto st = fs::remove_segment_map(fd_.get()); !st) {
      finish_failed(classify_fs_error(std::move(st).error()));
      return;
    }
  }
  if (const auto total = plan_.total(); total && cursor_ != *total) {
    finish_failed(connection_closed("received " + std::to_string(cursor_) + " of " +
                                    std::to_string(*total) + " bytes"));
    return;
  }
  if (request_.file.spec.sha256) {
    auto rfd = fs::open_staging_for_read(request_.file, request_.owner);
    if (!rfd) {
      finish_failed(classify_fs_error(std::move(rfd).error()));
      return;
    }
    verify_fd_ = std::move(*rfd);
    sha_.emplace();
    verify_offset_ = 0;
    phase_ = Phase::Verifying;
    return;
  }
  auto ev = make_event(Kind::FileDone);
  ev.durable = true;
  phase_ = Phase::Finished;
  fd_.reset();
  emit_(std::move(ev));
}

void FetchSession::finish_unsynced() {
  // Mode and time now, so that the final sync (an fsync) makes them durable with the data and
  // complete has nothing left to sync. If this fails, complete sets them (and syncs) itself.
  if (auto sealed = fs::seal_staging(fd_.get(), remote_mtime_, shown_path_); !sealed) {
    log::debug(sealed.error().message);
  }
  auto done = make_event(Kind::FileDone);
  done.durable = false;
  phase_ = Phase::Finished;
  UniqueFd fd = std::move(fd_);
  const std::uint64_t bytes = cursor_;
  // FileDone goes out first: its Synced must never overtake it.
  emit_(std::move(done));
  if (final_submit_(fd, bytes)) {
    return;
  }
  // The syncer cannot take it (full, or stopping): flush here, as before.
  const int err = fsync_errno(fd.get());
  fd.reset();
  auto synced = make_event(Kind::Synced);
  synced.bytes_transferred = bytes;
  synced.durable = err == 0;
  if (err != 0) {
    synced.error = local_failure(err).error;
  }
  emit_(std::move(synced));
}

void FetchSession::verify_step(std::size_t budget) {
  if (phase_ != Phase::Verifying) {
    return;
  }
  std::vector<char> buf(std::min<std::size_t>(budget, 1U << 20));
  std::size_t done = 0;
  bool eof = false;
  while (done < budget && verify_offset_ < cursor_) {
    const auto want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), cursor_ - verify_offset_));
    const ssize_t n = pread(verify_fd_.get(), buf.data(), want, static_cast<off_t>(verify_offset_));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      finish_failed(local_failure(errno));
      return;
    }
    if (n == 0) {
      eof = true;
      break;
    }
    sha_->update(buf.data(), static_cast<std::size_t>(n));
    verify_offset_ += static_cast<std::uint64_t>(n);
    done += static_cast<std::size_t>(n);
  }
  if (verify_offset_ < cursor_ && !eof) {
    return;  // more next time
  }
  const auto actual = sha_->hex_digest();
  if (!sha_->ok()) {
    finish_failed(Classified{
        Error::make(hr::EFail, "cannot compute SHA-256 of " + shown_path_, ErrorContext::LocalFile),
        true, std::nullopt});
    return;
  }
  const auto expected = lower_hex(*request_.file.spec.sha256);
  verify_fd_.reset();
  if (!eof && actual == expected) {
    auto ev = make_event(Kind::FileDone);
    ev.durable = true;
    ev.verified = true;
    phase_ = Phase::Finished;
    fd_.reset();
    emit_(std::move(ev));
    return;
  }
  // The data is wrong: discard it so nothing can complete it by mistake.
  if (ftruncate(fd_.get(), 0) != 0 || fdatasync(fd_.get()) != 0) {
    finish_failed(local_failure(errno));
    return;
  }
  ++generation_;
  cursor_ = durable_ = 0;
  finish_failed(Classified{Error::make(hr::BgEValidationFailed,
                                       "SHA-256 of " + redact_url(request_.file.spec.remote_url) +
                                           " is " + actual + ", expected " + expected,
                                       ErrorContext::RemoteFile),
                           false, std::nullopt});
}

void FetchSession::fail(Classified failure) {
  finish_failed(std::move(failure));
}

void FetchSession::finish_failed(Classified failure) {
  if (phase_ == Phase::Finished) {
    return;
  }
  (void)final_sync();
  phase_ = Phase::Finished;
  fd_.reset();
  verify_fd_.reset();
  auto ev = make_event(Kind::Failed);
  ev.bytes_transferred = durable_;
  ev.durable = true;
  failure.error.file_index = request_.file_index;
  ev.error = std::move(failure.error);
  ev.transient = failure.transient;
  ev.retry_after_s = failure.retry_after;
  emit_(std::move(ev));
}

std::uint64_t FetchSession::shutdown() {
  if (phase_ != Phase::Finished) {
    (void)final_sync();
    phase_ = Phase::Finished;
  }
  fd_.reset();
  verify_fd_.reset();
  return durable_;
}

engine::TransferEvent FetchSession::make_event(engine::TransferEvent::Kind kind) const {
  engine::TransferEvent ev;
  ev.job = request_.job;
  ev.transfer_id = request_.transfer_id;
  ev.file_index = request_.file_index;
  ev.kind = kind;
  ev.bytes_transferred = held_bytes();
  ev.bytes_total = plan_.total();
  ev.validators = validators_;
  ev.remote_mtime = remote_mtime_;
  return ev;
}

void FetchSession::emit_connected() {
  if (!connected_) {
    connected_ = true;
    emit_(make_event(Kind::Connected));
  }
}

Classified FetchSession::invalid_response(const std::string& why) const {
  return Classified{
      Error::make(hr::BgEInvalidServerResponse,
                  "invalid response from " + redact_url(request_.file.spec.remote_url) + ": " + why,
                  ErrorContext::RemoteFile),
      true, std::nullopt};
}

Classified FetchSession::local_failure(int err) const {
  return classify_local_errno(err, shown_path_);
}

}  // namespace bgcopy::transfer
