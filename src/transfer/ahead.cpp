#include "transfer/ahead.hpp"

#include <algorithm>
#include <utility>

namespace bgcopy::transfer {

using Kind = engine::TransferEvent::Kind;

HeldEvents::Verdict HeldEvents::hold(engine::TransferEvent ev, std::uint64_t max_bytes) {
  if (ev.kind == Kind::Failed) {
    return Verdict::GiveUp;
  }
  const bool too_large =
      (ev.bytes_total && *ev.bytes_total > max_bytes) || ev.bytes_transferred > max_bytes;
  if (ev.kind == Kind::Progress && !events_.empty() && events_.back().kind == Kind::Progress) {
    events_.back() = std::move(ev);
  } else {
    events_.push_back(std::move(ev));
  }
  return too_large ? Verdict::GiveUp : Verdict::Keep;
}

bool HeldEvents::synced(int err) {
  if (err != 0) {
    return false;
  }
  for (auto& ev : events_) {
    if (ev.kind == Kind::FileDone) {
      ev.durable = true;
    }
  }
  return true;
}

bool HeldEvents::sync_pending() const {
  const auto done = std::find_if(events_.begin(), events_.end(),
                                 [](const auto& ev) { return ev.kind == Kind::FileDone; });
  if (done == events_.end() || done->durable) {
    return false;
  }
  return std::none_of(done, events_.end(), [](const auto& ev) { return ev.kind == Kind::Synced; });
}

std::vector<engine::TransferEvent> HeldEvents::release(std::uint64_t transfer_id) {
  std::vector<engine::TransferEvent> out = std::move(events_);
  events_.clear();
  for (auto& ev : out) {
    ev.transfer_id = transfer_id;
  }
  return out;
}

bool same_file(const engine::AheadFile& a, const engine::AheadFile& b) {
  return a.file_index == b.file_index && a.resume_from == b.resume_from &&
         a.file.spec == b.file.spec && a.file.staging_name == b.file.staging_name &&
         a.file.validators == b.file.validators;
}

bool same_file(const engine::AheadFile& listed, const engine::TransferRequest& request) {
  return same_file(listed,
                   engine::AheadFile{request.file_index, request.file, request.resume_from});
}

bool same_settings(const engine::TransferRequest& a, const engine::TransferRequest& b) {
  return a.job == b.job && a.owner == b.owner && a.max_recv_bps == b.max_recv_bps &&
         a.tls_verify == b.tls_verify && a.proxy == b.proxy &&
         a.checkpoint_bytes == b.checkpoint_bytes && a.checkpoint_ms == b.checkpoint_ms &&
         a.stall_timeout_s == b.stall_timeout_s && a.connect_timeout_s == b.connect_timeout_s;
}

}  // namespace bgcopy::transfer
