// The transfer port: http and https through one libcurl multi handle, file:// read directly.
//
// One thread (started by the constructor, joined by the destructor) owns the CURLM, every easy
// handle, every staging descriptor and every file:// source. start(), stop() and
// set_rate_limit() only queue a command for it and wake it with curl_multi_wakeup.
//
// Checkpoint fdatasyncs run on a second, "syncer" thread (also owned here) on a dup of the
// staging descriptor; its results come back as commands, and the durable Progress for a
// checkpoint is emitted on the transfer thread once its sync completed. A plain file's final
// sync goes there too (FileDone(durable=false) first, then Synced from the transfer thread once
// flushed), unless 64 syncs are already queued; the other final syncs (stop, Failed, restart,
// segmented and sha256-checked files) stay on the transfer thread.
//
// Files a start() lists as `ahead` (http/https, at most one checkpoint and segment_min_size
// long) are fetched meanwhile into their staging files; their events are held until a later
// start() asks for exactly that file, then replayed under its transfer id (ahead.hpp). stop(),
// a failure of the current file, a rate cap and changed settings drop them.
//
// Events go to the callback ON THAT THREAD. The callback must be cheap (post the event to the
// caller's own queue and return), must not throw, and must not call back into this object.
//
// Thread-safety: start/stop/set_rate_limit may be called from any thread except the event
// callback; never concurrently with the destructor.
#pragma once

#include "engine/ports.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace bgcopy::transfer {

/// Service-wide transfer settings (bgcopyd.toml [transfer]).
struct CurlTransferOptions {
  /// Connections one http(s) file may use at once (1..16). Above 1, a file is split into
  /// segments once the server has proven it serves ranges of one version (fetch_session.hpp).
  std::uint32_t connections_per_file = 1;
  /// A file is split only if at least twice this much is left; segments are never smaller.
  std::uint64_t segment_min_size = std::uint64_t{4} << 20;
};

class CurlTransfer final : public engine::TransferPort {
 public:
  using EventCallback = std::function<void(engine::TransferEvent)>;

  using Options = CurlTransferOptions;

  /// Starts the transfer thread. Throws std::runtime_error if libcurl cannot create a multi
  /// handle (out of memory).
  explicit CurlTransfer(EventCallback on_event, Options options = {});
  /// Stops every transfer (staging files synced and closed, no events) and joins the thread.
  ~CurlTransfer() override;
  CurlTransfer(const CurlTransfer&) = delete;
  CurlTransfer& operator=(const CurlTransfer&) = delete;

  /// Queues the transfer. A transfer already running for the same job is stopped first,
  /// silently. Every outcome, set-up failures included, arrives as events tagged with
  /// request.transfer_id; the last one is FileDone or Failed (unless stop() comes first),
  /// except that a FileDone with durable=false is followed by exactly one Synced, even after
  /// stop() or a later start() for the job (not if this object is destroyed first: the
  /// engine then still holds the file's last checkpoint, and a restart refetches from it;
  /// flush_final_syncs() before shutting down avoids that).
  /// Connected is sent when a response is accepted and again after a restart, with the
  /// version's validators; Failed always carries the durable byte count (durable = true).
  void start(const engine::TransferRequest& request) override;
  /// Blocks until the job's transfer, if any, is gone: handle removed, staging file
  /// fdatasync'ed and closed, and no event for it will follow. Returns the staging file's
  /// durable byte count, or nullopt if nothing was running for the job.
  std::optional<std::uint64_t> stop(const JobId& job) override;
  /// Changes the receive-rate cap of the job's running transfer (0 = unlimited).
  void set_rate_limit(const JobId& job, std::uint64_t max_recv_bps) override;
  /// Blocks until the final sync of every file whose FileDone is out has run and its Synced
  /// has been emitted: the transfer thread queues a marker behind those syncs and the syncer,
  /// working in order, reaches it last.
  void flush_final_syncs() override;

 private:
  class Loop;
  std::unique_ptr<Loop> loop_;
};

}  // namespace bgcopy::transfer
