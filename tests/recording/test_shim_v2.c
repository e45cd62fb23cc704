/*
** test_shim_v2.c: the shim stays out of the program's way and fast on code
** without frame pointers (issue 15, "Shim v2"):
**
**   fd safety    gt_fd closes fds it does not know (bash `exec 3>&-`,
**                closing every fd >= 3, closefrom) or dup2s its own file
**                over them, then writes files between allocations: the
**                files are byte-identical to a bare run and every event is
**                recorded (the shim reopened its spool by path); a spool
**                renamed away stops recording, marked CUT_SHORT | FD_LOST.
**   no thread    unshare -U under the shim prints what it prints bare, and
**                a single-threaded program's spool has one THREAD; RSS
**                samples ride on the recording path, at most one per
**                interval; LOWRAM_RSS_THREAD=1 brings the sampler back.
**   stack cache  gt_defeat (-O2 -fomit-frame-pointer) reaches its sites by
**                different callers, alloca frames, recursion and a signal
**                handler: every event's stack equals libunwind's
**                (LOWRAM_UNWIND=libunwind-strict), event by event.
**
** argv: GT_FD GT_DEFEAT then gt_prog gt_plugin lrt_spool_dump [gt_cpp].
*/
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lrtest.h"
#include "run_util.h"

#define GT_FD_N 60000

static const char *gt_fd, *gt_defeat;

/* Whether files a and b have the same bytes (and both exist). */
static int same_file(const char *a, const char *b) {
  size_t na, nb;
  char *x = lrt_read_file(a, &na), *y = lrt_read_file(b, &nb);
  int same = x && y && na == nb && !memcmp(x, y, na);
  if (!same)
    fprintf(stderr, "test_shim_v2: %s (%zu bytes) and %s (%zu bytes) differ\n", a,
            x ? na : 0, b, y ? nb : 0);
  free(x);
  free(y);
  return same;
}

/* Runs gt_fd MODE bare (in DIR/MODE-bare) and under the shim (in
** DIR/MODE-shim, spool DIR/MODE.db.spool, 64 KiB chunks so that the loop
** claims several), and checks the program's files are identical. */
static void run_fd_mode(const char *mode, int nfiles) {
  char bare[600], shim[600], spool[600], out[600];
  snprintf(bare, sizeof bare, "%s/%s-bare", sr_dir, mode);
  snprintf(shim, sizeof shim, "%s/%s-shim", sr_dir, mode);
  snprintf(spool, sizeof spool, "%s/%s.db.spool", sr_dir, mode);
  CU_ASSERT_FATAL(mkdir(bare, 0700) == 0 && mkdir(shim, 0700) == 0);
  char *av_bare[] = {(char *)gt_fd, (char *)mode, bare, spool, NULL};
  snprintf(out, sizeof out, "%s/%s-bare.out", sr_dir, mode);
  CU_ASSERT_FATAL(lrt_run(av_bare, NULL, out, NULL) == 0);
  char *av_shim[] = {(char *)gt_fd, (char *)mode, shim, spool, NULL};
  CU_ASSERT_FATAL(sr_run_tag(mode, av_shim, "LOWRAM_CHUNK_KB=64") == 0);
  const char *names[] = {"a.txt", "b.txt"};
  for (int i = 0; i < nfiles; i++) {
    char pa[700], pb[700];
    snprintf(pa, sizeof pa, "%s/%s", bare, names[i]);
    snprintf(pb, sizeof pb, "%s/%s", shim, names[i]);
    CU_ASSERT(same_file(pa, pb));
  }
  /* 29 bytes, 60 lines "line N\n" (470 bytes), "end\n" */
  struct stat st;
  char pa[700];
  snprintf(pa, sizeof pa, "%s/a.txt", shim);
  CU_ASSERT(stat(pa, &st) == 0 && st.st_size == 503);
}

