// Deadline-bounded polling: the only way test code may wait for something to happen.
#pragma once

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

namespace bgcopy::test {

using namespace std::chrono_literals;

/// Factor from BGCOPY_TEST_TIMEOUT_MULTIPLIER (a positive decimal such as "3" or "2.5"),
/// or 1 when unset or unparsable. Sanitizer runs set it so deadlines stretch with the build.
inline double timeout_multiplier() {
  const char* text = std::getenv("BGCOPY_TEST_TIMEOUT_MULTIPLIER");
  if (text == nullptr || *text == '\0') {
    return 1.0;
  }
  char* end = nullptr;
  double value = std::strtod(text, &end);
  return (end != text && *end == '\0' && value > 0) ? value : 1.0;
}

/// A deadline stretched by timeout_multiplier().
inline std::chrono::milliseconds scaled(std::chrono::milliseconds deadline) {
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(
      static_cast<double>(deadline.count()) * timeout_multiplier()));
}

/// Calls cond every `poll` until it returns true (-> true) or scaled(deadline) has passed
/// (-> false, after one last check). cond runs on the calling thread.
inline bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds deadline,
                       std::chrono::milliseconds poll = 10ms) {
  const auto end = std::chrono::steady_clock::now() + scaled(deadline);
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= end) {
      return cond();
    }
    std::this_thread::sleep_for(poll);
  }
  return true;
}

}  // namespace bgcopy::test
