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
**   - Failure paths (issue 14): an RLIMIT_AS sweep (traced, or one line
**     and no spool), LOWRAM_OUT naming a directory, a directory that is
**     not there (one line, with its separator); the shim's signal
**     handlers hidden from sigaction() and signal(); a signal handler that
**     mallocs while its thread is inside malloc does not deadlock.
** Arguments: GT_SMALL GT_PROG GT_PLUGIN SPOOL_DUMP [GT_CPP].
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>
#include <fcntl.h>

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

/* Runs argv under the shim with LOWRAM_OUT=out and RLIMIT_AS at as_kb (0:
** none), stdout and stderr to DIR/tag.out and DIR/tag.err. */
static int run_out_env(const char *tag, char *const argv[], const char *out, long as_kb,
                       const char *extra) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    char pre[700], o[800], outf[700], errf[700];
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", sr_shim);
    snprintf(o, sizeof o, "LOWRAM_OUT=%s", out);
    snprintf(outf, sizeof outf, "%s/%s.out", sr_dir, tag);
    snprintf(errf, sizeof errf, "%s/%s.err", sr_dir, tag);
    int fo = open(outf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fe = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0) _exit(121);
    /* the limit in this child only, just before the exec: the test
    ** process itself is larger than the limits tried */
    if (as_kb) {
      struct rlimit rl = {(rlim_t)as_kb << 10, (rlim_t)as_kb << 10};
      if (setrlimit(RLIMIT_AS, &rl)) _exit(120);
    }
    char *env[] = {pre, o, (char *)extra, NULL};
    execve(argv[0], argv, env);
    _exit(127);
  }
  /* a program still running after 120 s hung (the signal-handler test):
  ** killed, -2 */
  int st = 0;
  pid_t r = 0;
  for (int w = 0; w < 1200 && (r = waitpid(pid, &st, WNOHANG)) == 0; w++) usleep(100000);
  if (r == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -2;
  }
  if (r != pid || !WIFEXITED(st)) return -1;
  return WEXITSTATUS(st);
}

static int run_out(const char *tag, char *const argv[], const char *out, long as_kb) {
  return run_out_env(tag, argv, out, as_kb, NULL);
}

static char *slurp(const char *tag, const char *ext) {
  char path[700];
  snprintf(path, sizeof path, "%s/%s.%s", sr_dir, tag, ext);
  char *t = lrt_read_file(path, NULL);
  return t ? t : calloc(1, 1);
}

static size_t lines(const char *t) {
  size_t n = 0;
  for (; *t; t++) n += *t == '\n';
  return n;
}

/* RLIMIT_AS from 2 MiB to 8 MiB in 64 KiB steps: at each limit the program
** either cannot be loaded at all (the loader's error, 127), or runs as it
** would bare and is traced (a spool that says how it ended, every 1 MiB
** block it got in it), or runs untraced with one line from the shim
** ending "(not tracing)" and no spool. Never a spool with nothing in it
** (the old shim: "cannot map the stack table" and a header-only spool that
** imported as "0 events, killed"). */
static void test_rlimit_sweep(void) {
  char *argv[] = {(char *)gt_small, "as", NULL};
  int traced = 0, untraced = 0, unloadable = 0, bad = 0;
  for (long kb = 2048; kb <= 8192; kb += 64) {
    char tag[64], out[700], spool[800];
    snprintf(tag, sizeof tag, "sweep%ld", kb);
    snprintf(out, sizeof out, "%s/%s.db", sr_dir, tag);
    snprintf(spool, sizeof spool, "%s.spool", out);
    int rc = run_out(tag, argv, out, kb);
    char *o = slurp(tag, "out"), *e = slurp(tag, "err");
    struct stat st;
    int have = stat(spool, &st) == 0;
    if (rc == 127 && !have && !strstr(e, "lowram")) {
      unloadable++;
    } else if (rc == 0 && !strncmp(o, "mib ", 4) && have && !e[0]) {
      LrtSpool s;
      char name[100];
      snprintf(name, sizeof name, "%s.db.spool", tag);
      if (sr_load(name, &s) == 0 && (s.hdr.flags & LR_SPOOL_ENDED) &&
          s.hdr.end_reason == LR_END_EXIT &&
          sr_count_sized(&s, LR_EV_MALLOC, 1 << 20, 0, 0, NULL) == (size_t)atol(o + 4))
        traced++;
      else
        bad++, printf("\n  %ld KiB: a spool that does not hold the run\n", kb);
      lrt_spool_free(&s);
    } else if (rc == 0 && !strncmp(o, "mib ", 4) && !have && lines(e) == 1 &&
               !strncmp(e, "lowram: cannot ", 15) && strstr(e, " (not tracing)\n")) {
      untraced++;
    } else {
      bad++;
      printf("\n  %ld KiB: rc %d, spool %d, out [%s], err [%s]\n", kb, rc, have, o, e);
    }
    free(o);
    free(e);
  }
  printf("\n  RLIMIT_AS sweep: %d unloadable, %d untraced (one line), %d traced\n", unloadable,
         untraced, traced);
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT(untraced >= 1);
  CU_ASSERT(traced >= 10);
}

