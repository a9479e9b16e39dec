#include <bgcopy/version.hpp>

namespace bgcopy {
inline namespace v0 {

const char* library_version() noexcept {
  return BGCOPY_VERSION_STRING;
}

}  // namespace v0
}  // namespace bgcopy
