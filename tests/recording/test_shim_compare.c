/*
** test_shim_compare.c: recording checks that compare or stress: LOWRAM_DEPTH,
** the default unwinder's frame-pointer fast path against plain libunwind
** on every event, the allocation-call count against heaptrack, output
** names that are taken (a symlink, an earlier trace), and a full disk.
**
** argv: gt_prog gt_plugin.so lrt_spool_dump [gt_cpp]
*/
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lrtest.h"
#include "run_util.h"

/* LOWRAM_DEPTH bounds every stack (and is stated in the header). */
static void test_depth(void) {
  CU_ASSERT_FATAL(sr_run_gt("depth", "basic", NULL, "LOWRAM_DEPTH=2") == 0);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load("depth.db.spool", &s) == 0);
  CU_ASSERT_EQUAL(s.hdr.stack_depth, 2);
  size_t two = 0;
  for (size_t i = 0; i < s.nst; i++) {
    CU_ASSERT(s.st[i].n <= 2);
    two += s.st[i].n == 2;
  }
  CU_ASSERT(two > 0);
  size_t in;
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 24, 0, sr_fn_addr("depth", "gt_alloc_small"), &in), 10);
  CU_ASSERT_EQUAL(in, 10);
  lrt_spool_free(&s);
}

/* A full disk (here RLIMIT_FSIZE, with SIGXFSZ ignored as a full disk
** sends no signal) must cut the spool short, never crash the program: the
** shim reserves each chunk before mapping it, so no store can SIGBUS. */
static void test_disk_full(void) {
  char out[600], env_out[640], env_pre[600];
  snprintf(out, sizeof out, "%s/full.db", sr_dir);
  snprintf(env_out, sizeof env_out, "LOWRAM_OUT=%s", out);
  snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s", sr_shim);
  pid_t pid = fork();
  CU_ASSERT_FATAL(pid >= 0);
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);
    /* three 16 KiB units: the threads' first chunks are one unit each */
    struct rlimit rl = {4096 + 3 * 16384, 4096 + 3 * 16384};
    setrlimit(RLIMIT_FSIZE, &rl);
    int fd = open("/dev/null", O_WRONLY);
    dup2(fd, 1);
    char *env[] = {env_pre, env_out, "LOWRAM_CHUNK_KB=64", NULL};
    char *argv[] = {(char *)sr_gt, "threads", NULL};
    execve(sr_gt, argv, env);
    _exit(127);
  }
  int st;
  waitpid(pid, &st, 0);
  CU_ASSERT_FATAL(WIFEXITED(st));
  CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load("full.db.spool", &s) == 0);
  CU_ASSERT(s.hdr.flags & LR_SPOOL_CUT_SHORT);
  CU_ASSERT(s.chunks <= 3 && s.units <= 3);
  CU_ASSERT(s.nev > 0 && lrt_count(&s, LR_EV_MALLOC) < 8000);
  lrt_spool_free(&s);
}

/* The spool is never written through an existing file or symlink: the
** shim picks the next name instead. */
static void test_no_overwrite(void) {
  char db[600], sp[600], link_target[600];
  snprintf(db, sizeof db, "%s/taken.db", sr_dir);
  snprintf(sp, sizeof sp, "%s/taken.db.spool", sr_dir);
  snprintf(link_target, sizeof link_target, "%s/victim", sr_dir);
  FILE *f = fopen(link_target, "w");
  CU_ASSERT_FATAL(f != NULL);
  fputs("precious\n", f);
  fclose(f);
  CU_ASSERT_FATAL(symlink(link_target, sp) == 0);
  CU_ASSERT_FATAL(sr_run_gt("taken", "leak", NULL, NULL) == 0);
  char *txt = lrt_read_file(link_target, NULL);
  CU_ASSERT(txt && !strcmp(txt, "precious\n"));
  free(txt);
  char other[300];
  CU_ASSERT_FATAL(sr_find_spool("taken.", "taken.db.spool", other, sizeof other) == 1);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load(other, &s) == 0);
  char expect[64];
  snprintf(expect, sizeof expect, "taken.%llu.db.spool", (unsigned long long)s.hdr.pid);
  CU_ASSERT_STRING_EQUAL(other, expect);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 1000, 0, 0, NULL), 100);
  lrt_spool_free(&s);

  /* an existing trace (an earlier run's) also moves the new one aside */
  snprintf(db, sizeof db, "%s/old.db", sr_dir);
  f = fopen(db, "w");
  CU_ASSERT_FATAL(f != NULL);
  fputs("an earlier trace\n", f);
  fclose(f);
  CU_ASSERT_FATAL(sr_run_gt("old", "leak", NULL, NULL) == 0);
  txt = lrt_read_file(db, NULL);
  CU_ASSERT(txt && !strcmp(txt, "an earlier trace\n"));
  free(txt);
  snprintf(sp, sizeof sp, "%s/old.db.spool", sr_dir);
  CU_ASSERT(access(sp, F_OK) != 0);
  CU_ASSERT_FATAL(sr_find_spool("old.", "", other, sizeof other) == 1);
  CU_ASSERT_FATAL(sr_load(other, &s) == 0);
  snprintf(expect, sizeof expect, "old.%llu.db.spool", (unsigned long long)s.hdr.pid);
  CU_ASSERT_STRING_EQUAL(other, expect);
  lrt_spool_free(&s);
}

