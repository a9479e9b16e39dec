#include "daemon/api_server.hpp"

// clang-format off
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>, so it must
// come before any Boost header.
#include <utility>
// clang-format on

#include "base/log.hpp"
#include "base/thread_name.hpp"
#include "daemon/convert.hpp"
#include "daemon/event_feed.hpp"
#include "proto/api.hpp"
#include "proto/job_writer.hpp"
#include "proto/json.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

namespace bgcopy::daemon {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using ErrorCode = boost::system::error_code;
using Executor = net::strand<net::io_context::executor_type>;
using Stream = beast::basic_stream<net::local::stream_protocol, Executor>;
using Request = http::request<http::string_body>;

struct Reply {
  http::status status = http::status::ok;
  std::string body;  // JSON text
  std::vector<std::pair<http::field, std::string>> headers;
  bool close = false;
  // GET /v1/jobs: no body here; session() streams the list (serve_job_list).
  std::optional<proto::Target> job_list;
};

// Jobs per engine call and per chunk of a streamed list: the engine lock is held for one
// batch at a time, and the daemon never holds more than one batch of copies and text.
constexpr std::size_t kListBatch = 256;

Reply json_reply(http::status status, const proto::Json& j) {
  Reply r;
  r.status = status;
  r.body = proto::dump(j);
  r.body += '\n';
  return r;
}

// One job's answer, written directly (proto/job_writer.hpp: the same bytes as dumping its JSON
// tree): most requests answer with a job, and the tree was a large part of their cost.
Reply job_reply(http::status status, const JobInfo& job) {
  Reply r;
  r.status = status;
  proto::append_json(r.body, job);
  r.body += '\n';
  return r;
}

Reply error_reply(const Error& e) {
  return json_reply(static_cast<http::status>(proto::http_status_for(e.code)),
                    proto::error_body(e));
}

// Failures of the HTTP layer itself carry an explicit status.
Reply error_reply(http::status status, Hresult code, std::string message) {
  return json_reply(status, proto::error_body(Error::make(code, std::move(message))));
}

Reply no_route(http::verb method, std::string_view path) {
  std::string shown(path.substr(0, 200));
  return error_reply(http::status::not_found, hresult_from_http(404),
                     "no such endpoint: " + std::string(http::to_string(method)) + " " + shown);
}

Reply bad_method(http::verb method, std::string_view allowed) {
  Reply r = error_reply(http::status::method_not_allowed, hresult_from_http(405),
                        std::string(http::to_string(method)) +
                            " is not allowed here (allowed: " + std::string(allowed) + ")");
  r.headers.emplace_back(http::field::allow, std::string(allowed));
  return r;
}

Result<JobId> parse_job_id(std::string_view text) {
  if (auto id = JobId::parse(text)) {
    return *id;
  }
  std::string shown(text.substr(0, 64));
  return Error::make(hr::EInvalidArg, "not a job id: \"" + shown + "\"");
}

Result<bool> parse_flag(const std::optional<std::string>& value, std::string_view name) {
  if (!value) return false;
  if (value->empty() || *value == "1" || *value == "true" || *value == "yes") return true;
  if (*value == "0" || *value == "false" || *value == "no") return false;
  return Error::make(hr::EInvalidArg, std::string(name) + " must be 1 or 0");
}

bool is_disconnect(const ErrorCode& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
         ec == net::error::operation_aborted || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == net::error::bad_descriptor;
}

void log_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log::error(std::string("api: connection ended by an exception: ") + ex.what());
  } catch (...) {
    log::error("api: connection ended by an unknown exception");
  }
}

// One event-stream subscriber: its feed, and the timer its coroutine sleeps on.
struct Subscriber {
  Subscriber(Executor ex, engine::Caller c, std::optional<JobId> f, std::atomic<std::uint64_t>& seq,
             std::size_t capacity, Millis window)
      : executor(ex), timer(ex), caller(c), filter(f), feed(seq, capacity, window) {}

  Executor executor;
  net::steady_timer timer;  // strand only
  engine::Caller caller;
  std::optional<JobId> filter;
  EventFeed feed;
  bool closed = false;         // strand only: the client went away
  std::array<char, 1> sink{};  // what the client-gone read reads into (nothing, normally)
};

}  // namespace

struct ApiServer::Impl {
  Impl(EngineHost& h, EventHub& e, ApiOptions o)
      : host(h), hub(e), options(std::move(o)), server_name("bgcopyd/" + options.version) {}

