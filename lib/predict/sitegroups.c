/*
** sitegroups.c: see sitegroups.h.
*/
#include "predict/sitegroups.h"

#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "query/peak_sql.h"
#include "store/scan.h"

typedef struct Pass {
  LrSiteGroup *g;
  size_t n, cap;
  size_t *slot; /* open addressing: index + 1 */
  size_t nslot;
  int64_t late;
  int oom;
} Pass;

static uint64_t key_hash(int64_t stack, int anon, int arena) {
  return lr_mix64((uint64_t)stack * 4 + (uint64_t)(anon * 2 + arena));
}

static int rehash(Pass *p) {
  size_t ns = p->nslot ? p->nslot * 2 : 1024;
  size_t *s = calloc(ns, sizeof *s);
  if (!s) return -1;
  for (size_t i = 0; i < p->n; i++) {
    const LrSiteGroup *g = &p->g[i];
    size_t j = key_hash(g->stack, g->anon, g->arena_sized) & (ns - 1);
    while (s[j]) j = (j + 1) & (ns - 1);
    s[j] = i + 1;
  }
  free(p->slot);
  p->slot = s;
  p->nslot = ns;
  return 0;
}

static LrSiteGroup *group(Pass *p, int64_t stack, int anon, int arena) {
  if (p->n * 2 >= p->nslot && rehash(p)) return NULL;
  size_t j = key_hash(stack, anon, arena) & (p->nslot - 1);
  for (; p->slot[j]; j = (j + 1) & (p->nslot - 1)) {
    LrSiteGroup *g = &p->g[p->slot[j] - 1];
    if (g->stack == stack && g->anon == anon && g->arena_sized == arena) return g;
  }
  LrSiteGroup *a = lr_grow(p->g, &p->cap, p->n + 1, sizeof *p->g);
  if (!a) return NULL;
  p->g = a;
  LrSiteGroup *g = &p->g[p->n];
  memset(g, 0, sizeof *g);
  g->stack = stack;
  g->anon = anon;
  g->arena_sized = arena;
  p->slot[j] = ++p->n;
  return g;
}

/* The region of row i: 0 heap, 1 anon, -1 any other (or NULL). */
static int region_of(const LrBcCols *c, int i) {
  if (c->null[LR_BC_REGION][i]) return -1;
  int64_t s = c->v[LR_BC_REGION][i];
  uint32_t l = c->slen[s];
  if (l == 4 && !memcmp(c->str[s], "heap", 4)) return 0;
  if (l == 4 && !memcmp(c->str[s], "anon", 4)) return 1;
  return -1;
}

static int on_block(void *ctx, const LrBcCols *c) {
  Pass *p = ctx;
  for (int i = 0; i < c->n; i++) {
    int anon = region_of(c, i);
    if (anon < 0) continue;
    int64_t size = c->null[LR_BC_SIZE][i] ? 0 : c->v[LR_BC_SIZE][i];
    int has_size = !c->null[LR_BC_SIZE][i];
    int arena = anon && has_size && (size == 262144 || size == 1048576);
    int64_t stack = c->null[LR_BC_STACK][i] ? -1 : c->v[LR_BC_STACK][i];
    LrSiteGroup *g = group(p, stack, anon, arena);
    if (!g) {
      p->oom = 1;
      return -1;
    }
    g->count++;
    if (has_size && size > g->max_size) g->max_size = size;
    int freed = !c->null[LR_BC_FREE_SEQ][i];
    if (freed) {
      g->freed++;
      if (!c->null[LR_BC_ALLOC_SEQ][i])
        /* wrapping, not UB, on a damaged trace's absurd seqs */
        g->life_sum = (int64_t)((uint64_t)g->life_sum + (uint64_t)c->v[LR_BC_FREE_SEQ][i] -
                                (uint64_t)c->v[LR_BC_ALLOC_SEQ][i]);
    }
    if ((!freed || c->v[LR_BC_FREE_SEQ][i] > p->late) && has_size)
      g->late_bytes = (int64_t)((uint64_t)g->late_bytes + (uint64_t)size);
  }
  return 0;
}

