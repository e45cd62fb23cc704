/*
** test_shim_commit.c: committed memory, not reserved address space (issue
** 15). gt_commit reserves 512 MiB PROT_NONE, commits 1 + 2 + 3 MiB by
** mprotect and 8 MiB by mmap(MAP_FIXED), decommits the 2 MiB by
** mprotect(PROT_NONE), unmaps the 3 MiB, madvises the 1 MiB away, then
** commits 1 MiB straddling the 8 MiB part and the reservation (only its
** 512 KiB of reservation is new), and unmaps everything. Checks, to the
** byte: the spool's events (5 mprotect with stacks where bytes open, 1
** madvise), the trace's rows (region 'reserved' and 'anon', split exactly
** at each call), committed bytes after every call, the peak (14 MiB
** committed, heap 0), and the report's lines (reserved apart, released
** pages).
**
** argv: GT_COMMIT then gt_prog gt_plugin lrt_spool_dump [gt_cpp].
*/
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>

#include "lrtest.h"
#include "run_util.h"

#define KiB 1024ll
#define MiB (1024ll * 1024ll)

static const char *gt_commit;

static size_t count_kind(const LrtSpool *s, uint32_t kind, size_t *with_stack) {
  size_t n = 0, k = 0;
  for (size_t i = 0; i < s->nev; i++)
    if (s->ev[i].kind == kind) {
      n++;
      k += s->ev[i].stack != 0;
    }
  if (with_stack) *with_stack = k;
  return n;
}

/* Committed ('anon') bytes live right after seq. */
static int64_t committed_at(int64_t seq) {
  char q[300];
  snprintf(q, sizeof q,
           "SELECT ifnull(sum(size), 0) FROM allocations WHERE region = 'anon' AND "
           "alloc_seq <= %lld AND (free_seq IS NULL OR free_seq > %lld)",
           (long long)seq, (long long)seq);
  return sr_sql("commit", q);
}

static int64_t reserved_at(int64_t seq) {
  char q[300];
  snprintf(q, sizeof q,
           "SELECT ifnull(sum(size), 0) FROM allocations WHERE region = 'reserved' AND "
           "alloc_seq <= %lld AND (free_seq IS NULL OR free_seq > %lld)",
           (long long)seq, (long long)seq);
  return sr_sql("commit", q);
}

