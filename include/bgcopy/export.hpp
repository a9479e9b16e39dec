// Symbol visibility for libbgcopy. The library is built with -fvisibility=hidden; everything a
// client may call is marked BGCOPY_API, and nothing else leaves the shared object.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define BGCOPY_API __attribute__((visibility("default")))
#else
#define BGCOPY_API
#endif
