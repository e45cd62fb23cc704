/*
** shim_stack.h: recording one event with its stack (shim_stack.c), and the
** code ranges that tell the shim's frames, libc's start code and the
** loader's apart from the program's. Not a public interface.
*/
#ifndef LR_SHIM_STACK_H
#define LR_SHIM_STACK_H

#include <stdint.h>

#include "shim_internal.h"

/* ip is in the shim's own code (cut from every stack). */
static inline int lr_in_shim(uintptr_t ip) {
  return ip >= g_shim.shim_lo && ip < g_shim.shim_hi;
}

/* ip is in the C library's or the dynamic loader's code. */
static inline int lr_in_start_code(uintptr_t ip) {
  return (ip >= g_shim.libc_lo && ip < g_shim.libc_hi) ||
         (ip >= g_shim.ld_lo && ip < g_shim.ld_hi);
}

/* Records an event (guard set): ev->seq is taken here (after the real
** call) unless the caller set it; with_stack: the event's stack is
** unwound and interned. noinline: its frame record is one of the shim's
** few that the stack cache's key walk (hook_frame) passes. */
__attribute__((noinline)) void lr_shim_record(LrTls *t, LrEvent *ev, int with_stack) LR_HIDDEN;

/* Adds the calling thread's stack-cache counters to g_shim.scs and drops
** its cache. */
void lr_shim_sc_retire(void) LR_HIDDEN;

#endif /* LR_SHIM_STACK_H */