  // --- Plumbing ----------------------------------------------------------------------------
  net::awaitable<void> accept_loop();
  net::awaitable<void> session(Stream stream, engine::Caller caller);
  bool admit(uid_t uid);
  void release(uid_t uid);
  net::awaitable<bool> write_reply(Stream& stream, const Reply& reply, bool keep_alive,
                                   unsigned version);
  /// The header of a 200 whose body follows as chunks (net::async_write of http::make_chunk).
  net::awaitable<ErrorCode> write_chunked_header(Stream& stream, std::string_view content_type,
                                                 bool keep_alive, unsigned version);
  net::awaitable<void> serve_events(Stream& stream, engine::Caller caller,
                                    const proto::Target& target, unsigned version);
  net::awaitable<bool> serve_job_list(Stream& stream, engine::Caller caller,
                                      const proto::Target& target, bool keep_alive,
                                      unsigned version);
  void on_engine_event(const engine::Event& ev);

  // --- Routes ------------------------------------------------------------------------------
  Reply handle(http::verb method, const proto::Target& target, const std::string& body,
               engine::Caller caller);
  Reply health(engine::Caller caller) const;
  Reply create_job(const std::string& body, engine::Caller caller);
  Reply get_job(const JobId& id, engine::Caller caller);
  Reply patch_job(const JobId& id, const std::string& body, engine::Caller caller);
  Reply list_files(const JobId& id, engine::Caller caller);
  Reply add_files(const JobId& id, const std::string& body, engine::Caller caller);
  Reply action(const JobId& id, std::string_view what, engine::Caller caller);
  Reply get_error(const JobId& id, engine::Caller caller);
  JobInfo info_of(const engine::JobView& view) {
    return to_public(view, names.name_of(view.record.owner));
  }

  EngineHost& host;
  EventHub& hub;
  const ApiOptions options;
  const std::string server_name;
  UserNames names;

  std::atomic<std::size_t> connections{0};
  std::mutex per_uid_mu;
  std::map<uid_t, std::size_t> per_uid;  // open connections by caller; no zero entries
  // Accept loop only.
  std::uint64_t refused = 0;
  std::chrono::steady_clock::time_point last_refusal_log{};
  std::atomic<std::uint64_t> seq{0};
  std::mutex subs_mu;
  std::vector<std::shared_ptr<Subscriber>> subs;
  std::uint64_t hub_token = 0;
  bool started = false;
  bool stopped = false;
  std::atomic<bool> stopping{false};

  // Declared last so it is destroyed first: coroutine frames it destroys use the members above.
  std::optional<net::io_context> ioc;
  std::optional<net::local::stream_protocol::acceptor> acceptor;
  std::vector<std::thread> threads;
};

// --- Plumbing --------------------------------------------------------------------------------

net::awaitable<void> ApiServer::Impl::accept_loop() {
  for (;;) {
    ErrorCode ec;
    auto socket = co_await acceptor->async_accept(net::make_strand(*ioc),
                                                  net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      if (ec == net::error::operation_aborted || stopping.load()) {
        co_return;
      }
      // EMFILE and friends: back off briefly instead of spinning on the error.
      log::warn("api: accept failed: " + ec.message());
      net::steady_timer pause(co_await net::this_coro::executor, std::chrono::milliseconds(100));
      co_await pause.async_wait(net::redirect_error(net::use_awaitable, ec));
      continue;
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      socket.close(ec);
      continue;
    }
    if (connections.load() >= options.max_connections || !admit(cred.uid)) {
      // At most one line a minute: a connection flood must not become a log flood.
      const auto now = std::chrono::steady_clock::now();
      ++refused;
      if (now - last_refusal_log >= std::chrono::minutes(1)) {
        log::warn("api: connection limit (" + std::to_string(options.max_connections) +
                  " in all, " + std::to_string(options.max_connections_per_uid) +
                  " per user) reached; closed " + std::to_string(refused) + " new connection(s)");
        last_refusal_log = now;
        refused = 0;
      }
      socket.close(ec);
      continue;
    }
    connections.fetch_add(1);
    Stream stream(std::move(socket));
    auto ex = stream.get_executor();
    net::co_spawn(ex, session(std::move(stream), engine::Caller{cred.uid}), log_exception);
  }
}

