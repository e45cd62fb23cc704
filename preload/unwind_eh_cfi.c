/*
** unwind_eh_cfi.c: the CFI reader of the eh backend (unwind_eh.c): the
** FDE for a pc found by binary search of a module's .eh_frame_hdr table,
** its CIE, and the call-frame instructions run up to the pc, reduced to the
** row the walk needs (unwind_eh_cfi.h). Reads only the modules' own mapped
** sections; no malloc, no lock. Written for this project from the DWARF and
** LSB specifications.
*/
#include <stddef.h>
#include <string.h>

#include "unwind_eh_cfi.h"

#ifdef EH_ARCH_OK

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
uintptr_t lr_eh_rd_enc(const uint8_t **pp, uint8_t enc, uintptr_t datarel, int *ok) {
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
      case 'P': { uint8_t e = *ad++; lr_eh_rd_enc(&ad, e & 0x7f, 0, &ok); break; }
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
    case 0x01: { int ok = 1; uintptr_t nl = lr_eh_rd_enc(&p, c->fde_enc, 0, &ok);
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
void lr_eh_find_row(const EhMod *m, uintptr_t pc, EhRow *row) {
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
  uintptr_t begin = lr_eh_rd_enc(&p, c.fde_enc, 0, &ok);
  uintptr_t range = lr_eh_rd_enc(&p, c.fde_enc & 0x0f, 0, &ok);
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

#endif /* EH_ARCH_OK */
