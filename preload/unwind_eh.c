/*
** unwind_eh.c: the CFI backend (LOWRAM_UNWIND=eh). It unwinds from the
** modules' own .eh_frame_hdr search table and .eh_frame call-frame
** information, so it needs no library on the device and is correct in code
** built without frame pointers. Written for this project from the DWARF
** and LSB specifications (no code taken from libunwind, LLVM or
** libunwindstack).
**
** Pieces:
**   module table  one entry per loaded object: its executable range and its
**                 PT_GNU_EH_FRAME (the .eh_frame_hdr). Built by
**                 dl_iterate_phdr into memory mapped here (no malloc) and
**                 published by one atomic pointer store; readers never
**                 lock. Rebuilt when a pc lies in no known module (a
**                 dlopen since) or when the caller's code generation
**                 changes (a dlclose: then no old module is read again).
**                 Old tables are never unmapped (another thread may be
**                 reading one); they are small and rebuilt rarely.
**   CFI reader    (unwind_eh_cfi.c) binary search of the hdr table
**                 (datarel sdata4), the FDE and its CIE, then the CIE's
**                 initial instructions and the FDE's up to the pc: the row
**                 for the CFA, the return address and the frame pointer
**                 (x29 / rbp) rules.
**   shape cache   a global, lock-free pc -> row table (a row packed into
**                 64 bits, stored with the key xor the row, so a torn read
**                 is seen as a miss). A repeated pc costs a hash probe.
**   step          the row applied to {pc, sp, fp, lr}: every stack word is
**                 read only inside the calling thread's stack bounds.
**                 The same walk can log every word it read
**                 (lr_unwind_eh_logged): the stack cache's checks.
**
** A pc in no module, or in a module without an FDE for it, is stepped by
** its frame record (the frame-pointer walk) when the frame pointer is a
** plausible one; a return address found that way must lie in a known
** module. A signal frame (CIE augmentation 'S'), an undefined return
** address (_start, thread start) or any check failing ends the stack.
*/
#include "unwind.h"

#include <link.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

#include "unwind_eh.h"
#include "unwind_eh_cfi.h"


#ifndef EH_ARCH_OK
/* Other architectures: the backend reports itself missing. */
int lr_unwind_eh(uintptr_t *ips, int max, uint32_t code_gen) {
  (void)ips;
  (void)max;
  (void)code_gen;
  return 0;
}
int lr_unwind_eh_from(const LrEhRegs *r, uintptr_t *ips, int max, uint32_t code_gen,
                      uintptr_t lo, uintptr_t hi, LrEhStats *st) {
  (void)r, (void)ips, (void)max, (void)code_gen, (void)lo, (void)hi, (void)st;
  return 0;
}
int lr_unwind_eh_logged(const LrEhRegs *r, uintptr_t *ips, int max, uint32_t code_gen,
                        uintptr_t lo, uintptr_t hi, LrEhReads *rd) {
  (void)r, (void)ips, (void)max, (void)code_gen, (void)lo, (void)hi;
  rd->n = 0;
  rd->end = LR_EH_END_CHECK;
  return 0;
}
int lr_unwind_available_eh(void) { return 0; }
#else

int lr_unwind_available_eh(void) { return 1; }

/* ---- the module table -------------------------------------------------- */

typedef struct EhTable {
  uint32_t n, gen;        /* gen: the table's number (shape-cache keys carry it) */
  uint32_t code_gen;      /* the caller's code generation it was built under */
  EhMod mod[];            /* sorted by lo */
} EhTable;

#define EH_MAX_MODS 1024
#define EH_ARENA (256u << 10)

static EhTable *g_table;            /* atomic: the published table */
static int g_building;              /* atomic: a thread is building one */
static uint32_t g_gen;              /* last table number */
static uint8_t *g_arena;            /* bump allocator for tables (mmap) */
static size_t g_arena_used;

