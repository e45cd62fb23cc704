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
**   CFI reader    binary search of the hdr table (datarel sdata4), the FDE
**                 and its CIE, then the CIE's initial instructions and the
**                 FDE's up to the pc: the row for the CFA, the return
**                 address and the frame pointer (x29 / rbp) rules.
**   shape cache   a global, lock-free pc -> row table (a row packed into
**                 64 bits, stored with the key xor the row, so a torn read
**                 is seen as a miss). A repeated pc costs a hash probe.
**   step          the row applied to {pc, sp, fp, lr}: every stack word is
**                 read only inside the calling thread's stack bounds.
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

#if defined(__x86_64__)
#define EH_ARCH_OK 1
#define R_FP 6
#define R_SP 7
#define R_RA 16
#elif defined(__aarch64__)
#define EH_ARCH_OK 1
#define R_FP 29
#define R_SP 31
#define R_RA 30
#endif

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
int lr_unwind_available_eh(void) { return 0; }
#else

int lr_unwind_available_eh(void) { return 1; }

/* ---- the module table -------------------------------------------------- */

typedef struct EhMod {
  uintptr_t lo, hi;       /* executable PT_LOADs, [lo, hi) */
  const uint8_t *hdr;     /* .eh_frame_hdr, or NULL */
  const int32_t *tab;     /* its search table: pairs (initial loc, fde), hdr-relative */
  uint32_t count;         /* entries in tab; 0 = no table usable */
} EhMod;

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

static uintptr_t rd_enc(const uint8_t **pp, uint8_t enc, uintptr_t datarel, int *ok);

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
    rd_enc(&p, hdr[1], (uintptr_t)hdr, &ok);
    uintptr_t count = rd_enc(&p, hdr[2], (uintptr_t)hdr, &ok);
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

/* ---- DWARF reading ------------------------------------------------------ */

static uint64_t uleb(const uint8_t **pp, const uint8_t *end) {
  const uint8_t *p = *pp;
  uint64_t v = 0;
  unsigned s = 0;
  while (p < end) {
    uint8_t b = *p++;
    if (s < 64) v |= (uint64_t)(b & 0x7f) << s;
    s += 7;
    if (!(b & 0x80)) break;
  }
  *pp = p;
  return v;
}

static int64_t sleb(const uint8_t **pp, const uint8_t *end) {
  const uint8_t *p = *pp;
  int64_t v = 0;
  unsigned s = 0;
  uint8_t b = 0;
  while (p < end) {
    b = *p++;
    if (s < 64) v |= (int64_t)((uint64_t)(b & 0x7f) << s);
    s += 7;
    if (!(b & 0x80)) break;
  }
  if (s < 64 && (b & 0x40)) v |= -((int64_t)1 << s);
  *pp = p;
  return v;
}

static inline uint16_t ld16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t ld32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t ld64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* A pointer in DW_EH_PE encoding `enc` (pcrel, datarel and absolute; no
** indirect). *ok = 0 on an encoding this reader does not know. */
static uintptr_t rd_enc(const uint8_t **pp, uint8_t enc, uintptr_t datarel, int *ok) {
  const uint8_t *p = *pp, *start = p;
  uintptr_t v;
  if (enc == 0xff) return 0; /* DW_EH_PE_omit */
  switch (enc & 0x0f) {
  case 0x00: v = (uintptr_t)ld64(p); p += 8; break;            /* absptr */
  case 0x01: v = (uintptr_t)uleb(&p, p + 16); break;
  case 0x02: v = ld16(p); p += 2; break;
  case 0x03: v = ld32(p); p += 4; break;
  case 0x04: v = (uintptr_t)ld64(p); p += 8; break;
  case 0x09: v = (uintptr_t)sleb(&p, p + 16); break;
  case 0x0a: v = (uintptr_t)(intptr_t)(int16_t)ld16(p); p += 2; break;
  case 0x0b: v = (uintptr_t)(intptr_t)(int32_t)ld32(p); p += 4; break;
  case 0x0c: v = (uintptr_t)ld64(p); p += 8; break;
  default: *ok = 0; return 0;
  }
  switch (enc & 0x70) {
  case 0x00: break;
  case 0x10: v += (uintptr_t)start; break; /* pcrel */
  case 0x30: v += datarel; break;          /* datarel */
  default: *ok = 0; return 0;
  }
  if (enc & 0x80) *ok = 0; /* indirect: not in .eh_frame's pc fields */
  *pp = p;
  return v;
}