// Counts the connection against its uid unless that uid already holds its share (system mode:
// in user mode every caller is the same user). Root is only held to the overall cap, so an
// administrator can still get in while a user hoards slots.
bool ApiServer::Impl::admit(uid_t uid) {
  std::lock_guard lock(per_uid_mu);
  std::size_t& n = per_uid[uid];
  if (options.mode == Mode::System && uid != 0 && n >= options.max_connections_per_uid) {
    if (n == 0) per_uid.erase(uid);
    return false;
  }
  ++n;
  return true;
}

void ApiServer::Impl::release(uid_t uid) {
  std::lock_guard lock(per_uid_mu);
  auto it = per_uid.find(uid);
  if (it != per_uid.end() && --it->second == 0) per_uid.erase(it);
}

net::awaitable<bool> ApiServer::Impl::write_reply(Stream& stream, const Reply& reply,
                                                  bool keep_alive, unsigned version) {
  http::response<http::string_body> res{reply.status, version};
  res.set(http::field::server, server_name);
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  for (const auto& [field, value] : reply.headers) res.set(field, value);
  res.body() = reply.body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  ErrorCode ec;
  stream.expires_after(options.write_timeout);
  co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
  stream.expires_never();
  co_return !ec;
}

net::awaitable<ErrorCode> ApiServer::Impl::write_chunked_header(Stream& stream,
                                                                std::string_view content_type,
                                                                bool keep_alive, unsigned version) {
  http::response<http::empty_body> res{http::status::ok, version};
  res.set(http::field::server, server_name);
  res.set(http::field::content_type, beast::string_view(content_type.data(), content_type.size()));
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(keep_alive);
  res.chunked(true);
  http::response_serializer<http::empty_body> serializer{res};
  ErrorCode ec;
  stream.expires_after(options.write_timeout);
  co_await http::async_write_header(stream, serializer,
                                    net::redirect_error(net::use_awaitable, ec));
  co_return ec;
}

net::awaitable<void> ApiServer::Impl::session(Stream stream, engine::Caller caller) {
  struct Count {
    Impl& self;
    uid_t uid;
    ~Count() {
      self.release(uid);
      self.connections.fetch_sub(1);
    }
  } count{*this, caller.uid};

  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(proto::kMaxHeaderBytes));
    parser.body_limit(proto::kMaxBodyBytes);
    ErrorCode ec;
    // One deadline covers waiting for the request, its header and its body.
    stream.expires_after(options.read_timeout);
    co_await http::async_read_header(stream, buffer, parser,
                                     net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      if (ec == http::error::header_limit) {
        co_await write_reply(stream,
                             error_reply(http::status::request_header_fields_too_large,
                                         hr::EInvalidArg, "the header block exceeds 16 KiB"),
                             false, 11);
      } else if (ec == http::error::body_limit) {
        // Beast can already see a chunked body overflow while it reads the header.
        co_await write_reply(stream,
                             error_reply(http::status::payload_too_large, hr::EInvalidArg,
                                         "the request body exceeds 1 MiB"),
                             false, 11);
      } else if (!is_disconnect(ec)) {
        co_await write_reply(stream,
                             error_reply(http::status::bad_request, hr::EInvalidArg,
                                         "malformed HTTP request: " + ec.message()),
                             false, 11);
      }
      co_return;
    }
    const unsigned version = parser.get().version();
    if (!parser.is_done()) {
      const auto length = parser.content_length();
      if (length && *length > proto::kMaxBodyBytes) {
        co_await write_reply(stream,
                             error_reply(http::status::payload_too_large, hr::EInvalidArg,
                                         "the request body exceeds 1 MiB"),
                             false, version);
        co_return;
      }
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, version};
        co_await http::async_write(stream, cont, net::redirect_error(net::use_awaitable, ec));
        if (ec) co_return;
      }
      co_await http::async_read(stream, buffer, parser,
                                net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        if (ec == http::error::body_limit) {
          co_await write_reply(stream,
                               error_reply(http::status::payload_too_large, hr::EInvalidArg,
                                           "the request body exceeds 1 MiB"),
                               false, version);
        } else if (!is_disconnect(ec)) {
          co_await write_reply(stream,
                               error_reply(http::status::bad_request, hr::EInvalidArg,
                                           "malformed HTTP request: " + ec.message()),
                               false, version);
        }
        co_return;
      }
    }
    stream.expires_never();
    const Request& req = parser.get();
    bool keep_alive = req.keep_alive();

    Reply reply;
    std::optional<proto::Target> target;
    if (req.target().size() > proto::kMaxTargetBytes) {
      reply = error_reply(http::status::uri_too_long, hr::EInvalidArg,
                          "the request target exceeds 8 KiB");
      reply.close = true;
    } else if (auto t =
                   proto::parse_target(std::string_view(req.target().data(), req.target().size()));
               !t) {
      reply = error_reply(t.error());
    } else {
      target = std::move(*t);
      if (target->path == proto::route::kEvents) {
        if (req.method() == http::verb::get) {
          log::debug("api: uid " + std::to_string(caller.uid) + " GET " + target->path);
          co_await serve_events(stream, caller, *target, version);
          co_return;
        }
        reply = bad_method(req.method(), "GET");
      } else {
        reply = handle(req.method(), *target, req.body(), caller);
      }
    }
    log::debug("api: uid " + std::to_string(caller.uid) + " " +
               std::string(http::to_string(req.method())) + " " +
               (target ? target->path : std::string("(bad target)")) + " -> " +
               (reply.job_list ? std::string("list")
                               : std::to_string(static_cast<unsigned>(reply.status))));
    keep_alive = keep_alive && !reply.close && !stopping.load();
    const bool written = reply.job_list ? co_await serve_job_list(stream, caller, *reply.job_list,
                                                                  keep_alive, version)
                                        : co_await write_reply(stream, reply, keep_alive, version);
    if (!written || !keep_alive) {
      break;
    }
  }
  ErrorCode ec;
  stream.socket().shutdown(net::socket_base::shutdown_send, ec);
}