/* A stack as "module+offset;..." so runs with different ASLR compare. */
static void norm_stack(const LrtSpool *s, uint64_t id, char *out, size_t cap) {
  const LrtStack *st = lrt_stack(s, id);
  size_t n = 0;
  out[0] = 0;
  for (uint32_t i = 0; st && i < st->n && n + 300 < cap; i++) {
    const LrtModule *m = NULL;
    for (size_t k = 0; k < s->nmod; k++)
      if (!s->mod[k].unload && st->ips[i] >= s->mod[k].base &&
          st->ips[i] - s->mod[k].base < s->mod[k].size)
        m = &s->mod[k];
    const char *base = m ? strrchr(m->path, '/') : NULL;
    n += (size_t)snprintf(out + n, cap - n, "%s+%llx;", m ? (base ? base + 1 : m->path) : "?",
                          (unsigned long long)(st->ips[i] - (m ? m->base : 0)));
  }
}

/* The default unwinder's frame-pointer fast path must give exactly the
** stacks libunwind gives on every event (libunwind-strict), including
** through libstdc++ (no frame pointers) and a dlopen'd library. */
static void test_checked_equals_strict(void) {
  const char *modes[][3] = {{"basic", NULL, "basic"}, {"dlopen", NULL, "dlopen"},
                            {"threads", NULL, "threads"}, {"cpp", NULL, NULL}};
  for (int m = 0; m < 4; m++) {
    char tc[64], ts[64];
    snprintf(tc, sizeof tc, "chk-%s", modes[m][0]);
    snprintf(ts, sizeof ts, "strict-%s", modes[m][0]);
    const char *arg = !strcmp(modes[m][0], "dlopen") ? sr_plugin : NULL;
    if (!strcmp(modes[m][0], "cpp")) {
      if (!sr_cpp) continue;
      char *argv[] = {(char *)sr_cpp, NULL};
      CU_ASSERT_FATAL(sr_run_tag(tc, argv, "LOWRAM_UNWIND=libunwind") == 0);
      CU_ASSERT_FATAL(sr_run_tag(ts, argv, "LOWRAM_UNWIND=libunwind-strict") == 0);
    } else {
      CU_ASSERT_FATAL(sr_run_gt(tc, modes[m][2], arg, "LOWRAM_UNWIND=libunwind") == 0);
      CU_ASSERT_FATAL(sr_run_gt(ts, modes[m][2], arg, "LOWRAM_UNWIND=libunwind-strict") == 0);
    }
    char fc[80], fs[80];
    snprintf(fc, sizeof fc, "%s.db.spool", tc);
    snprintf(fs, sizeof fs, "%s.db.spool", ts);
    LrtSpool a, b;
    CU_ASSERT_FATAL(sr_load(fc, &a) == 0);
    CU_ASSERT_FATAL(sr_load(fs, &b) == 0);
    if (a.hdr.unwinder != 0) { /* a -Dunwind=fp build: no libunwind to compare with */
      fprintf(stderr, "test_shim_compare: shim built without libunwind: fast-path check skipped\n");
      lrt_spool_free(&a);
      lrt_spool_free(&b);
      return;
    }
    size_t sa_n = 0, sb_n = 0; /* frees vary with thread teardown; allocations do not */
    for (size_t i = 0; i < a.nev; i++) sa_n += a.ev[i].stack != 0;
    for (size_t i = 0; i < b.nev; i++) sb_n += b.ev[i].stack != 0;
    CU_ASSERT_EQUAL(sa_n, sb_n);
    /* threads interleave differently per run: compare each thread's own
    ** sequence of (kind, size, stack), i.e. per-chunk order by size class */
    size_t diff = 0, compared = 0;
    char sa[8192], sb[8192];
    for (size_t i = 0; i < a.nev; i++) {
      const LrtEvent *x = &a.ev[i];
      if (!x->stack) continue;
      /* the k-th event of this kind and size in a pairs with the k-th in b */
      size_t k = 0, seen = 0;
      for (size_t j = 0; j < i; j++) k += a.ev[j].kind == x->kind && a.ev[j].size == x->size;
      const LrtEvent *y = NULL;
      for (size_t j = 0; j < b.nev && !y; j++)
        if (b.ev[j].kind == x->kind && b.ev[j].size == x->size && seen++ == k) y = &b.ev[j];
      if (!y) {
        diff++;
        continue;
      }
      norm_stack(&a, x->stack, sa, sizeof sa);
      norm_stack(&b, y->stack, sb, sizeof sb);
      compared++;
      if (strcmp(sa, sb)) {
        if (diff++ < 3)
          fprintf(stderr, "test_shim_compare: %s event %zu:\n  checked %s\n  strict  %s\n",
                  modes[m][0], i, sa, sb);
      }
    }
    CU_ASSERT(compared > 0);
    CU_ASSERT_EQUAL(diff, 0);
    lrt_spool_free(&a);
    lrt_spool_free(&b);
  }
}

