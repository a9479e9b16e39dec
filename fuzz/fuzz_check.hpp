// Property checks inside fuzz targets. A violated property is a bug just like a crash, so it
// aborts (libFuzzer then saves the input as crash-<sha1>).
#pragma once

#include <cstdio>
#include <cstdlib>

#define BGCOPY_FUZZ_CHECK(cond)                                                               \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "%s:%d: fuzz property violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (false)