static void *arena_alloc(size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (n > EH_ARENA) return NULL;
  if (!g_arena || g_arena_used + n > EH_ARENA) {
    void *m = mmap(NULL, EH_ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    g_arena = m;
    g_arena_used = 0;
  }
  void *p = g_arena + g_arena_used;
  g_arena_used += n;
  return p;
}


static int collect(struct dl_phdr_info *info, size_t size, void *ctx) {
  (void)size;
  EhTable *t = ctx;
  if (t->n >= EH_MAX_MODS) return 1;
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  const uint8_t *hdr = NULL;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
      uintptr_t a = info->dlpi_addr + ph->p_vaddr;
      if (a < lo) lo = a;
      if (a + ph->p_memsz > hi) hi = a + ph->p_memsz;
    } else if (ph->p_type == PT_GNU_EH_FRAME) {
      hdr = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
    }
  }
  if (hi <= lo) return 0;
  EhMod *m = &t->mod[t->n++];
  m->lo = lo;
  m->hi = hi;
  m->hdr = hdr;
  m->tab = NULL;
  m->count = 0;
  /* version 1; eh_frame_ptr_enc, fde_count_enc, table_enc; then the two
  ** encoded values and the table. Only the usual datarel sdata4 table is
  ** searched (what ld.bfd, gold, lld and mold write). */
  if (hdr && hdr[0] == 1 && hdr[3] == 0x3b) {
    const uint8_t *p = hdr + 4;
    int ok = 1;
    lr_eh_rd_enc(&p, hdr[1], (uintptr_t)hdr, &ok);
    uintptr_t count = lr_eh_rd_enc(&p, hdr[2], (uintptr_t)hdr, &ok);
    if (ok && count > 0 && count < (1u << 28)) {
      m->tab = (const int32_t *)p;
      m->count = (uint32_t)count;
    }
  }
  return 0;
}

