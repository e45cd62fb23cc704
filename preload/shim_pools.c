/*
** shim_pools.c: the boot pool and the rescue pool (shim_pools.h): memory
** for the calls the real allocator cannot serve. Bump allocation by an
** atomic add or compare-and-swap: async-signal-safe, no lock.
*/
#include <errno.h>
#include <stdint.h>

#include "shim_pools.h"

_Alignas(16) unsigned char lr_boot_pool[LR_POOL_SIZE];
_Alignas(16) unsigned char lr_rescue_pool[LR_POOL_SIZE];
static size_t boot_used;   /* atomic */
static size_t rescue_used; /* atomic */

/* Zeroed 16-byte aligned memory for dlsym's own allocations, never freed;
** each block's size in the word before it (malloc_usable_size). */
void *lr_boot_alloc(size_t n) {
  if (n > sizeof lr_boot_pool) return NULL;
  size_t want = ((n + 15) & ~(size_t)15) + 16;
  size_t off = __atomic_fetch_add(&boot_used, want, __ATOMIC_RELAXED);
  if (off + want > sizeof lr_boot_pool) return NULL;
  unsigned char *p = lr_boot_pool + off + 16;
  ((size_t *)p)[-1] = n;
  return p;
}

/* ---- a signal handler that allocates inside the allocator -----------------
A handler that calls malloc or free while its thread is inside the real
allocator (undefined behaviour, and common) deadlocks on the arena lock or
corrupts the heap, bare or traced. Under the shim every such call arrives
through a hook while the thread's guard says "inside the real allocator"
(LR_GUARD_REAL, shim_pools.h, set around each real call of the malloc
family). So it is served from a static rescue pool instead (bump allocation, never reused,
zeroed: it has never been touched; each block's size in the word before
it); free() of a rescued block does nothing, realloc() of one moves it to
the heap, free() of a heap block from such a handler is dropped (the block
stays allocated: better a leak than a deadlock), and realloc() of a heap
block there fails with ENOMEM. These calls are not recorded. reallocarray is
the exception: glibc's calls realloc through our hook, so it runs with the
plain guard (a handler landing inside it re-enters glibc, as without the
shim). When the pool is used up the handler's malloc returns NULL. */

void *lr_rescue_alloc(size_t n, size_t align) {
  if (align < 16) align = 16;
  if (n > sizeof lr_rescue_pool || align > sizeof lr_rescue_pool / 2) {
    errno = ENOMEM;
    return NULL;
  }
  while (align & (align - 1)) align += align & -align;
  size_t want = n + align + 16, off;
  size_t cur = __atomic_load_n(&rescue_used, __ATOMIC_RELAXED);
  do {
    off = cur;
    if (off + want > sizeof lr_rescue_pool) {
      errno = ENOMEM;
      return NULL;
    }
  } while (!__atomic_compare_exchange_n(&rescue_used, &cur, off + want, 0, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED));
  uintptr_t a = ((uintptr_t)(lr_rescue_pool + off) + 16 + align - 1) & ~(uintptr_t)(align - 1);
  ((size_t *)a)[-1] = n;
  __atomic_add_fetch(&g_shim.rescued, 1, __ATOMIC_RELAXED);
  return (void *)a;
}
