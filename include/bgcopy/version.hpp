// Version of the bgcopy client library. The compile-time macros describe the headers an
// application was built against; library_version() describes the libbgcopy it runs with.
#pragma once

#include <bgcopy/export.hpp>

// Kept equal to project(bgcopy VERSION ...) in the top-level CMakeLists.txt; configure fails
// when they drift apart.
#define BGCOPY_VERSION_MAJOR 0
#define BGCOPY_VERSION_MINOR 1
#define BGCOPY_VERSION_PATCH 0
#define BGCOPY_VERSION_STRING "0.1.0"
/// MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons.
#define BGCOPY_VERSION_NUMBER \
  (BGCOPY_VERSION_MAJOR * 10000 + BGCOPY_VERSION_MINOR * 100 + BGCOPY_VERSION_PATCH)
/// The local API version (the /v1/ in every path) this library speaks.
#define BGCOPY_API_VERSION 1

namespace bgcopy {
inline namespace v0 {

/// "0.1.0": the version of the libbgcopy actually loaded. Thread-safe; never fails.
BGCOPY_API const char* library_version() noexcept;

}  // namespace v0
}  // namespace bgcopy
