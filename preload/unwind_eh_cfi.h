/*
** unwind_eh_cfi.h: what the eh backend's walk (unwind_eh.c) and its CFI
** reader (unwind_eh_cfi.c) share: the registers followed, a module's
** search table, and a frame's row. Not a public interface.
*/
#ifndef LR_UNWIND_EH_CFI_H
#define LR_UNWIND_EH_CFI_H

#include <stdint.h>

/* DWARF register numbers of the frame pointer, the stack pointer and the
** return address column */
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

typedef struct EhMod {
  uintptr_t lo, hi;       /* executable PT_LOADs, [lo, hi) */
  const uint8_t *hdr;     /* .eh_frame_hdr, or NULL */
  const int32_t *tab;     /* its search table: pairs (initial loc, fde), hdr-relative */
  uint32_t count;         /* entries in tab; 0 = no table usable */
} EhMod;

/* A frame's row, reduced to what the walk needs. */
enum { CFA_SP = 0, CFA_FP = 1, CFA_DEREF_FP = 2, K_NOFDE = 3, K_SIGNAL = 4, K_END = 5 };
enum { R_SAME = 0, R_AT_CFA = 1, R_AT_FP = 2, R_UNDEF = 3, R_OTHER = 4 };

typedef struct EhRow {
  int kind;            /* CFA_* or K_* */
  int64_t cfa_off;
  int ra_how, fp_how;  /* R_* */
  int64_t ra_off, fp_off;
} EhRow;

/* A pointer read at *pp in DWARF encoding enc (datarel: the base of
** DW_EH_PE_datarel); *ok cleared if the encoding is not one .eh_frame uses
** for these fields. */
uintptr_t lr_eh_rd_enc(const uint8_t **pp, uint8_t enc, uintptr_t datarel, int *ok);

/* The row for pc in module m (a return address minus one, or an exact pc
** for frame 0); kind K_NOFDE when m has no usable FDE for it. */
void lr_eh_find_row(const EhMod *m, uintptr_t pc, EhRow *row);

#endif /* LR_UNWIND_EH_CFI_H */
