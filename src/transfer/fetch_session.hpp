// One file transfer, independent of how bytes travel. The session owns the staging file and
// every decision the contract makes about it (SPEC section 2, "Resume of data"): which byte range
// to ask for next, whether a response may be appended, must be trimmed, or means the remote
// changed, when to checkpoint, when the file is complete and whether its SHA-256 matches. It
// reports through TransferEvents.
//
// A transport (curl for http/https, a local reader for file://) drives it:
//   open() once; then repeatedly next_request() -> on_response() -> on_body()* ->
//   on_request_end(); verify_step() while verifying(); tick() now and then. Any call may finish
//   the session (FileDone or Failed emitted); after that finished() is true and nothing more is
//   emitted. shutdown() ends it silently (stop()).
//
// Events: Connected when a response is first accepted, and again after each restart (it carries
// the version being fetched); Progress (durable after a sync); Restarted when the remote changed
// (staging file emptied and synced); then exactly one of FileDone or Failed. A file whose
// recorded bytes are already complete ends with FileDone without any request.
//
// Checkpoint syncs may run off the transport's thread (set_async_sync): a checkpoint then records
// N = the bytes written so far and hands a dup of the staging descriptor to the submitter; the
// durable Progress for N is emitted only when the transport reports that sync's completion
// (on_sync_done). At most one such sync is in flight; a restart from 0 bumps a generation so a
// late completion cannot vouch for bytes that were discarded. Final syncs (FileDone, Failed,
// Restarted, shutdown) stay synchronous.
//
// Segmented mode (set_segmenting, http only): when the first response is a 206 for "bytes=N-"
// that names the remote size and a validator, and enough is left, the rest of the file is cut
// into segments (segment_table.hpp) fetched over several requests ("legs") at once, each with
// If-Range and each checked against the version held; any sign of another version restarts the
// whole file from 0. Every request carries a leg id (RequestSpec::leg) that the transport hands
// back with its responses; legs the session dropped (leg_live() false) are to be abandoned.
// Segments are pwrite'n at their offsets; a checkpoint syncs the file and then records the held
// byte ranges on it (fs/segment_map.hpp), and the durable Progress carries the contiguous prefix,
// so the engine's single byte count is always a safe resume point. See
// docs/internals/segmented-download.md.
//
// Thread-safety: none; the transport's thread calls every member, and events are emitted on it.
#pragma once

#include "base/clock.hpp"
#include "base/unique_fd.hpp"
#include "engine/ports.hpp"
#include "transfer/error_map.hpp"
#include "transfer/http_headers.hpp"
#include "transfer/piece_plan.hpp"
#include "transfer/segment_table.hpp"
#include "transfer/sha256.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace bgcopy::transfer {

/// Identifies one request of a session; kAnyLeg (the default in the calls) means "the one
/// request in flight" of an unsegmented session.
using LegId = std::uint32_t;
inline constexpr LegId kAnyLeg = ~LegId{0};

/// Segmented download settings (bgcopyd.toml [transfer]).
struct SegmentOptions {
  std::uint32_t connections = 1;      // legs per file; 1 = never split
  std::uint64_t min_size = 4U << 20;  // no segment is cut smaller than this
};

/// What to ask the source for.
struct RequestSpec {
  LegId leg = 0;                      // hand back with on_response/on_body/on_request_end
  std::uint64_t first = 0;            // remote offset
  std::optional<std::uint64_t> last;  // inclusive; nullopt: to the end
  bool ranged = false;                // send "Range: bytes=first-[last]"
  std::string if_range;               // validator for If-Range; empty: none
  /// "bytes=100-199" or "bytes=100-"; empty when not ranged.
  std::string range_header_value() const;
};

/// The final response's head, as parsed from the headers (or synthesised for file://).
struct ResponseHead {
  long status = 0;
  std::optional<ContentRange> content_range;
  bool content_range_malformed = false;  // a Content-Range header was present but unparseable
  std::optional<std::uint64_t> content_length;
  engine::Validators validators;
  std::optional<std::int64_t> remote_mtime;
  std::optional<std::uint32_t> retry_after;
  std::string url;  // for messages
};

/// fdatasync(fd), retried on EINTR: 0, or the errno it failed with.
int datasync_errno(int fd);
/// fsync(fd), likewise: for a finished file, whose sealed metadata must be durable too.
int fsync_errno(int fd);

/// A checkpoint sync to run elsewhere: fdatasync(fd), then report (generation, bytes, errno)
/// back through FetchSession::on_sync_done on the session's thread.
struct SyncJob {
  UniqueFd fd;  // a dup of the staging descriptor, owned by the job
  std::uint64_t generation = 0;
  std::uint64_t bytes = 0;  // every byte below this was written before the job was made
};

class FetchSession {
 public:
  using Emit = std::function<void(engine::TransferEvent)>;
  /// Takes a SyncJob; returns false if it cannot (the session then syncs synchronously).
  using SyncSubmit = std::function<bool(SyncJob&)>;

