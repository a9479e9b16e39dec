// The socket API's request handling without the socket: a script of requests runs against a
// real Engine with in-memory ports, each request going through what ApiServer does between
// Beast and the engine: proto::parse_target (percent-decoding, query), split_path and the route
// table of ApiServer::Impl::handle, JobId::parse, strict JSON decoding of the body
// (proto::decode), the conversion to engine types (daemon/convert.cpp) and the engine's own
// validation and state machine. Answers are encoded as the server encodes them and must decode
// back to the same value.
//
// Input: requests separated by lines "===". A request is "METHOD TARGET [UID]" on its first
// line, the body after it. In TARGET, "$N" stands for the id of the N-th job created (ids are
// random, a fuzzer could never guess one). Two pseudo-requests drive the rest of the world:
// "TICK SECONDS" advances the clock and runs the engine's timers, "XFER KIND [BYTES]" reports
// connected|progress|done|failed|transient|restarted for the transfer started last.
#include "daemon/convert.hpp"
#include "engine/engine.hpp"
#include "fuzz_check.hpp"
#include "proto/api.hpp"
#include "proto/json.hpp"

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace bgcopy;
namespace eng = bgcopy::engine;

class MemoryStore final : public eng::JobStore {
 public:
  Result<std::vector<eng::JobRecord>> load_all() override { return std::vector<eng::JobRecord>{}; }
  Status insert(const eng::JobRecord&) override { return {}; }
  Status update(const eng::JobRecord&) override { return {}; }
  Status update_file(const JobId&, std::uint32_t, const eng::FileRecord&) override { return {}; }
  Status remove(const JobId&) override { return {}; }
};

class RecordingTransfer final : public eng::TransferPort {
 public:
  std::optional<eng::TransferRequest> last;
  void start(const eng::TransferRequest& request) override { last = request; }
  std::optional<std::uint64_t> stop(const JobId&) override { return std::nullopt; }
  void set_rate_limit(const JobId&, std::uint64_t) override {}
};

class NullStaging final : public eng::StagingPort {
 public:
  Status check_destination(uid_t, const std::string&) override { return {}; }
  Finalized finalize_all(uid_t, std::span<const eng::FileRecord* const> files) override {
    return Finalized{files.size(), {}};
  }
  Status remove(uid_t, const eng::FileRecord&) override { return {}; }
  std::optional<std::uint64_t> staging_size(const eng::FileRecord&) override {
    return std::nullopt;
  }
  Status truncate(uid_t, const eng::FileRecord&, std::uint64_t) override { return {}; }
};

class NullEvents final : public eng::EventSink {
 public:
  void on_event(const eng::Event&) override {}
};

