// Names the calling thread, so that `top -H`, `ps -L`, perf, gdb and /proc/PID/task/*/comm tell
// bgcopyd's threads apart (the curl thread, the syncer, the engine, the API threads) instead of
// showing the process name for all of them.
#pragma once

#include <string>
#include <string_view>

namespace bgcopy {

/// Sets the calling thread's name; the kernel keeps 15 bytes, so a longer name is cut. Best
/// effort: a failure changes nothing else.
void set_thread_name(std::string_view name);

/// The calling thread's name as the kernel holds it ("" if it cannot be read).
std::string thread_name();

}  // namespace bgcopy
