/*
** diff.c: the comparison of two traces (diff.h). Each side becomes a list
** of (name, numbers) rows, one per stack, named by its symbolized path or
** site key; both lists are sorted by name, rows of equal name summed, and
** the two merged like a join.
*/
#include "lowram/diff.h"

#include "query/peak_sql.h"
#include "query/qdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Side {
  char *key;
  const LrStack *stack;
  int64_t peak, blocks, calls, bytes;
} Side;

static int cmp_side(const void *a, const void *b) {
  return strcmp(((const Side *)a)->key, ((const Side *)b)->key);
}

static void free_sides(Side *v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i].key);
  free(v);
}

/* The rows of one trace, sorted and with equal names merged. */
static int side(LrTrace *t, LrStacks *c, LrBy by, LrMoment *peak, int64_t *heap_peak,
                Side **out, size_t *n, LrErr *err) {
  *out = NULL;
  *n = 0;
  sqlite3 *db = lr_qdb(t, err);
  const char *path = lr_trace_path(t);
  if (!db || lr_peak_moment(t, NULL, peak, err)) return -1;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT value FROM agg_info WHERE key = 'heap_peak'", -1, &st,
                         NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) *heap_peak = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  char live[LR_PEAK_LIVE_SQL], sql[LR_PEAK_LIVE_SQL + 512];
  snprintf(sql, sizeof sql,
           "SELECT s.stack_id, s.calls, s.bytes, ifnull(p.live, 0), ifnull(p.n, 0) "
           "FROM agg_stacks s LEFT JOIN (SELECT stack_id AS sid, sum(size) AS live, "
           "count(*) AS n FROM %s GROUP BY 1) p ON p.sid = s.stack_id",
           lr_peak_live_sql(peak->seq, 0, live, sizeof live));
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return lr_err_set(err, "%s: %s", path, sqlite3_errmsg(db));
  size_t cap = 0;
  int ret = 0;
  char key[1024];
  while (sqlite3_step(st) == SQLITE_ROW) {
    const LrStack *s = lr_peak_stack(c, sqlite3_column_int64(st, 0), err);
    if (!s) {
      ret = -1;
      break;
    }
    if (*n == cap) {
      cap = cap ? cap * 2 : 256;
      Side *nv = realloc(*out, cap * sizeof *nv);
      if (!nv) {
        ret = lr_err_set(err, "diff: out of memory");
        break;
      }
      *out = nv;
    }
    Side *r = &(*out)[*n];
    if (by == LR_BY_STACK) r->key = lr_peak_stack_path(s);
    else r->key = strdup(lr_peak_group_key(s, by, key, sizeof key));
    if (!r->key) {
      ret = lr_err_set(err, "diff: out of memory");
      break;
    }
    r->stack = s;
    r->calls = sqlite3_column_int64(st, 1);
    r->bytes = sqlite3_column_int64(st, 2);
    r->peak = sqlite3_column_int64(st, 3);
    r->blocks = sqlite3_column_int64(st, 4);
    (*n)++;
  }
  sqlite3_finalize(st);
  if (ret) return -1;
  if (*n) qsort(*out, *n, sizeof **out, cmp_side);
  size_t w = 0;
  for (size_t i = 0; i < *n; i++) {
    Side *r = &(*out)[i];
    if (w && !strcmp((*out)[w - 1].key, r->key)) {
      Side *m = &(*out)[w - 1];
      if (r->peak > m->peak || (!m->peak && r->bytes > m->bytes)) m->stack = r->stack;
      m->peak += r->peak;
      m->blocks += r->blocks;
      m->calls += r->calls;
      m->bytes += r->bytes;
      free(r->key);
    } else {
      (*out)[w++] = *r;
    }
  }
  *n = w;
  return 0;
}

static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

static int cmp_row(const void *a, const void *b) {
  const LrDiffRow *x = a, *y = b;
  int64_t dx = abs64(x->peak_b - x->peak_a), dy = abs64(y->peak_b - y->peak_a);
  if (dx != dy) return dx > dy ? -1 : 1;
  dx = abs64(x->bytes_b - x->bytes_a);
  dy = abs64(y->bytes_b - y->bytes_a);
  if (dx != dy) return dx > dy ? -1 : 1;
  return strcmp(x->key, y->key);
}

int lr_diff_build(LrTrace *a, LrTrace *b, LrBy by, LrDiff **out, LrErr *err) {
  *out = NULL;
  LrDiff *d = calloc(1, sizeof *d);
  Side *sa = NULL, *sb = NULL;
  size_t na = 0, nb = 0;
  if (!d) return lr_err_set(err, "diff: out of memory");
  d->stacks_a = lr_peak_stacks_new(a);
  d->stacks_b = lr_peak_stacks_new(b);
  if (!d->stacks_a || !d->stacks_b) {
    lr_err_set(err, "diff: out of memory");
    goto fail;
  }
  if (side(a, d->stacks_a, by, &d->peak_a, &d->heap_peak_a, &sa, &na, err) ||
      side(b, d->stacks_b, by, &d->peak_b, &d->heap_peak_b, &sb, &nb, err))
    goto fail;
  d->rows = calloc(na + nb + 1, sizeof *d->rows);
  if (!d->rows) {
    lr_err_set(err, "diff: out of memory");
    goto fail;
  }
  size_t i = 0, j = 0;
  while (i < na || j < nb) {
    int c = i >= na ? 1 : j >= nb ? -1 : strcmp(sa[i].key, sb[j].key);
    LrDiffRow *r = &d->rows[d->n++];
    if (c <= 0) {
      r->key = sa[i].key;
      sa[i].key = NULL;
      r->stack_a = sa[i].stack;
      r->peak_a = sa[i].peak;
      r->blocks_a = sa[i].blocks;
      r->calls_a = sa[i].calls;
      r->bytes_a = sa[i].bytes;
      i++;
    }
    if (c >= 0) {
      if (!r->key) {
        r->key = sb[j].key;
        sb[j].key = NULL;
      }
      r->stack_b = sb[j].stack;
      r->peak_b = sb[j].peak;
      r->blocks_b = sb[j].blocks;
      r->calls_b = sb[j].calls;
      r->bytes_b = sb[j].bytes;
      j++;
    }
  }
  if (d->n) qsort(d->rows, d->n, sizeof *d->rows, cmp_row);
  free_sides(sa, na);
  free_sides(sb, nb);
  *out = d;
  return 0;
fail:
  free_sides(sa, na);
  free_sides(sb, nb);
  lr_diff_free(d);
  return -1;
}

void lr_diff_free(LrDiff *d) {
  if (!d) return;
  for (size_t i = 0; i < d->n; i++) free(d->rows[i].key);
  free(d->rows);
  lr_peak_stacks_free(d->stacks_a);
  lr_peak_stacks_free(d->stacks_b);
  free(d);
}
