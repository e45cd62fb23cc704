/*
** allocvt.c: the `allocations` virtual table (allocvt.h).
**
** Reading: a cursor walks the summary columns of alloc_blocks, skips every
** block whose ranges rule out the pushed-down constraints, decodes only
** the columns the query uses (colUsed) plus those it filters on, and hands
** SQLite the rows that pass. SQLite re-checks every constraint (omit = 0),
** so a constraint the table cannot judge (a real or text operand) is
** simply not applied here.
**
** Invariants:
**   1. A cursor on a block holds its own copy of the block's bytes: the
**      decoded strings point into it, whatever the scan statement does.
**   2. Rows inserted through the table are either pending in `pend` (one
**      process's, this connection's open transaction) or in blocks; every
**      read, UPDATE and DELETE writes the pending rows out first, so it
**      sees them.
*/
#include "store/allocvt.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "store/blockstore.h"
#include "store/stackvt.h"

enum { VC_PROCESS = LR_BC_NCOLS, VC_LIVE_AT, VC_NCOLS };
enum { OP_EQ, OP_GT, OP_GE, OP_LT, OP_LE, OP_ISNULL, OP_NOTNULL };
enum { MAX_CONS = 16 };

static const char DECLARE[] =
    "CREATE TABLE x(id INTEGER, kind TEXT, region TEXT, address INTEGER, size INTEGER, "
    "alloc_seq INTEGER, free_seq INTEGER, alloc_ns INTEGER, free_ns INTEGER, free_kind TEXT, "
    "thread_id INTEGER, stack_id INTEGER, alignment INTEGER, prot INTEGER, flags INTEGER, "
    "file TEXT, file_offset INTEGER, process_id INTEGER, live_at INTEGER HIDDEN)";

static const char *const col_name[VC_NCOLS] = {
    "id",       "kind",    "region",      "address",    "size",     "alloc_seq", "free_seq",
    "alloc_ns", "free_ns", "free_kind",   "thread_id",  "stack_id", "alignment", "prot",
    "flags",    "file",    "file_offset", "process_id", "live_at"};

typedef struct Vt {
  sqlite3_vtab base;
  sqlite3 *db;
  char *schema;
  LrBsWriter *pend; /* rows inserted, not yet in blocks (invariant 2) */
  int64_t pend_proc;
  int64_t next_id; /* 0: not known yet */
  /* a block being rewritten by UPDATE or DELETE */
  uint8_t *blob;
  size_t blob_cap;
  LrBcCols cols;
  LrBcEnc *enc;
} Vt;

typedef struct Cons {
  int col, op;
  int skip; /* operand the table cannot judge: SQLite alone checks */
  int64_t iv;
  char *text;
  int tlen;
} Cons;

typedef struct Cur {
  sqlite3_vtab_cursor base;
  sqlite3_stmt *scan;
  Cons cons[MAX_CONS];
  int ncons;
  int none;      /* a NULL operand: no row can match */
  uint32_t mask; /* codec columns to decode */
  int has_live;
  int64_t live_at;
  int in_block, row, eof;
  int64_t block_id, proc;
  uint8_t *blob; /* invariant 1: the block unpacked (lr_bc_unpack) */
  size_t blob_len, blob_cap;
  LrBcCols cols;
} Cur;

static int vt_error(Vt *v, const char *fmt, const char *a) {
  sqlite3_free(v->base.zErrMsg);
  v->base.zErrMsg = sqlite3_mprintf(fmt, a);
  return SQLITE_ERROR;
}

/* ---- pending inserts (invariant 2) ------------------------------------- */

static int flush_pending(Vt *v) {
  if (!v->pend) return SQLITE_OK;
  int oom = 0, rc = lr_bs_flush(v->pend, &oom);
  lr_bs_writer_free(v->pend);
  v->pend = NULL;
  if (rc) return oom ? SQLITE_NOMEM : vt_error(v, "allocations: %s", sqlite3_errmsg(v->db));
  return SQLITE_OK;
}

