// The request/answer verbs: create, add, add-set, resume, suspend, cancel, complete, info,
// files, list, set.
#include "cli/autostart.hpp"
#include "cli/context.hpp"
#include "cli/parse.hpp"
#include "cli/render.hpp"
#include "cli/resolve.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace bgcopy::cli {

// --- Context --------------------------------------------------------------------------------

Result<Manager> Context::manager() {
  if (manager_) {
    return *manager_;
  }
  ConnectOptions options;
  options.socket_path = global_.socket;
  options.system = global_.system;
  const char* no_autostart = std::getenv("BGCOPY_NO_AUTOSTART");
  const bool autostart =
      !global_.system && !(no_autostart != nullptr && std::string_view(no_autostart) == "1");
  auto connected =
      connect_with_autostart(options, autostart, io_.self_exe, std::chrono::seconds(10));
  if (!connected) {
    return connected;
  }
  manager_ = *connected;
  return *manager_;
}

Result<Job> Context::resolve(std::string_view ref) {
  auto mgr = manager();
  if (!mgr) {
    return std::move(mgr).status();
  }
  std::optional<Status> by_id_failure;
  if (auto guid = canonical_guid(ref)) {
    auto job = mgr->get_job(*guid);
    if (job || job.code() != hr::DoEJobNotFound) {
      return job;
    }
    by_id_failure = std::move(job).status();  // maybe it is a name that looks like an id
  }
  auto jobs = mgr->enum_jobs(false);
  if (!jobs) {
    return std::move(jobs).status();
  }
  auto id = resolve_by_name(ref, *jobs);
  if (!id) {
    if (by_id_failure && id.code() == hr::DoEJobNotFound) {
      return Status(hr::DoEJobNotFound,
                    "no job with the id or name '" + printable(ref.substr(0, 120)) + "'");
    }
    return std::move(id).status();
  }
  return mgr->get_job(*id);
}

int Context::fail(std::string_view what, const Status& status) {
  io_.out.flush();
  io_.err << "bgcopy: " << what << " failed: " << hresult_hex(status.code()) << ' '
          << hresult_name(status.code());
  const std::string message =
      status.message().empty() ? hresult_message(status.code()) : status.message();
  io_.err << ": " << printable(message) << '\n';
  io_.err.flush();
  return kExitFailure;
}

int Context::usage(std::string_view verb, std::string_view message) {
  io_.err << "bgcopy" << (verb.empty() ? "" : " ") << verb << ": " << message << '\n'
          << "Run 'bgcopy" << (verb.empty() ? "" : " ") << verb << " --help' for usage.\n";
  io_.err.flush();
  return kExitUsage;
}

void Context::note_partial(std::string_view what, const Status& status) {
  if (status.ok() && status.code() != hr::SOk) {
    io_.err << "bgcopy: " << what << ": " << hresult_hex(status.code()) << ' '
            << hresult_name(status.code()) << ": "
            << printable(status.message().empty() ? hresult_message(status.code())
                                                  : status.message())
            << '\n';
  }
}

// --- Verbs ----------------------------------------------------------------------------------

int cmd_create(Context& ctx, const CreateArgs& args) {
  auto type = parse_type_arg(args.type);
  if (!type) {
    return ctx.usage("create", "--type: " + type.message());
  }
  auto priority = parse_priority_arg(args.priority);
  if (!priority) {
    return ctx.usage("create", "--priority: " + priority.message());
  }
  auto mgr = ctx.manager();
  if (!mgr) {
    return ctx.fail("create", mgr.status());
  }
  auto job = mgr->create_job(args.name, *type, *priority);
  if (!job) {
    return ctx.fail("create", job.status());
  }
  ctx.io().out << job->id() << '\n';
  return kExitOk;
}

int cmd_add(Context& ctx, const AddArgs& args) {
  FileSpec spec;
  spec.remote_url = args.url;
  spec.local_path = absolute_path(args.local_path, ctx.io().cwd);
  if (args.has_sha256) {
    auto sha = parse_sha256(args.sha256);
    if (!sha) {
      return ctx.usage("add", "--sha256: " + sha.message());
    }
    spec.sha256 = *sha;
  }
  if (args.has_ranges) {
    auto ranges = parse_range_list(args.ranges);
    if (!ranges) {
      return ctx.usage("add", "--range: " + ranges.message());
    }
    spec.ranges = std::move(*ranges);
  }
  auto job = ctx.resolve(args.job);
  if (!job) {
    return ctx.fail("add", job.status());
  }
  if (auto s = job->add_file(spec); !s) {
    return ctx.fail("add", s);
  }
  return kExitOk;
}