/* LOWRAM_OUT naming a directory puts DIR/lowram-PID.db.spool there (the old
** shim made a hidden DIR/.PID.spool); a directory that is not there gives
** one line with its separator, and the program runs as bare. */
static void test_out_dir(void) {
  char d[700], out[800], spool[900];
  snprintf(d, sizeof d, "%s/outdir", sr_dir);
  CU_ASSERT_FATAL(mkdir(d, 0700) == 0);
  char *argv[] = {(char *)gt_small, "threads", "1", "3", NULL};
  for (int slash = 1; slash >= 0; slash--) {
    snprintf(out, sizeof out, "%s%s", d, slash ? "/" : "");
    CU_ASSERT_FATAL(run_out("outdir", argv, out, 0) == 0);
    char *o = slurp("outdir", "out"), *e = slurp("outdir", "err");
    CU_ASSERT(!strncmp(o, "threads 1 3\n", 12));
    CU_ASSERT_STRING_EQUAL(e, "");
    free(o);
    free(e);
  }
  /* two runs, two spools, each DIR/lowram-PID.db.spool, nothing else */
  DIR *dir = opendir(d);
  struct dirent *de;
  int named = 0, other = 0;
  while (dir && (de = readdir(dir))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    long pid;
    char rest[64];
    if (sscanf(de->d_name, "lowram-%ld%63s", &pid, rest) == 2 && !strcmp(rest, ".db.spool"))
      named++;
    else
      other++, printf("\n  unexpected file %s\n", de->d_name);
  }
  if (dir) closedir(dir);
  CU_ASSERT_EQUAL(named, 2);
  CU_ASSERT_EQUAL(other, 0);
  snprintf(out, sizeof out, "%s/no/such/dir/", d);
  CU_ASSERT_FATAL(run_out("nodir", argv, out, 0) == 0);
  char *e = slurp("nodir", "err");
  char *pid_at = strstr(e, "lowram-");
  long pid = pid_at ? atol(pid_at + 7) : 0;
  snprintf(spool, sizeof spool,
           "lowram: cannot create %s/no/such/dir/lowram-%ld.db.spool: No such file or "
           "directory (not tracing)\n", d, pid);
  CU_ASSERT_STRING_EQUAL(e, spool);
  free(e);
}

/* The shim's handlers for fatal signals (and SIGTERM/SIGHUP) are invisible
** to sigaction() and signal(): what the program reads and sets equals the
** bare run, line for line (the old shim: "a SA_SIGINFO handler" for seven
** signals, signal() returning its handler). */
static void test_sig_hidden(void) {
  char *argv[] = {(char *)gt_small, "sig", NULL};
  char out[700];
  CU_ASSERT_FATAL(run("sig_bare", argv, 0, 0) == 0);
  snprintf(out, sizeof out, "%s/sig.db", sr_dir);
  CU_ASSERT_FATAL(run_out("sig", argv, out, 0) == 0);
  char *b = slurp("sig_bare", "out"), *o = slurp("sig", "out"), *e = slurp("sig", "err");
  CU_ASSERT_STRING_EQUAL(o, b);
  CU_ASSERT(strstr(b, "\n11: default flags 0\n") || !strncmp(b, "11: default flags 0\n", 20));
  CU_ASSERT(strstr(b, "signal(SIGBUS) was default\nsignal(SIGBUS) back: was mine\n"
                      "sigaction(SIGSEGV) was default\nSIGSEGV now mine\nhandled 11\n") != NULL);
  CU_ASSERT_STRING_EQUAL(e, "");
  free(b);
  free(o);
  free(e);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load("sig.db.spool", &s) == 0);
  CU_ASSERT((s.hdr.flags & LR_SPOOL_ENDED) && s.hdr.end_reason == LR_END_EXIT);
  lrt_spool_free(&s);
}

