// FetchSession's segmented mode: several ranged requests of one whole file at once. The rules
// that keep it correct (see fetch_session.hpp and docs/internals/segmented-download.md):
//   - split only after a 206 that names the total size and carries ETag or Last-Modified;
//   - every segment request carries If-Range, and its 206 must name the same range start, the
//     same total and the same validators; a 200 (If-Range failed), a 416 or any other version
//     restarts the whole file from 0, so bytes of two versions never mix;
//   - a checkpoint fdatasyncs the file and only then records the held ranges (the xattr map)
//     and reports the contiguous prefix as the durable byte count.
#include "base/log.hpp"
#include "fs/segment_map.hpp"
#include "transfer/fetch_session.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
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

}  // namespace

std::uint64_t FetchSession::held_bytes() const {
  return segs_ ? segs_->written().total() : cursor_;
}

bool FetchSession::has_unsynced() const {
  return segs_ ? unsynced_ > 0 : cursor_ > durable_;
}

bool FetchSession::may_split(const ContentRange& cr) const {
  if (seg_opts_.connections < 2 || segs_ || !plan_.whole() || !remote_size_ || spec_.last) {
    return false;
  }
  // If-Range needs a validator, and a later 206 must be provably of this same version.
  const bool strong_etag = !validators_.etag.empty() && !is_weak_etag(validators_.etag);
  if (!strong_etag && validators_.last_modified.empty()) {
    return false;
  }
  if (cr.first != cursor_ || !cr.total || cr.last + 1 != *cr.total) {
    return false;
  }
  return *remote_size_ - cursor_ >= 2 * seg_opts_.min_size;
}

void FetchSession::enter_segments(std::optional<std::uint64_t> take) {
  ByteRanges held;
  held.add(0, cursor_);
  segs_.emplace(*remote_size_, held, seg_opts_.connections, seg_opts_.min_size);
  durable_ranges_ = ByteRanges{};
  durable_ranges_.add(0, durable_);
  unsynced_ = cursor_ - durable_;
  // A sync started for the single request would vouch for a byte count, not for ranges.
  ++generation_;
  // The probe request goes on as the first segment; the body past that segment is cut off.
  const auto first = segs_->take_idle();
  segs_->assign(*first, spec_.leg);
  SegLeg leg;
  leg.spec = spec_;
  leg.accepted = true;
  leg.take = take;
  seg_legs_.emplace(spec_.leg, std::move(leg));
  single_in_flight_ = false;
  log::debug("segmented download of " + redact_url(request_.file.spec.remote_url) + ": " +
             std::to_string(segs_->count()) + " segments");
}

bool FetchSession::resume_segments(std::uint64_t on_disk, std::uint64_t resume) {
  if (seg_opts_.connections < 2 || !plan_.whole() || !remote_size_ ||
      (validators_.etag.empty() && validators_.last_modified.empty())) {
    return false;
  }
  const auto map = fs::read_segment_map(fd_.get());
  // The map must describe this very version, and what it names must be on disk.
  if (!map || map->size != *remote_size_ || map->etag != validators_.etag ||
      map->last_modified != validators_.last_modified || map->held_end() > on_disk ||
      resume > map->size) {
    return false;
  }
  ByteRanges held(map->held);
  held.add(0, resume);  // the engine's prefix: durable too, of the same version
  if (on_disk > held.end()) {
    // Bytes past the last durable range were never synced.
    if (ftruncate(fd_.get(), static_cast<off_t>(held.end())) != 0 || fdatasync(fd_.get()) != 0) {
      finish_failed(local_failure(errno));
      return true;
    }
  }
  segs_.emplace(*remote_size_, held, seg_opts_.connections, seg_opts_.min_size);
  durable_ranges_ = held;
  unsynced_ = 0;
  cursor_ = durable_ = held.prefix();
  last_checkpoint_ = last_report_ = mono_now();
  last_reported_ = held.total();
  if (durable_ != request_.resume_from) {
    auto ev = make_event(Kind::Progress);
    ev.bytes_transferred = durable_;
    ev.durable = true;
    emit_(std::move(ev));
  }
  if (held.total() != durable_) {
    emit_(make_event(Kind::Progress));  // for display: every byte held, not just the prefix
  }
  return true;
}

