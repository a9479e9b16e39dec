#include "fs/paths.hpp"

#include <climits>

namespace bgcopy::fs {
namespace {

constexpr std::size_t kNameMax = 255;

Error invalid(std::string message) {
  return Error::make(hr::EInvalidArg, std::move(message), ErrorContext::LocalFile);
}

bool under(std::string_view path, std::string_view root) {
  return path == root || (path.size() > root.size() && path.substr(0, root.size()) == root &&
                          path[root.size()] == '/');
}

}  // namespace

std::string staging_dir(const std::string& local_path) {
  const auto slash = local_path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  if (slash == 0) {
    return "/";
  }
  return local_path.substr(0, slash);
}

std::string base_name(const std::string& local_path) {
  const auto slash = local_path.rfind('/');
  return slash == std::string::npos ? local_path : local_path.substr(slash + 1);
}

std::string staging_path(const engine::FileRecord& file) {
  auto dir = staging_dir(file.spec.local_path);
  if (dir != "/") {
    dir += '/';
  }
  return dir + file.staging_name;
}

Status check_path_syntax(std::string_view p) {
  const std::string shown(p);
  if (p.empty()) {
    return invalid("local path is empty");
  }
  if (p.find('\0') != std::string_view::npos) {
    return invalid("local path contains a NUL byte");
  }
  if (p.front() != '/') {
    return invalid("local path is not absolute: " + shown);
  }
  if (p.size() >= PATH_MAX) {
    return invalid("local path is too long (" + std::to_string(p.size()) + " bytes)");
  }
  if (p.back() == '/') {
    return invalid("local path ends with '/': " + shown);
  }
  std::size_t pos = 1;
  while (pos <= p.size()) {
    const auto next = p.find('/', pos);
    const auto end = next == std::string_view::npos ? p.size() : next;
    const auto seg = p.substr(pos, end - pos);
    if (seg.empty() || seg == "." || seg == "..") {
      return invalid("local path is not normalised (empty, '.' or '..' segment): " + shown);
    }
    if (next == std::string_view::npos && seg.size() > kNameMax) {
      return invalid("file name is longer than 255 bytes: " + shown);
    }
    pos = end + 1;
  }
  return {};
}

Status check_staging_name(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.size() > kNameMax ||
      name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
    return invalid("invalid staging file name: " + std::string(name));
  }
  return {};
}

bool is_pseudo_fs_path(std::string_view p) {
  return under(p, "/proc") || under(p, "/sys") || under(p, "/dev");
}

}  // namespace bgcopy::fs