std::uint64_t number(std::string_view text) {
  std::uint64_t v = 0;
  (void)std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

// Splits off the first space-separated word.
std::string_view word(std::string_view& line) {
  while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  const auto sp = line.find(' ');
  const std::string_view w = line.substr(0, sp);
  line.remove_prefix(sp == std::string_view::npos ? line.size() : sp);
  return w;
}

// Encode, decode, encode: what the server sends, the client must read back unchanged (compared
// as text, since not every request type has operator==).
template <class T>
void check_round_trip(const T& value) {
  const std::string text = proto::dump(proto::to_json(value));
  T back{};
  const auto st = proto::decode(text, back);
  BGCOPY_FUZZ_CHECK(st.ok());
  BGCOPY_FUZZ_CHECK(proto::dump(proto::to_json(back)) == text);
}

struct World {
  ManualClock clock;
  MemoryStore store;
  RecordingTransfer transfer;
  NullStaging staging;
  NullEvents events;
  eng::Engine engine{eng::EngineConfig{}, clock, store, transfer, staging, events};
  std::vector<std::string> ids;  // created jobs, for "$N"

  void answer(const eng::JobView& view) { check_round_trip(daemon::to_public(view, "user")); }

  // ApiServer::Impl::handle, with host.call(...) replaced by a direct call.
  void handle(std::string_view method, const proto::Target& target, std::string_view body,
              eng::Caller caller) {
    const auto seg = proto::split_path(target.path);
    if (seg.size() < 2 || seg[0] != "v1") return;
    if (seg[1] == "health" && seg.size() == 2) return;
    if (seg[1] != "jobs") return;
    if (seg.size() == 2) {
      if (method == "GET") {
        const auto all = target.param(proto::route::kAllUsersParam);
        if (auto views = engine.enum_jobs(caller, all.has_value())) {
          for (const auto& v : *views) answer(v);
        }
      } else if (method == "POST") {
        proto::CreateJobRequest req;
        if (!proto::decode(body.empty() ? std::string_view("{}") : body, req)) return;
        check_round_trip(req);
        auto id = engine.create_job(caller, req.display_name, daemon::to_engine(req.type));
        if (!id) return;
        ids.push_back(id->to_string());
        // As the daemon: every step or, on a failure, no job.
        bool whole = true;
        if (req.priority) {
          eng::SettingsPatch p;
          p.priority = daemon::to_engine(*req.priority);
          whole = engine.set_settings(caller, *id, p).ok();
        }
        if (whole && !req.files.empty()) {
          std::vector<eng::FileSpec> specs;
          for (const auto& f : req.files) specs.push_back(daemon::to_engine(f));
          whole = engine.add_files(caller, *id, std::move(specs)).ok();
        }
        if (whole && req.resume) whole = engine.resume(caller, *id).ok();
        if (!whole) (void)engine.cancel(caller, *id);
      }
      return;
    }
    if (seg.size() > 4) return;
    auto parsed = JobId::parse(seg[2]);
    if (!parsed) return;
    const JobId id = *parsed;
    BGCOPY_FUZZ_CHECK(JobId::parse(id.to_string()) == id);
    if (seg.size() == 3) {
      if (method == "PATCH") {
        JobSettingsPatch patch;
        if (!proto::decode(body, patch)) return;
        check_round_trip(patch);
        (void)engine.set_settings(caller, id, daemon::to_engine(patch));
      }
    } else if (seg[3] == proto::route::kFiles && method == "POST") {
      proto::AddFilesRequest req;
      if (!proto::decode(body, req)) return;
      check_round_trip(req);
      std::vector<eng::FileSpec> specs;
      for (const auto& f : req.files) specs.push_back(daemon::to_engine(f));
      (void)engine.add_files(caller, id, std::move(specs));
    } else if (seg[3] == proto::route::kError) {
      if (auto err = engine.get_error(caller, id)) {
        if (auto view = engine.get_job(caller, id)) {
          check_round_trip(daemon::to_public(*err, view->record.files));
        }
      }
    } else if (method == "POST") {
      const std::string_view sub = seg[3];
      if (sub == proto::route::kResume) (void)engine.resume(caller, id);
      if (sub == proto::route::kSuspend) (void)engine.suspend(caller, id);
      if (sub == proto::route::kCancel) (void)engine.cancel(caller, id);
      if (sub == proto::route::kComplete) (void)engine.complete(caller, id);
      if (sub == proto::route::kTakeOwnership) (void)engine.take_ownership(caller, id);
    }
    if (auto view = engine.get_job(caller, id)) answer(*view);
  }

  void report(std::string_view kind, std::uint64_t bytes) {
    if (!transfer.last) return;
    eng::TransferEvent ev;
    ev.job = transfer.last->job;
    ev.transfer_id = transfer.last->transfer_id;
    ev.file_index = transfer.last->file_index;
    ev.bytes_transferred = bytes;
    ev.durable = true;
    if (kind == "connected") {
      ev.kind = eng::TransferEvent::Kind::Connected;
      ev.bytes_total = bytes;
    } else if (kind == "progress") {
      ev.kind = eng::TransferEvent::Kind::Progress;
    } else if (kind == "done") {
      ev.kind = eng::TransferEvent::Kind::FileDone;
      ev.bytes_total = bytes;
    } else if (kind == "restarted") {
      ev.kind = eng::TransferEvent::Kind::Restarted;
      ev.bytes_transferred = 0;
    } else if (kind == "failed" || kind == "transient") {
      ev.kind = eng::TransferEvent::Kind::Failed;
      ev.error = Error::make(hr::EFail, "fuzz");
      ev.transient = kind == "transient";
      ev.retry_after_s = static_cast<std::uint32_t>(bytes);
    } else {
      return;
    }
    engine.on_transfer_event(ev);
  }

  void run(std::string_view request) {
    const auto nl = request.find('\n');
    std::string_view line = request.substr(0, nl);
    const std::string_view body =
        nl == std::string_view::npos ? std::string_view{} : request.substr(nl + 1);
    const std::string_view method = word(line);
    const std::string_view raw_target = word(line);
    const std::string_view uid = word(line);
    if (method == "TICK") {
      clock.advance(std::chrono::seconds(number(raw_target) % (400 * 86400)));
      engine.tick();
      return;
    }
    if (method == "XFER") {
      report(raw_target, number(uid));
      return;
    }
    std::string target;
    for (std::size_t i = 0; i < raw_target.size(); ++i) {
      if (raw_target[i] == '$' && i + 1 < raw_target.size() && raw_target[i + 1] >= '0' &&
          raw_target[i + 1] <= '9') {
        const auto n = static_cast<std::size_t>(raw_target[++i] - '0');
        target += n < ids.size() ? ids[n] : "{00000000-0000-0000-0000-000000000000}";
      } else {
        target += raw_target[i];
      }
    }
    if (target.size() > proto::kMaxTargetBytes || body.size() > proto::kMaxBodyBytes) return;
    auto parsed = proto::parse_target(target);
    if (!parsed) return;
    const eng::Caller caller{uid.empty() ? 1000U : static_cast<uid_t>(number(uid) % 2000)};
    handle(method, *parsed, body, caller);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view script(reinterpret_cast<const char*>(data), size);
  World world;
  if (!world.engine.load()) return 0;
  constexpr std::string_view kSeparator = "\n===\n";
  for (int n = 0; !script.empty() && n < 64; ++n) {
    const auto end = script.find(kSeparator);
    world.run(script.substr(0, end));
    script.remove_prefix(end == std::string_view::npos ? script.size() : end + kSeparator.size());
  }
  return 0;
}
