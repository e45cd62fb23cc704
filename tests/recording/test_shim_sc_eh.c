/*
** test_shim_sc_eh.c: the stack cache with the eh unwinder (issue 15; the
** device build's default, no libunwind). gt_defeat (-O2
** -fomit-frame-pointer: callers changed under a cached site, alloca frames
** told apart only by their rbp, recursion, a signal handler's allocations
** beside direct ones at the same depths) is run with LOWRAM_UNWIND=eh and
** the cache off, then with the cache on (LOWRAM_STACK_CACHE=2: an entry on
** every key's second miss; and 1: the default budget). Asserted: every
** malloc's stack is the uncached run's, event by event (module and offset,
** ASLR apart), the same counts per site and the same distinct stacks; the
** cache served at least half the lookups (2) and some (1); stacks through
** the signal frame were refused, never cached.
**
** argv: GT_DEFEAT. The helpers below mirror test_shim_v2.c's libunwind test
** (run, place, compare), kept apart so that each file stays one test's.
*/
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrtest.h"
#include "spool_decode.h"

static const char *gt_defeat, *shim;
static char *dir;

/* gt_defeat under the shim with the eh unwinder and cache setting `cache`;
** the spool is DIR/tag.db.spool, stderr (LOWRAM_STATS) DIR/tag.err. */
static int run(const char *tag, const char *cache) {
  char env_out[640], env_pre[600];
  snprintf(env_out, sizeof env_out, "LOWRAM_OUT=%s/%s.db", dir, tag);
  snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s", shim);
  char errf[64];
  snprintf(errf, sizeof errf, "%s.err", tag);
  char *env[] = {env_pre, env_out, "LOWRAM_STATS=1", "LOWRAM_UNWIND=eh", (char *)cache, NULL};
  char *argv[] = {(char *)gt_defeat, NULL};
  return lrt_run(argv, env, NULL, lrt_path_in(dir, errf));
}

static int load(const char *tag, LrtSpool *s) {
  char name[64], err[300];
  snprintf(name, sizeof name, "%s.db.spool", tag);
  if (lrt_spool_load(lrt_path_in(dir, name), s, err, sizeof err)) {
    fprintf(stderr, "test_shim_sc_eh: %s\n", err);
    return -1;
  }
  return 0;
}

/* An ip as (module path, offset): comparable across runs under ASLR. */
static int place(const LrtSpool *s, uintptr_t ip, const char **path, uint64_t *off) {
  for (size_t i = 0; i < s->nmod; i++) {
    const LrtModule *m = &s->mod[i];
    if (!m->unload && ip >= m->base && ip < m->base + m->size) {
      *path = m->path;
      *off = ip - m->base;
      return 1;
    }
  }
  return 0;
}

static int same_stack(const LrtSpool *sa, uint64_t a, const LrtSpool *sb, uint64_t b) {
  const LrtStack *x = lrt_stack(sa, a), *y = lrt_stack(sb, b);
  if (!x || !y || x->n != y->n) return 0;
  for (uint32_t i = 0; i < x->n; i++) {
    const char *px, *py;
    uint64_t ox, oy;
    if (!place(sa, x->ips[i], &px, &ox) || !place(sb, y->ips[i], &py, &oy)) return 0;
    if (ox != oy || strcmp(px, py)) return 0;
  }
  return 1;
}

/* The counter before `key` in the LOWRAM_STATS line of DIR/tag.err. */
static uint64_t stat_of(const char *tag, const char *key) {
  char name[64];
  snprintf(name, sizeof name, "%s.err", tag);
  char *txt = lrt_read_file(lrt_path_in(dir, name), NULL);
  uint64_t v = 0;
  char *p = txt ? strstr(txt, key) : NULL;
  if (p) {
    while (p > txt && p[-1] == ' ') p--;
    while (p > txt && p[-1] >= '0' && p[-1] <= '9') p--;
    v = strtoull(p, NULL, 10);
  }
  free(txt);
  return v;
}

