/*
** unwind.h: the shim's stack walkers, one backend per file.
**
**   unwind_libunwind.c  libunwind's unw_backtrace (DWARF CFI, cached per
**                       thread): correct without frame pointers. Default.
**   unwind_fp.c         a frame-pointer chain walk: ~10x cheaper, but only
**                       as deep as the code keeps frame pointers.
**   unwind_eh.c         the modules' own .eh_frame_hdr/.eh_frame CFI, read
**                       by the shim itself: needs no library (the device
**                       build's default, -Dunwind=fp), frame-pointer step
**                       where a pc has no CFI. x86-64 and aarch64.
**
** Both return raw return addresses, innermost first, including the shim's
** own frames (the caller cuts those). Both are called with the shim's
** reentrancy guard set and must not take locks the target may hold.
** Android will add backends here (its NDK has no nongnu libunwind).
*/
#ifndef LR_UNWIND_H
#define LR_UNWIND_H

#include <stdint.h>

enum { LR_UNWIND_LIBUNWIND = 0, LR_UNWIND_FP = 1, LR_UNWIND_EH = 2 };

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

/* The CFI walk (unwind_eh.c): up to max pcs of the calling thread, its own
** pc first. code_gen is a counter the caller bumps when code is unloaded
** (dlclose): a change makes the walk rebuild its module table before it
** reads any module. No malloc, no lock (dl_iterate_phdr, which takes the
** loader's, runs only to build that table: on first use, after a dlclose,
** or for a pc in no known module). 0 if not built for this architecture. */
int lr_unwind_eh(uintptr_t *ips, int max, uint32_t code_gen);
int lr_unwind_available_eh(void);

#endif /* LR_UNWIND_H */