/* Every allocation of the loop is in the spool, and it was not cut. */
static void check_full(const char *mode) {
  char name[100];
  snprintf(name, sizeof name, "%s.db.spool", mode);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load(name, &s) == 0);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 40, 0, 0, NULL), GT_FD_N);
  CU_ASSERT_EQUAL(s.hdr.flags & (LR_SPOOL_CUT_SHORT | LR_SPOOL_FD_LOST), 0);
  CU_ASSERT_EQUAL(s.hdr.end_reason, LR_END_EXIT);
  CU_ASSERT(s.chunks >= 5); /* the loop needed new chunks after the close */
  lrt_spool_free(&s);
}

static void test_fd_close3(void) {
  run_fd_mode("close3", 1);
  check_full("close3");
}

static void test_fd_closeall(void) {
  run_fd_mode("closeall", 2);
  check_full("closeall");
}

static void test_fd_closefrom(void) {
  run_fd_mode("closefrom", 2);
  check_full("closefrom");
}

static void test_fd_dup2all(void) {
  run_fd_mode("dup2all", 1);
  check_full("dup2all");
}

/* The spool renamed away after closefrom: recording stops at the end of
** the chunk already mapped, the header says why, nothing is written
** anywhere else. */
static void test_fd_lost(void) {
  run_fd_mode("lost", 1);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load("lost.db.spool.moved", &s) == 0);
  CU_ASSERT_EQUAL(s.hdr.flags & (LR_SPOOL_CUT_SHORT | LR_SPOOL_FD_LOST),
                  LR_SPOOL_CUT_SHORT | LR_SPOOL_FD_LOST);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 41, 0, 0, NULL), 100);
  size_t n40 = sr_count_sized(&s, LR_EV_MALLOC, 40, 0, 0, NULL);
  CU_ASSERT(n40 < GT_FD_N);
  CU_ASSERT_EQUAL(s.hdr.end_reason, LR_END_EXIT); /* the header is mapped: still told */
  lrt_spool_free(&s);
  char p[600];
  snprintf(p, sizeof p, "%s/lost.db.spool", sr_dir);
  CU_ASSERT(access(p, F_OK) != 0); /* not recreated */
}

/* ---- no thread in the target ------------------------------------------ */

static size_t count_type(const LrtSpool *s, uint32_t type) {
  size_t n = 0;
  for (size_t i = 0; i < s->noth; i++) n += s->oth[i].type == type;
  return n;
}

/* unshare(CLONE_NEWUSER) needs a single-threaded caller: under the shim it
** works as bare, and both images (unshare, then the id it execs) are
** traced, each with one thread. With the opt-in sampler thread it fails,
** which is that setting's documented cost. */
static void test_unshare(void) {
  char *av[] = {"unshare", "-U", "id", "-u", NULL};
  char bare_out[600], bare_err[600];
  snprintf(bare_out, sizeof bare_out, "%s/unshare-bare.out", sr_dir);
  snprintf(bare_err, sizeof bare_err, "%s/unshare-bare.err", sr_dir);
  int rc = lrt_run(av, NULL, bare_out, bare_err);
  if (rc != 0) {
    char *why = lrt_read_file(bare_err, NULL);
    fprintf(stderr, "\ntest_shim_v2: SKIPPED the unshare test: `unshare -U id -u` fails bare "
            "here (exit %d: %s)\n", rc, why ? why : "?");
    free(why);
    return;
  }
  CU_ASSERT_FATAL(sr_run_tag("unsh", av, "LOWRAM_RSS_INTERVAL=1") == 0);
  char shim_out[600];
  snprintf(shim_out, sizeof shim_out, "%s/unsh.out", sr_dir);
  CU_ASSERT(same_file(bare_out, shim_out));
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load("unsh.db.spool", &s) == 0);
  CU_ASSERT_EQUAL(count_type(&s, LR_REC_THREAD), 1);
  CU_ASSERT_EQUAL(s.hdr.end_reason, LR_END_EXEC); /* the id image marked it */
  CU_ASSERT(count_type(&s, LR_REC_RSS) >= 1);
  lrt_spool_free(&s);
  char other[300];
  CU_ASSERT_EQUAL(sr_find_spool("unsh.", "unsh.db.spool", other, sizeof other), 1);
  CU_ASSERT_FATAL(sr_load(other, &s) == 0);
  CU_ASSERT_EQUAL(s.hdr.exec_index, 1);
  CU_ASSERT_EQUAL(count_type(&s, LR_REC_THREAD), 1);
  CU_ASSERT_EQUAL(s.hdr.end_reason, LR_END_EXIT);
  lrt_spool_free(&s);
  /* the opt-in thread makes unshare fail ("Invalid argument") */
  CU_ASSERT(sr_run_tag("unsh-thread", av, "LOWRAM_RSS_THREAD=1") != 0);
}