/* gt_small MODE prints the same bare and under the shim, and exactly want;
** the spool ends with the exit. */
static void same_as_bare(const char *mode, const char *want) {
  char *argv[] = {(char *)gt_small, (char *)mode, NULL};
  char tag[64], out[700];
  snprintf(tag, sizeof tag, "%s_bare", mode);
  CU_ASSERT_FATAL(run(tag, argv, 0, 0) == 0);
  char *b = slurp(tag, "out");
  snprintf(out, sizeof out, "%s/%s.db", sr_dir, mode);
  CU_ASSERT_FATAL(run_out(mode, argv, out, 0) == 0);
  char *o = slurp(mode, "out"), *e = slurp(mode, "err");
  CU_ASSERT_STRING_EQUAL(b, want);
  CU_ASSERT_STRING_EQUAL(o, want);
  CU_ASSERT_STRING_EQUAL(e, "");
  free(b);
  free(o);
  free(e);
  LrtSpool s;
  snprintf(out, sizeof out, "%s.db.spool", mode);
  CU_ASSERT_FATAL(sr_load(out, &s) == 0);
  CU_ASSERT((s.hdr.flags & LR_SPOOL_ENDED) && s.hdr.end_reason == LR_END_EXIT);
  lrt_spool_free(&s);
}

/* -std=c99: signal() is glibc's __sysv_signal. The old shim did not hook it:
** "was OTHER" (its handler) for SIGSEGV and SIGFPE, and the SIGFPE handler
** chained to it ("chained 1"). */
static void test_sig_sysv99(void) {
#ifdef __GLIBC__
  same_as_bare("sig99", "sig99 signal(SIGSEGV) was default\n"
                        "sig99 signal(SIGSEGV) back: was ignore\n"
                        "sig99 signal(SIGFPE) was default\n"
                        "sig99 handled 8, chained 0\n");
  /* sysv_signal, bsd_signal, ssignal, sigset: the old shim, OTHER on each */
  same_as_bare("sigsysv", "sysv_signal(SIGBUS) was default\nSIGBUS now mine\n"
                          "bsd_signal(SIGILL) was default\nssignal(SIGHUP) was default\n"
                          "sigset(SIGABRT, SIG_HOLD) was default\nSIGABRT now default\n"
                          "sigset(SIGTERM, mine) was default\nSIGTERM now mine\n"
                          "handled 7\n");
#endif
}

/* signal() keeps libc's semantics, siginterrupt included: the old shim set
** SA_RESTART itself on a signal it owned ("SA_RESTART 1"). */
static void test_sig_interrupt(void) { same_as_bare("sigintr", "SIGTERM SA_RESTART 0\n"); }

/* A vfork child's signal() leaves the parent's SIGTERM hidden: the old shim
** cleared the parent's flag, which then showed "a SA_SIGINFO handler". */
static void test_sig_vfork(void) {
  same_as_bare("vfork", "before vfork: SIGTERM default\nafter vfork: SIGTERM default\n");
}