/* A frame's row, reduced to what the walk needs. */
enum { CFA_SP = 0, CFA_FP = 1, CFA_DEREF_FP = 2, K_NOFDE = 3, K_SIGNAL = 4, K_END = 5 };
enum { R_SAME = 0, R_AT_CFA = 1, R_AT_FP = 2, R_UNDEF = 3, R_OTHER = 4 };

typedef struct EhRow {
  int kind;            /* CFA_* or K_* */
  int64_t cfa_off;
  int ra_how, fp_how;  /* R_* */
  int64_t ra_off, fp_off;
} EhRow;

/* The rules for the three registers the walk follows, as the instructions
** leave them; other registers' rules are read and dropped. */
typedef struct EhRules {
  int cfa_reg;         /* DWARF number, or -1 with cfa_expr set */
  int64_t cfa_off;
  int cfa_expr;        /* 1: CFA = *(fp + cfa_off) (DRAP); 2: another expression */
  int how[2];          /* [0] return address, [1] frame pointer: R_* */
  int64_t off[2];
} EhRules;

static inline int slot_of(uint64_t reg) {
  return reg == R_RA ? 0 : reg == R_FP ? 1 : -1;
}

typedef struct EhCie {
  const uint8_t *insns, *end;
  uint64_t code_align;
  int64_t data_align;
  uint64_t ra_reg;
  uint8_t fde_enc;
  int signal, z;
} EhCie;

static int parse_cie(const uint8_t *p, EhCie *c) {
  uint64_t len = ld32(p);
  p += 4;
  if (len == 0xffffffffu) {
    len = ld64(p);
    p += 8;
    if (len < 8) return -1;
    c->end = p + len;
    if (ld64(p) != 0) return -1;
    p += 8;
  } else {
    if (len < 4) return -1;
    c->end = p + len;
    if (ld32(p) != 0) return -1;
    p += 4;
  }
  uint8_t ver = *p++;
  if (ver != 1 && ver != 3 && ver != 4) return -1;
  const char *aug = (const char *)p;
  size_t al = strnlen(aug, (size_t)(c->end - p));
  p += al + 1;
  if (p > c->end) return -1;
  if (ver == 4) p += 2; /* address size, segment selector size */
  c->code_align = uleb(&p, c->end);
  c->data_align = sleb(&p, c->end);
  c->ra_reg = ver == 1 ? *p++ : uleb(&p, c->end);
  c->fde_enc = 0; /* absptr */
  c->signal = 0;
  c->z = aug[0] == 'z';
  if (c->z) {
    uint64_t alen = uleb(&p, c->end);
    const uint8_t *ad = p, *aend = p + alen;
    if (aend > c->end) return -1;
    for (size_t i = 1; i < al; i++) {
      int ok = 1;
      switch (aug[i]) {
      case 'R': c->fde_enc = *ad++; break;
      case 'L': ad++; break;
      case 'P': { uint8_t e = *ad++; rd_enc(&ad, e & 0x7f, 0, &ok); break; }
      case 'S': c->signal = 1; break;
      default: break; /* 'B' (BTI), 'G' (MTE): nothing to do here */
      }
      if (!ok || ad > aend) return -1;
    }
    p = aend;
  } else if (aug[0]) {
    if (strcmp(aug, "S")) return -1; /* an augmentation this reader cannot skip */
    c->signal = 1;
  }
  c->insns = p;
  return 0;
}

