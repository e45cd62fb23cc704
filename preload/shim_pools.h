/*
** shim_pools.h: the two static pools that serve allocations the real
** allocator cannot (shim_pools.c): the boot pool, for dlsym's own calloc and
** malloc before lr_real is known, and the rescue pool, for a signal handler
** that allocates while its thread is inside the real allocator. Blocks from
** either are never reused and never reach libc: free() of one does nothing,
** and each block's size is in the word before it (malloc_usable_size).
** Not a public interface.
*/
#ifndef LR_SHIM_POOLS_H
#define LR_SHIM_POOLS_H

#include <stddef.h>

#include "shim_internal.h"

#define LR_POOL_SIZE (64 * 1024)
extern unsigned char lr_boot_pool[LR_POOL_SIZE] LR_HIDDEN;
extern unsigned char lr_rescue_pool[LR_POOL_SIZE] LR_HIDDEN;

/* The thread's guard while it is inside the real malloc family: a hook
** entered then came from a signal handler that interrupted it. */
#define LR_GUARD_REAL 2

static inline int lr_in_boot_pool(const void *p) {
  return (const unsigned char *)p >= lr_boot_pool &&
         (const unsigned char *)p < lr_boot_pool + LR_POOL_SIZE;
}

static inline int lr_in_rescue(const void *p) {
  return (const unsigned char *)p >= lr_rescue_pool &&
         (const unsigned char *)p < lr_rescue_pool + LR_POOL_SIZE;
}

/* The thread is inside the real allocator: this call came from a signal
** handler that interrupted it. */
static inline int lr_in_real_alloc(void) {
  return __builtin_expect(lr_tls.guard == LR_GUARD_REAL, 0);
}

/* Zeroed 16-byte aligned memory from the boot pool; NULL when it is used up. */
void *lr_boot_alloc(size_t n) LR_HIDDEN;
/* n bytes aligned to align (at least 16, rounded up to a power of two)
** from the rescue pool; NULL (errno ENOMEM) when it is used up. */
void *lr_rescue_alloc(size_t n, size_t align) LR_HIDDEN;

#endif /* LR_SHIM_POOLS_H */