/* Calls heaptrack_print's "MOST CALLS" section attributes to backtraces
** through the loader's library init (_dl_init): heaptrack's own C++
** runtime (libstdc++'s emergency pool) is initialised there, in a C program
** that never loads libstdc++ itself. */
static long loader_init_calls(const char *txt) {
  long sum = 0, cur = 0;
  int counted = 0;
  for (const char *l = txt; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    long k;
    char word[16];
    if (sscanf(l, "%ld calls %15s", &k, word) == 2) {
      cur = !strcmp(word, "with") ? k : 0; /* a backtrace entry, not a location */
      counted = 0;
    } else if (cur && !counted && !strncmp(l + strspn(l, " "), "_dl_init", 8)) {
      sum += cur;
      counted = 1;
    }
  }
  return sum;
}

/* heaptrack on the same programs must count the same allocation calls
** (single-threaded, 8 threads, never freeing), once the calls it makes for
** itself are set aside. */
static void test_heaptrack(void) {
  if (access("/usr/bin/heaptrack", X_OK) || access("/usr/bin/heaptrack_print", X_OK)) {
    fprintf(stderr, "test_shim_compare: heaptrack not installed: comparison skipped\n");
    return;
  }
  const char *modes[] = {"basic", "threads", "leak"};
  for (int m = 0; m < 3; m++) {
    char tag[64], out[600], zst[640], rep[640], spool[96];
    snprintf(tag, sizeof tag, "ht-%s", modes[m]);
    CU_ASSERT_FATAL(sr_run_gt(tag, modes[m], NULL, NULL) == 0);
    snprintf(out, sizeof out, "%s/%s-heaptrack", sr_dir, tag);
    char *argv[] = {"/usr/bin/heaptrack", "-o", out, (char *)sr_gt, (char *)modes[m], NULL};
    CU_ASSERT_FATAL(lrt_run(argv, NULL, "/dev/null", "/dev/null") == 0);
    snprintf(zst, sizeof zst, "%s.zst", out);
    if (access(zst, R_OK)) snprintf(zst, sizeof zst, "%s.gz", out);
    snprintf(rep, sizeof rep, "%s.txt", out);
    char *pargv[] = {"/usr/bin/heaptrack_print", "-f", zst, "-p", "0", "-a", "1", "-T", "0",
                     "-l", "0", "-n", "100000", "-s", "100000", NULL};
    CU_ASSERT_FATAL(lrt_run(pargv, NULL, rep, "/dev/null") == 0);
    char *txt = lrt_read_file(rep, NULL);
    CU_ASSERT_FATAL(txt != NULL);
    const char *key = "calls to allocation functions: ";
    char *p = strstr(txt, key);
    CU_ASSERT_FATAL(p != NULL);
    long ht = strtol(p + strlen(key), NULL, 10), own = loader_init_calls(txt);
    free(txt);
    LrtSpool s;
    snprintf(spool, sizeof spool, "%s.db.spool", tag);
    CU_ASSERT_FATAL(sr_load(spool, &s) == 0);
    /* heaptrack 1.4 does not interpose memalign or pvalloc (it sees
    ** reallocarray through glibc's call to realloc) */
    long ours = 0, unseen = 0;
    for (size_t i = 0; i < s.nev; i++) {
      unsigned k = s.ev[i].kind;
      ours += k != LR_EV_FREE && k < LR_EV_MMAP;
      unseen += k == LR_EV_MEMALIGN || k == LR_EV_PVALLOC;
    }
    fprintf(stderr, "test_shim_compare: %s: allocation calls: lowram %ld (%ld memalign/pvalloc), "
            "heaptrack %ld (%ld of them its own, in loader init)\n", modes[m], ours, unseen, ht, own);
    CU_ASSERT_EQUAL(ours - unseen, ht - own);
    lrt_spool_free(&s);
  }
}

int main(int argc, char **argv) {
  if (sr_start(argc, argv, "shim-compare")) return 2;
  CU_initialize_registry();
  CU_pSuite s = CU_add_suite("shim_compare", NULL, NULL);
  CU_add_test(s, "LOWRAM_DEPTH", test_depth);
  CU_add_test(s, "fp fast path gives libunwind's stacks", test_checked_equals_strict);
  CU_add_test(s, "heaptrack agrees on allocation calls", test_heaptrack);
  CU_add_test(s, "never overwrites or follows a symlink", test_no_overwrite);
  CU_add_test(s, "disk full: cut short, program unharmed", test_disk_full);
  return lrt_main();
}
