#include "base/thread_name.hpp"

#include <gtest/gtest.h>
#include <sys/syscall.h>

#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

namespace bgcopy {
namespace {

// What `top -H` and `ps -L` show: the kernel's comm of this thread.
std::string comm_of_this_thread() {
  std::ifstream in("/proc/self/task/" + std::to_string(::syscall(SYS_gettid)) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

TEST(ThreadName, NamesOnlyTheCallingThread) {
  const std::string main_before = thread_name();
  std::string seen;
  std::string comm;
  std::thread t([&] {
    set_thread_name("bgcopy-test");
    seen = thread_name();
    comm = comm_of_this_thread();
  });
  t.join();
  EXPECT_EQ(seen, "bgcopy-test");
  EXPECT_EQ(comm, "bgcopy-test");
  EXPECT_EQ(thread_name(), main_before);
}

TEST(ThreadName, ALongNameIsCutToFifteenBytes) {
  std::string seen;
  std::thread t([&] {
    set_thread_name("bgcopy-a-name-longer-than-fifteen");
    seen = thread_name();
  });
  t.join();
  EXPECT_EQ(seen, "bgcopy-a-name-l");
}

}  // namespace
}  // namespace bgcopy
