#include "daemon/service.hpp"

#include "fs/local_staging.hpp"
#include "store/sqlite_job_store.hpp"
#include "transfer/curl_transfer.hpp"

#include <sys/file.h>
#include <sys/stat.h>

#include <fcntl.h>

#include <cerrno>

namespace bgcopy::daemon {

Result<std::unique_ptr<Service>> Service::open(const ServiceOptions& options) {
  if (options.state_dir.empty()) {
    return Error::make(hr::EInvalidArg, "no state directory given");
  }
  if (::mkdir(options.state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error::from_errno(errno, "cannot create state directory " + options.state_dir);
  }
  std::unique_ptr<Service> s(new Service());
  std::string lock_path = options.state_dir + "/bgcopyd.lock";
  s->lock_fd_.reset(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!s->lock_fd_.valid()) {
    return Error::from_errno(errno, "cannot open " + lock_path);
  }
  if (::flock(s->lock_fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    return Error::make(hr::EFail,
                       "another bgcopyd already uses state directory " + options.state_dir);
  }
  auto store = store::SqliteJobStore::open(options.state_dir + "/bgcopy.db");
  if (!store) return std::move(store).error();
  s->store_ = std::move(store).value();
  s->staging_ = std::make_unique<fs::LocalStaging>();
  Service* raw = s.get();
  // Transfer events arrive on the curl thread; the host queues them for the engine thread.
  transfer::CurlTransferOptions transfer_options;
  transfer_options.connections_per_file = options.connections_per_file;
  transfer_options.segment_min_size = options.segment_min_size;
  s->transfer_ = std::make_unique<transfer::CurlTransfer>(
      [raw](engine::TransferEvent ev) { raw->host_->post(std::move(ev)); }, transfer_options);
  s->host_ = std::make_unique<EngineHost>(options.config, s->clock_, *s->store_, *s->transfer_,
                                          *s->staging_, s->hub_);
  BGCOPY_TRY(s->host_->start());
  return s;
}

void Service::stop() {
  if (host_) host_->stop();
}

Service::~Service() {
  stop();
  transfer_.reset();  // joins the curl thread before the host it posts to goes away
  host_.reset();
}

}  // namespace bgcopy::daemon
