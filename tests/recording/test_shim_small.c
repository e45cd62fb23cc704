/*
** test_shim_small.c: the shim is small enough for a phone (issue 15).
**   - 1000 short threads (50 alive at a time), 200 malloc(1234)/free pairs
**     each: every event is in the spool, and the spool is what the threads
**     wrote, not a 256 KiB chunk per thread (the old shim: 262 MB for this
**     run, now about 16 MB), and the import finds all 200000 blocks; the shim adds less than 16 MiB of address
**     space to the program (the old one: 86 MiB; glibc's arenas pinned to
**     one so that its own reservations do not vary between runs).
**   - Under RLIMIT_AS (128 MiB) a program that mallocs 1 MiB blocks until
**     NULL gets within 8 MiB of what it gets bare (the old shim: 40 of 125),
**     and every block it got is in the spool.
** Arguments: GT_SMALL GT_PROG GT_PLUGIN SPOOL_DUMP [GT_CPP].
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lrtest.h"
#include "run_util.h"

static const char *gt_small;

/* The value after `key` in DIR/tag.out (-1 if absent). */
static long out_val(const char *tag, const char *key) {
  char path[700], line[256];
  snprintf(path, sizeof path, "%s/%s.out", sr_dir, tag);
  FILE *f = fopen(path, "r");
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, key, strlen(key))) v = atol(line + strlen(key));
  if (f) fclose(f);
  return v;
}

/* Runs argv bare (shim 0) or under the shim, with RLIMIT_AS at as_mib
** (0: unlimited), output in DIR/tag.out; the exit status. */
static int run(const char *tag, char *const argv[], int shim, long as_mib) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (as_mib) {
      struct rlimit rl = {(rlim_t)as_mib << 20, (rlim_t)as_mib << 20};
      if (setrlimit(RLIMIT_AS, &rl)) _exit(120);
    }
    if (shim) _exit(sr_run_tag(tag, argv, "MALLOC_ARENA_MAX=1"));
    char outf[700];
    snprintf(outf, sizeof outf, "%s/%s.out", sr_dir, tag);
    char *env[] = {"MALLOC_ARENA_MAX=1", NULL};
    _exit(lrt_run(argv, env, outf, NULL));
  }
  int st;
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return -1;
  return WEXITSTATUS(st);
}

static void test_threads(void) {
  char *argv[] = {(char *)gt_small, "threads", "1000", "200", NULL};
  CU_ASSERT_FATAL(run("thr_bare", argv, 0, 0) == 0);
  CU_ASSERT_FATAL(run("thr", argv, 1, 0) == 0);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load("thr.db.spool", &s) == 0);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 1234, 0, 0, NULL), 200000);
  size_t threads = 0;
  for (size_t i = 0; i < s.noth; i++) threads += s.oth[i].type == LR_REC_THREAD;
  CU_ASSERT(threads >= 1001);
  /* each worker fits its first chunk (one 16 KiB unit); the main thread
  ** and the first samples take a few more */
  CU_ASSERT_EQUAL(s.hdr.chunk_size, 16384);
  CU_ASSERT(s.units >= 1001 && s.units <= 1000 + 16);
  char path[700];
  snprintf(path, sizeof path, "%s/thr.db.spool", sr_dir);
  struct stat st;
  CU_ASSERT_FATAL(stat(path, &st) == 0);
  CU_ASSERT((uint64_t)st.st_size == 4096 + (uint64_t)s.units * 16384);
  CU_ASSERT(st.st_size < (17 << 20));
  lrt_spool_free(&s);
  /* the importer walks the same chunks (lib/ingest/spool_read.c) */
  CU_ASSERT_FATAL(sr_import("thr"));
  CU_ASSERT_EQUAL(sr_sql("thr", "SELECT count(*) FROM allocations WHERE size = 1234 "
                                "AND free_kind = 'free'"), 200000);
  CU_ASSERT_EQUAL(sr_sql("thr", "SELECT value FROM meta WHERE key = 'spool_chunks_corrupt'"), 0);
  long bare = out_val("thr_bare", "VmSize:"), shim = out_val("thr", "VmSize:");
  printf("\n  1000 threads: spool %lld bytes; VmSize bare %ld kB, under the shim %ld kB\n",
         (long long)st.st_size, bare, shim);
  CU_ASSERT(bare > 0 && shim > 0);
  CU_ASSERT(shim - bare < 16 * 1024);
}

static void test_rlimit_as(void) {
  char *argv[] = {(char *)gt_small, "as", NULL};
  CU_ASSERT_FATAL(run("as_bare", argv, 0, 128) == 0);
  CU_ASSERT_FATAL(run("as", argv, 1, 128) == 0);
  long bare = out_val("as_bare", "mib "), shim = out_val("as", "mib ");
  printf("\n  RLIMIT_AS 128 MiB: %ld MiB bare, %ld MiB under the shim\n", bare, shim);
  CU_ASSERT(bare > 64);
  CU_ASSERT(shim >= bare - 8);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load("as.db.spool", &s) == 0);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 1 << 20, 0, 0, NULL), (size_t)shim);
  lrt_spool_free(&s);
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s GT_SMALL GT_PROG GT_PLUGIN SPOOL_DUMP [GT_CPP]\n", argv[0]);
    return 2;
  }
  gt_small = argv[1];
  argv[1] = argv[0];
  if (sr_start(argc - 1, argv + 1, "shim-small")) return 2;
  CU_initialize_registry();
  CU_pSuite s = CU_add_suite("shim_small", NULL, NULL);
  CU_add_test(s, "1000 short threads: small spool, exact counts", test_threads);
  CU_add_test(s, "RLIMIT_AS: the program gets what it gets bare", test_rlimit_as);
  return lrt_main();
}
