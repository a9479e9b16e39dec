#include "base/thread_name.hpp"

#include <pthread.h>

#include <array>

namespace bgcopy {

namespace {
// TASK_COMM_LEN (16) with the terminating NUL.
constexpr std::size_t kMaxName = 15;
}  // namespace

void set_thread_name(std::string_view name) {
  const std::string cut(name.substr(0, kMaxName));
  (void)pthread_setname_np(pthread_self(), cut.c_str());  // ERANGE is excluded by the cut
}

std::string thread_name() {
  std::array<char, kMaxName + 1> buf{};
  if (pthread_getname_np(pthread_self(), buf.data(), buf.size()) != 0) return {};
  return buf.data();
}

}  // namespace bgcopy
