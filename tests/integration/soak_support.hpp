// What the load and soak tests share: their environment knobs and what counts as a transport
// failure (a call that never got a proper answer from the service).
#pragma once

#include <bgcopy/codes.hpp>

#include <cstdint>
#include <cstdlib>
#include <random>

namespace bgcopy::test {

/// A positive integer from the environment, or fallback.
inline int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  const int n = std::atoi(v);
  return n > 0 ? n : fallback;
}

/// BGCOPY_SOAK_SEED replays a run; otherwise a fresh seed (the tests print it).
inline std::uint64_t seed_from_env() {
  const char* v = std::getenv("BGCOPY_SOAK_SEED");
  if (v != nullptr && *v != '\0') return std::strtoull(v, nullptr, 10);
  return std::random_device{}();
}

/// Codes that say the call never got a proper answer from the service.
inline bool is_transport(Hresult c) {
  return (c & 0xFFFF0000U) == hr::ErrnoBase || c == hr::BgEInvalidServerResponse || c == hr::EFail;
}

}  // namespace bgcopy::test
