/*
** stack_cache.h: a per-thread cache of whole stacks for code without frame
** pointers, so that a repeated allocation site costs a dozen loads instead
** of a libunwind unwind (unw_backtrace: ~8 ns per frame; ~100 ns for the
** 12-deep churn bench).
**
** Key: the program's first return address (ra0, the return address of the
** shim's hook) and the stack address it is stored at (slot0). Those fix
** frame 0 completely (its pc and its stack pointer). What else libunwind
** reads to find the outer frames is recorded when an entry is made, by
** walking the same stack with a libunwind cursor and asking it where each
** value came from (unw_get_save_loc):
**   - every outer return address, at the stack slot it was loaded from;
**   - for each frame whose rbp points into the frame itself (rbp-based
**     frames: alloca, -fno-omit-frame-pointer code, dynamic realignment, and
**     libunwind's own rbp-chain fallback), the rbp value, at the slot an
**     inner frame saved it to, or, if no program frame saved it, the rbp
**     the program had at the call (r0); and, when the frame's CFA is not
**     rbp + 16 but is the word at rbp - 8 (gcc's DRAP realignment: CFA =
**     *(rbp - 8)), that word.
** A lookup is a hit when an entry with the same key finds every one of
** those slots holding the recorded value. By induction from frame 0, each
** frame's pc and CFA are then the ones libunwind computed when the entry
** was made, so the stack is the same one, whatever happened in between
** (other callers, alloca of another size, deeper recursion: all change a
** checked slot or the key).
**
** Never cached: a stack through a signal frame (its CFA comes from the
** saved context), one whose cursor walk differs from unw_backtrace's
** frames, one with a value libunwind took from a register, one with a
** slot outside [slot0, thread stack top), one needing more than
** LR_SC_CHECKS checks.
**
** Sets are 8-way (a direct-mapped table thrashed in a prototype: one site
** reached by several callers at the same depth shares a key). An entry is
** made on the second miss of a key (a key seen once is not worth the
** cursor walk), within a per-thread budget (LR_SC_FILL_COST); a key whose
** stack could not be cached is not tried again while remembered. Stacks
** of more than LR_SC_CHECKS + 1 frames are not cached. Memory: LR_SC_SETS x 8 entries of ~620 bytes
** (160 KiB of address space per thread, pages touched as entries are
** made), mapped on a thread's first entry. x86-64 only.
**
** With the eh unwinder (unwind_eh.c; no libunwind: the device build), an
** entry is made by walking the stack again from the key's frame (pc ra0,
** sp slot0 + 8, rbp r0) with the walk logging every stack word it reads
** (lr_unwind_eh_logged): those words and their values are the checks, and
** r0 is checked too when the walk used it before reloading rbp from the
** stack. The walk is a function of its start, the code and the words it
** reads, so a lookup that finds every checked word unchanged would walk the
** same frames. Not cached: a walk that ended at a signal frame, one that met
** a pc in no known module or a frame record whose return address is in none
** (a later dlopen could change those), one that read a word below slot0 or
** more than LR_SC_CHECKS words, and one whose frames differ from the
** unwind's (lr_sc_fill_eh).
*/
#ifndef LR_STACK_CACHE_H
#define LR_STACK_CACHE_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__)
#define LR_HAVE_STACK_CACHE 1
#endif

#define LR_SC_SETS 32     /* power of two */
#define LR_SC_WAYS 8
#define LR_SC_CHECKS 48   /* slots verified per entry, at most */
#define LR_SC_SEEN 64     /* keys remembered from a first miss, per thread */
/* Making an entry walks the stack with a libunwind cursor: 10-100 us, the
** price of 10-100 ordinary unwinds. A thread whose stacks never repeat must
** not pay that on every second miss: each lookup earns a credit, an attempt
** costs LR_SC_FILL_COST, and credit saves up to LR_SC_FILL_BURST attempts
** (a new thread starts with them). So the cache fills at once where stacks
** repeat, and where they do not it adds at most one walk per
** LR_SC_FILL_COST events. LOWRAM_STACK_CACHE=2 lifts the budget (tests). */
#define LR_SC_FILL_COST 512
#define LR_SC_FILL_BURST 32
/* With the eh unwinder an attempt is a second walk of the stack (the same
** cost as the unwind it follows, plus the checks): at most one attempt per
** 4 events where stacks never repeat. */
#define LR_SC_FILL_COST_EH 4

typedef struct LrScEntry {
  uint64_t id;                    /* stack id; 0 = empty */
  uintptr_t r0;                   /* rbp at the call, when need_r0 */
  uint32_t n;                     /* checks */
  uint32_t need_r0;
  uint32_t off[LR_SC_CHECKS];     /* slot address - slot0 */
  uintptr_t val[LR_SC_CHECKS];    /* value it must hold */
} LrScEntry;

