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

/* What a walk read, for the stack cache (stack_cache.c): every stack word
** it read, in order, with the value it found, and whether that value
** decided anything (need: a frame-pointer value restored from the stack
** that no later step used did not). The walk from the same regs over the
** same code that finds the same value in each needed word is the same
** walk, step by step; used_fp0 says whether regs->fp decided anything
** (else any fp gives that walk). */
#define LR_EH_MAX_READS 64
enum {
  LR_EH_END_CHECK,   /* a check failed (a word outside the stack, a CFA not above sp) */
  LR_EH_END_MAX,     /* max pcs */
  LR_EH_END_PROPER,  /* the outermost frame (return address undefined or 0) */
  LR_EH_END_SIGNAL,  /* a signal frame */
  LR_EH_END_MODULE,  /* a frame record's return address in no known module */
};
typedef struct LrEhReads {
  uint32_t n, overflow; /* words logged; more than LR_EH_MAX_READS were read */
  uint32_t used_fp0;
  uint32_t unsure;      /* a pc in no known module: the walk may differ after a dlopen */
  uint32_t end;         /* LR_EH_END_* */
  uintptr_t addr[LR_EH_MAX_READS], val[LR_EH_MAX_READS];
  uint8_t need[LR_EH_MAX_READS];
} LrEhReads;

/* The walk from r, whose pc is a return address (not an exact pc: its
** call's row is used), logging into rd. Not for the hot path. */
int lr_unwind_eh_logged(const LrEhRegs *r, uintptr_t *ips, int max, uint32_t code_gen,
                        uintptr_t lo, uintptr_t hi, LrEhReads *rd);

#endif /* LR_UNWIND_EH_H */