static void eh_with(const char *tag, const char *cache, unsigned min_hit_pct) {
  CU_ASSERT_FATAL(run(tag, cache) == 0);
  CU_ASSERT_FATAL(run("plain", "LOWRAM_STACK_CACHE=0") == 0);
  LrtSpool c, u;
  CU_ASSERT_FATAL(load(tag, &c) == 0);
  CU_ASSERT_FATAL(load("plain", &u) == 0);
  CU_ASSERT_EQUAL_FATAL(c.hdr.unwinder, 2); /* eh in both */
  CU_ASSERT_EQUAL_FATAL(u.hdr.unwinder, 2);
  const uint64_t sizes[] = {101, 202, 303, 404};
  size_t in_c[4] = {0}, in_u[4] = {0}, na = 0, nb = 0, differ = 0;
  static const LrtEvent *ea[40000], *eb[40000];
  for (size_t i = 0; i < c.nev && na < 40000; i++)
    if (c.ev[i].kind == LR_EV_MALLOC) ea[na++] = &c.ev[i];
  for (size_t i = 0; i < u.nev && nb < 40000; i++)
    if (u.ev[i].kind == LR_EV_MALLOC) eb[nb++] = &u.ev[i];
  CU_ASSERT_FATAL(na == nb);
  for (size_t i = 0; i < na; i++) {
    CU_ASSERT_EQUAL(ea[i]->size, eb[i]->size);
    for (int k = 0; k < 4; k++) {
      in_c[k] += ea[i]->size == sizes[k];
      in_u[k] += eb[i]->size == sizes[k];
    }
    if (!same_stack(&c, ea[i]->stack, &u, eb[i]->stack) && differ++ < 5)
      fprintf(stderr, "test_shim_sc_eh: %s: malloc #%zu (%llu bytes): stack differs from the "
              "uncached eh run's\n", cache, i, (unsigned long long)ea[i]->size);
  }
  CU_ASSERT_EQUAL(differ, 0);
  /* gt_defeat's counts: 3 x 925 callers, 3 x 3 x 33 x 6 alloca, 3 x 4 x 96
  ** recursion, 3 x 40 x 5 signal-or-direct */
  CU_ASSERT_EQUAL(in_c[0], 3 * 925);
  CU_ASSERT_EQUAL(in_c[1], 3 * 3 * 33 * 6);
  CU_ASSERT_EQUAL(in_c[2], 3 * 4 * 96);
  CU_ASSERT_EQUAL(in_c[3], 3 * 40 * 5);
  for (int k = 0; k < 4; k++) CU_ASSERT_EQUAL(in_c[k], in_u[k]);
  CU_ASSERT_EQUAL(c.nst, u.nst);
  uint64_t lookups = stat_of(tag, " lookups"), hits = stat_of(tag, " hits");
  uint64_t fills = stat_of(tag, " entries made"), refused = stat_of(tag, " stacks not cacheable");
  fprintf(stderr, "test_shim_sc_eh: gt_defeat, eh, %s: %zu mallocs, %zu distinct stacks, cache "
          "%llu/%llu hits, %llu entries, %llu refused\n", cache, na, c.nst,
          (unsigned long long)hits, (unsigned long long)lookups, (unsigned long long)fills,
          (unsigned long long)refused);
  CU_ASSERT(lookups >= na);
  CU_ASSERT(hits * 100 >= lookups * min_hit_pct);
  CU_ASSERT(fills >= 1);
  /* the handler's stacks end at the signal frame: refused (with the budget
  ** lifted every key gets its attempt) */
  if (!strcmp(cache, "LOWRAM_STACK_CACHE=2")) CU_ASSERT(refused >= 1);
  lrt_spool_free(&c);
  lrt_spool_free(&u);
}

static void test_eh_cache(void) { eh_with("eh2", "LOWRAM_STACK_CACHE=2", 50); }
static void test_eh_cache_budget(void) { eh_with("eh1", "LOWRAM_STACK_CACHE=1", 5); }

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s GT_DEFEAT\n", argv[0]);
    return 2;
  }
  gt_defeat = argv[1];
  shim = lrt_env("LOWRAM_SHIM");
  dir = lrt_tmpdir("shim-sc-eh");
  CU_initialize_registry();
  CU_pSuite s = CU_add_suite("shim_sc_eh", NULL, NULL);
  CU_add_test(s, "stack cache, eh unwinder: gt_defeat's stacks equal the uncached eh run's",
              test_eh_cache);
  CU_add_test(s, "stack cache, eh unwinder, with its budget: the same", test_eh_cache_budget);
  return lrt_main();
}