// The job list, written as it is read: the ids in list order first (one engine call), then
// kListBatch jobs per engine call and per chunk. With 100,000 jobs, building the whole answer
// first held a copy of every job plus the whole text (about 250 MiB more than the daemon's
// steady size) and the engine lock for the whole copy. The price: a job completed or cancelled
// while the list is written is left out, and one created meanwhile is not in it.
net::awaitable<bool> ApiServer::Impl::serve_job_list(Stream& stream, engine::Caller caller,
                                                     const proto::Target& target, bool keep_alive,
                                                     unsigned version) {
  auto all = parse_flag(target.param(proto::route::kAllUsersParam), proto::route::kAllUsersParam);
  if (!all) co_return co_await write_reply(stream, error_reply(all.error()), keep_alive, version);
  auto ids = host.call([&](engine::Engine& e) { return e.enum_job_ids(caller, *all); });
  if (!ids) co_return co_await write_reply(stream, error_reply(ids.error()), keep_alive, version);

  ErrorCode ec = co_await write_chunked_header(stream, "application/json", keep_alive, version);
  std::string text = "{\"jobs\":[";
  bool first = true;
  const std::span<const JobId> listed(*ids);
  for (std::size_t at = 0; !ec && at < listed.size(); at += kListBatch) {
    if (stopping.load()) co_return false;  // the client sees a cut-off body, never a short list
    const auto batch = listed.subspan(at, std::min(kListBatch, listed.size() - at));
    auto views = host.call([&](engine::Engine& e) { return e.views_of(caller, batch); });
    for (const auto& v : views) {
      if (!first) text += ',';
      first = false;
      proto::append_json(text, info_of(v));
    }
    if (text.empty()) continue;  // every job of the batch went away; an empty chunk would end
    stream.expires_after(options.write_timeout);
    co_await net::async_write(stream, http::make_chunk(net::buffer(text)),
                              net::redirect_error(net::use_awaitable, ec));
    text.clear();
  }
  if (!ec) {
    text += "]}\n";
    stream.expires_after(options.write_timeout);
    co_await net::async_write(stream, http::make_chunk(net::buffer(text)),
                              net::redirect_error(net::use_awaitable, ec));
  }
  if (!ec) {
    co_await net::async_write(stream, http::make_chunk_last(),
                              net::redirect_error(net::use_awaitable, ec));
  }
  stream.expires_never();
  co_return !ec;
}

