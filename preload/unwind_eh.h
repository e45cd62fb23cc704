/*
** unwind_eh.h: the CFI backend's parts that tests and the bench use (see
** unwind_eh.c). lr_unwind_eh itself is declared in unwind.h.
*/
#ifndef LR_UNWIND_EH_H
#define LR_UNWIND_EH_H

#include <stdint.h>

/* The registers a walk starts from: an exact pc in a function with
** asynchronous unwind tables, and its sp, frame pointer and (aarch64) x30. */
typedef struct LrEhRegs {
  uintptr_t pc, sp, fp, lr;
} LrEhRegs;

typedef struct LrEhStats {
  uint64_t hits, misses, fp_steps; /* rows from the shape cache / read from CFI; frame-record steps */
} LrEhStats;

/* Captures the current pc (this statement's), sp, frame pointer and lr
** into r. Used inside a noinline function, whose own CFI then unwinds it. */
#if defined(__x86_64__)
#define LR_EH_CAPTURE(r)                                                       \
  __asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2"       \
                   : "=&r"((r).pc), "=&r"((r).sp), "=&r"((r).fp));            \
  (r).lr = 0
#elif defined(__aarch64__)
#define LR_EH_CAPTURE(r)                                                       \
  __asm__ volatile("adr %0, .\n\tmov %1, sp\n\tmov %2, x29\n\tmov %3, x30"    \
                   : "=&r"((r).pc), "=&r"((r).sp), "=&r"((r).fp), "=&r"((r).lr))
#else
#define LR_EH_CAPTURE(r) ((r).pc = (r).sp = (r).fp = (r).lr = 0)
#endif

/* The walk from r: up to max pcs into ips (r->pc first, then return
** addresses), reading stack words only inside [lo, hi). st (may be NULL)
** counts cache hits and misses. code_gen: see lr_unwind_eh. */
int lr_unwind_eh_from(const LrEhRegs *r, uintptr_t *ips, int max, uint32_t code_gen,
                      uintptr_t lo, uintptr_t hi, LrEhStats *st);

#endif /* LR_UNWIND_EH_H */
