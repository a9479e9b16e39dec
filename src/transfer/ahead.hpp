// Files fetched ahead of their turn (engine::TransferRequest::ahead): what the transfer thread
// keeps for each until start() asks for it ("adoption"). Pure bookkeeping without I/O;
// curl_transfer.cpp owns the transfers themselves.
//
// Why: a job of many small files spends most of its time waiting on one request at a time.
// Fetching the next few meanwhile (each into its own staging file) turns that wait into
// parallel work, while the engine still sees, records and reports the files one after
// another in the order added, exactly as if each had been fetched when its turn came.
#pragma once

#include "engine/ports.hpp"

#include <cstdint>
#include <vector>

namespace bgcopy::transfer {

/// The events of one file fetched ahead, held back until it is adopted.
class HeldEvents {
 public:
  enum class Verdict : std::uint8_t {
    Keep,    // go on fetching (or keep the finished file) until adopted
    GiveUp,  // drop this fetch; the file is fetched afresh when its turn comes
  };
  /// Holds `ev`; consecutive Progress events collapse into the newest. GiveUp when the fetch
  /// failed (a failure ahead is never replayed: the server gets a fresh try in the file's turn)
  /// or the file turned out larger than `max_bytes` (it waits for its turn, where it may be
  /// segmented and is checkpointed as usual).
  Verdict hold(engine::TransferEvent ev, std::uint64_t max_bytes);
  /// The final sync of the held FileDone(durable=false) ended with `err` (0 = success). On
  /// success that FileDone becomes durable and no Synced will be replayed for it. false when
  /// the sync failed: give the file up.
  bool synced(int err);
  /// A FileDone(durable=false) is held and neither its Synced nor synced() came yet.
  bool sync_pending() const;
  /// The held events, re-labelled with `transfer_id`, in order; the hold is left empty.
  std::vector<engine::TransferEvent> release(std::uint64_t transfer_id);

 private:
  std::vector<engine::TransferEvent> events_;
};

/// Whether two listings name the same fetch: same index, spec, staging name, starting point and
/// validators.
bool same_file(const engine::AheadFile& a, const engine::AheadFile& b);

/// Whether start(`request`) asks for exactly the file `listed` was fetched ahead as.
bool same_file(const engine::AheadFile& listed, const engine::TransferRequest& request);

/// Whether two requests of one job carry the settings that shape a fetch (owner, TLS, proxy,
/// timeouts, rate): files fetched ahead under one are only adopted under an equal other.
bool same_settings(const engine::TransferRequest& a, const engine::TransferRequest& b);

}  // namespace bgcopy::transfer