net::awaitable<void> ApiServer::Impl::serve_events(Stream& stream, engine::Caller caller,
                                                   const proto::Target& target, unsigned version) {
  std::optional<JobId> filter;
  if (auto job = target.param(proto::route::kJobParam)) {
    auto id = parse_job_id(*job);
    Reply failure;
    if (!id) {
      failure = error_reply(id.error());
    } else {
      // Subscribing to a job one may not see fails as reading it would.
      auto view = host.call([&](engine::Engine& e) { return e.get_job(caller, *id); });
      if (!view) failure = error_reply(view.error());
    }
    if (failure.status != http::status::ok) {
      co_await write_reply(stream, failure, false, version);
      co_return;
    }
    filter = *id;
  }

  auto sub = std::make_shared<Subscriber>(stream.get_executor(), caller, filter, seq,
                                          options.event_queue_capacity,
                                          Millis(options.coalesce_window.count()));
  {
    std::lock_guard lock(subs_mu);
    subs.push_back(sub);
  }
  struct Unsubscribe {
    Impl& self;
    const Subscriber* sub;
    ~Unsubscribe() {
      std::lock_guard lock(self.subs_mu);
      std::erase_if(self.subs, [&](const auto& s) { return s.get() == sub; });
    }
  } unsubscribe{*this, sub.get()};

  ErrorCode ec = co_await write_chunked_header(stream, "application/x-ndjson", false, version);
  stream.expires_never();
  if (ec) co_return;

  // The client sends nothing more: a read that completes means it closed (or broke the
  // protocol). A real read, not a wait for readability: under load a readability wait was seen
  // to complete on a fresh stream whose client was alive and silent (about once in 10^4
  // streams), and ending that stream lost the events of the client's reconnect gap. A read
  // retries such a wake-up (EAGAIN) by itself.
  stream.socket().async_read_some(net::buffer(sub->sink), [sub](const ErrorCode&, std::size_t) {
    sub->closed = true;
    sub->timer.cancel();
  });

  bool told_fold = false;
  for (;;) {
    auto batch = sub->feed.take(std::chrono::steady_clock::now());
    if (batch.folds > 0 && !told_fold) {
      told_fold = true;  // once per stream: a slow reader would otherwise flood the log
      log::info("api: event subscriber of uid " + std::to_string(caller.uid) +
                " fell behind; its queued events were folded into one per job");
    }
    if (!batch.events.empty()) {
      std::string text;
      for (const auto& e : batch.events) {
        text += proto::dump(proto::to_json(e));
        text += '\n';
      }
      stream.expires_after(options.write_timeout);
      co_await net::async_write(stream, http::make_chunk(net::buffer(text)),
                                net::redirect_error(net::use_awaitable, ec));
      stream.expires_never();
      if (ec) co_return;
      continue;  // more may have arrived while writing
    }
    if (sub->closed || stopping.load()) break;
    sub->timer.expires_at(batch.next_flush ? *batch.next_flush
                                           : std::chrono::steady_clock::time_point::max());
    co_await sub->timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    if (sub->closed) co_return;
  }
  stream.expires_after(options.write_timeout);
  co_await net::async_write(stream, http::make_chunk_last(),
                            net::redirect_error(net::use_awaitable, ec));
}

void ApiServer::Impl::on_engine_event(const engine::Event& ev) {
  // Engine thread, engine locked: only bookkeeping and posts here.
  JobEvent je;
  je.type = to_public(ev.kind);
  je.job_id = ev.job.to_string();
  je.state = to_public(ev.state);
  je.file_index = ev.file_index;
  je.time = std::chrono::system_clock::now();
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(subs_mu);
  for (const auto& sub : subs) {
    if (!sub->caller.is_root() && sub->caller.uid != ev.owner) continue;
    if (sub->filter && *sub->filter != ev.job) continue;
    if (sub->feed.offer(je, now)) {
      net::post(sub->executor, [sub] { sub->timer.cancel(); });
    }
  }
}

// --- Routes ----------------------------------------------------------------------------------

