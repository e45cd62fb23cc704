/*
** shim_modules.h: the module map written into the spool, and code ranges
** (shim_modules.c). Not a public interface.
*/
#ifndef LR_SHIM_MODULES_H
#define LR_SHIM_MODULES_H

#include <stdint.h>

#include "shim_internal.h"

/* A new session's map: every loaded object gets a MODULE record. */
void lr_modules_start(void) LR_HIDDEN;
/* MODULE records for objects loaded since the last sync, UNMODULE for
** those gone (after dlopen/dlclose; guard set). */
void lr_modules_sync(void) LR_HIDDEN;
/* In a fork child: the lock may have been held by a thread that is gone. */
void lr_modules_after_fork(void) LR_HIDDEN;
/* The shim's own text range. */
void lr_modules_self_range(uintptr_t *lo, uintptr_t *hi) LR_HIDDEN;
/* The executable segment containing addr ([0,0) if none). */
void lr_modules_text_range(uintptr_t addr, uintptr_t *lo, uintptr_t *hi) LR_HIDDEN;

#endif /* LR_SHIM_MODULES_H */
