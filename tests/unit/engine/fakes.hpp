// In-memory fakes of the engine's ports (ports.hpp), for driving the engine on a ManualClock.
// Each records what the engine asked of it and can be told to fail.
#pragma once

#include "engine/engine.hpp"
#include "engine/ports.hpp"
#include "engine/types.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace bgcopy::engine {

// Readable names in gtest failure messages (found by ADL).
inline void PrintTo(JobState s, std::ostream* os) {
  *os << to_string(s);
}
inline void PrintTo(JobPriority p, std::ostream* os) {
  *os << to_string(p);
}
inline void PrintTo(WaitReason r, std::ostream* os) {
  *os << to_string(r);
}

}  // namespace bgcopy::engine

namespace bgcopy::engine::test {

/// JobStore over a map. Counts calls; fail_next() makes the next call(s) return an error
/// without changing anything.
class FakeStore final : public JobStore {
 public:
  struct FileWrite {
    JobId id;
    std::uint32_t index = 0;
    FileRecord file;
  };

  std::map<JobId, JobRecord> rows;
  int load_all_calls = 0;
  int insert_calls = 0;
  int update_calls = 0;
  int update_file_calls = 0;
  int remove_calls = 0;
  std::vector<JobRecord> updates;      // every update() received, in order
  std::vector<FileWrite> file_writes;  // every update_file() received, in order

  /// The next `calls` calls (any method) fail with `error` and change nothing.
  void fail_next(Error error, int calls = 1) {
    failure_ = std::move(error);
    fail_remaining_ = calls;
  }
  int mutating_calls() const {
    return insert_calls + update_calls + update_file_calls + remove_calls;
  }

  /// Largest bytes_transferred the store ever received for a file that was not marked
  /// transferred (the engine must only ever hand it durable counts).
  std::uint64_t max_partial_bytes_received(const JobId& id, std::uint32_t index) const {
    std::uint64_t best = 0;
    auto consider = [&](const FileRecord& f) {
      if (!f.transferred && f.bytes_transferred > best) best = f.bytes_transferred;
    };
    for (const auto& u : updates) {
      if (u.id == id && index < u.files.size()) consider(u.files[index]);
    }
    for (const auto& w : file_writes) {
      if (w.id == id && w.index == index) consider(w.file);
    }
    return best;
  }

  Result<std::vector<JobRecord>> load_all() override {
    ++load_all_calls;
    if (auto e = take_failure()) return std::move(*e);
    std::vector<JobRecord> out;
    for (const auto& [id, rec] : rows) out.push_back(rec);
    return out;
  }
  Status insert(const JobRecord& job) override {
    ++insert_calls;
    if (auto e = take_failure()) return std::move(*e);
    EXPECT_EQ(rows.count(job.id), 0U) << "insert of an existing job";
    rows[job.id] = job;
    return {};
  }
  Status update(const JobRecord& job) override {
    ++update_calls;
    if (auto e = take_failure()) return std::move(*e);
    updates.push_back(job);
    rows[job.id] = job;
    return {};
  }
  Status update_file(const JobId& id, std::uint32_t index, const FileRecord& file) override {
    ++update_file_calls;
    if (auto e = take_failure()) return std::move(*e);
    file_writes.push_back(FileWrite{id, index, file});
    auto it = rows.find(id);
    if (it != rows.end() && index < it->second.files.size()) it->second.files[index] = file;
    return {};
  }
  Status remove(const JobId& id) override {
    ++remove_calls;
    if (auto e = take_failure()) return std::move(*e);
    rows.erase(id);
    return {};
  }

 private:
  std::optional<Error> take_failure() {
    if (fail_remaining_ <= 0) return std::nullopt;
    --fail_remaining_;
    return failure_;
  }

  std::optional<Error> failure_;
  int fail_remaining_ = 0;
};

/// TransferPort that runs nothing: it records requests and which jobs are "running".
/// stop() reports durable_on_stop[job] if set, else synced[job]: the request's resume_from,
/// moved on by the test (the fixture does so for every durable Progress it plays).
class FakeTransfer final : public TransferPort {
 public:
  std::vector<TransferRequest> starts;
  std::vector<JobId> stops;
  std::vector<std::pair<JobId, std::uint64_t>> rate_limits;
  std::map<JobId, TransferRequest> running;
  std::map<JobId, std::uint64_t> durable_on_stop;
  std::map<JobId, std::uint64_t> synced;

