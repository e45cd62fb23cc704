/*
** test_shim_fixes.c: regression runs for shim bugs found in review, each
** built to fail without its fix: chunks leaked by frees after a thread's
** spool chunk was sealed (key destructors), a library opened twice by name
** that never unloaded, a fork child whose parent exited first recording
** ppid 1, and an ARGV record lost to a too generous size estimate.
**
** argv: gt_prog gt_plugin.so lrt_spool_dump [gt_cpp], as test_shim_runs.
*/
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrtest.h"
#include "run_util.h"

#define TSD_THREADS 64

/* Every thread's key-destructor free is recorded, and each exited thread
** leaves one sealed chunk: no chunk claimed after its seal. */
static void test_tsd_chunks(void) {
  char n[8];
  snprintf(n, sizeof n, "%d", TSD_THREADS);
  CU_ASSERT_FATAL(sr_run_gt("tsd", "tsd", n, NULL) == 0);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load("tsd.db.spool", &s) == 0);
  size_t frees = 0, mallocs = 0;
  for (size_t i = 0; i < s.nev; i++) {
    const LrtEvent *m = &s.ev[i];
    if (m->kind != LR_EV_MALLOC || m->size != 32) continue;
    mallocs++;
    for (size_t j = 0; j < s.nev; j++)
      if (s.ev[j].kind == LR_EV_FREE && s.ev[j].addr == m->addr && s.ev[j].seq > m->seq &&
          s.ev[j].tid == m->tid) {
        frees++;
        break;
      }
  }
  CU_ASSERT_EQUAL(mallocs, TSD_THREADS);
  CU_ASSERT_EQUAL(frees, TSD_THREADS);
  /* one chunk per worker, plus the main thread's and the sampler's */
  CU_ASSERT(s.chunks >= TSD_THREADS && s.chunks <= TSD_THREADS + 4);
  CU_ASSERT(s.chunks - s.sealed <= 2);
  lrt_spool_free(&s);
}

/* Opened twice by bare name, closed twice: unmapped (gt_prog checks its
** maps) and an UNMODULE recorded. */
static void test_dlopen_twice(void) {
  char out[600], env_out[640], env_pre[600], outf[600];
  snprintf(out, sizeof out, "%s/dl2.db", sr_dir);
  snprintf(env_out, sizeof env_out, "LOWRAM_OUT=%s", out);
  snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s", sr_shim);
  snprintf(outf, sizeof outf, "%s/dl2.out", sr_dir);
  char *env[] = {env_pre, env_out, "LD_LIBRARY_PATH=", NULL};
  char *argv[] = {(char *)sr_gt, "dlopen2", "libgt_plugin.so", NULL};
  CU_ASSERT_FATAL(lrt_run(argv, env, outf, NULL) == 0);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load("dl2.db.spool", &s) == 0);
  int loads = 0, unloads = 0;
  uint64_t base = 0;
  for (size_t i = 0; i < s.nmod; i++)
    if (!s.mod[i].unload && strstr(s.mod[i].path, "gt_plugin")) {
      loads++;
      base = s.mod[i].base;
    }
  for (size_t i = 0; i < s.nmod; i++) unloads += s.mod[i].unload && s.mod[i].base == base;
  CU_ASSERT_EQUAL(loads, 1);
  CU_ASSERT_EQUAL(unloads, 1);
  lrt_spool_free(&s);
}

/* Each grandchild's ppid is its real parent's pid, although that parent
** exited right after the fork (getppid() in the child would say 1). */
static void test_orphan_ppid(void) {
  CU_ASSERT_FATAL(sr_run_gt("orphan", "orphan", NULL, NULL) == 0);
  LrtSpool main_s;
  CU_ASSERT_FATAL(sr_load("orphan.db.spool", &main_s) == 0);
  uint64_t mids[16];
  size_t nmid = 0, ngrand = 0, good = 0;
  LrtSpool *g = calloc(16, sizeof *g);
  DIR *d = opendir(sr_dir);
  CU_ASSERT_FATAL(d != NULL);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strncmp(e->d_name, "orphan.", 7) || !strcmp(e->d_name, "orphan.db.spool") ||
        !strstr(e->d_name, ".spool"))
      continue;
    LrtSpool s;
    if (sr_load(e->d_name, &s) != 0) {
      CU_FAIL("a spool does not load");
      continue;
    }
    if (s.hdr.ppid == main_s.hdr.pid && nmid < 16) {
      mids[nmid++] = s.hdr.pid;
      lrt_spool_free(&s);
    } else if (ngrand < 16) {
      g[ngrand++] = s;
    } else {
      lrt_spool_free(&s);
    }
  }
  closedir(d);
  CU_ASSERT_EQUAL(nmid, 6);
  CU_ASSERT_EQUAL(ngrand, 6);
  for (size_t i = 0; i < ngrand; i++) {
    CU_ASSERT_EQUAL(sr_count_sized(&g[i], LR_EV_MALLOC, 201, 0, 0, NULL), 1);
    for (size_t k = 0; k < nmid; k++) good += g[i].hdr.ppid == mids[k];
    lrt_spool_free(&g[i]);
  }
  CU_ASSERT_EQUAL(good, 6);
  free(g);
  lrt_spool_free(&main_s);
}

