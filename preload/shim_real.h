/*
** shim_real.h: the functions the shim interposes (LR_HOOKS, each listed
** once) and lr_real, the table of the real entry points behind them, found
** by dlsym(RTLD_NEXT) at the first hook call (lr_shim_resolve, shim.c).
** Included by the files that define hooks; every one of them starts with
** "#undef _FILE_OFFSET_BITS" (the hooks must define the plain symbols, mmap
** not mmap64: meson's default -D_FILE_OFFSET_BITS=64 would rename them).
** Not a public interface.
*/
#ifndef LR_SHIM_REAL_H
#define LR_SHIM_REAL_H

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

#include "shim_internal.h"

/* pvalloc is glibc's alone; mmap64 is glibc's and bionic's (bionic LP64
** has no valloc either: its hook falls back to memalign). */
#ifdef __GLIBC__
#define LR_HOOK_PVALLOC(X) X(void *, pvalloc, (size_t))
#else
#define LR_HOOK_PVALLOC(X)
#endif
#if defined(__GLIBC__) || defined(__BIONIC__)
#define LR_HAVE_MMAP64 1
#define LR_HOOK_MMAP64(X) X(void *, mmap64, (void *, size_t, int, int, int, off64_t))
#else
#define LR_HOOK_MMAP64(X)
#endif
/* pkey_mprotect: glibc 2.27 and later (bionic has no wrapper) */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 27))
#define LR_HAVE_PKEY_MPROTECT 1
#define LR_HOOK_PKEY(X) X(int, pkey_mprotect, (void *, size_t, int, int))
#else
#define LR_HOOK_PKEY(X)
#endif

/* bionic's malloc_usable_size takes a const pointer */
#ifdef __BIONIC__
#define LR_USABLE_ARG const void *
#else
#define LR_USABLE_ARG void *
#endif

/* return type, name, parameter types */
#define LR_HOOKS(X)                                                             \
  X(void *, malloc, (size_t))                                                   \
  X(void *, calloc, (size_t, size_t))                                           \
  X(void *, realloc, (void *, size_t))                                          \
  X(void *, reallocarray, (void *, size_t, size_t))                             \
  X(void, free, (void *))                                                       \
  X(int, posix_memalign, (void **, size_t, size_t))                             \
  X(void *, aligned_alloc, (size_t, size_t))                                    \
  X(void *, memalign, (size_t, size_t))                                         \
  X(void *, valloc, (size_t))                                                   \
  X(size_t, malloc_usable_size, (LR_USABLE_ARG))                                \
  X(void *, mmap, (void *, size_t, int, int, int, off_t))                       \
  X(int, munmap, (void *, size_t))                                              \
  X(void *, mremap, (void *, size_t, size_t, int, ...))                         \
  X(int, mprotect, (void *, size_t, int))                                       \
  X(int, madvise, (void *, size_t, int))                                        \
  X(void *, dlopen, (const char *, int))                                        \
  X(int, execve, (const char *, char *const[], char *const[]))                  \
  X(int, pthread_setname_np, (pthread_t, const char *))                          \
  X(int, dlclose, (void *))                                                     \
  X(int, pipe2, (int *, int))                                                   \
  X(ssize_t, read, (int, void *, size_t))                                       \
  X(int, close, (int))                                                          \
  X(void, exit, (int))                                                          \
  X(void, _exit, (int))                                                         \
  X(void, _Exit, (int))                                                         \
  LR_HOOK_PVALLOC(X)                                                            \
  LR_HOOK_MMAP64(X)                                                             \
  LR_HOOK_PKEY(X)

#define LR_REAL_FIELD(ret, name, params) ret(*name) params;
typedef struct LrReal {
  LR_HOOKS(LR_REAL_FIELD)
} LrReal;
/* Filled once by lr_shim_resolve; NULL entries until then (a libc without
** the function keeps NULL: its hook has a fallback). */
extern LrReal lr_real LR_HIDDEN;

/* Fills lr_real (once; a call made while another is filling it returns at
** once, see lr_shim_resolving). */
void lr_shim_resolve(void) LR_HIDDEN;
/* Whether lr_shim_resolve is running (dlsym may call malloc: such calls are
** served from the boot pool, shim_pools.h). */
int lr_shim_resolving(void) LR_HIDDEN;

/* True when the real malloc family is not known yet (bootstrap). */
static inline int lr_shim_booting(void) {
  return __builtin_expect(lr_real.free == NULL, 0);
}

#endif /* LR_SHIM_REAL_H */