/* SQL's order: stack_id (NULL first), region ('anon' < 'heap'), arena. */
static int cmp_group(const void *a, const void *b) {
  const LrSiteGroup *x = a, *y = b;
  if (x->stack != y->stack) return x->stack < y->stack ? -1 : 1;
  if (x->anon != y->anon) return x->anon ? -1 : 1;
  return x->arena_sized - y->arena_sized;
}

/* A v2 trace (a plain allocations table): the SQL itself. */
static int groups_sql(sqlite3 *db, const char *path, int64_t late, Pass *p, LrErr *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT stack_id, COUNT(*), MAX(size), MAX(region = 'anon'), "
                         "SUM(free_seq - alloc_seq), COUNT(free_seq), "
                         "region = 'anon' AND size IN (262144, 1048576), "
                         "SUM(CASE WHEN free_seq IS NULL OR free_seq > ?1 THEN size ELSE 0 END) "
                         "FROM allocations WHERE region IN ('heap','anon') "
                         "GROUP BY stack_id, region, 7",
                         -1, &st, NULL) != SQLITE_OK)
    return lr_err_set(err, "%s: allocations: %s", path, sqlite3_errmsg(db));
  sqlite3_bind_int64(st, 1, late);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    LrSiteGroup *g = lr_grow(p->g, &p->cap, p->n + 1, sizeof *p->g);
    if (!g) {
      sqlite3_finalize(st);
      return lr_err_set(err, "%s: out of memory", path);
    }
    p->g = g;
    g = &p->g[p->n++];
    g->stack = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 0);
    g->count = sqlite3_column_int64(st, 1);
    g->max_size = sqlite3_column_int64(st, 2);
    g->anon = sqlite3_column_int(st, 3);
    g->life_sum = sqlite3_column_int64(st, 4);
    g->freed = sqlite3_column_int64(st, 5);
    g->arena_sized = sqlite3_column_int(st, 6);
    g->late_bytes = sqlite3_column_int64(st, 7);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return lr_err_set(err, "%s: allocations: %s", path, sqlite3_errmsg(db));
  return 0;
}

/* One integer from sql (bound to a), or dflt. */
static int64_t one_int(sqlite3 *db, const char *sql, int64_t a, int64_t dflt) {
  sqlite3_stmt *st;
  int64_t v = dflt;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return dflt;
  sqlite3_bind_int64(st, 1, a);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

int lr_site_groups(sqlite3 *db, const char *path, int64_t *span, LrSiteGroup **out, size_t *n,
                   LrErr *err) {
  Pass p = {0};
  int64_t proc = one_int(db, "SELECT value FROM meta WHERE key = 'process_id'", 0, 1);
  int v3 = lr_peak_has_live_at(db); /* the same test as the queries' */
  int64_t a, f;
  if (v3) { /* the blocks' ranges */
    a = one_int(db, "SELECT max(alloc_max) FROM main.alloc_blocks WHERE process_id = ?1", proc, 0);
    f = one_int(db, "SELECT max(free_max) FROM main.alloc_blocks WHERE process_id = ?1", proc, 0);
  } else {
    a = one_int(db, "SELECT MAX(alloc_seq) FROM allocations", 0, 0);
    f = one_int(db, "SELECT MAX(free_seq) FROM allocations", 0, 0);
  }
  *span = a > f ? a : f;
  p.late = *span - *span / 4;
  if (!v3) {
    if (groups_sql(db, path, p.late, &p, err)) {
      free(p.g);
      return -1;
    }
  } else {
    char *msg = NULL;
    uint32_t mask = 1u << LR_BC_REGION | 1u << LR_BC_SIZE | 1u << LR_BC_STACK |
                    1u << LR_BC_ALLOC_SEQ | 1u << LR_BC_FREE_SEQ;
    int rc = lr_store_scan(db, proc, mask, on_block, &p, &msg);
    free(p.slot);
    if (rc != 0) {
      lr_err_set(err, "%s: allocations: %s", path, p.oom ? "out of memory" : msg ? msg : "?");
      sqlite3_free(msg);
      free(p.g);
      return -1;
    }
    if (p.n) qsort(p.g, p.n, sizeof *p.g, cmp_group);
  }
  *out = p.g;
  *n = p.n;
  return 0;
}