/* A SIGALRM handler that mallocs, every 100 us, while the program mallocs
** in a loop: bare, a signal landing inside malloc deadlocks in the arena
** lock; under the shim such calls are served from its rescue pool. Each run
** must end (a program still running after 120 s is killed and fails the
** test), with the loop's 200000 blocks in the spool; the signal lands inside
** the allocator in at least one of up to five runs (LOWRAM_STATS says so). */
static void test_sigmalloc(void) {
  char *argv[] = {(char *)gt_small, "sigmalloc", "200000", NULL};
  int rescued = 0;
  for (int k = 0; k < 5 && !rescued; k++) {
    char tag[32], out[700];
    snprintf(tag, sizeof tag, "sigm%d", k);
    snprintf(out, sizeof out, "%s/%s.db", sr_dir, tag);
    int rc = run_out_env(tag, argv, out, 0, "LOWRAM_STATS=1");
    if (rc == -2) {
      CU_FAIL("the program hung in a signal handler's malloc");
      return;
    }
    CU_ASSERT_FATAL(rc == 0);
    char *o = slurp(tag, "out"), *e = slurp(tag, "err");
    CU_ASSERT_STRING_EQUAL(o, "sigmalloc 200000\n");
    rescued += strstr(e, "allocations by signal handlers inside the allocator served from "
                         "the rescue pool") != NULL;
    free(o);
    free(e);
    LrtSpool s;
    char name[64];
    snprintf(name, sizeof name, "%s.db.spool", tag);
    CU_ASSERT_FATAL(sr_load(name, &s) == 0);
    size_t loop = 0;
    for (size_t i = 0; i < s.nev; i++)
      loop += s.ev[i].kind == LR_EV_MALLOC && s.ev[i].size >= 2000 && s.ev[i].size < 6000 &&
              s.ev[i].size != 3000 && s.ev[i].size != 4096;
    /* the handler's 3000-byte blocks outside the allocator are recorded
    ** too, and stdout's 4096-byte buffer: each size is 50 of the loop's */
    if (loop != 200000 - 100) printf("\n  %s: %zu loop blocks\n", tag, loop);
    CU_ASSERT_EQUAL(loop, 200000 - 100);
    lrt_spool_free(&s);
  }
  CU_ASSERT(rescued >= 1);
}

/* Blocks from the rescue pool: valloc's and pvalloc's page-aligned,
** pvalloc's a whole page, malloc_usable_size answers with the size asked
** (it was glibc's, reading a chunk header the pool has not: the old shim
** printed "not page-aligned 81, pvalloc under a page 41, usable under 40
** 41"). Up to five runs, until one has rescued calls; each prints zeros. */
static void test_rescue_blocks(void) {
  char *argv[] = {(char *)gt_small, "rescue", "200000", NULL};
  int rescued = 0;
  for (int k = 0; k < 5 && !rescued; k++) {
    char tag[32], out[700];
    snprintf(tag, sizeof tag, "resc%d", k);
    snprintf(out, sizeof out, "%s/%s.db", sr_dir, tag);
    int rc = run_out_env(tag, argv, out, 0, "LOWRAM_STATS=1");
    CU_ASSERT_FATAL(rc == 0);
    char *o = slurp(tag, "out"), *e = slurp(tag, "err");
    CU_ASSERT_STRING_EQUAL(o, "rescue 200000: not page-aligned 0, pvalloc under a page 0, "
                              "usable under 40 0\n");
    rescued += strstr(e, "allocations by signal handlers inside the allocator served from "
                         "the rescue pool") != NULL;
    free(o);
    free(e);
  }
  CU_ASSERT(rescued >= 1);
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
  CU_add_test(s, "RLIMIT_AS sweep: traced, or one line and no spool", test_rlimit_sweep);
  CU_add_test(s, "LOWRAM_OUT=DIR/: DIR/lowram-PID.db; a missing DIR: one line", test_out_dir);
  CU_add_test(s, "sigaction/signal see the program's actions, not the shim's", test_sig_hidden);
  CU_add_test(s, "glibc's __sysv_signal, sysv_signal, bsd_signal, ssignal, sigset",
              test_sig_sysv99);
  CU_add_test(s, "signal() after siginterrupt(): no SA_RESTART", test_sig_interrupt);
  CU_add_test(s, "a vfork child's signal() keeps the parent's handler hidden", test_sig_vfork);
  CU_add_test(s, "a signal handler's malloc inside malloc: no deadlock", test_sigmalloc);
  CU_add_test(s, "rescue blocks: valloc/pvalloc page-aligned, malloc_usable_size",
              test_rescue_blocks);
  return lrt_main();
}