  void start(const TransferRequest& request) override {
    EXPECT_EQ(running.count(request.job), 0U)
        << "a second transfer started for job " << request.job.to_string();
    starts.push_back(request);
    running[request.job] = request;
    synced[request.job] = request.resume_from;
  }
  std::optional<std::uint64_t> stop(const JobId& job) override {
    stops.push_back(job);
    auto it = running.find(job);
    if (it == running.end()) return std::nullopt;
    auto d = durable_on_stop.find(job);
    std::uint64_t durable = d != durable_on_stop.end() ? d->second : synced[job];
    running.erase(it);
    return durable;
  }
  void set_rate_limit(const JobId& job, std::uint64_t max_recv_bps) override {
    rate_limits.emplace_back(job, max_recv_bps);
  }

  /// The transfer ended by itself (it reported FileDone or Failed).
  void finished(const JobId& job) { running.erase(job); }
  bool is_running(const JobId& job) const { return running.count(job) != 0; }
  std::size_t start_count(const JobId& job) const {
    std::size_t n = 0;
    for (const auto& r : starts) n += r.job == job ? 1 : 0;
    return n;
  }
  std::size_t stop_count(const JobId& job) const {
    std::size_t n = 0;
    for (const auto& j : stops) n += j == job ? 1 : 0;
    return n;
  }
  /// The last request started for job (a default request, with a test failure, if none).
  TransferRequest last_start(const JobId& job) const {
    for (auto it = starts.rbegin(); it != starts.rend(); ++it) {
      if (it->job == job) return *it;
    }
    ADD_FAILURE() << "no transfer was started for job " << job.to_string();
    return TransferRequest{};
  }
  std::optional<std::uint64_t> last_rate_limit(const JobId& job) const {
    for (auto it = rate_limits.rbegin(); it != rate_limits.rend(); ++it) {
      if (it->first == job) return it->second;
    }
    return std::nullopt;
  }
};

/// StagingPort over a map of staging sizes. Every destination is accepted unless listed in
/// destination_errors; finalize/remove fail for the local paths listed in their error maps.
class FakeStaging final : public StagingPort {
 public:
  std::map<std::string, Error> destination_errors;  // local_path -> error
  std::map<std::string, Error> finalize_errors;     // local_path -> error
  std::map<std::string, Error> remove_errors;       // local_path -> error
  std::map<std::string, std::uint64_t> sizes;       // staging_name -> size
  std::vector<std::string> checked;                 // local paths given to check_destination
  std::vector<FileRecord> finalized;
  int finalize_calls = 0;           // batches, not files
  std::vector<FileRecord> removed;  // successful and failed removes
  std::vector<std::pair<FileRecord, std::uint64_t>> truncated;

  Status check_destination(uid_t /*owner*/, const std::string& local_path) override {
    checked.push_back(local_path);
    auto it = destination_errors.find(local_path);
    if (it != destination_errors.end()) return it->second;
    return {};
  }
  Finalized finalize_all(uid_t /*owner*/, std::span<const FileRecord* const> files) override {
    ++finalize_calls;
    Finalized out;
    for (const FileRecord* file : files) {
      auto it = finalize_errors.find(file->spec.local_path);
      if (it != finalize_errors.end()) {
        out.status = it->second;
        return out;
      }
      finalized.push_back(*file);
      sizes.erase(file->staging_name);
      ++out.done;
    }
    return out;
  }
  Status remove(uid_t /*owner*/, const FileRecord& file) override {
    removed.push_back(file);
    auto it = remove_errors.find(file.spec.local_path);
    if (it != remove_errors.end()) return it->second;
    sizes.erase(file.staging_name);
    return {};
  }
  std::optional<std::uint64_t> staging_size(const FileRecord& file) override {
    auto it = sizes.find(file.staging_name);
    if (it == sizes.end()) return std::nullopt;
    return it->second;
  }
  Status truncate(uid_t /*owner*/, const FileRecord& file, std::uint64_t size) override {
    truncated.emplace_back(file, size);
    sizes[file.staging_name] = size;
    return {};
  }

  bool was_finalized(const std::string& local_path) const {
    for (const auto& f : finalized) {
      if (f.spec.local_path == local_path) return true;
    }
    return false;
  }
  bool was_removed(const std::string& local_path) const {
    for (const auto& f : removed) {
      if (f.spec.local_path == local_path) return true;
    }
    return false;
  }
};

/// EventSink that keeps every event.
class RecordingSink final : public EventSink {
 public:
  std::vector<Event> events;

  void on_event(const Event& event) override { events.push_back(event); }

  std::size_t count(Event::Kind kind, const JobId& job) const {
    std::size_t n = 0;
    for (const auto& e : events) n += (e.kind == kind && e.job == job) ? 1 : 0;
    return n;
  }
  std::optional<Event> last_for(const JobId& job) const {
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->job == job) return *it;
    }
    return std::nullopt;
  }
  bool saw_state(const JobId& job, JobState state) const {
    for (const auto& e : events) {
      if (e.job == job && e.state == state) return true;
    }
    return false;
  }
};

}  // namespace bgcopy::engine::test