static int64_t max_id(Vt *v) {
  if (v->next_id) return v->next_id - 1;
  char *sql = sqlite3_mprintf("SELECT max(id_max) FROM \"%w\".alloc_blocks", v->schema);
  sqlite3_stmt *st = NULL;
  int64_t m = 0;
  if (sql && sqlite3_prepare_v2(v->db, sql, -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    m = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_free(sql);
  v->next_id = m < INT64_MAX ? m + 1 : INT64_MAX;
  return m;
}

/* ---- connecting ---------------------------------------------------------- */

static int vt_connect2(sqlite3 *db, int argc, const char *const *argv, sqlite3_vtab **out,
                       char **err, int create) {
  (void)argc;
  if (create) {
    char *sql = sqlite3_mprintf(LR_BS_TABLE_SQL, argv[1]);
    int rc = sql ? sqlite3_exec(db, sql, NULL, NULL, err) : SQLITE_NOMEM;
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return rc;
  }
  int rc = sqlite3_declare_vtab(db, DECLARE);
  if (rc != SQLITE_OK) return rc;
  Vt *v = sqlite3_malloc(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->db = db;
  v->schema = sqlite3_mprintf("%s", argv[1]);
  v->enc = lr_bc_enc_new();
  if (!v->schema || !v->enc) {
    sqlite3_free(v->schema);
    lr_bc_enc_free(v->enc);
    sqlite3_free(v);
    return SQLITE_NOMEM;
  }
  *out = &v->base;
  return SQLITE_OK;
}

static int vt_create(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out,
                     char **err) {
  (void)aux;
  return vt_connect2(db, argc, argv, out, err, 1);
}

static int vt_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out,
                      char **err) {
  (void)aux;
  return vt_connect2(db, argc, argv, out, err, 0);
}

static int vt_disconnect(sqlite3_vtab *tab) {
  Vt *v = (Vt *)tab;
  lr_bs_writer_free(v->pend); /* uncommitted rows go with the connection */
  lr_bc_cols_free(&v->cols);
  lr_bc_enc_free(v->enc);
  free(v->blob); /* lr_bc_unpack's: realloc */
  sqlite3_free(v->schema);
  sqlite3_free(v);
  return SQLITE_OK;
}

static int vt_destroy(sqlite3_vtab *tab) {
  Vt *v = (Vt *)tab;
  char *sql = sqlite3_mprintf("DROP TABLE IF EXISTS \"%w\".alloc_blocks", v->schema);
  int rc = sql ? sqlite3_exec(v->db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  if (rc == SQLITE_OK) vt_disconnect(tab);
  return rc;
}

/* ---- planning ------------------------------------------------------------ */

static int op_of(unsigned char op) {
  switch (op) {
  case SQLITE_INDEX_CONSTRAINT_EQ:
    return OP_EQ;
  case SQLITE_INDEX_CONSTRAINT_GT:
    return OP_GT;
  case SQLITE_INDEX_CONSTRAINT_GE:
    return OP_GE;
  case SQLITE_INDEX_CONSTRAINT_LT:
    return OP_LT;
  case SQLITE_INDEX_CONSTRAINT_LE:
    return OP_LE;
  case SQLITE_INDEX_CONSTRAINT_ISNULL:
    return OP_ISNULL;
  case SQLITE_INDEX_CONSTRAINT_ISNOTNULL:
    return OP_NOTNULL;
  default:
    return -1;
  }
}

static int vt_best(sqlite3_vtab *tab, sqlite3_index_info *ix) {
  (void)tab;
  char buf[MAX_CONS * 8 + 32] = "";
  size_t o = 0;
  int argn = 0, live_seen = 0, live_used = 0, n = 0;
  double rows = 1e6;
  uint32_t mask = 1u << LR_BC_ID;
  for (int i = 0; i < ix->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &ix->aConstraint[i];
    int col = c->iColumn < 0 ? LR_BC_ID : c->iColumn, op = op_of(c->op);
    if (col == VC_LIVE_AT) live_seen = 1;
    if (!c->usable || op < 0 || n == MAX_CONS) continue;
    if (col == VC_LIVE_AT && op != OP_EQ) continue;
    if (col < LR_BC_NCOLS && lr_bc_is_text(col) && op != OP_EQ) continue;
    if (op != OP_ISNULL && op != OP_NOTNULL) ix->aConstraintUsage[i].argvIndex = ++argn;
    ix->aConstraintUsage[i].omit = 0;
    o += (size_t)snprintf(buf + o, sizeof buf - o, " %d %d", col, op);
    n++;
    if (col < LR_BC_NCOLS) mask |= 1u << col;
    if (col == VC_LIVE_AT) {
      live_used = 1;
      mask |= 1u << LR_BC_ALLOC_SEQ | 1u << LR_BC_FREE_SEQ;
      rows /= 1000;
    } else if (col == LR_BC_ID && op == OP_EQ) {
      rows = 1;
    } else if (col == VC_PROCESS) {
      rows /= 2;
    } else {
      rows /= op == OP_EQ ? 20 : 4;
    }
  }
  /* live_at only means something when its value reaches the table */
  if (live_seen && !live_used) return SQLITE_CONSTRAINT;
  for (int c = 0; c < LR_BC_NCOLS; c++)
    if (ix->colUsed & ((sqlite3_uint64)1 << c)) mask |= 1u << c;
  ix->idxStr = sqlite3_mprintf("%u%s", mask, buf);
  if (!ix->idxStr) return SQLITE_NOMEM;
  ix->needToFreeIdxStr = 1;
  ix->estimatedRows = rows < 1 ? 1 : (sqlite3_int64)rows;
  ix->estimatedCost = rows < 1 ? 1 : rows;
  return SQLITE_OK;
}

/* ---- reading ------------------------------------------------------------- */

static int vt_open(sqlite3_vtab *tab, sqlite3_vtab_cursor **out) {
  (void)tab;
  Cur *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  *out = &c->base;
  return SQLITE_OK;
}

static void cur_reset(Cur *c) {
  sqlite3_finalize(c->scan);
  c->scan = NULL;
  for (int i = 0; i < c->ncons; i++) sqlite3_free(c->cons[i].text);
  c->ncons = 0;
  c->none = c->has_live = c->in_block = c->eof = 0;
}

static int vt_close(sqlite3_vtab_cursor *cur) {
  Cur *c = (Cur *)cur;
  cur_reset(c);
  lr_bc_cols_free(&c->cols);
  free(c->blob);
  sqlite3_free(c);
  return SQLITE_OK;
}

/* 1 if an integer v (present) passes (op, k). */
static int cmp_ok(int op, int64_t v, int64_t k) {
  switch (op) {
  case OP_EQ:
    return v == k;
  case OP_GT:
    return v > k;
  case OP_GE:
    return v >= k;
  case OP_LT:
    return v < k;
  case OP_LE:
    return v <= k;
  default:
    return 1;
  }
}

/* 1 if some value in [lo, hi] can pass (op, k). */
static int range_ok(int op, int64_t lo, int64_t hi, int64_t k) {
  switch (op) {
  case OP_EQ:
    return lo <= k && k <= hi;
  case OP_GT:
    return hi > k;
  case OP_GE:
    return hi >= k;
  case OP_LT:
    return lo < k;
  case OP_LE:
    return lo <= k;
  default:
    return 1;
  }
}

/* 1 if the block whose summary row the scan is on may hold a match. */
static int block_may_match(const Cur *c) {
  sqlite3_stmt *s = c->scan;
  int64_t proc = sqlite3_column_int64(s, 1), n = sqlite3_column_int64(s, 2);
  int64_t nlive = sqlite3_column_int64(s, 9);
  for (int i = 0; i < c->ncons; i++) {
    const Cons *k = &c->cons[i];
    if (k->skip) continue;
    int lo_col = k->col == LR_BC_ID          ? 3
                 : k->col == LR_BC_ALLOC_SEQ ? 5
                 : k->col == LR_BC_FREE_SEQ  ? 7
                                             : -1;
    if (k->col == VC_PROCESS) {
      if (!cmp_ok(k->op, proc, k->iv) || k->op == OP_ISNULL) return 0;
    } else if (k->col == LR_BC_FREE_SEQ && k->op == OP_ISNULL) {
      if (nlive == 0) return 0;
    } else if (k->col == LR_BC_FREE_SEQ && k->op == OP_NOTNULL) {
      if (nlive == n) return 0;
    } else if (lo_col >= 0 && k->op <= OP_LE) {
      if (sqlite3_column_type(s, lo_col) == SQLITE_NULL) return 0; /* all NULL */
      if (!range_ok(k->op, sqlite3_column_int64(s, lo_col), sqlite3_column_int64(s, lo_col + 1),
                    k->iv))
        return 0;
    }
  }
  if (c->has_live) {
    if (sqlite3_column_type(s, 5) == SQLITE_NULL || sqlite3_column_int64(s, 5) > c->live_at)
      return 0; /* nothing allocated by then */
    if (nlive == 0 &&
        (sqlite3_column_type(s, 7) == SQLITE_NULL || sqlite3_column_int64(s, 8) <= c->live_at))
      return 0; /* everything freed by then */
  }
  return 1;
}

static int row_matches(const Cur *c, int r) {
  const LrBcCols *b = &c->cols;
  for (int i = 0; i < c->ncons; i++) {
    const Cons *k = &c->cons[i];
    if (k->skip || k->col >= LR_BC_NCOLS) continue; /* process: the block's */
    int isnull = b->null[k->col][r];
    if (k->op == OP_ISNULL || k->op == OP_NOTNULL) {
      if (isnull != (k->op == OP_ISNULL)) return 0;
      continue;
    }
    if (isnull) return 0;
    if (lr_bc_is_text(k->col)) {
      int64_t s = b->v[k->col][r];
      if ((int)b->slen[s] != k->tlen || memcmp(b->str[s], k->text, (size_t)k->tlen)) return 0;
    } else if (!cmp_ok(k->op, b->v[k->col][r], k->iv)) {
      return 0;
    }
  }
  if (c->has_live) {
    if (b->null[LR_BC_ALLOC_SEQ][r] || b->v[LR_BC_ALLOC_SEQ][r] > c->live_at) return 0;
    if (!b->null[LR_BC_FREE_SEQ][r] && b->v[LR_BC_FREE_SEQ][r] <= c->live_at) return 0;
  }
  return 1;
}

static int cur_error(Cur *c, const char *msg) {
  Vt *v = (Vt *)c->base.pVtab;
  sqlite3_free(v->base.zErrMsg);
  v->base.zErrMsg =
      sqlite3_mprintf("allocations: block %lld of alloc_blocks %s", (long long)c->block_id, msg);
  return SQLITE_CORRUPT;
}

/* Loads the block the scan is on into the cursor (invariant 1). */
static int load_block(Cur *c, uint32_t mask) {
  const void *p = sqlite3_column_blob(c->scan, 10);
  int len = sqlite3_column_bytes(c->scan, 10);
  if (!p || len <= 0) return cur_error(c, "has no bytes");
  int oom = 0;
  if (lr_bc_unpack(p, (size_t)len, &c->blob, &c->blob_cap, &c->blob_len, &oom) ||
      lr_bc_decode(c->blob, c->blob_len, mask, &c->cols, &oom))
    return oom ? SQLITE_NOMEM : cur_error(c, "is damaged");
  return SQLITE_OK;
}

/* Moves to the next matching row, from the one after c->row. */
static int advance(Cur *c) {
  for (;;) {
    if (c->in_block) {
      for (c->row++; c->row < c->cols.n; c->row++)
        if (row_matches(c, c->row)) return SQLITE_OK;
      c->in_block = 0;
    }
    int rc = sqlite3_step(c->scan);
    if (rc == SQLITE_DONE) {
      c->eof = 1;
      return SQLITE_OK;
    }
    if (rc != SQLITE_ROW) {
      Vt *v = (Vt *)c->base.pVtab;
      return vt_error(v, "allocations: %s", sqlite3_errmsg(v->db));
    }
    c->block_id = sqlite3_column_int64(c->scan, 0);
    if (!block_may_match(c)) continue;
    if ((rc = load_block(c, c->mask)) != SQLITE_OK) return rc;
    c->proc = sqlite3_column_int64(c->scan, 1);
    c->in_block = 1;
    c->row = -1;
  }
}

static int vt_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc,
                     sqlite3_value **argv) {
  (void)idxNum;
  Cur *c = (Cur *)cur;
  Vt *v = (Vt *)cur->pVtab;
  cur_reset(c);
  int rc = flush_pending(v);
  if (rc != SQLITE_OK) return rc;
  const char *p = idxStr ? idxStr : "0";
  char *end;
  c->mask = (uint32_t)strtoul(p, &end, 10) | 1u << LR_BC_ID;
  int arg = 0;
  for (p = end; *p && c->ncons < MAX_CONS;) {
    Cons *k = &c->cons[c->ncons];
    memset(k, 0, sizeof *k);
    k->col = (int)strtol(p, &end, 10);
    k->op = (int)strtol(end, &end, 10);
    p = end;
    if (k->col < 0 || k->col >= VC_NCOLS) return vt_error(v, "allocations: bad plan %s", idxStr);
    if (k->op != OP_ISNULL && k->op != OP_NOTNULL) {
      if (arg >= argc) return vt_error(v, "allocations: bad plan %s", idxStr);
      sqlite3_value *val = argv[arg++];
      int t = sqlite3_value_type(val);
      if (t == SQLITE_NULL)
        c->none = 1; /* = NULL, < NULL ...: never true */
      else if (k->col == VC_LIVE_AT) {
        if (t == SQLITE_INTEGER) {
          c->has_live = 1;
          c->live_at = sqlite3_value_int64(val);
        } else {
          c->none = 1; /* xColumn's live_at would be NULL: no row passes */
        }
        continue;
      } else if (k->col < LR_BC_NCOLS && lr_bc_is_text(k->col)) {
        if (t != SQLITE_TEXT)
          k->skip = 1;
        else {
          k->tlen = sqlite3_value_bytes(val);
          if (!(k->text = sqlite3_malloc(k->tlen + 1))) return SQLITE_NOMEM;
          memcpy(k->text, sqlite3_value_text(val), (size_t)k->tlen);
        }
      } else if (t == SQLITE_INTEGER) {
        k->iv = sqlite3_value_int64(val);
      } else {
        k->skip = 1;
      }
    }
    c->ncons++;
  }
  if (c->none) {
    c->eof = 1;
    return SQLITE_OK;
  }
  char *sql = sqlite3_mprintf("SELECT id, process_id, n, id_min, id_max, alloc_min, alloc_max, "
                              "free_min, free_max, nlive, data FROM \"%w\".alloc_blocks",
                              v->schema);
  if (!sql) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(v->db, sql, -1, &c->scan, NULL);
  sqlite3_free(sql);
  if (rc != SQLITE_OK) return vt_error(v, "allocations: %s", sqlite3_errmsg(v->db));
  return advance(c);
}

static int vt_next(sqlite3_vtab_cursor *cur) { return advance((Cur *)cur); }

static int vt_eof(sqlite3_vtab_cursor *cur) { return ((Cur *)cur)->eof; }

static int vt_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  Cur *c = (Cur *)cur;
  if (col == VC_PROCESS) {
    sqlite3_result_int64(ctx, c->proc);
    return SQLITE_OK;
  }
  if (col == VC_LIVE_AT) {
    if (c->has_live) sqlite3_result_int64(ctx, c->live_at);
    return SQLITE_OK;
  }
  if (col < 0 || col >= LR_BC_NCOLS) return SQLITE_OK;
  if (!(c->cols.have & (1u << col))) {
    /* a column the plan did not announce: decode the block again with it */
    int row = c->row, rc = SQLITE_OK;
    int oom = 0;
    c->mask |= 1u << col;
    if (lr_bc_decode(c->blob, c->blob_len, c->mask, &c->cols, &oom))
      rc = oom ? SQLITE_NOMEM : cur_error(c, "is damaged");
    c->row = row;
    if (rc != SQLITE_OK) return rc;
  }
  const LrBcCols *b = &c->cols;
  if (b->null[col][c->row]) return SQLITE_OK;
  int64_t x = b->v[col][c->row];
  if (lr_bc_is_text(col))
    sqlite3_result_text(ctx, (const char *)b->str[x], (int)b->slen[x], SQLITE_TRANSIENT);
  else
    sqlite3_result_int64(ctx, x);
  return SQLITE_OK;
}

static int vt_rowid(sqlite3_vtab_cursor *cur, sqlite_int64 *id) {
  Cur *c = (Cur *)cur;
  *id = c->cols.v[LR_BC_ID][c->row];
  return SQLITE_OK;
}

/* ---- writing (tests and tools; the importer writes blocks itself) ------- */

/* SQLite's values for a row (argv[2..] of xUpdate) as an LrBcRow whose
** strings point into the values, and its process_id. */
static int row_from_values(Vt *v, sqlite3_value **val, LrBcRow *r, int64_t *proc) {
  memset(r, 0, sizeof *r);
  for (int c = 0; c < LR_BC_NCOLS; c++) {
    sqlite3_value *x = val[c];
    int t = sqlite3_value_type(x);
    if (t == SQLITE_NULL) {
      r->nulls |= 1u << c;
    } else if (lr_bc_is_text(c)) {
      const void *s =
          t == SQLITE_BLOB ? sqlite3_value_blob(x) : (const void *)sqlite3_value_text(x);
      int n = sqlite3_value_bytes(x);
      if (!s && n) return SQLITE_NOMEM;
      r->s[c] = s ? s : "";
      r->len[c] = (uint32_t)n;
    } else if (t == SQLITE_INTEGER) {
      r->v[c] = sqlite3_value_int64(x);
    } else {
      double d = sqlite3_value_double(x);
      if (t != SQLITE_FLOAT || !(d >= -9.2e18 && d <= 9.2e18) || d != (double)(int64_t)d)
        return vt_error(v, "allocations.%s: wants an integer", col_name[c]);
      r->v[c] = (int64_t)d;
    }
  }
  int t = sqlite3_value_type(val[VC_PROCESS]);
  if (t != SQLITE_NULL && t != SQLITE_INTEGER)
    return vt_error(v, "allocations.%s: wants an integer", "process_id");
  *proc = t == SQLITE_NULL ? 1 : sqlite3_value_int64(val[VC_PROCESS]);
  return SQLITE_OK;
}

/* Finds row `id` in the blocks: SQLITE_OK with *found set, and then every
** column of its block decoded into v->cols (strings in v->blob), its index
** in *idx and the block's rowid, process and level. */
static int find_row(Vt *v, int64_t id, int *found, int64_t *blk, int64_t *proc, int *lvl,
                    int *idx) {
  *found = 0;
  char *sql = sqlite3_mprintf("SELECT id, process_id, lvl, data FROM \"%w\".alloc_blocks "
                              "WHERE id_min <= ?1 AND id_max >= ?1",
                              v->schema);
  sqlite3_stmt *st = NULL;
  if (!sql) return SQLITE_NOMEM;
  int rc = sqlite3_prepare_v2(v->db, sql, -1, &st, NULL);
  sqlite3_free(sql);
  if (rc != SQLITE_OK) return vt_error(v, "allocations: %s", sqlite3_errmsg(v->db));
  sqlite3_bind_int64(st, 1, id);
  while (!*found && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    int len = sqlite3_column_bytes(st, 3), oom = 0;
    const void *p = sqlite3_column_blob(st, 3);
    size_t raw = 0;
    if (len <= 0 || !p || lr_bc_unpack(p, (size_t)len, &v->blob, &v->blob_cap, &raw, &oom) ||
        lr_bc_decode(v->blob, raw, 1u << LR_BC_ID, &v->cols, &oom)) {
      sqlite3_finalize(st);
      return oom ? SQLITE_NOMEM
                 : vt_error(v, "allocations: %s", "a block of alloc_blocks is damaged");
    }
    for (int i = 0; i < v->cols.n; i++)
      if (!v->cols.null[LR_BC_ID][i] && v->cols.v[LR_BC_ID][i] == id) {
        *found = 1;
        *idx = i;
        *blk = sqlite3_column_int64(st, 0);
        *proc = sqlite3_column_int64(st, 1);
        *lvl = sqlite3_column_int(st, 2);
        lr_bc_decode(v->blob, raw, (1u << LR_BC_NCOLS) - 1, &v->cols, &oom);
        if (oom) return sqlite3_finalize(st), SQLITE_NOMEM;
        break;
      }
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return vt_error(v, "allocations: %s", sqlite3_errmsg(v->db));
  return SQLITE_OK;
}

/* Replaces block blk by rows[0..n) (none: just deleted). */
static int rewrite_block(Vt *v, int64_t blk, int64_t proc, int lvl, const LrBcRow *rows, int n) {
  char *sql =
      sqlite3_mprintf("DELETE FROM \"%w\".alloc_blocks WHERE id = %lld", v->schema, (long long)blk);
  int rc = sql ? sqlite3_exec(v->db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  if (rc == SQLITE_OK && n > 0) {
    sqlite3_stmt *ins = NULL;
    int oom = 0;
    rc = lr_bs_prepare_insert(v->db, v->schema, &ins) ? SQLITE_ERROR : SQLITE_OK;
    if (rc == SQLITE_OK && lr_bs_write_block(ins, v->enc, proc, lvl, rows, n, &oom))
      rc = oom ? SQLITE_NOMEM : SQLITE_ERROR;
    sqlite3_finalize(ins);
  }
  if (rc == SQLITE_ERROR) return vt_error(v, "allocations: %s", sqlite3_errmsg(v->db));
  return rc;
}

static int add_pending(Vt *v, const LrBcRow *r, int64_t proc) {
  int oom = 0, rc;
  if (v->pend && v->pend_proc != proc && (rc = flush_pending(v)) != SQLITE_OK) return rc;
  if (!v->pend) {
    if (!(v->pend = lr_bs_writer_new(v->db, v->schema, proc, &oom)))
      return oom ? SQLITE_NOMEM : vt_error(v, "allocations: %s", sqlite3_errmsg(v->db));
    v->pend_proc = proc;
  }
  if (lr_bs_put(v->pend, r, &oom))
    return oom ? SQLITE_NOMEM : vt_error(v, "allocations: %s", sqlite3_errmsg(v->db));
  return SQLITE_OK;
}

/* SQLITE_CONSTRAINT if row `id` exists already. */
static int unique_id(Vt *v, int64_t id) {
  max_id(v);
  if (id >= v->next_id) return SQLITE_OK;
  int found = 0, lvl, idx, rc = flush_pending(v);
  int64_t blk, proc;
  if (rc == SQLITE_OK) rc = find_row(v, id, &found, &blk, &proc, &lvl, &idx);
  if (rc == SQLITE_OK && found) {
    vt_error(v, "UNIQUE constraint failed: %s", "allocations.id");
    rc = SQLITE_CONSTRAINT;
  }
  return rc;
}

static int vt_update(sqlite3_vtab *tab, int argc, sqlite3_value **argv, sqlite_int64 *rowid) {
  Vt *v = (Vt *)tab;
  LrBcRow nr;
  int64_t nproc = 1;
  int rc;
  if (argc > 1 && (rc = row_from_values(v, argv + 2, &nr, &nproc)) != SQLITE_OK) return rc;
  if (argc > 1 && (nr.nulls & 1u << LR_BC_ID) && sqlite3_value_type(argv[1]) == SQLITE_INTEGER) {
    nr.v[LR_BC_ID] = sqlite3_value_int64(argv[1]);
    nr.nulls &= ~(1u << LR_BC_ID);
  }
  if (argc > 1 && sqlite3_value_type(argv[0]) == SQLITE_NULL) { /* INSERT */
    if (nr.nulls & 1u << LR_BC_ID) {
      int64_t m = max_id(v);
      if (m == INT64_MAX) return SQLITE_FULL;
      nr.v[LR_BC_ID] = m + 1;
      nr.nulls &= ~(1u << LR_BC_ID);
    } else if ((rc = unique_id(v, nr.v[LR_BC_ID])) != SQLITE_OK) {
      return rc;
    }
    if ((rc = add_pending(v, &nr, nproc)) != SQLITE_OK) return rc;
    *rowid = nr.v[LR_BC_ID];
    if (*rowid >= v->next_id) v->next_id = *rowid < INT64_MAX ? *rowid + 1 : INT64_MAX;
    return SQLITE_OK;
  }
  /* DELETE, or UPDATE: out of its block, then (UPDATE) back in */
  int64_t old = sqlite3_value_int64(argv[0]);
  if (argc > 1 && (nr.nulls & 1u << LR_BC_ID))
    return vt_error(v, "NOT NULL constraint failed: %s", "allocations.id");
  if (argc > 1 && nr.v[LR_BC_ID] != old && (rc = unique_id(v, nr.v[LR_BC_ID])) != SQLITE_OK)
    return rc;
  if ((rc = flush_pending(v)) != SQLITE_OK) return rc;
  int found = 0, lvl = 0, idx = 0;
  int64_t blk = 0, proc = 0;
  if ((rc = find_row(v, old, &found, &blk, &proc, &lvl, &idx)) != SQLITE_OK || !found) return rc;
  int n = v->cols.n;
  LrBcRow *rows = sqlite3_malloc64(sizeof *rows * (sqlite3_uint64)n);
  if (!rows) return SQLITE_NOMEM;
  for (int i = 0; i < n; i++) lr_bc_row(&v->cols, i, &rows[i]);
  int keep_here = argc > 1 && nproc == proc;
  if (keep_here)
    rows[idx] = nr;
  else
    memmove(rows + idx, rows + idx + 1, sizeof *rows * (size_t)(n - idx - 1));
  rc = rewrite_block(v, blk, proc, lvl, rows, keep_here ? n : n - 1);
  sqlite3_free(rows);
  if (rc == SQLITE_OK && argc > 1 && !keep_here) rc = add_pending(v, &nr, nproc);
  return rc;
}

/* ---- the module ---------------------------------------------------------- */

static int vt_begin(sqlite3_vtab *tab) {
  ((Vt *)tab)->next_id = 0; /* other connections may have written */
  return SQLITE_OK;
}

static int vt_sync(sqlite3_vtab *tab) { return flush_pending((Vt *)tab); }

static int vt_commit(sqlite3_vtab *tab) { return flush_pending((Vt *)tab); }

static int vt_rollback(sqlite3_vtab *tab) {
  Vt *v = (Vt *)tab;
  lr_bs_writer_free(v->pend);
  v->pend = NULL;
  v->next_id = 0;
  return SQLITE_OK;
}

static const sqlite3_module module = {
    .iVersion = 1,
    .xCreate = vt_create,
    .xConnect = vt_connect,
    .xBestIndex = vt_best,
    .xDisconnect = vt_disconnect,
    .xDestroy = vt_destroy,
    .xOpen = vt_open,
    .xClose = vt_close,
    .xFilter = vt_filter,
    .xNext = vt_next,
    .xEof = vt_eof,
    .xColumn = vt_column,
    .xRowid = vt_rowid,
    .xUpdate = vt_update,
    .xBegin = vt_begin,
    .xSync = vt_sync,
    .xCommit = vt_commit,
    .xRollback = vt_rollback,
};

int lr_allocvt_register(sqlite3 *db) {
  int rc = sqlite3_create_module_v2(db, "lowram_allocations", &module, NULL, NULL);
  return rc == SQLITE_OK ? lr_stackvt_register(db) : rc; /* stack_entries too */
}

int lr_allocvt_open(const char *path, int flags, sqlite3 **db) {
  int rc = sqlite3_open_v2(path, db, flags, NULL);
  if (rc == SQLITE_OK) rc = lr_allocvt_register(*db);
  return rc;
}

#ifndef LR_SQLITE_EXT
static int auto_entry(sqlite3 *db, char **err, const sqlite3_api_routines *api) {
  (void)err;
  (void)api;
  return lr_allocvt_register(db);
}

int lr_allocvt_register_all(void) { return sqlite3_auto_extension((void (*)(void))auto_entry); }
#endif