  enum class Verdict : std::uint8_t {
    Accept,  // stream the body into on_body
    Abort,   // end the request now and call on_request_end (restart, done or failure)
  };
  enum class BodyVerdict : std::uint8_t {
    Continue,
    Stop,   // this request delivered all it should: end it and treat that as success
    Abort,  // a local failure was recorded: end it and call on_request_end
  };

  FetchSession(engine::TransferRequest request, Emit emit);
  ~FetchSession();
  FetchSession(const FetchSession&) = delete;
  FetchSession& operator=(const FetchSession&) = delete;

  /// Enables segmented mode; call before open(). Ignored for ranged files.
  void set_segmenting(SegmentOptions options) { seg_opts_ = options; }

  /// Opens the staging file and keeps exactly the durable prefix that can be resumed (plus,
  /// in segmented mode, the durable segments its map vouches for). On failure emits Failed and
  /// returns false.
  bool open();

  /// The next request, or nullopt when there is none to make now. Unsegmented: one at a time
  /// (nullopt means verifying() or finished()). Segmented: call while wants_request().
  std::optional<RequestSpec> next_request();
  const RequestSpec& current_request() const { return spec_; }
  /// Whether another request may start while `in_flight` of this session's are running.
  bool wants_request(std::size_t in_flight) const;
  bool segmented() const { return segs_.has_value(); }
  /// False once the session has dropped the leg (restart, failure, finish): abandon it without
  /// further calls.
  bool leg_live(LegId leg) const;

  Verdict on_response(const ResponseHead& head, LegId leg = kAnyLeg);
  BodyVerdict on_body(const char* data, std::size_t size, LegId leg = kAnyLeg);
  /// The file:// transport saw the source change while reading: restart from 0.
  void on_source_changed();
  /// The request ended. transport_error is what the transport saw; ignored when the session
  /// itself ended the request (Abort/Stop).
  void on_request_end(std::optional<Classified> transport_error, LegId leg = kAnyLeg);

  bool verifying() const { return phase_ == Phase::Verifying; }
  /// Hashes up to `budget` more bytes of the staging file; finishes the session at the end.
  void verify_step(std::size_t budget);

  /// Time-based checkpoint and progress report. Returns false if a sync failed: the session
  /// then failed (Failed emitted) and the transport drops its request without reporting it.
  bool tick(MonoTime now);
  /// When tick() next has something to do (MonoTime::max() if nothing is pending).
  MonoTime next_deadline() const;

  /// Runs checkpoint syncs through `submit` instead of on the calling thread.
  void set_async_sync(SyncSubmit submit) { submit_ = std::move(submit); }
  /// Takes the descriptor (and the byte count it covers) of a finished file whose final sync
  /// is to run elsewhere, reporting a Synced event when done; returns false, leaving `fd`,
  /// if it cannot take it now (the session then syncs here and emits Synced itself).
  using FinalSyncSubmit = std::function<bool(UniqueFd& fd, std::uint64_t bytes)>;
  /// With this set, a plain file (whole-file or ranged, unsegmented, no sha256) ends with
  /// FileDone(durable=false) as soon as its last byte is written, then Synced: the engine can
  /// start the next file while the flush runs.
  void set_final_sync(FinalSyncSubmit submit) { final_submit_ = std::move(submit); }
  /// A submitted sync ended (err = errno, 0 on success). Stale completions (restart, finished)
  /// are ignored. Returns false if the sync failed: the session then failed (Failed emitted).
  bool on_sync_done(std::uint64_t generation, std::uint64_t bytes, int err);
  bool sync_in_flight() const { return sync_in_flight_; }

  /// Fails the transfer now (sync, Failed event). For transport set-up errors.
  void fail(Classified failure);
  /// Ends silently for stop(): syncs, closes, and returns the durable byte count.
  std::uint64_t shutdown();

  bool finished() const { return phase_ == Phase::Finished; }
  bool fetching() const { return phase_ == Phase::Fetching; }
  std::uint64_t staging_bytes() const { return cursor_; }
  std::uint64_t durable_bytes() const { return durable_; }
  const engine::TransferRequest& request() const { return request_; }
  /// Events from now on carry `id` (a file fetched ahead, adopted by a start()).
  void set_transfer_id(std::uint64_t id) { request_.transfer_id = id; }
  std::uint64_t max_recv_bps() const { return request_.max_recv_bps; }
  void set_max_recv_bps(std::uint64_t bps) { request_.max_recv_bps = bps; }

  /// Restarts within one run before giving up with a transient BG_E_REMOTE_FILE_CHANGED.
  static constexpr std::uint32_t kMaxRestartsPerRun = 3;
  /// Live (non-durable) progress is reported at most this often.
  static constexpr Millis kProgressInterval{250};
  /// Failed requests in a row on one segment, without a byte of progress, before the whole
  /// transfer fails (transient: the engine's retry delay applies then).
  static constexpr std::uint32_t kMaxSegmentRetries = 3;