typedef struct LrScSet {
  uintptr_t ra0[LR_SC_WAYS], slot0[LR_SC_WAYS]; /* keys, apart: one line to scan */
  uint32_t next;                  /* way to replace next (round robin) */
} LrScSet;

typedef struct LrStackCache {
  LrScSet set[LR_SC_SETS];
  LrScEntry e[LR_SC_SETS][LR_SC_WAYS];
} LrStackCache;

typedef struct LrScStats {
  uint64_t lookups, hits, fills, refused;
} LrScStats;

static inline uint32_t lr_sc_hash(uintptr_t ra0, uintptr_t slot0) {
  uint64_t h = ((uint64_t)ra0 * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)slot0 * 0xc2b2ae3d27d4eb4full);
  return (uint32_t)(h >> 32);
}

/* The stack id cached for the call whose return address ra0 is stored at
** slot0 (with r0 the caller's rbp then), or 0. Reads only stack words in
** [slot0, slot0 + max offset), which were inside the thread's stack, above
** the current frame, when the entry was made. */
static inline uint64_t lr_sc_lookup(const LrStackCache *c, uintptr_t ra0, uintptr_t slot0,
                                    uintptr_t r0) {
  const LrScSet *s = &c->set[lr_sc_hash(ra0, slot0) & (LR_SC_SETS - 1)];
  for (int w = 0; w < LR_SC_WAYS; w++) {
    if (s->ra0[w] != ra0 || s->slot0[w] != slot0) continue;
    const LrScEntry *e = &c->e[s - c->set][w];
    if (!e->id || (e->need_r0 && e->r0 != r0)) continue;
    uint32_t i = 0;
    for (; i < e->n; i++)
      if (*(const volatile uintptr_t *)(slot0 + e->off[i]) != e->val[i]) break;
    if (i == e->n) return e->id;
  }
  return 0;
}

/* Maps a cache (raw mmap, no malloc); NULL if that failed. */
LrStackCache *lr_sc_new(void);
void lr_sc_free(LrStackCache *c);

/* What a key's miss should do, from seen[LR_SC_SEEN] (thread-local, so
** that a thread that allocates once maps no cache): LR_SC_FIRST the first
** time (remembered), LR_SC_FILL the second (make an entry), LR_SC_SKIP for
** a key whose stack could not be cached (lr_sc_refuse). */
enum { LR_SC_FIRST = 0, LR_SC_FILL = 1, LR_SC_SKIP = 2 };
static inline int lr_sc_seen(uint32_t *seen, uintptr_t ra0, uintptr_t slot0) {
  uint32_t h = lr_sc_hash(ra0, slot0) | 1u;
  uint32_t *s = &seen[(h >> 8) & (LR_SC_SEEN - 1)];
  if (*s == h) return LR_SC_FILL;
  if (*s == (h & ~1u)) return LR_SC_SKIP;
  *s = h;
  return LR_SC_FIRST;
}
static inline void lr_sc_refuse(uint32_t *seen, uintptr_t ra0, uintptr_t slot0) {
  uint32_t h = lr_sc_hash(ra0, slot0) | 1u;
  seen[(h >> 8) & (LR_SC_SEEN - 1)] = h & ~1u;
}

/* Walks the calling thread's stack with a libunwind cursor from here to
** the program frame whose return address ra0 sits at slot0, checks that
** its frames are ips[0..n) (what unw_backtrace gave, after the shim's own
** frames; `cut` if n was cut at the depth limit), and if the stack can be
** cached, stores an entry mapping it to id. Returns 1 if stored, 0 if the
** stack cannot be cached (see the header comment). [stk_lo, stk_hi) is the
** thread's stack. */
int lr_sc_fill(LrStackCache *c, uintptr_t ra0, uintptr_t slot0, uintptr_t r0,
               uintptr_t stk_lo, uintptr_t stk_hi, const uintptr_t *ips, uint32_t n, int cut,
               uint64_t id);
/* The same for the eh unwinder: ips[0..n) are lr_unwind_eh's frames from
** the key's on (`cut` as above), made under code generation code_gen.
** Returns 1 if stored, 0 if the stack cannot be cached. Without libunwind,
** lr_sc_fill returns 0; without the eh backend, this one does. */
int lr_sc_fill_eh(LrStackCache *c, uintptr_t ra0, uintptr_t slot0, uintptr_t r0,
                  uintptr_t stk_lo, uintptr_t stk_hi, const uintptr_t *ips, uint32_t n, int cut,
                  uint32_t code_gen, uint64_t id);

#endif /* LR_STACK_CACHE_H */