/* gt_prog mmap touches 5 MiB, sleeps 120 ms, then maps a file: with no
** sampler thread the sample that sees the 5 MiB is taken by the main
** thread on that mmap's way out. One THREAD record, every RSS record in
** the main thread's chunks. With LOWRAM_RSS_THREAD=1 a second writer
** (the sampler) takes samples in chunks of its own. */
static void test_rss_on_path(void) {
  CU_ASSERT_FATAL(sr_run_gt("mm", "mmap", lrt_path_in(sr_dir, "mm.bin"),
                            "LOWRAM_RSS_INTERVAL=1") == 0);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load("mm.db.spool", &s) == 0);
  CU_ASSERT_EQUAL(count_type(&s, LR_REC_THREAD), 1);
  uint64_t anon_seq = 0;
  for (size_t i = 0; i < s.nev; i++)
    if ((s.ev[i].kind == LR_EV_MMAP || s.ev[i].kind == LR_EV_MMAP64) &&
        s.ev[i].size == (5u << 20))
      anon_seq = s.ev[i].seq;
  CU_ASSERT_FATAL(anon_seq != 0);
  size_t rss = 0, big_after = 0, foreign = 0;
  for (size_t i = 0; i < s.noth; i++) {
    const LrtOther *o = &s.oth[i];
    if (o->type != LR_REC_RSS) continue;
    rss++;
    foreign += o->tid != s.hdr.pid;
    big_after += o->seq >= anon_seq && o->v[1] >= (5u << 20); /* RssAnon */
  }
  CU_ASSERT(rss >= 3); /* start, on the path, exit */
  /* time after a pause is fresh (the counter saw the 120 ms go by): the
  ** file mapping that follows the sleep is at least 120 ms later */
  uint64_t anon_ns = 0, file_ns = 0;
  for (size_t i = 0; i < s.nev; i++) {
    if (s.ev[i].seq == anon_seq) anon_ns = s.ev[i].ns;
    if ((s.ev[i].kind == LR_EV_MMAP || s.ev[i].kind == LR_EV_MMAP64) && s.ev[i].path[0])
      file_ns = s.ev[i].ns;
  }
  CU_ASSERT(file_ns >= anon_ns + 120000000u);
  CU_ASSERT(big_after >= 1);
  CU_ASSERT_EQUAL(foreign, 0);
  lrt_spool_free(&s);

  CU_ASSERT_FATAL(sr_run_gt("mmt", "mmap", lrt_path_in(sr_dir, "mmt.bin"),
                            "LOWRAM_RSS_THREAD=1") == 0);
  CU_ASSERT_FATAL(sr_load("mmt.db.spool", &s) == 0);
  foreign = 0;
  for (size_t i = 0; i < s.noth; i++)
    foreign += s.oth[i].type == LR_REC_RSS && s.oth[i].tid != s.hdr.pid;
  CU_ASSERT(foreign >= 5); /* 120 ms of sleep at the 5 ms the runner sets... */
  lrt_spool_free(&s);
}

