/*
** rows.c: see rows.h.
**
** Invariants:
**   1. 0 <= n < batch between calls: a full batch is written at once.
**   2. Every kept row's strings belong to the writer (fk, or own[] when
**      longer; file), so a row's caller may reuse its strings at once.
**   3. A row is bound exactly as the one-row import bound it: NULL for a
**      column it leaves out (sqlite3_clear_bindings after every step).
*/
#include "ingest/rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lowram/trace.h"

/* 64 rows of 17 columns: 1088 parameters (process_id is a literal), far below the 32766 SQLite
** allows since 3.32 (meson asks for 3.35); a smaller limit set at run time
** gets a smaller batch. Past ~64 rows a batch stops paying. */
enum { COLS = 17, MAX_BATCH = 64 };

typedef struct Row {
  LrLifeRow r;
  char fk[16];   /* r.free_kind when it fits */
  char *own_fk;  /* r.free_kind when it does not */
  char *file;    /* r.file */
} Row;

struct LrRows {
  sqlite3 *db;
  sqlite3_stmt *one, *many;
  uint64_t alloc_off, stack_off; /* the process's id offsets */
  int batch; /* rows per multi-row INSERT */
  int n;
  Row rows[MAX_BATCH];
};

static const char INSERT[] =
    "INSERT INTO main.allocations(id, kind, region, address, size, alloc_seq, free_seq, alloc_ns, "
    "free_ns, free_kind, thread_id, stack_id, alignment, prot, flags, file, file_offset, "
    "process_id) VALUES";
static const char ONE_ROW[] = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,%lld)";

LrRows *lr_rows_new(sqlite3 *db, int64_t proc, int64_t alloc_off, int64_t stack_off, int *oom) {
  LrRows *w = calloc(1, sizeof *w);
  if (!w) {
    *oom = 1;
    return NULL;
  }
  w->db = db;
  w->alloc_off = (uint64_t)alloc_off;
  w->stack_off = (uint64_t)stack_off;
  char row[64];
  snprintf(row, sizeof row, ONE_ROW, (long long)proc);
  size_t rl = strlen(row);
  int lim = sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, -1);
  w->batch = lim / COLS < MAX_BATCH ? lim / COLS : MAX_BATCH;
  size_t len = sizeof INSERT + (size_t)MAX_BATCH * (rl + 1);
  char *sql = malloc(len);
  if (!sql) {
    *oom = 1;
    free(w);
    return NULL;
  }
  snprintf(sql, len, "%s%s", INSERT, row);
  int ok = sqlite3_prepare_v2(db, sql, -1, &w->one, NULL) == SQLITE_OK;
  if (ok && w->batch > 1) {
    size_t k = strlen(INSERT);
    memcpy(sql, INSERT, k);
    for (int i = 0; i < w->batch; i++) {
      if (i) sql[k++] = ',';
      memcpy(sql + k, row, rl);
      k += rl;
    }
    sql[k] = 0;
    ok = sqlite3_prepare_v2(db, sql, -1, &w->many, NULL) == SQLITE_OK;
  }
  free(sql);
  if (!ok) {
    lr_rows_free(w);
    return NULL;
  }
  return w;
}

static void bind_u(sqlite3_stmt *st, int i, uint64_t v) { sqlite3_bind_int64(st, i, (int64_t)v); }

/* Parameters base+1 .. base+17, as the one-row import bound them. */
static void bind_row(const LrRows *w, sqlite3_stmt *st, int base, const LrLifeRow *r) {
  bind_u(st, base + 1, r->id + w->alloc_off);
  sqlite3_bind_text(st, base + 2, lr_event_kind_name(r->kind), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, base + 3, lr_life_region_name(r->region), -1, SQLITE_STATIC);
  bind_u(st, base + 4, r->address);
  bind_u(st, base + 5, r->size);
  bind_u(st, base + 6, r->alloc_seq);
  bind_u(st, base + 8, r->alloc_ns);
  if (r->free_kind) {
    bind_u(st, base + 7, r->free_seq);
    bind_u(st, base + 9, r->free_ns);
    sqlite3_bind_text(st, base + 10, r->free_kind, -1, SQLITE_STATIC);
  }
  sqlite3_bind_int64(st, base + 11, r->tid);
  if (r->stack) bind_u(st, base + 12, r->stack + w->stack_off);
  if (r->has_alignment) bind_u(st, base + 13, r->alignment);
  if (r->is_mapping) {
    bind_u(st, base + 14, r->prot);
    bind_u(st, base + 15, r->flags);
  }
  if (r->file) {
    sqlite3_bind_text(st, base + 16, r->file, -1, SQLITE_STATIC);
    bind_u(st, base + 17, r->file_offset);
  }
}

static int run(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

static void release(Row *k) {
  free(k->own_fk);
  free(k->file);
  k->own_fk = k->file = NULL;
}

/* The kept rows, in the order they came: one statement when the batch is
** full, one per row otherwise (only at the end). */
static int write_rows(LrRows *w) {
  int rc = 0;
  if (w->n == w->batch && w->many) {
    for (int i = 0; i < w->n; i++) bind_row(w, w->many, COLS * i, &w->rows[i].r);
    rc = run(w->many);
  } else {
    for (int i = 0; i < w->n && rc == 0; i++) {
      bind_row(w, w->one, 0, &w->rows[i].r);
      rc = run(w->one);
    }
  }
  for (int i = 0; i < w->n; i++) release(&w->rows[i]);
  w->n = 0;
  return rc;
}

int lr_rows_put(LrRows *w, const LrLifeRow *row, int *oom) {
  Row *k = &w->rows[w->n];
  k->r = *row;
  if (row->free_kind) {
    size_t len = strlen(row->free_kind);
    if (len < sizeof k->fk) {
      memcpy(k->fk, row->free_kind, len + 1);
      k->r.free_kind = k->fk;
    } else if (!(k->own_fk = strdup(row->free_kind))) {
      *oom = 1;
      return -1;
    } else {
      k->r.free_kind = k->own_fk;
    }
  }
  if (row->file && !(k->r.file = k->file = strdup(row->file))) {
    release(k);
    *oom = 1;
    return -1;
  }
  return ++w->n >= w->batch ? write_rows(w) : 0;
}

int lr_rows_flush(LrRows *w) { return w->n ? write_rows(w) : 0; }

void lr_rows_free(LrRows *w) {
  if (!w) return;
  for (int i = 0; i < w->n; i++) release(&w->rows[i]);
  sqlite3_finalize(w->one);
  sqlite3_finalize(w->many);
  free(w);
}