std::optional<RequestSpec> FetchSession::seg_next_request() {
  if (segs_->complete()) {
    if (seg_legs_.empty()) {
      finish_fetching();
    }
    return std::nullopt;
  }
  if (seg_legs_.size() >= segs_->max_legs()) {
    return std::nullopt;
  }
  const auto i = segs_->take_idle();
  if (!i) {
    return std::nullopt;
  }
  const auto& seg = segs_->at(*i);
  RequestSpec s;
  s.leg = next_leg_++;
  s.first = seg.pos;
  s.last = seg.end - 1;
  s.ranged = true;
  s.if_range = if_range_value();
  segs_->assign(*i, s.leg);
  SegLeg leg;
  leg.spec = s;
  seg_legs_.emplace(s.leg, std::move(leg));
  return s;
}

FetchSession::Verdict FetchSession::seg_on_response(SegLeg& leg, const ResponseHead& head) {
  if (leg.accepted) {
    return Verdict::Abort;
  }
  switch (head.status) {
    case 206:
      break;
    case 200:
    case 203:
    case 416:
      // If-Range did not match (the remote changed), or the file shrank under us.
      leg.restart = true;
      return Verdict::Abort;
    default:
      leg.failure = classify_http(head.status, head.retry_after, head.url);
      return Verdict::Abort;
  }
  const auto& cr = head.content_range;
  if (!cr || !cr->satisfied || cr->first != leg.spec.first || cr->last > *leg.spec.last) {
    leg.failure = invalid_response("asked for " + leg.spec.range_header_value() +
                                   ", got an unusable Content-Range");
    return Verdict::Abort;
  }
  const auto& v = head.validators;
  bool comparable = false;
  bool differ = !cr->total || *cr->total != segs_->size();
  if (!v.etag.empty() && !validators_.etag.empty()) {
    comparable = true;
    differ = differ || strip_weak(v.etag) != strip_weak(validators_.etag);
  }
  if (!v.last_modified.empty() && !validators_.last_modified.empty()) {
    comparable = true;
    differ = differ || v.last_modified != validators_.last_modified;
  }
  if (differ || !comparable) {
    leg.restart = true;  // not provably the version the other segments are from
    return Verdict::Abort;
  }
  leg.accepted = true;
  leg.take = cr->length();
  emit_connected();
  return Verdict::Accept;
}

FetchSession::BodyVerdict FetchSession::seg_on_body(SegLeg& leg, const char* data,
                                                    std::size_t size) {
  if (leg.failure || leg.restart) {
    return BodyVerdict::Abort;
  }
  if (!leg.accepted) {
    leg.failure = invalid_response("body data before an accepted response");
    return BodyVerdict::Abort;
  }
  const auto i = segs_->find(leg.spec.leg);
  if (!i) {
    return BodyVerdict::Abort;
  }
  auto& seg = segs_->at(*i);
  auto n = static_cast<std::size_t>(std::min<std::uint64_t>(size, seg.left()));
  if (leg.take) {
    n = static_cast<std::size_t>(std::min<std::uint64_t>(n, *leg.take));
  }
  std::size_t done = 0;
  while (done < n) {
    const ssize_t w = pwrite(fd_.get(), data + done, n - done, static_cast<off_t>(seg.pos + done));
    if (w < 0) {
      if (errno == EINTR) {
        continue;
      }
      finish_failed(local_failure(errno));
      return BodyVerdict::Abort;
    }
    done += static_cast<std::size_t>(w);
  }
  if (n > 0) {
    segs_->advance(*i, n);
    leg.bytes += n;
    if (leg.take) {
      *leg.take -= n;
    }
    unsynced_ += n;
    cursor_ = segs_->written().prefix();
    const auto now = mono_now();
    if (unsynced_ >= request_.checkpoint_bytes ||
        now - last_checkpoint_ >= Millis{request_.checkpoint_ms}) {
      if (!seg_checkpoint(now)) {
        return BodyVerdict::Abort;
      }
    } else {
      maybe_report(now);
    }
  }
  // The segment is complete (or was shortened by another leg taking its tail): the rest of this
  // body belongs to someone else.
  if (n < size || (seg.done() && leg.take && *leg.take > 0)) {
    return BodyVerdict::Stop;
  }
  return BodyVerdict::Continue;
}