/* 15000 empty arguments with 64 KiB chunks: the old estimate (10 bytes an
** argument) asked for more than a chunk and the record was dropped. */
#define MANY_ARGS 15000
static void test_many_args(void) {
  char **argv = calloc(MANY_ARGS + 3, sizeof *argv);
  CU_ASSERT_FATAL(argv != NULL);
  argv[0] = (char *)sr_gt;
  argv[1] = "leak";
  for (int i = 0; i < MANY_ARGS; i++) argv[2 + i] = "";
  CU_ASSERT_FATAL(sr_run_tag("args", argv, "LOWRAM_CHUNK_KB=64") == 0);
  free(argv);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load("args.db.spool", &s) == 0);
  CU_ASSERT_EQUAL(s.argv_n, MANY_ARGS + 2);
  CU_ASSERT(s.argc == 8 && !strcmp(s.argv[1], "leak") && s.argv[2][0] == 0);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 1000, 0, 0, NULL), 100);
  lrt_spool_free(&s);
}

/* Frees after the trace's end (an atexit handler registered by a preloaded
** library's constructor runs after the shim's destructor) go to libc
** unrecorded: no chunk is claimed after the end, nothing is left unsealed
** but the RSS sampler's. */
static void test_after_end(void) {
  char out[600], env_out[640], env_pre[600 + PATH_MAX], outf[600];
  snprintf(out, sizeof out, "%s/late.db", sr_dir);
  snprintf(env_out, sizeof env_out, "LOWRAM_OUT=%s", out);
  char plugin[PATH_MAX];
  CU_ASSERT_FATAL(realpath(sr_plugin, plugin) != NULL);
  snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s %s", sr_shim, plugin);
  snprintf(outf, sizeof outf, "%s/late.out", sr_dir);
  char *env[] = {env_pre, env_out, "GT_LATE_FREE=1", "LOWRAM_RSS_INTERVAL=0", NULL};
  char *argv[] = {(char *)sr_gt, "exit5", NULL};
  CU_ASSERT_FATAL(lrt_run(argv, env, outf, NULL) == 5);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load("late.db.spool", &s) == 0);
  CU_ASSERT_EQUAL(s.hdr.end_reason, LR_END_EXIT);
  CU_ASSERT_EQUAL(s.hdr.end_code, 5);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 55, 0, 0, NULL), 1);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 4748, 0, 0, NULL), 0);
  CU_ASSERT_EQUAL(s.chunks, s.sealed);
  int rss = 0;
  for (size_t i = 0; i < s.noth; i++) rss += s.oth[i].type == LR_REC_RSS;
  CU_ASSERT(rss >= 2); /* the first sample and the last word at the end */
  lrt_spool_free(&s);
}

int main(int argc, char **argv) {
  if (sr_start(argc, argv, "shim-fixes")) return 2;
  CU_initialize_registry();
  CU_pSuite s = CU_add_suite("shim_fixes", NULL, NULL);
  CU_add_test(s, "key destructor frees: recorded, no leaked chunks", test_tsd_chunks);
  CU_add_test(s, "dlopen twice, dlclose twice: unloaded", test_dlopen_twice);
  CU_add_test(s, "fork child of an exited parent: real ppid", test_orphan_ppid);
  CU_add_test(s, "15000 empty arguments: ARGV kept", test_many_args);
  CU_add_test(s, "frees after the end: no chunk claimed", test_after_end);
  return lrt_main();
}
