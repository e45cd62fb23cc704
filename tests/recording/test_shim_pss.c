/*
** test_shim_pss.c: PSS from `lowram record`'s outside sampler (issue 15).
** gt_pss maps 8 MiB of a file MAP_SHARED in a parent and its fork child,
** both touch every page and sleep 600 ms. In each process's samples taken
** while both map it (the file resident: file + shmem >= 8 MiB, and the
** least PSS among those, since the other process may not have touched it
** yet at the first ones), PSS holds half of the 8 MiB: at least 4 MiB
** (less 5%), at most 4 MiB (plus 5%) + every other page of that sample
** (rss - 8 MiB, each counted at most whole). PSS is sampled in a tenth of
** the rows at most (every 10th round, 100 ms apart), "-" in the others
** (NULL), and is NULL in every sample of a run with sampling off
** (--rss-interval 0: the shim's own samples have none).
**
** argv: GT_PSS.
*/
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lrtest.h"

#define MiB (1024ll * 1024ll)

static const char *gt_pss;
static char *dir;

static int64_t q1(const char *db, const char *fmt, long long a) {
  char q[600];
  snprintf(q, sizeof q, fmt, a, a, a);
  return lrt_sql_int(db, q);
}

static void test_pss_shared(void) {
  char *db = lrt_path_in(dir, "pss.db"), *file = lrt_path_in(dir, "shared.bin");
  char *out = lrt_path_in(dir, "pss.out"), *err = lrt_path_in(dir, "pss.err");
  CU_ASSERT_FATAL(lrt_lowram(out, err, "record", "-o", db, "--rss-interval", "10", "--",
                             gt_pss, file, NULL) == 0);
  CU_ASSERT_FATAL(lrt_sql_int(db, "SELECT count(*) FROM processes") == 2);
  int64_t all = lrt_sql_int(db, "SELECT count(*) FROM rss_samples");
  int64_t with = lrt_sql_int(db, "SELECT count(pss) FROM rss_samples");
  /* 2 x 600 ms at 10 ms: dozens of rows; PSS in every 10th round at most
  ** (one per process per round: + 2 for rounding) */
  CU_ASSERT(all >= 40);
  CU_ASSERT(with >= 2 && with * 10 <= all + 20);
  for (long long id = 1; id <= 2; id++) {
    /* the sample of least PSS with the file resident, and its rss */
    const char *pick = "SELECT %s FROM rss_samples WHERE process_id = %lld AND pss IS NOT NULL "
                       "AND file + shmem >= 8388608 ORDER BY pss LIMIT 1";
    char q[400];
    snprintf(q, sizeof q, pick, "count(*) OVER ()", id);
    int64_t n = lrt_sql_int(db, q);
    snprintf(q, sizeof q, pick, "pss", id);
    int64_t pss = lrt_sql_int(db, q);
    snprintf(q, sizeof q, pick, "rss", id);
    int64_t rss = lrt_sql_int(db, q);
    CU_ASSERT(n >= 1);
    CU_ASSERT(pss >= 4 * MiB - 4 * MiB / 20);
    CU_ASSERT(pss <= 4 * MiB + 4 * MiB / 20 + (rss - 8 * MiB));
    /* the whole file was never counted whole in both at once: if it were,
    ** PSS would be 8 MiB or more */
    CU_ASSERT(pss < 8 * MiB);
    if (n < 1 || pss < 4 * MiB - 4 * MiB / 20 || pss > 4 * MiB + 4 * MiB / 20 + rss - 8 * MiB)
      fprintf(stderr, "test_shim_pss: process %lld: %lld samples, pss %lld, rss %lld\n", id,
              (long long)n, (long long)pss, (long long)rss);
    /* no PSS above RSS in any sample */
    CU_ASSERT(q1(db, "SELECT count(*) FROM rss_samples WHERE process_id = %lld AND pss > rss",
                 id) == 0);
  }
}

static void test_pss_off(void) {
  char *db = lrt_path_in(dir, "off.db"), *file = lrt_path_in(dir, "shared2.bin");
  char *out = lrt_path_in(dir, "off.out"), *err = lrt_path_in(dir, "off.err");
  CU_ASSERT_FATAL(lrt_lowram(out, err, "record", "-o", db, "--rss-interval", "0", "--",
                             gt_pss, file, NULL) == 0);
  /* the shim's first and last samples of each process, none with PSS */
  CU_ASSERT(lrt_sql_int(db, "SELECT count(*) FROM rss_samples") >= 4);
  CU_ASSERT(lrt_sql_int(db, "SELECT count(*) FROM rss_samples WHERE pss IS NOT NULL") == 0);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s GT_PSS\n", argv[0]);
    return 2;
  }
  gt_pss = argv[1];
  dir = lrt_tmpdir("shim-pss");
  CU_initialize_registry();
  CU_pSuite s = CU_add_suite("shim_pss", NULL, NULL);
  CU_add_test(s, "PSS from outside: a file shared by two processes counts half in each",
              test_pss_shared);
  CU_add_test(s, "PSS: NULL in every sample of a run with sampling off", test_pss_off);
  return lrt_main();
}