/* On the path, at most one sample per interval: between the start sample
** and the exit sample, consecutive samples are at least 5 ms apart. */
static void test_rss_interval(void) {
  char dir[600];
  snprintf(dir, sizeof dir, "%s/iv", sr_dir);
  CU_ASSERT_FATAL(mkdir(dir, 0700) == 0);
  char *av[] = {(char *)gt_fd, "close3", dir, NULL};
  CU_ASSERT_FATAL(sr_run_tag("iv", av, "LOWRAM_RSS_INTERVAL=5") == 0);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load("iv.db.spool", &s) == 0);
  uint64_t ns[4096];
  size_t n = 0;
  for (size_t i = 0; i < s.noth && n < 4096; i++)
    if (s.oth[i].type == LR_REC_RSS) ns[n++] = s.oth[i].ns;
  CU_ASSERT(n >= 2);
#if defined(__x86_64__) || defined(__aarch64__)
  /* events reuse their thread's last clock read: 120000 events in a few
  ** tens of ms share a few thousand distinct times at most (one per
  ** ~25 us), and time never goes back within the thread */
  size_t distinct = 0, back = 0;
  for (size_t i = 1; i < s.nev; i++) {
    distinct += s.ev[i].ns != s.ev[i - 1].ns;
    back += s.ev[i].ns < s.ev[i - 1].ns;
  }
  CU_ASSERT(s.nev >= 2 * GT_FD_N);
  CU_ASSERT(distinct < s.nev / 8);
  CU_ASSERT_EQUAL(back, 0);
#endif
  for (size_t i = 1; i + 1 < n; i++) {
    CU_ASSERT(ns[i] - ns[i - 1] >= 5000000u);
    if (ns[i] - ns[i - 1] < 5000000u)
      fprintf(stderr, "test_shim_v2: RSS samples %zu and %zu at %llu and %llu ns\n", i - 1, i,
              (unsigned long long)ns[i - 1], (unsigned long long)ns[i]);
  }
  lrt_spool_free(&s);
}

/* ---- the stack cache ---------------------------------------------------- */

