/*
** stack_cache.c: making entries of the per-thread stack cache (see
** stack_cache.h for what is checked and why it is enough).
*/
#include "sys_mmap.h"
#include "stack_cache.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "unwind_eh.h"

#ifdef LR_HAVE_STACK_CACHE
LrStackCache *lr_sc_new(void) {
  void *p = lr_sys_mmap(NULL, sizeof(LrStackCache), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : (LrStackCache *)p;
}

void lr_sc_free(LrStackCache *c) {
  if (c) lr_sys_munmap(c, sizeof(LrStackCache));
}

typedef struct Build {
  LrScEntry e;
  uintptr_t slot0, hi;
} Build;

/* Adds "the word at addr holds v"; 0 if it cannot be checked. */
static int add_check(Build *b, uintptr_t addr, uintptr_t v) {
  if (addr < b->slot0 || addr + sizeof(uintptr_t) > b->hi || (addr & 7)) return 0;
  for (uint32_t i = 0; i < b->e.n; i++)
    if (b->e.off[i] == (uint32_t)(addr - b->slot0)) return b->e.val[i] == v;
  if (b->e.n == LR_SC_CHECKS || addr - b->slot0 > UINT32_MAX) return 0;
  b->e.off[b->e.n] = (uint32_t)(addr - b->slot0);
  b->e.val[b->e.n] = v;
  b->e.n++;
  return 1;
}

/* Stores b's entry under (ra0, slot0): an empty way of its set, else the
** next in turn. */
static void store(LrStackCache *c, uintptr_t ra0, uintptr_t slot0, const Build *b) {
  LrScSet *s = &c->set[lr_sc_hash(ra0, slot0) & (LR_SC_SETS - 1)];
  uint32_t w = LR_SC_WAYS;
  for (uint32_t k = 0; k < LR_SC_WAYS && w == LR_SC_WAYS; k++)
    if (!c->e[s - c->set][k].id) w = k;
  if (w == LR_SC_WAYS) w = s->next++ % LR_SC_WAYS;
  c->e[s - c->set][w] = b->e;
  s->ra0[w] = ra0;
  s->slot0[w] = slot0;
}

/* ---- entries for the eh unwinder (see stack_cache.h) --------------------- */

int lr_sc_fill_eh(LrStackCache *c, uintptr_t ra0, uintptr_t slot0, uintptr_t r0,
                  uintptr_t stk_lo, uintptr_t stk_hi, const uintptr_t *ips, uint32_t n, int cut,
                  uint32_t code_gen, uint64_t id) {
  if (!c || !n || n > LR_SC_CHECKS + 1 || ips[0] != ra0 || slot0 < stk_lo || slot0 >= stk_hi ||
      !id)
    return 0;
  LrEhRegs r = {.pc = ra0, .sp = slot0 + sizeof(uintptr_t), .fp = r0, .lr = 0};
  uintptr_t got[LR_SC_CHECKS + 2];
  LrEhReads rd;
  /* not cut: one more frame allowed, so a walk that goes on is seen */
  int k = lr_unwind_eh_logged(&r, got, (int)n + !cut, code_gen, stk_lo, stk_hi, &rd);
  if (k != (int)n || memcmp(got, ips, n * sizeof *ips) || rd.overflow || rd.unsure) return 0;
  if (cut ? rd.end != LR_EH_END_MAX : rd.end != LR_EH_END_PROPER && rd.end != LR_EH_END_CHECK)
    return 0; /* a signal frame, a record into no module, or frames beyond */
  Build b;
  memset(&b, 0, sizeof b);
  b.slot0 = slot0;
  b.hi = stk_hi;
  for (uint32_t i = 0; i < rd.n; i++)
    if (rd.need[i] && !add_check(&b, rd.addr[i], rd.val[i])) return 0;
  if (rd.used_fp0) {
    b.e.need_r0 = 1;
    b.e.r0 = r0;
  }
  b.e.id = id;
  store(c, ra0, slot0, &b);
  return 1;
}

/* ---- entries for libunwind ------------------------------------------------ */

#ifdef LR_HAVE_LIBUNWIND
#define UNW_LOCAL_ONLY
#include <libunwind.h>

/* Checks for an rbp-based frame's rbp value, saved at loc: 1 if added. */
static int check_rbp(Build *b, const unw_save_loc_t *l, uintptr_t rbp, uintptr_t r0) {
  if (l->type != UNW_SLT_MEMORY) return 0;
  if (l->u.addr >= b->slot0) return add_check(b, l->u.addr, rbp);
  /* saved by the shim's hook, just below slot0: the rbp the program had
  ** when it called (lr_sc_lookup's r0) */
  if (l->u.addr != b->slot0 - sizeof(uintptr_t) || rbp != r0) return 0;
  b->e.need_r0 = 1;
  b->e.r0 = r0;
  return 1;
}

__attribute__((noinline)) int lr_sc_fill(LrStackCache *c, uintptr_t ra0, uintptr_t slot0,
                                         uintptr_t r0, uintptr_t stk_lo, uintptr_t stk_hi,
                                         const uintptr_t *ips, uint32_t n, int cut,
                                         uint64_t id) {
  if (!c || !n || ips[0] != ra0 || slot0 < stk_lo || slot0 >= stk_hi || !id) return 0;
  unw_context_t uc;
  unw_cursor_t cur;
  if (unw_getcontext(&uc) != 0 || unw_init_local(&cur, &uc) != 0) return 0;
  /* up through the shim's frames to the program's first one */
  unw_save_loc_t l;
  unw_word_t ip, sp;
  for (int k = 0;; k++) {
    if (k > 32 || unw_get_reg(&cur, UNW_REG_IP, &ip) != 0) return 0;
    if (ip == ra0 && unw_get_save_loc(&cur, UNW_REG_IP, &l) == 0 &&
        l.type == UNW_SLT_MEMORY && l.u.addr == slot0)
      break;
    if (unw_step(&cur) <= 0) return 0;
  }
  if (unw_get_reg(&cur, UNW_REG_SP, &sp) != 0 || sp != slot0 + sizeof(uintptr_t)) return 0;
  Build b;
  memset(&b, 0, sizeof b);
  b.slot0 = slot0;
  b.hi = stk_hi;
  for (uint32_t i = 0; i < n; i++) {
    if (unw_get_reg(&cur, UNW_REG_IP, &ip) != 0 || ip != ips[i]) return 0;
    if (unw_is_signal_frame(&cur) > 0) return 0;
    if (i > 0) { /* where this frame's pc was read from */
      if (unw_get_save_loc(&cur, UNW_REG_IP, &l) != 0 || l.type != UNW_SLT_MEMORY ||
          !add_check(&b, l.u.addr, ip))
        return 0;
    }
    unw_word_t rbp;
    unw_save_loc_t rbp_loc; /* where this frame's rbp was restored from */
    if (unw_get_reg(&cur, UNW_X86_64_RBP, &rbp) != 0 ||
        unw_get_save_loc(&cur, UNW_X86_64_RBP, &rbp_loc) != 0)
      return 0;
    int r = unw_step(&cur);
    unw_word_t cfa = stk_hi; /* the outermost frame has none: the top */
    if (r > 0 && unw_get_reg(&cur, UNW_REG_SP, &cfa) != 0) return 0;
    if (r > 0 && cfa <= sp) return 0; /* the stack must grow up as we go out */
    if (rbp >= sp && rbp < cfa) { /* rbp points into this frame: an rbp-based frame */
      if (!check_rbp(&b, &rbp_loc, rbp, r0)) return 0;
      /* gcc's DRAP realignment: CFA = *(rbp - 8). Whatever the rule, a
      ** CFA found in the word below rbp may have come from it: check it */
      uintptr_t a = rbp - sizeof(uintptr_t);
      if (cfa != rbp + 16 && *(const uintptr_t *)a == cfa && !add_check(&b, a, cfa)) return 0;
    }
    if (r < 0) return 0;
    if (r == 0) {
      if (i + 1 != n) return 0; /* libunwind's frames went further */
      break;
    }
    if (i + 1 == n && !cut) return 0; /* the cursor goes on where the trace stopped */
    sp = cfa;
  }
  b.e.id = id;
  store(c, ra0, slot0, &b);
  return 1;
}
#else  /* no libunwind: entries for the eh unwinder only */
int lr_sc_fill(LrStackCache *c, uintptr_t ra0, uintptr_t slot0, uintptr_t r0,
               uintptr_t stk_lo, uintptr_t stk_hi, const uintptr_t *ips, uint32_t n, int cut,
               uint64_t id) {
  (void)c; (void)ra0; (void)slot0; (void)r0; (void)stk_lo; (void)stk_hi;
  (void)ips; (void)n; (void)cut; (void)id;
  return 0;
}
#endif

#else /* no stack cache in this build */

LrStackCache *lr_sc_new(void) { return NULL; }
void lr_sc_free(LrStackCache *c) { (void)c; }
int lr_sc_fill(LrStackCache *c, uintptr_t ra0, uintptr_t slot0, uintptr_t r0,
               uintptr_t stk_lo, uintptr_t stk_hi, const uintptr_t *ips, uint32_t n, int cut,
               uint64_t id) {
  (void)c; (void)ra0; (void)slot0; (void)r0; (void)stk_lo; (void)stk_hi;
  (void)ips; (void)n; (void)cut; (void)id;
  return 0;
}
int lr_sc_fill_eh(LrStackCache *c, uintptr_t ra0, uintptr_t slot0, uintptr_t r0,
                  uintptr_t stk_lo, uintptr_t stk_hi, const uintptr_t *ips, uint32_t n, int cut,
                  uint32_t code_gen, uint64_t id) {
  (void)c; (void)ra0; (void)slot0; (void)r0; (void)stk_lo; (void)stk_hi;
  (void)ips; (void)n; (void)cut; (void)code_gen; (void)id;
  return 0;
}
#endif