Reply ApiServer::Impl::handle(http::verb method, const proto::Target& target,
                              const std::string& body, engine::Caller caller) {
  namespace route = proto::route;
  const auto seg = proto::split_path(target.path);
  if (seg.size() < 2 || seg[0] != "v1") {
    return no_route(method, target.path);
  }
  if (seg[1] == "health" && seg.size() == 2) {
    return method == http::verb::get ? health(caller) : bad_method(method, "GET");
  }
  if (seg[1] != "jobs") {
    return no_route(method, target.path);
  }
  if (seg.size() == 2) {
    if (method == http::verb::get) {
      Reply r;
      r.job_list = target;
      return r;
    }
    if (method == http::verb::post) return create_job(body, caller);
    return bad_method(method, "GET, POST");
  }
  if (seg.size() > 4) {
    return no_route(method, target.path);
  }
  if (seg.size() == 4) {
    const std::string_view sub = seg[3];
    const bool known = sub == route::kFiles || sub == route::kResume || sub == route::kSuspend ||
                       sub == route::kCancel || sub == route::kComplete ||
                       sub == route::kTakeOwnership || sub == route::kError;
    if (!known) return no_route(method, target.path);
  }
  auto id = parse_job_id(seg[2]);
  if (!id) {
    return error_reply(id.error());
  }
  if (seg.size() == 3) {
    if (method == http::verb::get) return get_job(*id, caller);
    if (method == http::verb::patch) return patch_job(*id, body, caller);
    return bad_method(method, "GET, PATCH");
  }
  const std::string_view sub = seg[3];
  if (sub == route::kFiles) {
    if (method == http::verb::get) return list_files(*id, caller);
    if (method == http::verb::post) return add_files(*id, body, caller);
    return bad_method(method, "GET, POST");
  }
  if (sub == route::kError) {
    return method == http::verb::get ? get_error(*id, caller) : bad_method(method, "GET");
  }
  return method == http::verb::post ? action(*id, sub, caller) : bad_method(method, "POST");
}

Reply ApiServer::Impl::health(engine::Caller caller) const {
  proto::Health h;
  h.version = options.version;
  h.uid = caller.uid;
  h.mode = std::string(mode_name(options.mode));
  return json_reply(http::status::ok, proto::to_json(h));
}

Reply ApiServer::Impl::create_job(const std::string& body, engine::Caller caller) {
  proto::CreateJobRequest req;
  // An empty body is an empty object: `curl -X POST .../v1/jobs` makes an unnamed job.
  if (auto st = proto::decode(body.empty() ? std::string_view("{}") : body, req); !st) {
    return error_reply(st.error());
  }
  std::vector<engine::FileSpec> specs;
  specs.reserve(req.files.size());
  for (const auto& f : req.files) specs.push_back(to_engine(f));
  // One engine call and one store write: no other call sees the job before it is whole, and
  // after a failure at any step there is no job (Engine::submit_job).
  std::optional<engine::JobPriority> priority;
  if (req.priority) priority = to_engine(*req.priority);
  auto view = host.call([&](engine::Engine& e) {
    return e.submit_job(caller, req.display_name, to_engine(req.type), priority, std::move(specs),
                        req.resume);
  });
  if (!view) return error_reply(view.error());
  Reply r = job_reply(http::status::created, info_of(*view));
  r.headers.emplace_back(http::field::location, proto::job_path(view->record.id.to_string()));
  return r;
}

Reply ApiServer::Impl::get_job(const JobId& id, engine::Caller caller) {
  auto view = host.call([&](engine::Engine& e) { return e.get_job(caller, id); });
  if (!view) return error_reply(view.error());
  return job_reply(http::status::ok, info_of(*view));
}

Reply ApiServer::Impl::patch_job(const JobId& id, const std::string& body, engine::Caller caller) {
  JobSettingsPatch patch;
  if (auto st = proto::decode(body, patch); !st) return error_reply(st.error());
  auto view = host.call([&](engine::Engine& e) -> Result<engine::JobView> {
    if (auto st = e.set_settings(caller, id, to_engine(patch)); !st) {
      return std::move(st).error();
    }
    return e.get_job(caller, id);
  });
  if (!view) return error_reply(view.error());
  return job_reply(http::status::ok, info_of(*view));
}

Reply ApiServer::Impl::list_files(const JobId& id, engine::Caller caller) {
  auto view = host.call([&](engine::Engine& e) { return e.get_job(caller, id); });
  if (!view) return error_reply(view.error());
  proto::FileList list;
  const auto& files = view->record.files;
  list.files.reserve(files.size());
  for (std::size_t i = 0; i < files.size(); ++i) {
    list.files.push_back(to_public(files[i], static_cast<std::uint32_t>(i)));
  }
  return json_reply(http::status::ok, proto::to_json(list));
}

