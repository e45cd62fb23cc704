/*
** sitegroups.c: see sitegroups.h.
*/
#include "predict/sitegroups.h"

#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
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
        g->life_sum += c->v[LR_BC_FREE_SEQ][i] - c->v[LR_BC_ALLOC_SEQ][i];
    }
    if ((!freed || c->v[LR_BC_FREE_SEQ][i] > p->late) && has_size) g->late_bytes += size;
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

int lr_site_groups(sqlite3 *db, const char *path, int64_t proc, int64_t late, LrSiteGroup **out,
                   size_t *n, LrErr *err) {
  Pass p = {0};
  p.late = late;
  char *msg = NULL;
  uint32_t mask = 1u << LR_BC_REGION | 1u << LR_BC_SIZE | 1u << LR_BC_STACK |
                  1u << LR_BC_ALLOC_SEQ | 1u << LR_BC_FREE_SEQ;
  if (lr_store_scan(db, proc, mask, on_block, &p, &msg) != 0) {
    lr_err_set(err, "%s: allocations: %s", path, p.oom ? "out of memory" : msg ? msg : "?");
    sqlite3_free(msg);
    free(p.g);
    free(p.slot);
    return -1;
  }
  free(p.slot);
  if (p.n) qsort(p.g, p.n, sizeof *p.g, cmp_group);
  *out = p.g;
  *n = p.n;
  return 0;
}
