// CACHE_INTERNAL_CHECK: aborts on a broken *internal* invariant of the cache (a bug in
// radixserve, never bad caller input: caller input is answered with absl::Status).
// The vendored Abseil predates absl/log, hence this small local macro.
#pragma once

#include <cstdio>
#include <cstdlib>

#define CACHE_INTERNAL_CHECK(cond)                                              \
  do {                                                                          \
    if (!(cond)) {                                                              \
      std::fprintf(stderr, "%s:%d: cache invariant failed: %s\n", __FILE__,     \
                   __LINE__, #cond);                                            \
      std::abort();                                                             \
    }                                                                           \
  } while (0)