Reply ApiServer::Impl::add_files(const JobId& id, const std::string& body, engine::Caller caller) {
  proto::AddFilesRequest req;
  if (auto st = proto::decode(body, req); !st) return error_reply(st.error());
  std::vector<engine::FileSpec> specs;
  specs.reserve(req.files.size());
  for (const auto& f : req.files) specs.push_back(to_engine(f));
  auto view = host.call([&](engine::Engine& e) -> Result<engine::JobView> {
    if (auto st = e.add_files(caller, id, std::move(specs)); !st) {
      return std::move(st).error();
    }
    return e.get_job(caller, id);
  });
  if (!view) return error_reply(view.error());
  return job_reply(http::status::ok, info_of(*view));
}

Reply ApiServer::Impl::action(const JobId& id, std::string_view what, engine::Caller caller) {
  namespace route = proto::route;
  struct Outcome {
    Hresult code = hr::SOk;
    std::optional<engine::JobView> view;
  };
  auto outcome = host.call([&](engine::Engine& e) -> Result<Outcome> {
    Outcome o;
    if (what == route::kCancel || what == route::kComplete) {
      auto r = what == route::kCancel ? e.cancel(caller, id) : e.complete(caller, id);
      if (!r) return std::move(r).error();
      o.code = *r;
      return o;  // the job is gone
    }
    Status st = what == route::kResume    ? e.resume(caller, id)
                : what == route::kSuspend ? e.suspend(caller, id)
                                          : e.take_ownership(caller, id);
    if (!st) return std::move(st).error();
    auto v = e.get_job(caller, id);
    if (!v) return std::move(v).error();
    o.view = std::move(*v);
    return o;
  });
  if (!outcome) return error_reply(outcome.error());
  proto::ActionResponse res;
  res.result.code = outcome->code;
  if (outcome->view) res.job = info_of(*outcome->view);
  return json_reply(http::status::ok, proto::to_json(res));
}

Reply ApiServer::Impl::get_error(const JobId& id, engine::Caller caller) {
  auto info = host.call([&](engine::Engine& e) -> Result<ErrorInfo> {
    auto err = e.get_error(caller, id);
    if (!err) return std::move(err).error();
    auto view = e.get_job(caller, id);
    if (!view) return std::move(view).error();
    return to_public(*err, view->record.files);
  });
  if (!info) return error_reply(info.error());
  return json_reply(http::status::ok, proto::to_json(*info));
}

// --- ApiServer -------------------------------------------------------------------------------

ApiServer::ApiServer(EngineHost& host, EventHub& hub, ApiOptions options)
    : impl_(std::make_shared<Impl>(host, hub, std::move(options))) {}

ApiServer::~ApiServer() {
  stop();
}

Status ApiServer::start(UniqueFd listening) {
  Impl& s = *impl_;
  if (s.started) {
    return Error::make(hr::EInvalidArg, "the API server is already started");
  }
  s.ioc.emplace(static_cast<int>(std::max(1U, s.options.threads)));
  s.acceptor.emplace(*s.ioc);
  ErrorCode ec;
  s.acceptor->assign(net::local::stream_protocol(), listening.get(), ec);
  if (ec) {
    s.acceptor.reset();
    s.ioc.reset();
    return Error::make(hresult_from_errno(ec.value()),
                       "cannot use the listening socket: " + ec.message());
  }
  listening.release();  // the acceptor owns it now
  s.started = true;
  s.hub_token =
      s.hub.add([impl = impl_.get()](const engine::Event& ev) { impl->on_engine_event(ev); });
  net::co_spawn(*s.ioc, s.accept_loop(), log_exception);
  for (unsigned i = 0; i < std::max(1U, s.options.threads); ++i) {
    s.threads.emplace_back([&s] {
      set_thread_name("bgcopy-api");
      s.ioc->run();
    });
  }
  return {};
}

void ApiServer::stop() {
  Impl& s = *impl_;
  if (!s.started || s.stopped) {
    return;
  }
  s.stopped = true;
  s.stopping.store(true);
  // No engine event may reach a subscriber from here on.
  s.hub.remove(s.hub_token);
  s.ioc->stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  {
    std::lock_guard lock(s.subs_mu);
    s.subs.clear();
  }
  // Closes the listening socket and every connection; abandoned coroutine frames are destroyed
  // with the io_context while everything they refer to is still alive.
  s.acceptor.reset();
  s.ioc.reset();
}

std::size_t ApiServer::connections() const {
  return impl_->connections.load();
}

}  // namespace bgcopy::daemon