 private:
  enum class Phase : std::uint8_t { Fetching, Verifying, Finished };
  enum class Mode : std::uint8_t { Waiting, Append, SkipTrim };

  engine::TransferEvent make_event(engine::TransferEvent::Kind kind) const;
  void emit_connected();
  bool write_all(const char* data, std::size_t size);
  bool sync();
  /// False (abort_failure_ set, bytes forgotten) when the staging file has no name any more.
  bool still_linked();
  bool checkpoint(MonoTime now);
  bool start_async_checkpoint(MonoTime now);
  void maybe_report(MonoTime now);
  /// Empties the staging file and forgets the version; new_version (a 200 that is being used
  /// from byte 0) is adopted at once so the Restarted event carries it.
  bool restart_now(bool remote_changed, const ResponseHead* new_version = nullptr);
  bool same_version(const engine::Validators& v, std::optional<std::uint64_t> size) const;
  void adopt(const ResponseHead& head, std::optional<std::uint64_t> remote_size);
  Verdict reject(Classified failure);
  Verdict accept_full(const ResponseHead& head);
  Verdict accept_partial(const ResponseHead& head);
  Verdict accept_unsatisfiable(const ResponseHead& head);
  void finish_fetching();
  void finish_unsynced();
  void finish_failed(Classified failure);
  Classified invalid_response(const std::string& why) const;
  Classified local_failure(int err) const;

  // Segmented mode (fetch_session_segments.cpp).
  struct SegLeg {
    RequestSpec spec;
    bool accepted = false;
    std::optional<std::uint64_t> take;  // body bytes still expected
    std::uint64_t bytes = 0;            // written by this leg
    std::optional<Classified> failure;
    bool restart = false;  // the response showed another version
  };
  bool may_split(const ContentRange& cr) const;
  void enter_segments(std::optional<std::uint64_t> take);
  bool resume_segments(std::uint64_t on_disk, std::uint64_t resume);
  std::optional<RequestSpec> seg_next_request();
  Verdict seg_on_response(SegLeg& leg, const ResponseHead& head);
  BodyVerdict seg_on_body(SegLeg& leg, const char* data, std::size_t size);
  void seg_on_request_end(LegId id, std::optional<Classified> transport_error);
  bool seg_checkpoint(MonoTime now);
  /// The sync covering `ranges` completed: record the map and report the durable prefix.
  void seg_commit(const ByteRanges& ranges, bool report);
  std::string if_range_value() const;
  std::uint64_t held_bytes() const;
  bool has_unsynced() const;
  /// fdatasync for stop/failure: everything written becomes durable.
  bool final_sync();
  Status drop_segments();

  SegmentOptions seg_opts_;
  std::optional<SegmentTable> segs_;
  std::map<LegId, SegLeg> seg_legs_;
  LegId next_leg_ = 0;
  bool single_in_flight_ = false;
  ByteRanges durable_ranges_;   // segmented: what the last completed sync covered
  ByteRanges sync_ranges_;      // segmented: what the sync in flight will cover
  std::uint64_t unsynced_ = 0;  // segmented: bytes written since the last sync was started
  bool map_supported_ = true;   // the filesystem took our xattr (or we have not tried yet)

  engine::TransferRequest request_;
  Emit emit_;
  std::string shown_path_;  // staging path, for messages
  UniqueFd fd_;
  PiecePlan plan_;
  Phase phase_ = Phase::Fetching;

  std::uint64_t cursor_ = 0;   // bytes in the staging file
  std::uint64_t durable_ = 0;  // bytes known to be on disk
  engine::Validators validators_;
  std::optional<std::int64_t> remote_mtime_;
  std::optional<std::uint64_t> remote_size_;  // the remote file's size, if known
  bool connected_ = false;
  std::uint32_t restarts_ = 0;

  // The request in flight.
  RequestSpec spec_;
  Mode mode_ = Mode::Waiting;
  std::size_t piece_ = 0;
  std::uint64_t skip_ = 0;
  std::optional<std::uint64_t> take_;
  std::uint64_t request_bytes_ = 0;
  std::optional<Classified> abort_failure_;
  std::optional<bool> abort_restart_;  // value: whether the remote changed
  bool abort_success_ = false;

  MonoTime last_checkpoint_{};
  MonoTime last_report_{};
  std::uint64_t last_reported_ = 0;

  SyncSubmit submit_;
  FinalSyncSubmit final_submit_;
  bool sync_in_flight_ = false;
  std::uint64_t generation_ = 0;  // bumped whenever staging bytes are discarded

  UniqueFd verify_fd_;
  std::optional<Sha256> sha_;
  std::uint64_t verify_offset_ = 0;
};

}  // namespace bgcopy::transfer
