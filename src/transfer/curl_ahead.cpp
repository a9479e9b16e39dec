// Files fetched ahead of their turn (TransferRequest::ahead, ahead.hpp): the part of the
// transfer loop that starts them, holds their events, hands them over when start() asks for
// one, and drops them when the job stops, fails or changes.
#include "transfer/curl_loop.hpp"
#include "transfer/local_source.hpp"

#include <algorithm>
#include <utility>

namespace bgcopy::transfer {

void CurlTransfer::Loop::on_ahead_synced(const Command& c) {
  if (auto adopted = adopted_syncs_.find(c.final_sync->serial); adopted != adopted_syncs_.end()) {
    const std::uint64_t id = adopted->second;
    adopted_syncs_.erase(adopted);
    emit_synced(c, id);
    return;
  }
  Ahead* a = find_ahead(c.job, c.final_sync->file_index, c.final_sync->serial);
  if (a == nullptr) {
    return;  // dropped before anyone asked for it: the engine never heard of this file's bytes
  }
  if (!a->held.synced(c.err)) {
    give_up(c.job, *a);
  }
}

void CurlTransfer::Loop::route(ActiveTransfer& t, engine::TransferEvent ev) {
  if (!t.ahead) {
    if (ev.kind == engine::TransferEvent::Kind::Failed) {
      // The engine asks for no later file before this one succeeds: end those fetched ahead.
      if (auto w = ahead_.find(ev.job); w != ahead_.end()) {
        w->second.drop = true;  // at the sweep: we may be inside another transfer's callback
      }
    }
    emit(std::move(ev));
    return;
  }
  // Nobody records a file fetched ahead, so a crash loses it whole: only files of at most one
  // checkpoint interval (what a crash may cost any file) qualify, and none that would be
  // segmented.
  const std::uint64_t limit =
      std::min(options_.segment_min_size, t.session.request().checkpoint_bytes);
  const JobId job = ev.job;
  Ahead* a = find_ahead(job, ev.file_index, t.serial);
  if (a != nullptr && a->held.hold(std::move(ev), limit) == HeldEvents::Verdict::GiveUp) {
    give_up(job, *a);
  }
}

// Takes over the file if it was fetched ahead for exactly this request: what it held goes out
// now under the request's id, and the fetch (if not finished) carries on as the job's transfer.
// Anything else fetched ahead for this file is ended first: one writer per staging file.
bool CurlTransfer::Loop::adopt(const engine::TransferRequest& request) {
  auto w = ahead_.find(request.job);
  if (w == ahead_.end()) {
    return false;
  }
  if (w->second.drop || !same_settings(w->second.settings, request)) {
    drop_window(request.job);
    return false;
  }
  auto it = w->second.files.find(request.file_index);
  if (it == w->second.files.end()) {
    return false;
  }
  Ahead& a = it->second;
  if (a.gave_up || !a.t || !same_file(a.listed, request)) {
    if (a.t) {
      end_silently(*a.t);
    }
    w->second.files.erase(it);
    return false;
  }
  std::unique_ptr<ActiveTransfer> t = std::move(a.t);
  const bool sync_pending = a.held.sync_pending();
  auto events = a.held.release(request.transfer_id);
  w->second.files.erase(it);
  t->ahead = false;
  t->transfer_id = request.transfer_id;
  t->session.set_transfer_id(request.transfer_id);
  if (sync_pending) {
    adopted_syncs_[t->serial] = request.transfer_id;
  }
  for (auto& ev : events) {
    emit(std::move(ev));
  }
  if (t->session.finished()) {
    drop_legs(*t);
  } else {
    transfers_.emplace(request.job, std::move(t));
  }
  return true;
}

// Makes the job's files fetched ahead match what the engine listed with this start: files no
// longer listed (or listed differently) are ended, new ones started. http(s) only: file://
// sources are local reads with no round trip to hide.
void CurlTransfer::Loop::fill_window(const engine::TransferRequest& request,
                                     std::vector<engine::AheadFile> listed) {
  if (listed.empty()) {
    drop_window(request.job);
    return;
  }
  AheadWindow& w = ahead_[request.job];
  if (w.drop || (!w.files.empty() && !same_settings(w.settings, request))) {
    end_window(w);
    w.files.clear();
    w.gave_up.clear();
    w.drop = false;
  }
  w.settings = request;
  for (auto it = w.files.begin(); it != w.files.end();) {
    const auto l = std::find_if(listed.begin(), listed.end(), [&](const engine::AheadFile& f) {
      return f.file_index == it->first;
    });
    if (l == listed.end() || !same_file(it->second.listed, *l)) {
      if (it->second.t) {
        end_silently(*it->second.t);
      }
      it = w.files.erase(it);
    } else {
      ++it;
    }
  }
  std::erase_if(w.gave_up, [&](std::uint32_t index) { return index <= request.file_index; });
  for (auto& file : listed) {
    if (w.files.contains(file.file_index) || w.gave_up.contains(file.file_index) ||
        is_file_url(file.file.spec.remote_url)) {
      continue;
    }
    start_ahead(w, request, std::move(file));
  }
  if (w.files.empty() && w.gave_up.empty()) {
    ahead_.erase(request.job);
  }
}

void CurlTransfer::Loop::start_ahead(AheadWindow& w, const engine::TransferRequest& base,
                                     engine::AheadFile file) {
  engine::TransferRequest r = base;  // base.ahead is empty
  r.transfer_id = 0;
  r.file_index = file.file_index;
  r.file = file.file;
  r.resume_from = file.resume_from;
  auto t = std::make_unique<ActiveTransfer>(
      r, [this](ActiveTransfer& from, engine::TransferEvent ev) { route(from, std::move(ev)); });
  t->serial = ++next_serial_;
  t->ahead = true;
  arm(*t);
  // Never segmented: files that would be are given up (route()).
  Ahead& a = w.files[file.file_index];
  a.listed = std::move(file);
  a.t = std::move(t);
  ActiveTransfer& ref = *a.t;
  if (!ref.session.open()) {
    return;  // its Failed was held: given up, ended at the sweep
  }
  drive(ref);
}

CurlTransfer::Loop::Ahead* CurlTransfer::Loop::find_ahead(const JobId& job, std::uint32_t index,
                                                          std::uint64_t serial) {
  const auto w = ahead_.find(job);
  if (w == ahead_.end()) {
    return nullptr;
  }
  const auto it = w->second.files.find(index);
  if (it == w->second.files.end() || !it->second.t || it->second.t->serial != serial) {
    return nullptr;
  }
  return &it->second;
}

bool CurlTransfer::Loop::has_other_ahead(const JobId& job, std::uint32_t index) const {
  // The job has other files in its window (running, or finished and waiting for their turn):
  // the engine asks for them next and the window moves on, so more final syncs follow. Only a
  // hint: a wrong guess costs the wait of one gathering (kGatherSyncs). The job's last files
  // are listed with nothing after them, so the window empties and the last sync is not held.
  const auto w = ahead_.find(job);
  if (w == ahead_.end()) {
    return false;
  }
  return std::any_of(w->second.files.begin(), w->second.files.end(), [&](const auto& entry) {
    return entry.first != index && entry.second.t && !entry.second.gave_up;
  });
}

ActiveTransfer* CurlTransfer::Loop::find_serial(const JobId& job, std::uint64_t serial) {
  if (const auto it = transfers_.find(job);
      it != transfers_.end() && it->second->serial == serial) {
    return it->second.get();
  }
  if (const auto w = ahead_.find(job); w != ahead_.end()) {
    for (auto& [index, a] : w->second.files) {
      if (a.t && a.t->serial == serial) {
        return a.t.get();
      }
    }
  }
  return nullptr;
}

void CurlTransfer::Loop::give_up(const JobId& job, Ahead& a) {
  a.gave_up = true;
  if (const auto w = ahead_.find(job); w != ahead_.end()) {
    w->second.gave_up.insert(a.listed.file_index);
  }
}

void CurlTransfer::Loop::end_window(AheadWindow& w) {
  for (auto& [index, a] : w.files) {
    if (a.t) {
      end_silently(*a.t);
    }
  }
}

void CurlTransfer::Loop::drop_window(const JobId& job) {
  if (const auto w = ahead_.find(job); w != ahead_.end()) {
    end_window(w->second);
    ahead_.erase(w);
  }
}

void CurlTransfer::Loop::sweep_ahead() {
  for (auto w = ahead_.begin(); w != ahead_.end();) {
    if (w->second.drop) {
      end_window(w->second);
      w = ahead_.erase(w);
      continue;
    }
    for (auto it = w->second.files.begin(); it != w->second.files.end();) {
      Ahead& a = it->second;
      if (a.gave_up) {
        if (a.t) {
          end_silently(*a.t);
        }
        it = w->second.files.erase(it);
        continue;
      }
      if (a.t && a.t->session.finished()) {
        drop_legs(*a.t);  // kept, finished, until adopted
      }
      ++it;
    }
    ++w;
  }
}

}  // namespace bgcopy::transfer
