/*
** lowram.h: annotations a profiled program records in its lowram trace.
**
**   #include "lowram.h"
**   lowram_param("seq_len", 512);          // an integer parameter of the run
**   lowram_param_str("quant", "q8");       // a string parameter
**   lowram_mark("prefill");                // a phase starts here
**
** Each call is stamped with the trace's global sequence number, so reports
** can say "the peak happened during prefill" and sweeps know which
** parameters each run had. The header is self-contained: a program that
** includes it links and runs without liblowram.so, and then every call is a
** cheap no-op. When the shim is preloaded, the first call finds its entry
** points with dlsym (no link-time dependency, works on glibc and bionic).
**
** Names and string values longer than 255 bytes are cut. The calls are
** thread-safe and never allocate in the caller.
*/
#ifndef LOWRAM_H
#define LOWRAM_H

#include <dlfcn.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Entry points exported by liblowram.so (versioned by name). */
typedef void (*lowram_mark_fn)(const char *name);
typedef void (*lowram_param_fn)(const char *name, int64_t value);
typedef void (*lowram_param_str_fn)(const char *name, const char *value);

/* Looks a shim entry point up once per call site's translation unit. The
** benign race (two threads both looking it up) stores the same value. */
static inline void *lowram__lookup(void **slot, int *done, const char *sym) {
  if (!__atomic_load_n(done, __ATOMIC_ACQUIRE)) {
    void *p = dlsym(RTLD_DEFAULT, sym);
    __atomic_store_n(slot, p, __ATOMIC_RELAXED);
    __atomic_store_n(done, 1, __ATOMIC_RELEASE);
  }
  return __atomic_load_n(slot, __ATOMIC_RELAXED);
}

static inline void lowram_mark(const char *name) {
  static void *fn;
  static int done;
  lowram_mark_fn f = (lowram_mark_fn)lowram__lookup(&fn, &done, "lowram_shim_mark_v1");
  if (f) f(name);
}

static inline void lowram_param(const char *name, int64_t value) {
  static void *fn;
  static int done;
  lowram_param_fn f = (lowram_param_fn)lowram__lookup(&fn, &done, "lowram_shim_param_v1");
  if (f) f(name, value);
}

static inline void lowram_param_str(const char *name, const char *value) {
  static void *fn;
  static int done;
  lowram_param_str_fn f =
      (lowram_param_str_fn)lowram__lookup(&fn, &done, "lowram_shim_param_str_v1");
  if (f) f(name, value);
}

/* Nonzero when the program runs under liblowram.so. */
static inline int lowram_active(void) {
  static void *fn;
  static int done;
  return lowram__lookup(&fn, &done, "lowram_shim_mark_v1") != 0;
}

#ifdef __cplusplus
}
#endif

#endif /* LOWRAM_H */
