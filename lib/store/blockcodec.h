/*
** blockcodec.h: the byte format of one block of allocations rows (schema
** v3: table alloc_blocks, column data; schemas/README.md, "Storage").
**
** A trace keeps its allocations (one row per block or mapping lifetime,
** millions in a busy run) as blocks of up to LR_BC_MAX_ROWS rows, stored
** column by column: each column's values as differences from the row
** before, zigzag varints, with runs of equal differences counted once.
** On malloc churn most columns are runs (the same size, stack, thread,
** lifetime), so a row costs a few bytes instead of ~70 in a SQLite row
** with three indexes. No SQLite here: the store (allocvt.h) reads and
** writes the blocks; this file only turns rows into bytes and back.
**
** Block layout (all integers LEB128 varints unless said otherwise):
**   version (1), n rows, nstrings, then nstrings x (length, bytes):
**   the distinct strings of the block's text columns;
**   then for each of the LR_BC_NCOLS columns in order: its byte length,
**   then its payload: one byte NULLS (0 none, 1 some: a bitmap of
**   ceil(n/8) bytes follows, bit set = NULL; 2 all), then the non-NULL
**   values as runs: a head of 65 bits, more | zigzag(delta) << 1 (the first
**   byte: more, 6 value bits and the continuation bit; then the value's
**   other bits as LEB128), and when `more` is set, run - 2 (the delta
**   repeats `run` times in all).
** A text column's value is the index of its string in the block's list.
** free_seq and free_ns are stored as their distance from alloc_seq and
** alloc_ns when those are not NULL (a lifetime repeats; an end does not).
**
** What is stored (lr_bc_pack) is that block deflated (zlib, fastest level)
** when that is smaller: a first byte 0 (raw: the block follows) or 1
** (deflated: the block's length as a varint, then the zlib stream). The
** column deltas leave periodic patterns (addresses cycling through a few
** free-list slots) that deflate finds: 1.6 B a row on malloc churn becomes
** 0.23.
**
** Invariants:
**   1. decode(encode(rows)) gives back every value, NULL and string exactly
**      (any int64, any byte string, NUL bytes included).
**   2. A column's payload is self-delimited by its length: a reader may
**      skip the columns it does not need.
*/
#ifndef LR_BLOCKCODEC_H
#define LR_BLOCKCODEC_H

#include <stddef.h>
#include <stdint.h>

/* The allocations columns a block holds, in the table's order (process_id
** is the block's, not the rows'). */
enum {
  LR_BC_ID,
  LR_BC_KIND,
  LR_BC_REGION,
  LR_BC_ADDRESS,
  LR_BC_SIZE,
  LR_BC_ALLOC_SEQ,
  LR_BC_FREE_SEQ,
  LR_BC_ALLOC_NS,
  LR_BC_FREE_NS,
  LR_BC_FREE_KIND,
  LR_BC_THREAD,
  LR_BC_STACK,
  LR_BC_ALIGN,
  LR_BC_PROT,
  LR_BC_FLAGS,
  LR_BC_FILE,
  LR_BC_FILE_OFFSET,
  LR_BC_NCOLS
};

#define LR_BC_MAX_ROWS 1024

/* 1 for the text columns (kind, region, free_kind, file). */
int lr_bc_is_text(int col);

/* One row. Text: s[c] and len[c]; integers: v[c]. Bit c of `nulls` set:
** column c is NULL (its v/s unused). */
typedef struct LrBcRow {
  int64_t v[LR_BC_NCOLS];
  const char *s[LR_BC_NCOLS];
  uint32_t len[LR_BC_NCOLS];
  uint32_t nulls;
} LrBcRow;

/* An encoder: reusable scratch space; one block at a time. */
typedef struct LrBcEnc LrBcEnc;
LrBcEnc *lr_bc_enc_new(void);
void lr_bc_enc_free(LrBcEnc *e);

/* Encodes rows[0..n) (1 <= n <= LR_BC_MAX_ROWS). Returns the bytes (owned
** by e, valid until its next call) with *len set, or NULL when memory
** runs out. */
const uint8_t *lr_bc_encode(LrBcEnc *e, const LrBcRow *rows, int n, size_t *len);

/* The bytes to store for the block b[0..len) (encoded by lr_bc_encode):
** owned by e, valid until its next call; NULL when memory runs out. */
const uint8_t *lr_bc_pack(LrBcEnc *e, const uint8_t *b, size_t len, size_t *out_len);

/* The block in stored bytes p[0..len), into *buf (grown with realloc as
** needed, capacity *cap): 0 with *out_len set, -1 when damaged (or memory
** runs out: *oom set). */
int lr_bc_unpack(const uint8_t *p, size_t len, uint8_t **buf, size_t *cap, size_t *out_len,
                 int *oom);

/* A decoded block: the columns asked for, as arrays of n. */
typedef struct LrBcCols {
  int n;
  uint32_t have;              /* bit c: column c decoded */
  int64_t *v[LR_BC_NCOLS];    /* values (text columns: string index) */
  uint8_t *null[LR_BC_NCOLS]; /* 1 = NULL */
  uint32_t nstr;
  const uint8_t **str; /* strings: pointers into the block's bytes */
  uint32_t *slen;
  /* storage */
  int64_t *vbuf;
  uint8_t *nbuf;
  size_t cap_rows, cap_str;
} LrBcCols;

/* Decodes the columns in `mask` (bit c = column c; free_seq/free_ns bring
** alloc_seq/alloc_ns) of the block p[0..len) into c, which keeps its
** storage between calls (zero it before the first; lr_bc_cols_free at the
** end). The strings point into p, which must outlive their use. 0, or -1
** when the bytes are not a block (damaged) or memory runs out (*oom set). */
int lr_bc_decode(const uint8_t *p, size_t len, uint32_t mask, LrBcCols *c, int *oom);
void lr_bc_cols_free(LrBcCols *c);

/* Row i of c (decoded with every column) as an LrBcRow. */
void lr_bc_row(const LrBcCols *c, int i, LrBcRow *out);

#endif
