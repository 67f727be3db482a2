// Debug checks of the threading and lifetime rules (docs/architecture.md, "Lifetimes").
//
// PYLON_DCHECK(cond) aborts with the condition, file and line when `cond` is false, in builds
// with PYLON_DEBUG_CHECKS (debug builds, and `make sanitize`, which runs every test with them);
// elsewhere it compiles to nothing, so hot paths may use it freely.
#pragma once

#if !defined(PYLON_DEBUG_CHECKS) && !defined(NDEBUG)
#define PYLON_DEBUG_CHECKS 1
#endif

#if defined(PYLON_DEBUG_CHECKS) && PYLON_DEBUG_CHECKS
#include <cstdio>
#include <cstdlib>
#define PYLON_DCHECK(cond)                                                                  \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: PYLON_DCHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)
#else
#define PYLON_DCHECK(cond) \
  do {                     \
  } while (0 && (cond))
#endif

// The calling thread is `loop`'s own: for members that only the owning loop may touch.
#define PYLON_DCHECK_ON_LOOP(loop) PYLON_DCHECK((loop).in_loop())