/* Builds and publishes a new table; returns the published one. Only one
** thread builds at a time; the others keep using the old table. */
static EhTable *rebuild(uint32_t code_gen) {
  int expect = 0;
  if (!__atomic_compare_exchange_n(&g_building, &expect, 1, 0, __ATOMIC_ACQUIRE,
                                   __ATOMIC_RELAXED))
    return __atomic_load_n(&g_table, __ATOMIC_ACQUIRE);
  /* a scratch table big enough for any process, then a right-sized copy */
  static EhTable *scratch;
  if (!scratch) {
    void *m = mmap(NULL, sizeof(EhTable) + EH_MAX_MODS * sizeof(EhMod), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    scratch = m == MAP_FAILED ? NULL : m;
  }
  EhTable *pub = __atomic_load_n(&g_table, __ATOMIC_ACQUIRE);
  if (scratch) {
    scratch->n = 0;
    dl_iterate_phdr(collect, scratch);
    /* insertion sort by lo (tens of modules) */
    for (uint32_t i = 1; i < scratch->n; i++) {
      EhMod x = scratch->mod[i];
      uint32_t j = i;
      while (j > 0 && scratch->mod[j - 1].lo > x.lo) {
        scratch->mod[j] = scratch->mod[j - 1];
        j--;
      }
      scratch->mod[j] = x;
    }
    EhTable *t = arena_alloc(sizeof(EhTable) + scratch->n * sizeof(EhMod));
    if (t) {
      memcpy(t->mod, scratch->mod, scratch->n * sizeof(EhMod));
      t->n = scratch->n;
      t->code_gen = code_gen;
      t->gen = __atomic_add_fetch(&g_gen, 1, __ATOMIC_RELAXED);
      __atomic_store_n(&g_table, t, __ATOMIC_RELEASE);
      pub = t;
    }
  }
  __atomic_store_n(&g_building, 0, __ATOMIC_RELEASE);
  return pub;
}

static const EhMod *find_mod(const EhTable *t, uintptr_t pc) {
  uint32_t a = 0, b = t->n;
  while (a < b) {
    uint32_t m = (a + b) / 2;
    if (t->mod[m].lo <= pc) a = m + 1;
    else b = m;
  }
  if (a == 0) return NULL;
  const EhMod *m = &t->mod[a - 1];
  return pc < m->hi ? m : NULL;
}

/* ---- the shape cache ---------------------------------------------------- */

#define EH_CACHE_BITS 14
typedef struct EhSlot { uint64_t check, packed; } EhSlot;
static EhSlot *g_cache;   /* atomic: mapped on first use */
static int g_cache_failed;

/* row <-> 64 bits: cfa_off as int28, kind 3 bits, ra/fp how 2 bits each,
** ra/fp offsets in words as int14 (+-64 KiB: aarch64 saves x30 at the
** bottom of big frames), bit 63 set (0 is an empty slot). A row that does
** not fit is not cached (read from the CFI each time). */
static int fits(int64_t v, int bits) {
  return v >= -((int64_t)1 << (bits - 1)) && v < ((int64_t)1 << (bits - 1));
}

static int pack(const EhRow *r, uint64_t *out) {
  int64_t rw = r->ra_off / 8, fw = r->fp_off / 8;
  if (r->ra_off % 8 || r->fp_off % 8 || !fits(r->cfa_off, 28) || !fits(rw, 14) || !fits(fw, 14) ||
      r->ra_how > 3 || r->fp_how > 3)
    return 0;
  uint64_t v = (uint64_t)r->cfa_off & 0xfffffff;
  v |= (uint64_t)r->kind << 28 | (uint64_t)r->ra_how << 31 | (uint64_t)r->fp_how << 33;
  v |= ((uint64_t)rw & 0x3fff) << 35 | ((uint64_t)fw & 0x3fff) << 49;
  *out = v | 1ull << 63;
  return 1;
}

static inline int64_t sext(uint64_t v, int bits) {
  return (int64_t)(v << (64 - bits)) >> (64 - bits);
}

static inline __attribute__((always_inline)) void unpack(uint64_t v, EhRow *r) {
  r->cfa_off = sext(v & 0xfffffff, 28);
  r->kind = (int)(v >> 28 & 7);
  r->ra_how = (int)(v >> 31 & 3);
  r->fp_how = (int)(v >> 33 & 3);
  r->ra_off = sext(v >> 35 & 0x3fff, 14) * 8;
  r->fp_off = sext(v >> 49 & 0x3fff, 14) * 8;
}

static inline uint64_t cache_key(uintptr_t pc, uint32_t gen) {
  return (uint64_t)pc ^ ((uint64_t)gen << 48);
}

static inline EhSlot *cache_slot(uint64_t key) {
  uint64_t h = key * 0x9e3779b97f4a7c15ull;
  return &g_cache[h >> (64 - EH_CACHE_BITS)];
}

static EhSlot *cache_get(void) {
  EhSlot *c = __atomic_load_n(&g_cache, __ATOMIC_ACQUIRE);
  if (c || __atomic_load_n(&g_cache_failed, __ATOMIC_RELAXED)) return c;
  void *m = mmap(NULL, sizeof(EhSlot) << EH_CACHE_BITS, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    __atomic_store_n(&g_cache_failed, 1, __ATOMIC_RELAXED);
    return NULL;
  }
  EhSlot *prev = NULL;
  if (!__atomic_compare_exchange_n(&g_cache, &prev, (EhSlot *)m, 0, __ATOMIC_ACQ_REL,
                                   __ATOMIC_ACQUIRE)) {
    munmap(m, sizeof(EhSlot) << EH_CACHE_BITS);
    return prev;
  }
  return m;
}

/* ---- the walk ----------------------------------------------------------- */

static inline uintptr_t strip_pac(uintptr_t ret) {
#if defined(__aarch64__)
  register uintptr_t lr __asm__("x30") = ret;
  __asm__("hint #7" : "+r"(lr));
  return lr;
#else
  return ret;
#endif
}

/* Logs a read; returns its index (-1: past LR_EH_MAX_READS, overflow). */
static int log_read(LrEhReads *rd, uintptr_t addr, uintptr_t v, int need) {
  if (rd->n == LR_EH_MAX_READS) {
    rd->overflow = 1;
    return -1;
  }
  rd->addr[rd->n] = addr;
  rd->val[rd->n] = v;
  rd->need[rd->n] = (uint8_t)need;
  return (int)rd->n++;
}

/* One stack word, only if inside [lo, hi); logged when rd asks. */
#define RD(addr, dst)                                                            \
  do {                                                                           \
    uintptr_t a_ = (addr);                                                       \
    if (a_ < lo || a_ > hi - sizeof(uintptr_t) || (a_ & (sizeof(uintptr_t) - 1))) \
      goto out;                                                                  \
    (dst) = *(const uintptr_t *)a_;                                              \
    if (rd) log_read(rd, a_, (dst), 1);                                          \
  } while (0)
/* The same for a frame-pointer value: it matters (need) only if a later
** step uses it (FP_USED); in code without frame pointers rbp is an ordinary
** register, saved and restored with whatever it held. */
#define RD_FP(addr, dst)                                                         \
  do {                                                                           \
    uintptr_t a_ = (addr);                                                       \
    if (a_ < lo || a_ > hi - sizeof(uintptr_t) || (a_ & (sizeof(uintptr_t) - 1))) \
      goto out;                                                                  \
    (dst) = *(const uintptr_t *)a_;                                              \
    if (rd) nfp_src = log_read(rd, a_, (dst), 0);                                \
  } while (0)
/* The walk uses fp: the read it came from is needed (fp_src: its index,
** FP_START for regs->fp, FP_CONST for a value no read gave) */
#define FP_START (-2)
#define FP_CONST (-3)
#define FP_USED()                                                                \
  do {                                                                           \
    if (rd && fp_src == FP_START) rd->used_fp0 = 1;                              \
    else if (rd && fp_src >= 0) rd->need[fp_src] = 1;                            \
  } while (0)

/* The walk, inlined twice: with rd NULL (the plain walk, nothing logged) and
** for lr_unwind_eh_logged. ra_first: regs->pc is a return address. */
static inline __attribute__((always_inline)) int walk(const LrEhRegs *regs, int ra_first,
                                                      uintptr_t *ips, int max,
                                                      uint32_t code_gen, uintptr_t lo,
                                                      uintptr_t hi, LrEhStats *st,
                                                      LrEhReads *rd) {
  int n = 0;
  if (rd) memset(rd, 0, offsetof(LrEhReads, addr)); /* end: LR_EH_END_CHECK */
  if (max <= 0 || hi <= lo) return 0;
  EhTable *t = __atomic_load_n(&g_table, __ATOMIC_ACQUIRE);
  if (!t || t->code_gen != code_gen) t = rebuild(code_gen);
  if (!t || t->code_gen != code_gen) return 0; /* never read an unloaded module */
  EhSlot *cache = cache_get();
  uintptr_t pc = regs->pc, sp = regs->sp, fp = regs->fp, lr = regs->lr;
  int sp_known = 1, rebuilt = 0, fp_src = FP_START;
  for (int frame = 0; n < max; frame++) {
    ips[n++] = pc; /* frame 0: the unwinder's own pc, as libunwind's first */
    if (n >= max) {
      if (rd) rd->end = LR_EH_END_MAX;
      break;
    }
    /* the call instruction's row: a return address may be one past the
    ** end of its function (a call to a noreturn function) */
    uintptr_t q = frame > 0 || ra_first ? pc - 1 : pc;
    EhRow row;
    uint64_t key = cache_key(q, t->gen), packed = 0;
    EhSlot *slot = cache ? cache_slot(key) : NULL;
    if (slot) {
      uint64_t c1 = __atomic_load_n(&slot->check, __ATOMIC_RELAXED);
      uint64_t p1 = __atomic_load_n(&slot->packed, __ATOMIC_RELAXED);
      if (p1 && (c1 ^ p1) == key) packed = p1;
    }
    if (packed) {
      unpack(packed, &row);
      if (st) st->hits++;
    } else {
      const EhMod *m = find_mod(t, q);
      if (!m && !rebuilt) { /* loaded since the table was made? */
        rebuilt = 1;
        EhTable *nt = rebuild(code_gen);
        if (nt && nt->code_gen == code_gen) t = nt;
        m = find_mod(t, q);
        key = cache_key(q, t->gen);
        slot = cache ? cache_slot(key) : NULL;
      }
      if (m) lr_eh_find_row(m, q, &row);
      else row = (EhRow){.kind = K_NOFDE};
      if (!m && rd) rd->unsure = 1; /* a later dlopen could change this walk */
      if (st) st->misses++;
      if (slot && pack(&row, &packed)) {
        __atomic_store_n(&slot->packed, packed, __ATOMIC_RELAXED);
        __atomic_store_n(&slot->check, packed ^ key, __ATOMIC_RELAXED);
      }
    }
    uintptr_t cfa, ra, nfp = fp;
    int nfp_src = fp_src;
    switch (row.kind) {
    case CFA_SP:
      if (!sp_known) goto fp_step;
      cfa = sp + (uintptr_t)row.cfa_off;
      break;
    case CFA_FP:
      FP_USED();
      cfa = fp + (uintptr_t)row.cfa_off;
      break;
    case CFA_DEREF_FP:
      FP_USED();
      RD(fp + (uintptr_t)row.cfa_off, cfa);
      break;
    case K_NOFDE: goto fp_step;
    default: /* signal frame, end of stack */
      if (rd) rd->end = row.kind == K_SIGNAL ? LR_EH_END_SIGNAL : LR_EH_END_PROPER;
      goto out;
    }
    if (cfa <= sp || cfa < lo || cfa > hi) goto out;
    if (row.ra_how == R_AT_CFA) RD(cfa + (uintptr_t)row.ra_off, ra);
    else if (row.ra_how == R_SAME && frame == 0) ra = lr;
    else goto out; /* x30 "same value" above a call: nothing to trust */
    if (row.fp_how == R_AT_CFA) RD_FP(cfa + (uintptr_t)row.fp_off, nfp);
    else if (row.fp_how == R_AT_FP) {
      FP_USED();
      RD_FP(fp + (uintptr_t)row.fp_off, nfp);
    } else if (row.fp_how == R_UNDEF) {
      nfp = 0;
      nfp_src = FP_CONST;
    }
    sp = cfa;
    sp_known = 1;
    goto next;
  fp_step:
    /* a frame record {saved fp, return address} at fp, above the sp */
    FP_USED();
    if (fp < sp) goto out;
    RD_FP(fp, nfp);
    RD(fp + sizeof(uintptr_t), ra);
#if defined(__x86_64__)
    sp = fp + 2 * sizeof(uintptr_t); /* the caller's sp: exact on x86-64 */
    sp_known = 1;
#else
    sp = fp + 2 * sizeof(uintptr_t); /* a lower bound: the record is at the frame's bottom */
    sp_known = 0;
#endif
    if (nfp <= fp && nfp != 0) nfp = 0;
    if (st) st->fp_steps++;
    {
      uintptr_t r = strip_pac(ra);
      if (!find_mod(t, r ? r - 1 : 0)) { /* not code: a garbage record */
        if (rd) rd->end = LR_EH_END_MODULE;
        goto out;
      }
    }
  next:
    ra = strip_pac(ra);
    if (ra == 0) {
      if (rd) rd->end = LR_EH_END_PROPER;
      break;
    }
    lr = ra;
    fp = nfp;
    fp_src = nfp_src;
    pc = ra;
  }
out:
  return n;
}

int lr_unwind_eh_from(const LrEhRegs *regs, uintptr_t *ips, int max, uint32_t code_gen,
                      uintptr_t lo, uintptr_t hi, LrEhStats *st) {
  return walk(regs, 0, ips, max, code_gen, lo, hi, st, NULL);
}

int lr_unwind_eh_logged(const LrEhRegs *regs, uintptr_t *ips, int max, uint32_t code_gen,
                        uintptr_t lo, uintptr_t hi, LrEhReads *rd) {
  return walk(regs, 1, ips, max, code_gen, lo, hi, NULL, rd);
}

/* Per-thread stack bounds (pthread_getattr_np allocates: once per thread,
** under the shim's reentrancy guard). */
static __thread uintptr_t eh_lo, eh_hi;
static __thread int eh_bounds_done;

__attribute__((noinline)) int lr_unwind_eh(uintptr_t *ips, int max, uint32_t code_gen) {
  if (!eh_bounds_done) {
    lr_unwind_fp_bounds(&eh_lo, &eh_hi);
    eh_bounds_done = 1;
  }
  LrEhRegs r;
  LR_EH_CAPTURE(r);
  uintptr_t lo = eh_lo, hi = eh_hi;
  if (hi == 0) { /* unknown bounds: a short window above the current frame */
    lo = r.sp;
    hi = r.sp + (1u << 20);
  }
  return lr_unwind_eh_from(&r, ips, max, code_gen, lo, hi, NULL);
}
#endif
