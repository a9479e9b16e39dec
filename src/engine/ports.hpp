// The engine's outside world, as narrow interfaces. store/ implements JobStore, transfer/
// implements TransferPort, fs/ implements StagingPort, the daemon implements EventSink. The
// engine calls them on its own thread; each call returns when its effect is done (or failed).
#pragma once

#include "base/error.hpp"
#include "engine/types.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace bgcopy::engine {

/// Persistence. Every mutating call returns only after the change is committed.
class JobStore {
 public:
  virtual ~JobStore() = default;
  /// Every job the store holds (final jobs are deleted, so never among them).
  virtual Result<std::vector<JobRecord>> load_all() = 0;
  virtual Status insert(const JobRecord& job) = 0;
  /// Replaces the job row and all its file rows.
  virtual Status update(const JobRecord& job) = 0;
  /// Cheap path for progress checkpoints: one file row.
  virtual Status update_file(const JobId& id, std::uint32_t index, const FileRecord& file) = 0;
  virtual Status remove(const JobId& id) = 0;
};

/// A later file of the same job that the transfer may fetch before its turn (see
/// TransferRequest::ahead).
struct AheadFile {
  std::uint32_t file_index = 0;
  FileRecord file;
  std::uint64_t resume_from = 0;
};

/// One file transfer to run: fetch spec.remote_url into the staging file, starting at
/// resume_from bytes of the staging file (validated with the validators if resume_from > 0).
struct TransferRequest {
  JobId job;
  std::uint64_t transfer_id = 0;  // echoed in every event; stale ids are ignored
  std::uint32_t file_index = 0;
  uid_t owner = 0;
  FileRecord file;                 // spec, staging_name, bytes_total, validators
  std::uint64_t resume_from = 0;   // staging bytes already held and durable
  std::uint64_t max_recv_bps = 0;  // 0 = unlimited
  bool tls_verify = true;
  ProxySettings proxy;
  std::uint64_t checkpoint_bytes = 1U << 20;
  std::uint32_t checkpoint_ms = 1000;
  std::uint32_t stall_timeout_s = 60;
  std::uint32_t connect_timeout_s = 30;
  // The job's next files not yet transferred, in order (only for an unthrottled FOREGROUND
  // job): the transfer may fetch them into their staging files meanwhile, with these same
  // settings, but reports nothing about them until start() asks for one of them, and then
  // exactly as if it had been fetched just then (events in order, a failure fetched afresh).
  // A transfer that ignores the list is correct too, only slower for many small files.
  std::vector<AheadFile> ahead;
};

/// What a running transfer reports. Delivered to Engine::on_transfer_event on the engine thread.
struct TransferEvent {
  enum class Kind : std::uint8_t {
    Connected,  // response headers accepted: the job is TRANSFERRING
    Progress,   // bytes_transferred moved; durable=true after the staging file was synced
    Restarted,  // the remote changed (validator/size): the staging file was reset to 0
    FileDone,   // every byte is in the staging file and sha256 matched if given; durable
                // says whether it is synced yet: if not, exactly one Synced follows
    Failed,     // the transfer stopped with error
    Synced,     // the final sync of a FileDone(durable=false) finished (error set if it failed)
  };
  JobId job;
  std::uint64_t transfer_id = 0;
  std::uint32_t file_index = 0;
  Kind kind = Kind::Progress;
  std::uint64_t bytes_transferred = 0;  // staging bytes held
  bool durable = false;
  // Length the staging file will have when complete: the remote size, or for a ranged file
  // the sum of its range lengths (known once an open-ended range met the remote size).
  std::optional<std::uint64_t> bytes_total;
  Validators validators;
  std::optional<std::int64_t> remote_mtime;
  bool verified = false;                       // FileDone with a sha256 that matched
  std::optional<Error> error;                  // Failed
  bool transient = false;                      // Failed: retry later rather than ERROR
  std::optional<std::uint32_t> retry_after_s;  // Failed: server's Retry-After
};

class TransferPort {
 public:
  virtual ~TransferPort() = default;
  /// Starts one file transfer. At most one per job at a time.
  virtual void start(const TransferRequest& request) = 0;
  /// Stops the job's transfer, if any, and returns after its staging file is synced and closed
  /// and no further event for it will be delivered; files fetched ahead are dropped too (their
  /// staging files may hold bytes nobody recorded: the next start of such a file, load() and
  /// cancel deal with that). Returns the durable byte count of the staging file that was being
  /// written, or nullopt if nothing was running.
  virtual std::optional<std::uint64_t> stop(const JobId& job) = 0;
  /// Changes the receive-rate cap of a running transfer (0 = unlimited).
  virtual void set_rate_limit(const JobId& job, std::uint64_t max_recv_bps) = 0;
  /// Returns once every final sync submitted so far (the flush of a file reported FileDone
  /// with durable=false) has run and its Synced event has been delivered. For a clean
  /// shutdown: a file whose flush is recorded is not fetched again after the restart. A port
  /// that syncs every file before FileDone has nothing to wait for.
  virtual void flush_final_syncs() {}
};

/// Staging files and the final rename (fs/).
class StagingPort {
 public:
  virtual ~StagingPort() = default;
  /// Validates a destination at add time: absolute, normalised, parent directory exists and the
  /// owner may write it. E_INVALIDARG or E_ACCESSDENIED (or an errno code) otherwise.
  virtual Status check_destination(uid_t owner, const std::string& local_path) = 0;
  /// How far finalize_all got: files[0, done) are at their final names, durably (their
  /// directories synced); `status` is the failure of files[done] when done < files.size().
  struct Finalized {
    std::size_t done = 0;
    Status status;
  };
  /// For each file in order: set its mtime, sync it, rename it to local_path relative to the
  /// directory descriptor, sync the directory; stops at the first failure. Batched so that a
  /// job of many small files pays a few flushes rather than two per file: every file's
  /// metadata is set before any is synced, and every rename is done before any directory is
  /// synced (once per directory).
  virtual Finalized finalize_all(uid_t owner, std::span<const FileRecord* const> files) = 0;
  /// finalize_all of one file.
  Status finalize(uid_t owner, const FileRecord& file) {
    const FileRecord* one = &file;
    return finalize_all(owner, std::span<const FileRecord* const>(&one, 1)).status;
  }
  /// Deletes the staging file (with the owner's rights); a missing file is success.
  virtual Status remove(uid_t owner, const FileRecord& file) = 0;
  /// Current size of the staging file, or nullopt if it does not exist.
  virtual std::optional<std::uint64_t> staging_size(const FileRecord& file) = 0;
  /// Cuts the staging file to size bytes (used to drop bytes past the last checkpoint).
  virtual Status truncate(uid_t owner, const FileRecord& file, std::uint64_t size) = 0;
};

struct Event {
  enum class Kind : std::uint8_t { JobTransferred, JobError, JobModification, FileTransferred };
  Kind kind = Kind::JobModification;
  JobId job;
  uid_t owner = 0;
  JobState state = JobState::Suspended;
  std::optional<std::uint32_t> file_index;
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  /// Called on the engine thread; must not call back into the engine.
  virtual void on_event(const Event& event) = 0;
};

}  // namespace bgcopy::engine