/* Runs gt_defeat under the shim with one more setting; stderr to
** DIR/tag.err. */
static int run_defeat(const char *tag, const char *extra) {
  char out[600], env_out[640], env_pre[600], outf[600], errf[600];
  snprintf(out, sizeof out, "%s/%s.db", sr_dir, tag);
  snprintf(env_out, sizeof env_out, "LOWRAM_OUT=%s", out);
  snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s", sr_shim);
  snprintf(outf, sizeof outf, "%s/%s.out", sr_dir, tag);
  snprintf(errf, sizeof errf, "%s/%s.err", sr_dir, tag);
  char *env[] = {env_pre, env_out, "LOWRAM_STATS=1", (char *)extra, NULL};
  char *argv[] = {(char *)gt_defeat, NULL};
  return lrt_run(argv, env, outf, errf);
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

/* Whether stack a of spool sa is stack b of spool sb, frame by frame. */
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

/* The counter after `key` in LOWRAM_STATS's line ("... 123 hits ..."). */
static uint64_t stat_of(const char *tag, const char *key) {
  char *txt = lrt_read_file(lrt_path_in(sr_dir, tag), NULL);
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

/* gt_defeat's every allocation under the cache (setting `cache`) has
** libunwind's stack (compared by module and offset, in seq order) and the
** cache served at least min_hit_pct of the lookups. */
static void defeat_with(const char *tag, const char *cache, unsigned min_hit_pct) {
  CU_ASSERT_FATAL(run_defeat(tag, cache) == 0);
  CU_ASSERT_FATAL(run_defeat("strict", "LOWRAM_UNWIND=libunwind-strict") == 0);
  char name[64], errname[64];
  snprintf(name, sizeof name, "%s.db.spool", tag);
  snprintf(errname, sizeof errname, "%s.err", tag);
  LrtSpool c, u;
  CU_ASSERT_FATAL(sr_load(name, &c) == 0);
  CU_ASSERT_FATAL(sr_load("strict.db.spool", &u) == 0);
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
    if (!same_stack(&c, ea[i]->stack, &u, eb[i]->stack)) {
      if (differ++ < 5)
        fprintf(stderr, "test_shim_v2: %s: malloc #%zu (%llu bytes): stack differs from libunwind's\n",
                cache, i, (unsigned long long)ea[i]->size);
    }
  }
  CU_ASSERT_EQUAL(differ, 0);
  /* 3 x 925 callers, 3 x 3 x 33 x 6 alloca, 3 x 4 x 96 recursion, 3 x 40 x
  ** 5 signal-or-direct */
  CU_ASSERT_EQUAL(in_c[0], 3 * 925);
  CU_ASSERT_EQUAL(in_c[1], 3 * 3 * 33 * 6);
  CU_ASSERT_EQUAL(in_c[2], 3 * 4 * 96);
  CU_ASSERT_EQUAL(in_c[3], 3 * 40 * 5);
  for (int k = 0; k < 4; k++) CU_ASSERT_EQUAL(in_c[k], in_u[k]);
  /* the same distinct stacks */
  CU_ASSERT_EQUAL(c.nst, u.nst);
  uint64_t lookups = stat_of(errname, " lookups"), hits = stat_of(errname, " hits");
  fprintf(stderr, "test_shim_v2: gt_defeat, %s: %zu mallocs, %zu distinct stacks, cache %llu/%llu hits\n",
          cache, na, c.nst, (unsigned long long)hits, (unsigned long long)lookups);
#ifdef __x86_64__
  CU_ASSERT(lookups >= na);
  CU_ASSERT(hits * 100 >= lookups * min_hit_pct);
#else
  (void)min_hit_pct;
#endif
  lrt_spool_free(&c);
  lrt_spool_free(&u);
}

/* An entry on every key's second miss: the most entries to defeat, and
** the cache serves most stacks. */
static void test_stack_cache_defeat(void) { defeat_with("defeat", "LOWRAM_STACK_CACHE=2", 50); }

/* The default, with its budget for making entries: fewer hits, the same
** stacks. */
static void test_stack_cache_defeat_budget(void) {
  defeat_with("defeat1", "LOWRAM_STACK_CACHE=1", 5);
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s GT_FD GT_DEFEAT GT_PROG GT_PLUGIN SPOOL_DUMP [GT_CPP]\n",
            argv[0]);
    return 2;
  }
  gt_fd = argv[1];
  gt_defeat = argv[2];
  argv[2] = argv[0];
  if (sr_start(argc - 2, argv + 2, "shim-v2")) return 2;
  CU_initialize_registry();
  CU_pSuite s = CU_add_suite("shim_v2", NULL, NULL);
  CU_add_test(s, "fd: exec 3>&- then a new file on fd 3", test_fd_close3);
  CU_add_test(s, "fd: close of every fd >= 3", test_fd_closeall);
  CU_add_test(s, "fd: closefrom(3)", test_fd_closefrom);
  CU_add_test(s, "fd: the program's file dup2'd over every fd", test_fd_dup2all);
  CU_add_test(s, "fd: spool renamed away: cut short, marked", test_fd_lost);
  CU_add_test(s, "unshare -U under the shim, no sampler thread", test_unshare);
  CU_add_test(s, "RSS samples on the recording path; opt-in thread", test_rss_on_path);
  CU_add_test(s, "RSS samples on the path: at most one per interval", test_rss_interval);
  CU_add_test(s, "stack cache: gt_defeat's stacks equal libunwind's", test_stack_cache_defeat);
  CU_add_test(s, "stack cache with its budget: the same", test_stack_cache_defeat_budget);
  return lrt_main();
}