/* Runs CFA instructions [p, end) from `loc` while the location stays <= pc.
** init: the rules after the CIE's instructions (for DW_CFA_restore).
** Returns -1 on an instruction it cannot follow. */
#define EH_STATE_DEPTH 8
static int run_cfa(const uint8_t *p, const uint8_t *end, uintptr_t loc, uintptr_t pc,
                   const EhCie *c, EhRules *r, const EhRules *init) {
  EhRules stack[EH_STATE_DEPTH];
  int sp = 0;
  while (p < end) {
    uint8_t op = *p++;
    uint64_t reg, adv = 0;
    int64_t off;
    int s;
    switch (op & 0xc0) {
    case 0x40: adv = (op & 0x3f) * c->code_align; goto advance;
    case 0x80:
      s = slot_of(op & 0x3f);
      off = (int64_t)uleb(&p, end) * c->data_align;
      if (s >= 0) { r->how[s] = R_AT_CFA; r->off[s] = off; }
      continue;
    case 0xc0:
      s = slot_of(op & 0x3f);
      if (s >= 0) { r->how[s] = init->how[s]; r->off[s] = init->off[s]; }
      continue;
    }
    switch (op) {
    case 0x00: break; /* nop */
    case 0x01: { int ok = 1; uintptr_t nl = rd_enc(&p, c->fde_enc, 0, &ok);
                 if (!ok) return -1;
                 if (nl > pc) return 0;
                 loc = nl; break; }
    case 0x02: adv = (uint64_t)*p++ * c->code_align; goto advance;
    case 0x03: adv = ld16(p) * c->code_align; p += 2; goto advance;
    case 0x04: adv = ld32(p) * c->code_align; p += 4; goto advance;
    case 0x05: /* offset_extended */
      reg = uleb(&p, end);
      off = (int64_t)uleb(&p, end) * c->data_align;
      if ((s = slot_of(reg)) >= 0) { r->how[s] = R_AT_CFA; r->off[s] = off; }
      break;
    case 0x06: /* restore_extended */
      if ((s = slot_of(uleb(&p, end))) >= 0) { r->how[s] = init->how[s]; r->off[s] = init->off[s]; }
      break;
    case 0x07: /* undefined */
      if ((s = slot_of(uleb(&p, end))) >= 0) r->how[s] = R_UNDEF;
      break;
    case 0x08: /* same_value */
      if ((s = slot_of(uleb(&p, end))) >= 0) r->how[s] = R_SAME;
      break;
    case 0x09: /* register */
      reg = uleb(&p, end);
      uleb(&p, end);
      if ((s = slot_of(reg)) >= 0) r->how[s] = R_OTHER;
      break;
    case 0x0a: /* remember_state */
      if (sp >= EH_STATE_DEPTH) return -1;
      stack[sp++] = *r;
      break;
    case 0x0b: /* restore_state (the whole row, CFA included, as gcc expects) */
      if (sp == 0) return -1;
      *r = stack[--sp];
      break;
    case 0x0c: /* def_cfa */
      r->cfa_reg = (int)uleb(&p, end);
      r->cfa_off = (int64_t)uleb(&p, end);
      r->cfa_expr = 0;
      break;
    case 0x0d: r->cfa_reg = (int)uleb(&p, end); r->cfa_expr = 0; break;
    case 0x0e: r->cfa_off = (int64_t)uleb(&p, end); break;
    case 0x0f: { /* def_cfa_expression: DW_OP_bregFP off; DW_OP_deref is all we follow */
      uint64_t n = uleb(&p, end);
      const uint8_t *e = p, *ee = p + n;
      if (ee > end) return -1;
      p = ee;
      r->cfa_expr = 2;
      r->cfa_reg = -1;
      if (e < ee && *e == 0x70 + R_FP) {
        e++;
        int64_t o = sleb(&e, ee);
        if (e + 1 == ee && *e == 0x06) { r->cfa_expr = 1; r->cfa_off = o; }
      }
      break;
    }
    case 0x10: { /* expression: DW_OP_bregFP off as the frame pointer's save slot */
      reg = uleb(&p, end);
      uint64_t n = uleb(&p, end);
      const uint8_t *e = p, *ee = p + n;
      if (ee > end) return -1;
      p = ee;
      if ((s = slot_of(reg)) < 0) break;
      r->how[s] = R_OTHER;
      if (e < ee && *e == 0x70 + R_FP) {
        e++;
        int64_t o = sleb(&e, ee);
        if (e == ee) { r->how[s] = R_AT_FP; r->off[s] = o; }
      }
      break;
    }
    case 0x11: /* offset_extended_sf */
      reg = uleb(&p, end);
      off = sleb(&p, end) * c->data_align;
      if ((s = slot_of(reg)) >= 0) { r->how[s] = R_AT_CFA; r->off[s] = off; }
      break;
    case 0x12: /* def_cfa_sf */
      r->cfa_reg = (int)uleb(&p, end);
      r->cfa_off = sleb(&p, end) * c->data_align;
      r->cfa_expr = 0;
      break;
    case 0x13: r->cfa_off = sleb(&p, end) * c->data_align; break;
    case 0x14: case 0x15: /* val_offset(_sf) */
      reg = uleb(&p, end);
      if (op == 0x14) uleb(&p, end); else sleb(&p, end);
      if ((s = slot_of(reg)) >= 0) r->how[s] = R_OTHER;
      break;
    case 0x16: { /* val_expression */
      reg = uleb(&p, end);
      uint64_t n = uleb(&p, end);
      p += n;
      if ((s = slot_of(reg)) >= 0) r->how[s] = R_OTHER;
      break;
    }
    case 0x2d: /* aarch64: negate_ra_state. The walk strips PAC bits from
               ** every return address, signed or not, so nothing to track. */
#if !defined(__aarch64__)
      return -1; /* GNU_window_save: SPARC's */
#endif
      break;
    case 0x2e: uleb(&p, end); break; /* GNU_args_size: matters to landing pads only */
    case 0x2f: /* GNU_negative_offset_extended */
      reg = uleb(&p, end);
      off = -(int64_t)uleb(&p, end) * c->data_align;
      if ((s = slot_of(reg)) >= 0) { r->how[s] = R_AT_CFA; r->off[s] = off; }
      break;
    default:
      return -1;
    }
    continue;
  advance:
    if (loc + adv > pc) return 0;
    loc += adv;
  }
  return 0;
}

