/*
** unwind.h: the shim's stack walkers, one backend per file.
**
**   unwind_libunwind.c  libunwind's unw_backtrace (DWARF CFI, cached per
**                       thread): correct without frame pointers. Default.
**   unwind_fp.c         a frame-pointer chain walk: ~10x cheaper, but only
**                       as deep as the code keeps frame pointers.
**
** Both return raw return addresses, innermost first, including the shim's
** own frames (the caller cuts those). Both are called with the shim's
** reentrancy guard set and must not take locks the target may hold.
** Android will add backends here (its NDK has no nongnu libunwind).
*/
#ifndef LR_UNWIND_H
#define LR_UNWIND_H

#include <stdint.h>

enum { LR_UNWIND_LIBUNWIND = 0, LR_UNWIND_FP = 1 };

/* Nonzero if the backend was built in (defined in unwind_fp.c, the one
** backend every build has; each other backend reports itself). */
int lr_unwind_available(int backend);
int lr_unwind_available_libunwind(void);

/* An address inside libunwind's code (0 if it is not built in): the shim
** recognises libunwind's own calls to pipe2/read/close by it. */
uintptr_t lr_unwind_libunwind_addr(void);

/* Up to max return addresses of the calling thread into ips; returns how
** many. Returns 0 when the backend is not built in. */
int lr_unwind_libunwind(uintptr_t *ips, int max);

/* Stack bounds of the calling thread for the frame-pointer walker, so a
** frame pointer that is really a general register is never dereferenced
** outside the stack. May allocate (pthread_getattr_np): call it once per
** thread, with the reentrancy guard set. */
void lr_unwind_fp_bounds(uintptr_t *lo, uintptr_t *hi);
/* *stop (if not NULL) receives the frame pointer the walk stopped at. */
int lr_unwind_fp(uintptr_t *ips, int max, uintptr_t lo, uintptr_t hi, uintptr_t *stop);

#endif /* LR_UNWIND_H */
