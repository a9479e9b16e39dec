#include "base/log.hpp"
#include "engine/engine_internal.hpp"

#include <algorithm>

namespace bgcopy::engine {

// ---------------------------------------------------------------------------------------------
// Transfer events

void Engine::on_transfer_event(const TransferEvent& ev) {
  auto it = jobs_.find(ev.job);
  if (it == jobs_.end()) return;
  Live& job = *it->second;
  JobRecord& r = job.rec;
  if (ev.kind == TransferEvent::Kind::Synced) {
    on_synced(job, ev);  // matched by file, not by the running transfer
    return;
  }
  if (job.transfer_id == 0 || ev.transfer_id != job.transfer_id) return;  // stale
  if (ev.file_index >= r.files.size()) return;
  FileRecord& f = r.files[ev.file_index];
  using Kind = TransferEvent::Kind;
  switch (ev.kind) {
    case Kind::Connected: {
      // For ranged files the transfer reports the sum of the range lengths, which becomes
      // known once an open-ended range meets the remote size.
      if (ev.bytes_total) f.bytes_total = ev.bytes_total;
      f.validators = ev.validators;
      if (ev.remote_mtime) f.remote_mtime = ev.remote_mtime;
      if (r.state == JobState::Connecting) {
        set_state(job, JobState::Transferring);
        r.error.reset();
        emit(job, Event::Kind::JobModification);
      }
      break;
    }
    case Kind::Restarted: {
      f.bytes_transferred = 0;
      job.durable[ev.file_index] = 0;
      f.restarts += 1;
      f.validators = ev.validators;
      if (ev.bytes_total) f.bytes_total = ev.bytes_total;
      log::info("job " + r.id.to_string() + ": " + f.spec.remote_url +
                " changed on the server; restarting it from byte 0 (" +
                hresult_name(hr::BgERemoteFileChanged) + ")");
      touch(job);
      if (auto st = store_.update_file(r.id, ev.file_index, f); !st) {
        log::warn("job " + r.id.to_string() + ": " + st.error().message);
      }
      emit(job, Event::Kind::JobModification);
      break;
    }
    case Kind::Progress: {
      if (ev.bytes_total) f.bytes_total = ev.bytes_total;
      if (ev.bytes_transferred > f.bytes_transferred) {
        // Any byte is progress: the no-progress clock stops.
        r.no_progress_since.reset();
        job.no_progress_due.reset();
      }
      f.bytes_transferred = ev.bytes_transferred;
      touch(job);
      if (ev.durable) {
        job.durable[ev.file_index] = ev.bytes_transferred;
        if (auto st = store_.update_file(r.id, ev.file_index, f); !st) {
          log::warn("job " + r.id.to_string() + ": checkpoint not recorded: " + st.error().message);
        }
      }
      emit(job, Event::Kind::JobModification);
      break;
    }
    case Kind::FileDone: {
      job.transfer_id = 0;
      f.transferred = true;
      f.verified = ev.verified;
      if (ev.bytes_total) f.bytes_total = ev.bytes_total;
      f.bytes_transferred = ev.bytes_transferred;
      if (!f.bytes_total) f.bytes_total = ev.bytes_transferred;
      f.validators = ev.validators;
      if (ev.remote_mtime) f.remote_mtime = ev.remote_mtime;
      r.no_progress_since.reset();
      job.no_progress_due.reset();
      touch(job);
      if (!ev.durable) {
        // Every byte is written and its sync runs elsewhere: the next file starts now rather
        // than after the flush; the file is recorded when Synced says its bytes are durable.
        job.syncing[ev.file_index] = ev.transfer_id;
      } else {
        job.durable[ev.file_index] = ev.bytes_transferred;
        if (auto st = store_.update_file(r.id, ev.file_index, f); !st) {
          // Without a record of the finished file we cannot promise it: treat as a local
          // fault. The file is not transferred until recorded, so the retry records it (its
          // bytes are all durable, so that costs no request) instead of declaring the job
          // TRANSFERRED.
          f.transferred = false;
          f.verified = false;
          enter_transient_error(job, st.error(), std::nullopt);
          break;
        }
      }
      emit(job, Event::Kind::FileTransferred, ev.file_index);
      if (r.current_file() >= r.files.size()) {
        finish_files(job);
      } else {
        start_transfer(job);
      }
      break;
    }
    case Kind::Failed: {
      job.transfer_id = 0;
      // Bytes past the last checkpoint that the transfer did not sync may not survive a crash:
      // keep the durable count (or less, if the transfer discarded data).
      std::uint64_t& held = job.durable[ev.file_index];
      held = ev.durable ? ev.bytes_transferred : std::min(held, ev.bytes_transferred);
      f.bytes_transferred = held;
      Error e = ev.error.value_or(Error::make(hr::EFail, "transfer failed"));
      e.file_index = ev.file_index;
      if (ev.transient && r.settings.no_progress_timeout_s != 0) {
        enter_transient_error(job, std::move(e), ev.retry_after_s);
      } else {
        enter_error(job, std::move(e));
      }
      break;
    }
    case Kind::Synced:
      break;  // handled above
  }
  reindex(job);
  if (ev.kind == Kind::FileDone || ev.kind == Kind::Failed) schedule();
}

void Engine::on_synced(Live& job, const TransferEvent& ev) {
  JobRecord& r = job.rec;
  auto s = job.syncing.find(ev.file_index);
  if (s == job.syncing.end() || s->second != ev.transfer_id) return;  // completed, cancelled
  job.syncing.erase(s);
  FileRecord& f = r.files[ev.file_index];
  Status recorded;
  if (!ev.error) {
    job.durable[ev.file_index] = ev.bytes_transferred;
    recorded = store_.update_file(r.id, ev.file_index, f);
  }
  if (ev.error || !recorded) {
    // Not durable (the sync failed: back to the last checkpoint, ERROR as for any local write
    // failure) or not recorded (TRANSIENT_ERROR, as when FileDone cannot be recorded: the
    // retry records it without a request). Stop first: the running transfer is attributed to
    // current_file(), which is about to move back to this file.
    const bool active = is_active(r.state);
    stop_transfer(job);
    f.transferred = false;
    f.verified = false;
    f.bytes_transferred = job.durable[ev.file_index];
    if (!active) {
      reindex(job);  // suspended (or in error) stays so; its resume fetches the file again
      return;
    }
    if (ev.error) {
      Error e = *ev.error;
      e.file_index = ev.file_index;
      enter_error(job, std::move(e));
    } else {
      enter_transient_error(job, recorded.error(), std::nullopt);
    }
    reindex(job);
    schedule();
    return;
  }
  if (job.syncing.empty() && job.transfer_id == detail::kAwaitingSync) {
    job.transfer_id = 0;
    reindex(job);
    start_transfer(job);  // TRANSFERRED, or a file added meanwhile
    schedule();
  }
}

void Engine::finish_files(Live& job) {
  if (!job.syncing.empty()) {
    job.transfer_id = detail::kAwaitingSync;
    if (job.rec.state != JobState::Transferring) set_state(job, JobState::Transferring);
    reindex(job);
    return;
  }
  job.transfer_id = 0;
  enter_transferred(job);
}

void Engine::enter_transient_error(Live& job, Error error,
                                   std::optional<std::uint32_t> retry_after_s) {
  JobRecord& r = job.rec;
  if (job.transfer_id != 0) stop_transfer(job);
  const MonoTime now = clock_.mono();
  const WallTime wall = clock_.wall();
  set_state(job, JobState::TransientError);
  r.error_count += 1;
  r.error = ErrorInfo{std::move(error)};
  if (!r.no_progress_since) {
    r.no_progress_since = wall;
    job.no_progress_due = now + Seconds(r.settings.no_progress_timeout_s);
  }
  std::uint32_t delay = r.settings.min_retry_delay_s;
  r.retry_after_from_server = false;
  if (retry_after_s && *retry_after_s > delay) {
    delay = *retry_after_s;
    r.retry_after_from_server = true;
  }
  job.retry_due = now + Seconds(delay);
  r.retry_at = wall + Seconds(delay);
  if (job.no_progress_due && *job.no_progress_due <= now) {
    Error last = r.error->error;
    enter_error(job,
                Error{hr::DoEDownloadNoProgress, last.context,
                      "no progress within the no-progress timeout; last error: " +
                          hresult_name(last.code) + ": " + last.message,
                      last.file_index},
                /*count_failure=*/false);  // one failure, already counted
    return;
  }
  reindex(job);
  if (auto st = persist(job); !st) {
    log::warn("job " + r.id.to_string() + ": " + st.error().message);
  }
  emit(job, Event::Kind::JobModification);
}

void Engine::enter_error(Live& job, Error error, bool count_failure) {
  JobRecord& r = job.rec;
  if (job.transfer_id != 0) stop_transfer(job);
  set_state(job, JobState::Error);
  if (count_failure) r.error_count += 1;
  r.error = ErrorInfo{std::move(error)};
  r.retry_at.reset();
  r.retry_after_from_server = false;
  job.retry_due.reset();
  job.no_progress_due.reset();
  reindex(job);
  if (auto st = persist(job); !st) {
    log::warn("job " + r.id.to_string() + ": " + st.error().message);
  }
  emit(job, Event::Kind::JobError);
}

void Engine::enter_transferred(Live& job) {
  JobRecord& r = job.rec;
  set_state(job, JobState::Transferred);
  r.times.transfer_completed = clock_.wall();
  r.error.reset();
  r.no_progress_since.reset();
  job.no_progress_due.reset();
  if (auto st = persist(job); !st) {
    log::warn("job " + r.id.to_string() + ": " + st.error().message);
  }
  emit(job, Event::Kind::JobTransferred);
}

}  // namespace bgcopy::engine