/* The row for pc (a return address minus one, or an exact pc for frame 0). */
static void find_row(const EhMod *m, uintptr_t pc, EhRow *row) {
  *row = (EhRow){.kind = K_NOFDE};
  if (!m || !m->count) return;
  const int32_t *tab = m->tab;
  uintptr_t base = (uintptr_t)m->hdr;
  uint32_t a = 0, b = m->count;
  while (a < b) { /* last entry with initial loc <= pc */
    uint32_t k = (a + b) / 2;
    if (base + (intptr_t)tab[2 * k] <= pc) a = k + 1;
    else b = k;
  }
  if (a == 0) return;
  const uint8_t *fde = (const uint8_t *)(base + (intptr_t)tab[2 * (a - 1) + 1]);
  const uint8_t *p = fde, *end;
  uint64_t len = ld32(p);
  p += 4;
  const uint8_t *idp = p;
  uintptr_t cie_ptr;
  if (len == 0xffffffffu) {
    len = ld64(p);
    p += 8;
    end = p + len;
    idp = p;
    cie_ptr = (uintptr_t)idp - (uintptr_t)ld64(p);
    p += 8;
  } else {
    if (len == 0) return;
    end = p + len;
    cie_ptr = (uintptr_t)idp - ld32(p);
    p += 4;
  }
  EhCie c;
  if (parse_cie((const uint8_t *)cie_ptr, &c)) return;
  int ok = 1;
  uintptr_t begin = rd_enc(&p, c.fde_enc, 0, &ok);
  uintptr_t range = rd_enc(&p, c.fde_enc & 0x0f, 0, &ok);
  if (!ok || pc < begin || pc - begin >= range) return;
  if (c.signal) {
    row->kind = K_SIGNAL;
    return;
  }
  if (c.ra_reg != R_RA) return;
  if (c.z) p += uleb(&p, end); /* the FDE's augmentation data (its LSDA) */
  EhRules r = {.cfa_reg = R_SP, .cfa_off = 0, .cfa_expr = 0,
               .how = {R_SAME, R_SAME}, .off = {0, 0}};
  if (run_cfa(c.insns, c.end, 0, UINTPTR_MAX, &c, &r, &r)) return;
  EhRules init = r;
  if (run_cfa(p, end, begin, pc, &c, &r, &init)) return;
  if (r.cfa_expr == 1) row->kind = CFA_DEREF_FP;
  else if (r.cfa_expr) return;
  else if (r.cfa_reg == R_SP) row->kind = CFA_SP;
  else if (r.cfa_reg == R_FP) row->kind = CFA_FP;
  else return; /* CFA from another register (a prologue with DRAP): fp step */
  row->cfa_off = r.cfa_off;
  row->ra_how = r.how[0];
  row->ra_off = r.off[0];
  row->fp_how = r.how[1];
  row->fp_off = r.off[1];
  if (row->ra_how == R_UNDEF) row->kind = K_END;
  else if (row->ra_how == R_OTHER || row->fp_how == R_OTHER) row->kind = K_NOFDE;
  if (row->kind >= K_NOFDE) row->ra_how = row->fp_how = 0;
#if !defined(__aarch64__)
  else if (row->ra_how != R_AT_CFA) row->kind = K_NOFDE; /* x86: the RA is on the stack */
#endif
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

static void unpack(uint64_t v, EhRow *r) {
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

/* One stack word, only if inside [lo, hi). */
#define RD(addr, dst)                                                            \
  do {                                                                           \
    uintptr_t a_ = (addr);                                                       \
    if (a_ < lo || a_ > hi - sizeof(uintptr_t) || (a_ & (sizeof(uintptr_t) - 1))) \
      goto out;                                                                  \
    (dst) = *(const uintptr_t *)a_;                                              \
  } while (0)

int lr_unwind_eh_from(const LrEhRegs *regs, uintptr_t *ips, int max, uint32_t code_gen,
                      uintptr_t lo, uintptr_t hi, LrEhStats *st) {
  int n = 0;
  if (max <= 0 || hi <= lo) return 0;
  EhTable *t = __atomic_load_n(&g_table, __ATOMIC_ACQUIRE);
  if (!t || t->code_gen != code_gen) t = rebuild(code_gen);
  if (!t || t->code_gen != code_gen) return 0; /* never read an unloaded module */
  EhSlot *cache = cache_get();
  uintptr_t pc = regs->pc, sp = regs->sp, fp = regs->fp, lr = regs->lr;
  int sp_known = 1, rebuilt = 0;
  for (int frame = 0; n < max; frame++) {
    ips[n++] = pc; /* frame 0: the unwinder's own pc, as libunwind's first */
    if (n >= max) break;
    /* the call instruction's row: a return address may be one past the
    ** end of its function (a call to a noreturn function) */
    uintptr_t q = frame > 0 ? pc - 1 : pc;
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
      if (m) find_row(m, q, &row);
      else row = (EhRow){.kind = K_NOFDE};
      if (st) st->misses++;
      if (slot && pack(&row, &packed)) {
        __atomic_store_n(&slot->packed, packed, __ATOMIC_RELAXED);
        __atomic_store_n(&slot->check, packed ^ key, __ATOMIC_RELAXED);
      }
    }
    uintptr_t cfa, ra, nfp = fp;
    switch (row.kind) {
    case CFA_SP:
      if (!sp_known) goto fp_step;
      cfa = sp + (uintptr_t)row.cfa_off;
      break;
    case CFA_FP: cfa = fp + (uintptr_t)row.cfa_off; break;
    case CFA_DEREF_FP: RD(fp + (uintptr_t)row.cfa_off, cfa); break;
    case K_NOFDE: goto fp_step;
    default: goto out; /* signal frame, end of stack */
    }
    if (cfa <= sp || cfa < lo || cfa > hi) goto out;
    if (row.ra_how == R_AT_CFA) RD(cfa + (uintptr_t)row.ra_off, ra);
    else if (row.ra_how == R_SAME && frame == 0) ra = lr;
    else goto out; /* x30 "same value" above a call: nothing to trust */
    if (row.fp_how == R_AT_CFA) RD(cfa + (uintptr_t)row.fp_off, nfp);
    else if (row.fp_how == R_AT_FP) RD(fp + (uintptr_t)row.fp_off, nfp);
    else if (row.fp_how == R_UNDEF) nfp = 0;
    sp = cfa;
    sp_known = 1;
    goto next;
  fp_step:
    /* a frame record {saved fp, return address} at fp, above the sp */
    if (fp < sp) goto out;
    RD(fp, nfp);
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
      if (!find_mod(t, r ? r - 1 : 0)) goto out; /* not code: a garbage record */
    }
  next:
    ra = strip_pac(ra);
    if (ra == 0) break;
    lr = ra;
    fp = nfp;
    pc = ra;
  }
out:
  return n;
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
