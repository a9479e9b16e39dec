#include "fs/batch_sync.hpp"

#include <linux/magic.h>

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <map>

namespace bgcopy::fs {
namespace {

template <class Call>
int retry_errno(Call call) {
  while (call() != 0) {
    if (errno != EINTR) {
      return errno;
    }
  }
  return 0;
}

// XFS_SUPER_MAGIC is not in linux/magic.h.
constexpr long kXfsMagic = 0x58465342;

}  // namespace

const SyncCalls& system_sync_calls() {
  static const SyncCalls calls{::fsync, ::syncfs, ::fstat, ::fstatfs};
  return calls;
}

bool syncfs_covers_files(long fs_type) {
  switch (fs_type) {
    case EXT4_SUPER_MAGIC:  // also ext2 and ext3
    case kXfsMagic:
    case BTRFS_SUPER_MAGIC:
    case TMPFS_MAGIC:
      return true;
    default:
      return false;
  }
}

std::vector<int> sync_all(std::span<const int> fds, const SyncCalls& calls) {
  std::vector<int> result(fds.size(), 0);
  if (fds.size() < 2) {  // nothing to share a syncfs with: no need to look at the filesystem
    for (std::size_t i = 0; i < fds.size(); ++i) {
      result[i] = retry_errno([&] { return calls.fsync(fds[i]); });
    }
    return result;
  }
  // Files that syncfs may cover, by device; everything else is synced one by one.
  std::map<dev_t, std::vector<std::size_t>> by_device;
  std::vector<std::size_t> one_by_one;
  for (std::size_t i = 0; i < fds.size(); ++i) {
    struct stat st {};
    struct statfs sfs {};
    if (calls.fstat(fds[i], &st) == 0 && calls.fstatfs(fds[i], &sfs) == 0 &&
        syncfs_covers_files(static_cast<long>(sfs.f_type))) {
      by_device[st.st_dev].push_back(i);
    } else {
      one_by_one.push_back(i);
    }
  }
  for (auto& [device, members] : by_device) {
    if (members.size() < 2) {
      one_by_one.push_back(members.front());
      continue;
    }
    const int fd = fds[members.front()];
    if (retry_errno([&] { return calls.syncfs(fd); }) != 0) {
      // Which file failed is unknown: each one's own fsync says.
      one_by_one.insert(one_by_one.end(), members.begin(), members.end());
    }
  }
  for (const std::size_t i : one_by_one) {
    result[i] = retry_errno([&] { return calls.fsync(fds[i]); });
  }
  return result;
}

}  // namespace bgcopy::fs