static void test_commit(void) {
  char *av[] = {(char *)gt_commit, NULL};
  CU_ASSERT_FATAL(sr_run_tag("commit", av, NULL) == 0);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load("commit.db.spool", &s) == 0);
  size_t st = 0;
  CU_ASSERT(count_kind(&s, LR_EV_MPROTECT, &st) == 5);
  CU_ASSERT(st == 4); /* every mprotect but the PROT_NONE one carries a stack */
  CU_ASSERT(count_kind(&s, LR_EV_MADVISE, NULL) == 1);
  /* mmap64 with meson's -D_FILE_OFFSET_BITS=64 */
  CU_ASSERT(count_kind(&s, LR_EV_MMAP, NULL) + count_kind(&s, LR_EV_MMAP64, NULL) == 2);
  CU_ASSERT(count_kind(&s, LR_EV_MUNMAP, NULL) == 2);
  for (size_t i = 0; i < s.nev; i++)
    if (s.ev[i].kind == LR_EV_MADVISE) {
      CU_ASSERT(s.ev[i].flags == MADV_DONTNEED && s.ev[i].size == 1 * MiB);
    }
  /* every RSS sample of the shim carries VmSwap (minor 1) */
  size_t nrss = 0, nswap = 0;
  for (size_t i = 0; i < s.noth; i++)
    if (s.oth[i].type == LR_REC_RSS) {
      nrss++;
      nswap += s.oth[i].has_swap;
    }
  CU_ASSERT(nrss >= 2 && nswap == nrss);
  /* outside samples beside the spool (SPOOL.md, "Outside samples"), as
  ** `lowram record` leaves them: one before the start (skipped), one 1 ns
  ** after it (before every event: seq 0), a line that does not parse, one
  ** long after the end (the last event's seq) */
  char side[600];
  snprintf(side, sizeof side, "%s/commit.db.spool.rss", sr_dir);
  FILE *f = fopen(side, "w");
  CU_ASSERT_FATAL(f != NULL);
  unsigned long long t0 = (unsigned long long)s.hdr.start_mono_ns;
  fprintf(f, "%llu 1 2 3 4 5\n%llu 1000 2000 3000 4000 12345\nnot a sample\n"
             "%llu 1000 2000 3000 4000 777\n",
          t0 - 5, t0 + 1, t0 + 1000000000000000ull);
  fclose(f);
  lrt_spool_free(&s);
  if (!sr_import("commit")) return;
  CU_ASSERT(sr_sql("commit", "SELECT count(*) FROM rss_samples") == (int64_t)nrss + 2);
  CU_ASSERT(sr_sql("commit", "SELECT count(*) FROM rss_samples WHERE swap IS NULL") == 0);
  CU_ASSERT(sr_sql("commit", "SELECT count(*) FROM rss_samples WHERE swap = 12345 AND seq = 0 "
                             "AND ns = 1 AND rss = 1000 AND shmem = 4000") == 1);
  CU_ASSERT(sr_sql("commit", "SELECT count(*) FROM rss_samples WHERE swap = 777 AND seq = 10 "
                             "AND ns = 1000000000000000") == 1);
  /* seq: 1 reserve, 2-4 mprotect, 5 MAP_FIXED, 6 decommit, 7 munmap,
  ** 8 madvise, 9 straddling mprotect, 10 munmap of it all */
  CU_ASSERT(sr_sql("commit", "SELECT count(*) FROM allocations") == 15);
  CU_ASSERT(sr_sql("commit", "SELECT count(*) FROM allocations WHERE region = 'reserved'") ==
            10);
  CU_ASSERT(sr_sql("commit", "SELECT count(*) FROM allocations WHERE region = 'anon'") == 5);
  CU_ASSERT(sr_sql("commit", "SELECT count(*) FROM allocations WHERE region = 'heap'") == 0);
  CU_ASSERT(sr_sql("commit", "SELECT count(*) FROM allocations WHERE free_seq IS NULL") == 0);
  CU_ASSERT(sr_sql("commit", "SELECT count(*) FROM allocations WHERE region = 'anon' AND "
                             "kind = 'mprotect'") == 4);
  CU_ASSERT(sr_sql("commit", "SELECT count(*) FROM allocations WHERE region = 'reserved' AND "
                             "kind = 'mprotect' AND size = 2097152 AND alloc_seq = 6") == 1);
  CU_ASSERT(sr_sql("commit", "SELECT count(*) FROM allocations WHERE free_kind = 'mprotect'") ==
            5);
  static const int64_t committed[] = {0, 0, 1 * MiB, 3 * MiB, 6 * MiB, 14 * MiB, 12 * MiB,
                                      9 * MiB, 9 * MiB, 9 * MiB + 512 * KiB, 0};
  static const int64_t reserved[] = {0, 512 * MiB, 511 * MiB, 509 * MiB, 506 * MiB,
                                     498 * MiB, 500 * MiB, 500 * MiB, 500 * MiB,
                                     500 * MiB - 512 * KiB, 0};
  for (int q = 1; q <= 10; q++) {
    CU_ASSERT(committed_at(q) == committed[q]);
    CU_ASSERT(reserved_at(q) == reserved[q]);
    if (committed_at(q) != committed[q] || reserved_at(q) != reserved[q])
      fprintf(stderr, "test_shim_commit: seq %d: committed %lld (want %lld), reserved %lld "
                      "(want %lld)\n", q, (long long)committed_at(q), (long long)committed[q],
              (long long)reserved_at(q), (long long)reserved[q]);
  }
  CU_ASSERT(sr_sql("commit", "SELECT value FROM meta WHERE key = 'released_bytes'") == 1 * MiB);
  CU_ASSERT(sr_sql("commit", "SELECT value FROM meta WHERE key = 'released_calls'") == 1);
  /* the report: the peak is committed bytes, reserved shown apart */
  char db[600], out[600];
  snprintf(db, sizeof db, "%s/commit.db", sr_dir);
  snprintf(out, sizeof out, "%s/commit.report", sr_dir);
  char *rv[] = {(char *)lrt_env("LOWRAM_BIN"), "report", db, NULL};
  CU_ASSERT_FATAL(lrt_run(rv, NULL, out, NULL) == 0);
  size_t n;
  char *txt = lrt_read_file(out, &n);
  CU_ASSERT_FATAL(txt != NULL);
  static const char *const lines[] = {
    "\nPeak 14.0 MiB live = 14680064 bytes (heap 0 B + anon mmap 14.0 MiB)\n"
    "  at ",
    ", seq 5, before any marker\n"
    "  file-backed mappings live then: 0 B (not in the peak; highest 0 B)\n"
    "  reserved, not committed: 498 MiB (PROT_NONE address space, not in the peak; "
    "highest 512 MiB)\n"
    "  released pages: 1.00 MiB in 1 madvise call (RSS given back, still committed)\n"
    "  heap-only peak (what massif measures): 0 B at seq 0\n",
  };
  for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
    CU_ASSERT(strstr(txt, lines[i]) != NULL);
    if (!strstr(txt, lines[i])) fprintf(stderr, "test_shim_commit: report lacks:\n%s\n---\n%s", lines[i], txt);
  }
  /* the reservation is no allocation: not among the largest, not a leak */
  CU_ASSERT(strstr(txt, "512 MiB mmap") == NULL);
  free(txt);
  snprintf(out, sizeof out, "%s/commit.json", sr_dir);
  char *jv[] = {(char *)lrt_env("LOWRAM_BIN"), "report", "--json", db, NULL};
  CU_ASSERT_FATAL(lrt_run(jv, NULL, out, NULL) == 0);
  txt = lrt_read_file(out, &n);
  CU_ASSERT(txt && strstr(txt, "\"reserved_at_peak\":522190848,\"reserved_peak\":536870912,"
                              "\"released_bytes\":1048576,\"released_calls\":1,"));
  free(txt);
}

