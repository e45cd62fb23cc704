/*
** blockstore.c: see blockstore.h.
**
** Invariants:
**   1. A level's kept rows number fewer than LR_BC_MAX_ROWS between calls:
**      a full level is written at once.
**   2. Kept rows' strings live in their level's arena, as offsets (the
**      arena may move when it grows); pointers are made only to write.
*/
#include "store/blockstore.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"

int lr_bs_level(int64_t alloc_seq, int free_null, int64_t free_seq) {
  if (free_null) return LR_BS_LEVELS - 1;
  uint64_t life = (uint64_t)free_seq - (uint64_t)alloc_seq, span = 16;
  if (free_seq < alloc_seq) return 0; /* damaged or hostile: any level is right */
  for (int l = 0; l < LR_BS_LEVELS - 1; l++, span *= 16)
    if (life < span) return l;
  return LR_BS_LEVELS - 1;
}

int lr_bs_prepare_insert(sqlite3 *db, const char *schema, sqlite3_stmt **st) {
  char *sql = sqlite3_mprintf("INSERT INTO \"%w\".alloc_blocks(process_id, lvl, n, id_min, "
                              "id_max, alloc_min, alloc_max, free_min, free_max, nlive, data) "
                              "VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                              schema);
  if (!sql) return -1;
  int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
  sqlite3_free(sql);
  return rc == SQLITE_OK ? 0 : -1;
}

/* min/max of column col over the rows where it is not NULL. */
static int range_of(const LrBcRow *rows, int n, int col, int64_t *lo, int64_t *hi) {
  int any = 0;
  for (int i = 0; i < n; i++) {
    if (rows[i].nulls & (1u << col)) continue;
    int64_t v = rows[i].v[col];
    if (!any || v < *lo) *lo = v;
    if (!any || v > *hi) *hi = v;
    any = 1;
  }
  return any;
}

static void bind_range(sqlite3_stmt *st, int i, const LrBcRow *rows, int n, int col) {
  int64_t lo = 0, hi = 0;
  if (range_of(rows, n, col, &lo, &hi)) {
    sqlite3_bind_int64(st, i, lo);
    sqlite3_bind_int64(st, i + 1, hi);
  } else {
    sqlite3_bind_null(st, i);
    sqlite3_bind_null(st, i + 1);
  }
}

int lr_bs_write_block(sqlite3_stmt *ins, LrBcEnc *enc, int64_t proc, int lvl, const LrBcRow *rows,
                      int n, int *oom) {
  size_t len, plen;
  const uint8_t *b = lr_bc_encode(enc, rows, n, &len);
  if (!b || !(b = lr_bc_pack(enc, b, len, &plen))) return *oom = 1, -1;
  len = plen;
  int nlive = 0;
  for (int i = 0; i < n; i++) nlive += (rows[i].nulls >> LR_BC_FREE_SEQ) & 1;
  sqlite3_bind_int64(ins, 1, proc);
  sqlite3_bind_int(ins, 2, lvl);
  sqlite3_bind_int(ins, 3, n);
  bind_range(ins, 4, rows, n, LR_BC_ID);
  bind_range(ins, 6, rows, n, LR_BC_ALLOC_SEQ);
  bind_range(ins, 8, rows, n, LR_BC_FREE_SEQ);
  sqlite3_bind_int(ins, 10, nlive);
  sqlite3_bind_blob(ins, 11, b, (int)len, SQLITE_STATIC);
  int rc = sqlite3_step(ins);
  sqlite3_reset(ins);
  sqlite3_clear_bindings(ins);
  return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- the buffering writer ------------------------------------------------ */

typedef struct Level {
  LrBcRow *rows;                /* LR_BC_MAX_ROWS, allocated on first use */
  uint32_t (*off)[LR_BC_NCOLS]; /* text columns: offsets into arena */
  int n;
  char *arena;
  size_t alen, acap;
} Level;

struct LrBsWriter {
  sqlite3_stmt *ins;
  LrBcEnc *enc;
  int64_t proc;
  Level lv[LR_BS_LEVELS];
};

LrBsWriter *lr_bs_writer_new(sqlite3 *db, const char *schema, int64_t proc, int *oom) {
  LrBsWriter *w = calloc(1, sizeof *w);
  if (!w || !(w->enc = lr_bc_enc_new())) {
    if (w) free(w);
    *oom = 1;
    return NULL;
  }
  w->proc = proc;
  if (lr_bs_prepare_insert(db, schema, &w->ins)) {
    lr_bs_writer_free(w);
    return NULL;
  }
  return w;
}

static int write_level(LrBsWriter *w, int l, int *oom) {
  Level *v = &w->lv[l];
  for (int i = 0; i < v->n; i++)
    for (int c = 0; c < LR_BC_NCOLS; c++)
      if (lr_bc_is_text(c) && !(v->rows[i].nulls & (1u << c)))
        v->rows[i].s[c] = v->arena + v->off[i][c];
  int rc = lr_bs_write_block(w->ins, w->enc, w->proc, l, v->rows, v->n, oom);
  v->n = 0;
  v->alen = 0;
  return rc;
}

int lr_bs_put(LrBsWriter *w, const LrBcRow *row, int *oom) {
  int l = lr_bs_level(row->v[LR_BC_ALLOC_SEQ], (row->nulls >> LR_BC_FREE_SEQ) & 1,
                      row->v[LR_BC_FREE_SEQ]);
  Level *v = &w->lv[l];
  if (!v->rows) {
    v->rows = malloc(sizeof *v->rows * LR_BC_MAX_ROWS);
    v->off = malloc(sizeof *v->off * LR_BC_MAX_ROWS);
    if (!v->rows || !v->off) return *oom = 1, -1;
  }
  assert(v->n < LR_BC_MAX_ROWS); /* invariant 1 */
  LrBcRow *k = &v->rows[v->n];
  *k = *row;
  for (int c = 0; c < LR_BC_NCOLS; c++) {
    if (!lr_bc_is_text(c) || (row->nulls & (1u << c))) continue;
    uint32_t len = row->s[c] ? row->len[c] : 0;
    char *a = lr_grow(v->arena, &v->acap, v->alen + len + 1, 1);
    if (!a || v->alen + len > UINT32_MAX) return *oom = 1, -1;
    v->arena = a;
    if (len) memcpy(a + v->alen, row->s[c], len);
    v->off[v->n][c] = (uint32_t)v->alen;
    k->s[c] = NULL; /* invariant 2: set when written */
    k->len[c] = len;
    v->alen += len;
  }
  return ++v->n == LR_BC_MAX_ROWS ? write_level(w, l, oom) : 0;
}

int lr_bs_flush(LrBsWriter *w, int *oom) {
  for (int l = 0; l < LR_BS_LEVELS; l++)
    if (w->lv[l].n && write_level(w, l, oom)) return -1;
  return 0;
}

void lr_bs_writer_free(LrBsWriter *w) {
  if (!w) return;
  for (int l = 0; l < LR_BS_LEVELS; l++) {
    free(w->lv[l].rows);
    free(w->lv[l].off);
    free(w->lv[l].arena);
  }
  sqlite3_finalize(w->ins);
  lr_bc_enc_free(w->enc);
  free(w);
}