int cmd_add_set(Context& ctx, const std::string& job_ref, const std::string& list_file) {
  std::string text;
  if (list_file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    errno = 0;
    std::ifstream in(list_file, std::ios::binary);
    if (!in) {
      const int err = errno != 0 ? errno : ENOENT;
      return ctx.fail("add-set", Status(hresult_from_errno(err),
                                        "cannot read " + list_file + ": " + std::strerror(err)));
    }
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) {
      return ctx.fail("add-set", Status(hresult_from_errno(EIO), "cannot read " + list_file));
    }
  }
  auto files = parse_file_set(text, list_file == "-" ? "<stdin>" : list_file);
  if (!files) {
    return ctx.fail("add-set", files.status());
  }
  auto job = ctx.resolve(job_ref);
  if (!job) {
    return ctx.fail("add-set", job.status());
  }
  if (auto s = job->add_file_set(*files); !s) {
    return ctx.fail("add-set", s);
  }
  return kExitOk;
}

int cmd_action(Context& ctx, std::string_view verb, const std::string& job_ref) {
  auto job = ctx.resolve(job_ref);
  if (!job) {
    return ctx.fail(verb, job.status());
  }
  Status s;
  if (verb == "resume") {
    s = job->resume();
  } else if (verb == "suspend") {
    s = job->suspend();
  } else if (verb == "cancel") {
    s = job->cancel();
  } else {
    s = job->complete();
  }
  if (!s) {
    return ctx.fail(verb, s);
  }
  ctx.note_partial(verb, s);
  return kExitOk;
}

int cmd_info(Context& ctx, const std::string& job_ref, bool json) {
  auto job = ctx.resolve(job_ref);
  if (!job) {
    return ctx.fail("info", job.status());
  }
  auto info = job->info();
  if (!info) {
    return ctx.fail("info", info.status());
  }
  if (json) {
    ctx.io().out << to_json_string(*info, ctx.json_indent()) << '\n';
  } else {
    ctx.io().out << render_info(*info, std::chrono::system_clock::now());
  }
  return kExitOk;
}

int cmd_files(Context& ctx, const std::string& job_ref, bool json) {
  auto job = ctx.resolve(job_ref);
  if (!job) {
    return ctx.fail("files", job.status());
  }
  auto files = job->enum_files();
  if (!files) {
    return ctx.fail("files", files.status());
  }
  if (json) {
    ctx.io().out << to_json_string(*files, ctx.json_indent()) << '\n';
  } else {
    ctx.io().out << render_files(*files);
  }
  return kExitOk;
}

int cmd_list(Context& ctx, bool all_users, bool json) {
  auto mgr = ctx.manager();
  if (!mgr) {
    return ctx.fail("list", mgr.status());
  }
  if (json && ctx.json_indent() < 0) {
    // Compact JSON is what the service already wrote: pass it on rather than decode and
    // re-encode it (100,000 jobs: ~90 MB).
    auto text = mgr->enum_jobs_json(all_users);
    if (!text) {
      return ctx.fail("list", text.status());
    }
    ctx.io().out << *text << '\n';
    return kExitOk;
  }
  auto jobs = mgr->enum_jobs(all_users);
  if (!jobs) {
    return ctx.fail("list", jobs.status());
  }
  if (json) {
    ctx.io().out << to_json_string(*jobs, ctx.json_indent()) << '\n';
  } else {
    ctx.io().out << render_list(*jobs);
  }
  return kExitOk;
}

int cmd_set(Context& ctx, const SetArgs& args) {
  auto patch = parse_setting(args.key, args.values);
  if (!patch) {
    return ctx.usage("set", patch.message());
  }
  auto job = ctx.resolve(args.job);
  if (!job) {
    return ctx.fail("set", job.status());
  }
  if (auto s = job->set(*patch); !s) {
    return ctx.fail("set", s);
  }
  return kExitOk;
}

}  // namespace bgcopy::cli