/* End reasons under plain LD_PRELOAD (issue 15): a SIGTERM and a stack
** overflow end the spool as "signal" with their number, and the process
** still dies of them. */
static void end_mode(const char *mode, int sig) {
  char tag[64], name[80];
  snprintf(tag, sizeof tag, "end-%s", mode);
  char *av[] = {(char *)gt_commit, (char *)mode, NULL};
  CU_ASSERT(sr_run_tag(tag, av, NULL) == 128 + sig);
  LrtSpool s;
  snprintf(name, sizeof name, "%s.db.spool", tag);
  CU_ASSERT_FATAL(sr_load(name, &s) == 0);
  CU_ASSERT(s.hdr.flags & LR_SPOOL_ENDED);
  CU_ASSERT_EQUAL(s.hdr.end_reason, LR_END_SIGNAL);
  CU_ASSERT_EQUAL(s.hdr.end_code, sig);
  lrt_spool_free(&s);
  if (!sr_import(tag)) return;
  char q[200];
  snprintf(q, sizeof q, "SELECT count(*) FROM meta WHERE key = 'end_reason' AND value = 'signal'");
  CU_ASSERT(sr_sql(tag, q) == 1);
  CU_ASSERT(sr_sql(tag, "SELECT value FROM meta WHERE key = 'end_code'") == sig);
}

static void test_end_sigterm(void) { end_mode("term", SIGTERM); }
static void test_end_overflow(void) { end_mode("overflow", SIGSEGV); }

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s GT_COMMIT GT_PROG GT_PLUGIN SPOOL_DUMP [GT_CPP]\n", argv[0]);
    return 2;
  }
  gt_commit = argv[1];
  argv[1] = argv[0];
  if (sr_start(argc - 1, argv + 1, "shim-commit")) return 2;
  CU_initialize_registry();
  CU_pSuite s = CU_add_suite("shim_commit", NULL, NULL);
  CU_add_test(s, "committed memory: reserve, commit, decommit, release", test_commit);
  CU_add_test(s, "end reason: SIGTERM says signal 15", test_end_sigterm);
  CU_add_test(s, "end reason: a stack overflow says signal 11", test_end_overflow);
  return lrt_main();
}