void FetchSession::seg_on_request_end(LegId id, std::optional<Classified> transport_error) {
  const auto it = seg_legs_.find(id);
  if (it == seg_legs_.end()) {
    return;  // dropped by a restart
  }
  SegLeg leg = std::move(it->second);
  seg_legs_.erase(it);
  const auto i = segs_->find(id);
  segs_->release(id);
  if (leg.restart) {
    (void)restart_now(true);
    return;
  }
  if (!i || segs_->at(*i).done()) {
    return;  // the next request (or the end) is up to next_request()
  }
  auto& seg = segs_->at(*i);
  if (!leg.failure && !transport_error && leg.accepted && leg.take && *leg.take == 0 &&
      leg.bytes > 0) {
    return;  // the server sent less than asked for, properly: ask for the rest
  }
  std::optional<Classified> failure = std::move(leg.failure);
  if (!failure) {
    failure = std::move(transport_error);
  }
  if (!failure) {
    failure =
        leg.accepted
            ? Classified{Error::make(hr::BgEConnectionClosed,
                                     "the connection to " +
                                         redact_url(request_.file.spec.remote_url) + " ended early",
                                     ErrorContext::GeneralTransport),
                         true, std::nullopt}
            : invalid_response("no usable response");
  }
  // A fatal answer, or a server asking us to come back later, stops the whole file; anything
  // else costs only this segment a new request.
  if (!failure->transient || failure->retry_after || ++seg.failures > kMaxSegmentRetries) {
    finish_failed(std::move(*failure));
    return;
  }
  log::info("segment " + std::to_string(seg.pos) + "-" + std::to_string(seg.end - 1) + " of " +
            redact_url(request_.file.spec.remote_url) + " failed (" + failure->error.message +
            "); fetching it again");
}

bool FetchSession::seg_checkpoint(MonoTime now) {
  if (unsynced_ == 0) {
    return true;
  }
  if (!still_linked()) {
    (void)drop_segments();  // the bytes went with the file; fd_ is closed
    finish_failed(std::move(*abort_failure_));
    return false;
  }
  if (sync_in_flight_) {
    if (segs_->written().total() - durable_ranges_.total() < 2 * request_.checkpoint_bytes) {
      maybe_report(now);  // the next checkpoint starts when this one completes
      return true;
    }
    // Bytes arrive faster than the syncer turns around (a burst out of several sockets'
    // buffers): sync right here, so that never more than two checkpoints' worth is at risk. The
    // sync in flight is superseded; its completion will be stale.
    ++generation_;
  } else if (submit_) {
    SyncJob job;
    job.fd = UniqueFd(fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
    if (job.fd.valid()) {
      job.generation = generation_;
      job.bytes = segs_->written().total();
      const auto covers = segs_->written();
      if (submit_(job)) {
        sync_ranges_ = covers;
        sync_in_flight_ = true;
        unsynced_ = 0;
        last_checkpoint_ = now;
        maybe_report(now);
        return true;
      }
    }
  }
  if (fdatasync(fd_.get()) != 0) {
    finish_failed(local_failure(errno));
    return false;
  }
  unsynced_ = 0;
  last_checkpoint_ = now;
  seg_commit(segs_->written(), true);
  return true;
}

void FetchSession::seg_commit(const ByteRanges& ranges, bool report) {
  durable_ranges_ = ranges;
  if (map_supported_) {
    fs::SegmentMap map;
    map.size = segs_->size();
    map.etag = validators_.etag;
    map.last_modified = validators_.last_modified;
    map.held = ranges.ranges();
    if (auto st = fs::write_segment_map(fd_.get(), map); !st) {
      if (errno_of(st.error().code) == ENOTSUP) {
        map_supported_ = false;
        log::info("no extended attributes on " + shown_path_ +
                  "; an interrupted segmented download resumes from its contiguous prefix");
      } else {
        // The previous map still holds: it names fewer bytes, all of them durable.
        log::warn(st.error().message + " on " + shown_path_);
      }
    }
  }
  // Only the contiguous prefix is a resume point without the map.
  durable_ = ranges.prefix();
  if (!report) {
    return;
  }
  auto ev = make_event(Kind::Progress);
  ev.bytes_transferred = durable_;
  ev.durable = true;
  emit_(std::move(ev));
  // The engine displays the last count it was given: put the total held back on display.
  last_report_ = mono_now();
  last_reported_ = held_bytes();
  if (last_reported_ != durable_) {
    emit_(make_event(Kind::Progress));
  }
}

bool FetchSession::final_sync() {
  if (!fd_.valid() || fdatasync(fd_.get()) != 0) {
    return false;
  }
  if (segs_ && phase_ == Phase::Fetching) {
    unsynced_ = 0;
    seg_commit(segs_->written(), false);
  } else {
    durable_ = cursor_;
  }
  return true;
}

Status FetchSession::drop_segments() {
  segs_.reset();
  seg_legs_.clear();
  durable_ranges_.clear();
  sync_ranges_.clear();
  unsynced_ = 0;
  if (fd_.valid()) {
    return fs::remove_segment_map(fd_.get());
  }
  return {};
}

}  // namespace bgcopy::transfer
