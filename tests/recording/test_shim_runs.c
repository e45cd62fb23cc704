/*
** test_shim_runs.c: runs the ground-truth programs (gt_prog.c, gt_cpp.cpp)
** under liblowram.so and checks what they must have left: exact event
** counts and sizes, the named functions at the right depth, threads, fork
** and exec spools, dlopen modules, mmap regions with their file, realloc
** chains, and how each run ended (exit, _exit, abort, SIGKILL).
**
** Spools are checked with the tests' own decoder (spool_decode.c). When
** `lowram import` works, the same runs are imported and checked with SQL
** on the trace too; while it does not, those checks are reported as
** skipped on stderr (the decoder checks still run).
**
** argv: gt_prog gt_plugin.so lrt_spool_dump [gt_cpp]. The checks that
** compare runs (unwinders, heaptrack) or stress the output file (names,
** full disk) are in test_shim_compare.c.
*/
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lrtest.h"
#include "run_util.h"

static void test_basic(void) {
  CU_ASSERT_FATAL(sr_run_gt("basic", "basic", NULL, NULL) == 0);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load("basic.db.spool", &s) == 0);
  size_t in;
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 24, 0, sr_fn_addr("basic", "gt_alloc_small"), &in), 10);
  CU_ASSERT_EQUAL(in, 10);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_CALLOC, 1024, 0, sr_fn_addr("basic", "gt_alloc_zeroed"), &in), 5);
  CU_ASSERT_EQUAL(in, 5);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 1 << 20, 0, sr_fn_addr("basic", "gt_alloc_big"), &in), 2);
  CU_ASSERT_EQUAL(in, 2);
  uintptr_t al = sr_fn_addr("basic", "gt_alloc_aligned");
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_POSIX_MEMALIGN, 1000, 0, al, &in), 1);
  CU_ASSERT_EQUAL(in, 1);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_ALIGNED_ALLOC, 4096, 0, al, &in), 1);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MEMALIGN, 300, 0, al, &in), 1);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_VALLOC, 5000, 0, al, &in), 1);
  /* exactly the calls the program makes, nothing else */
  CU_ASSERT_EQUAL(lrt_count(&s, LR_EV_MALLOC), 12);
  CU_ASSERT_EQUAL(lrt_count(&s, LR_EV_CALLOC), 5);
  CU_ASSERT_EQUAL(lrt_count(&s, LR_EV_REALLOC), 3);
  CU_ASSERT_EQUAL(lrt_count(&s, LR_EV_REALLOCARRAY), 1);
  CU_ASSERT_EQUAL(lrt_count(&s, LR_EV_FREE), 23);
  /* the realloc chain: NULL->100 acts as malloc, then each moves the last */
  const LrtEvent *r[3];
  size_t nr = 0;
  for (size_t i = 0; i < s.nev && nr < 3; i++)
    if (s.ev[i].kind == LR_EV_REALLOC) r[nr++] = &s.ev[i];
  CU_ASSERT_FATAL(nr == 3);
  CU_ASSERT(r[0]->old_addr == 0 && r[0]->size == 100 && r[0]->free_seq == r[0]->seq);
  CU_ASSERT(r[1]->old_addr == r[0]->addr && r[1]->size == 200);
  CU_ASSERT(r[2]->old_addr == r[1]->addr && r[2]->size == 5000);
  CU_ASSERT(r[1]->free_seq > r[0]->seq && r[1]->free_seq < r[1]->seq);
  uintptr_t rc = sr_fn_addr("basic", "gt_realloc_chain");
  CU_ASSERT(sr_frame_in(&s, r[0], 0, rc) && sr_frame_in(&s, r[2], 0, rc));
  CU_ASSERT_EQUAL(s.hdr.end_reason, LR_END_EXIT);
  CU_ASSERT(s.hdr.flags & LR_SPOOL_ENDED);
  CU_ASSERT_EQUAL(s.hdr.end_code, 0);
  CU_ASSERT_EQUAL(s.hdr.stack_depth, 64);
  CU_ASSERT(s.argc == 2 && !strcmp(s.argv[1], "basic"));
  lrt_spool_free(&s);

  if (sr_import("basic")) {
    CU_ASSERT_EQUAL(sr_sql("basic", "SELECT count(*) FROM allocations WHERE kind='malloc' AND size=24"), 10);
    CU_ASSERT_EQUAL(sr_sql("basic", "SELECT count(*) FROM allocations a JOIN stack_frames f "
                                 "ON f.stack_id=a.stack_id AND f.depth=0 "
                                 "WHERE a.size=24 AND f.function='gt_alloc_small'"), 10);
    CU_ASSERT_EQUAL(sr_sql("basic", "SELECT count(*) FROM allocations a JOIN stack_frames f "
                                 "ON f.stack_id=a.stack_id AND f.depth=1 "
                                 "WHERE a.size=1024 AND f.function='mode_basic'"), 5);
    CU_ASSERT_EQUAL(sr_sql("basic", "SELECT count(*) FROM allocations WHERE kind='realloc'"), 3);
    CU_ASSERT_EQUAL(sr_sql("basic", "SELECT count(*) FROM allocations WHERE free_seq IS NULL "
                                 "AND region='heap'"), 0);
    /* no frame of the shim anywhere, not even main_wrapper at the outer end,
    ** while main itself is still there */
    CU_ASSERT_EQUAL(sr_sql("basic", "SELECT count(*) FROM stack_frames "
                                 "WHERE module LIKE '%liblowram%'"), 0);
    CU_ASSERT(sr_sql("basic", "SELECT count(*) FROM stack_frames WHERE function='main'") > 0);
  }
}

static void test_mmap_rss_marks(void) {
  char file[600];
  snprintf(file, sizeof file, "%s/weights.bin", sr_dir);
  CU_ASSERT_FATAL(sr_run_gt("mmap", "mmap", file, "LOWRAM_RSS_INTERVAL=1") == 0);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load("mmap.db.spool", &s) == 0);
  /* built with _FILE_OFFSET_BITS=64, so its mmap calls are mmap64 */
  CU_ASSERT_EQUAL(lrt_count(&s, LR_EV_MMAP) + lrt_count(&s, LR_EV_MMAP64), 2);
  CU_ASSERT_EQUAL(lrt_count(&s, LR_EV_MUNMAP), 3);
  CU_ASSERT_EQUAL(lrt_count(&s, LR_EV_MREMAP), 1);
  const LrtEvent *anon = NULL, *fmap = NULL, *rem = NULL, *part = NULL;
  for (size_t i = 0; i < s.nev; i++) {
    const LrtEvent *e = &s.ev[i];
    int is_map = e->kind == LR_EV_MMAP || e->kind == LR_EV_MMAP64;
    if (is_map && e->size == (5u << 20)) anon = e;
    if (is_map && e->size == (64u << 10)) fmap = e;
    if (e->kind == LR_EV_MREMAP) rem = e;
    if (e->kind == LR_EV_MUNMAP && e->size == (4u << 20)) part = e;
  }
  CU_ASSERT_FATAL(anon && fmap && rem && part);
  CU_ASSERT(anon->path[0] == 0 && (anon->flags & MAP_ANONYMOUS));
  CU_ASSERT(sr_frame_in(&s, anon, 0, sr_fn_addr("mmap", "gt_map_anon")));
  CU_ASSERT_STRING_EQUAL(fmap->path, file);
  CU_ASSERT_EQUAL(fmap->offset, 64 << 10);
  CU_ASSERT_EQUAL(fmap->prot, PROT_READ);
  CU_ASSERT(sr_frame_in(&s, fmap, 0, sr_fn_addr("mmap", "gt_map_file")));
  CU_ASSERT_EQUAL(part->addr, anon->addr + (1 << 20));
  CU_ASSERT(part->seq > anon->seq);
  CU_ASSERT_EQUAL(rem->old_addr, anon->addr);
  CU_ASSERT_EQUAL(rem->old_size, 1 << 20);
  CU_ASSERT_EQUAL(rem->size, 8 << 20);
  CU_ASSERT(rem->free_seq < rem->seq && rem->free_seq > part->seq);
  CU_ASSERT(sr_frame_in(&s, rem, 0, sr_fn_addr("mmap", "gt_grow")));
  /* annotations, stamped in order around the mappings */
  uint64_t load_seq = 0, compute_seq = 0, maxrss = 0;
  int params = 0, samples = 0;
  for (size_t i = 0; i < s.noth; i++) {
    const LrtOther *o = &s.oth[i];
    if (o->type == LR_REC_MARK && !strcmp(o->name, "load")) load_seq = o->seq;
    if (o->type == LR_REC_MARK && !strcmp(o->name, "compute")) compute_seq = o->seq;
    if (o->type == LR_REC_PARAM && !strcmp(o->name, "seq_len") && o->ival == 512) params++;
    if (o->type == LR_REC_PARAM && !strcmp(o->name, "quant") && !strcmp(o->text, "q8")) params++;
    if (o->type == LR_REC_RSS) {
      samples++;
      if (o->v[0] > maxrss) maxrss = o->v[0];
      CU_ASSERT(o->v[0] >= o->v[1] && o->v[0] >= o->v[2]);
    }
  }
  CU_ASSERT_EQUAL(params, 2);
  CU_ASSERT(load_seq && load_seq < anon->seq && anon->seq < fmap->seq && fmap->seq < compute_seq);
  CU_ASSERT(samples >= 2);          /* at least the sampler's first and the final one */
  CU_ASSERT(maxrss >= (5u << 20));  /* the 5 MiB the program touched */
  lrt_spool_free(&s);

  if (sr_import("mmap")) {
    CU_ASSERT_EQUAL(sr_sql("mmap", "SELECT count(*) FROM allocations WHERE region='file' "
                                "AND file_offset=65536 AND size=65536"), 1);
    CU_ASSERT_EQUAL(sr_sql("mmap", "SELECT count(*) FROM allocations WHERE region='anon' "
                                "AND kind='mremap' AND size=8388608"), 1);
    CU_ASSERT_EQUAL(sr_sql("mmap", "SELECT count(*) FROM markers WHERE name IN ('load','compute')"), 2);
    CU_ASSERT_EQUAL(sr_sql("mmap", "SELECT value_int FROM params WHERE name='seq_len'"), 512);
    CU_ASSERT(sr_sql("mmap", "SELECT max(rss) FROM rss_samples") >= (5 << 20));
  }
}

static void test_threads(void) {
  CU_ASSERT_FATAL(sr_run_gt("threads", "threads", NULL, NULL) == 0);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load("threads.db.spool", &s) == 0);
  uintptr_t fn = sr_fn_addr("threads", "gt_thread_work");
  uint32_t tids[8] = {0};
  for (unsigned t = 0; t < 8; t++) {
    size_t in;
    CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 64 + t, 0, fn, &in), 1000);
    CU_ASSERT_EQUAL(in, 1000);
    for (size_t i = 0; i < s.nev; i++)
      if (s.ev[i].kind == LR_EV_MALLOC && s.ev[i].size == 64 + t) tids[t] = s.ev[i].tid;
  }
  int distinct = 1;
  for (int a = 0; a < 8; a++)
    for (int b = a + 1; b < 8; b++) distinct &= tids[a] != tids[b] && tids[a];
  CU_ASSERT(distinct);
  CU_ASSERT(lrt_count(&s, LR_EV_FREE) >= 8000);
  /* no sequence number is used twice, none is lost in between */
  uint64_t max = 0;
  for (size_t i = 0; i < s.nev; i++)
    if (s.ev[i].seq > max) max = s.ev[i].seq;
  uint8_t *seen = calloc(max + 1, 1);
  int dup = 0;
  for (size_t i = 0; i < s.nev; i++) dup |= seen[s.ev[i].seq]++ != 0;
  free(seen);
  CU_ASSERT(!dup);
  int nthreads = 0, renamed = 0;
  for (size_t i = 0; i < s.noth; i++) {
    nthreads += s.oth[i].type == LR_REC_THREAD;
    renamed += s.oth[i].type == LR_REC_THREAD && !strcmp(s.oth[i].name, "gt-done");
  }
  CU_ASSERT(nthreads >= 9 + 8);
  CU_ASSERT_EQUAL(renamed, 8);
  lrt_spool_free(&s);
  if (sr_import("threads")) {
    CU_ASSERT_EQUAL(sr_sql("threads", "SELECT count(DISTINCT thread_id) FROM allocations "
                                   "WHERE size BETWEEN 64 AND 71"), 8);
    CU_ASSERT_EQUAL(sr_sql("threads", "SELECT count(*) FROM allocations WHERE size BETWEEN 64 AND 71"),
                    8000);
  }
}

static void test_fork(void) {
  CU_ASSERT_FATAL(sr_run_gt("fork", "fork", NULL, NULL) == 0);
  LrtSpool p, c;
  char child[300];
  CU_ASSERT_FATAL(sr_find_spool("fork.", "fork.db.spool", child, sizeof child) == 1);
  CU_ASSERT_FATAL(sr_load("fork.db.spool", &p) == 0);
  CU_ASSERT_FATAL(sr_load(child, &c) == 0);
  size_t in;
  CU_ASSERT_EQUAL(sr_count_sized(&p, LR_EV_MALLOC, 100, 0, sr_fn_addr("fork", "gt_parent_alloc"), &in), 3);
  CU_ASSERT_EQUAL(in, 3);
  CU_ASSERT_EQUAL(sr_count_sized(&p, LR_EV_MALLOC, 200, 0, 0, NULL), 0);
  CU_ASSERT_EQUAL(sr_count_sized(&c, LR_EV_MALLOC, 200, 0, sr_fn_addr("fork", "gt_child_alloc"), &in), 5);
  CU_ASSERT_EQUAL(in, 5);
  CU_ASSERT_EQUAL(sr_count_sized(&c, LR_EV_MALLOC, 100, 0, 0, NULL), 0);
  CU_ASSERT_EQUAL(c.hdr.ppid, p.hdr.pid);
  CU_ASSERT(c.hdr.pid != p.hdr.pid);
  char expect[64];
  snprintf(expect, sizeof expect, "fork.%llu.db.spool", (unsigned long long)c.hdr.pid);
  CU_ASSERT_STRING_EQUAL(child, expect);
  CU_ASSERT(c.nmod > 0 && c.nst > 0);       /* the child restates modules and stacks */
  CU_ASSERT_EQUAL(c.hdr.end_reason, LR_END_EXIT);
  CU_ASSERT_EQUAL(p.hdr.end_reason, LR_END_EXIT);
  lrt_spool_free(&p);
  lrt_spool_free(&c);
}

static void test_exec(void) {
  CU_ASSERT_FATAL(sr_run_gt("exec", "exec", NULL, NULL) == 0);
  LrtSpool a, b;
  char second[300];
  CU_ASSERT_FATAL(sr_find_spool("exec.", "exec.db.spool", second, sizeof second) == 1);
  CU_ASSERT_FATAL(sr_load("exec.db.spool", &a) == 0);
  CU_ASSERT_FATAL(sr_load(second, &b) == 0);
  CU_ASSERT_EQUAL(sr_count_sized(&a, LR_EV_MALLOC, 300, 0, 0, NULL), 2);
  CU_ASSERT_EQUAL(sr_count_sized(&a, LR_EV_MALLOC, 400, 0, 0, NULL), 0);
  CU_ASSERT_EQUAL(sr_count_sized(&b, LR_EV_MALLOC, 400, 0, 0, NULL), 4);
  CU_ASSERT_EQUAL(a.hdr.pid, b.hdr.pid);
  CU_ASSERT_EQUAL(a.hdr.exec_index, 0);
  CU_ASSERT_EQUAL(b.hdr.exec_index, 1);
  CU_ASSERT_EQUAL(a.hdr.end_reason, LR_END_EXEC);
  CU_ASSERT_EQUAL(b.hdr.end_reason, LR_END_EXIT);
  CU_ASSERT(b.argc == 2 && !strcmp(b.argv[1], "exec2"));
  lrt_spool_free(&a);
  lrt_spool_free(&b);
}

/* Three spools: the parent (image 0 of P), the fork child (image 0 of C,
** ended by exec) and the child's exec'd image (image 1 of C), although the
** child passed execve an environment copied in the parent. */
static void test_fork_exec(void) {
  CU_ASSERT_FATAL(sr_run_gt("fe", "fork_exec", NULL, NULL) == 0);
  LrtSpool p, c, x;
  char n1[300], n2[300];
  CU_ASSERT_FATAL(sr_find_spool("fe.", "fe.db.spool", n1, sizeof n1) == 2);
  CU_ASSERT_FATAL(sr_load("fe.db.spool", &p) == 0);
  /* find_spool reports the last match; get both names */
  DIR *d = opendir(sr_dir);
  struct dirent *e;
  n1[0] = n2[0] = 0;
  while ((e = readdir(d)))
    if (!strncmp(e->d_name, "fe.", 3) && strcmp(e->d_name, "fe.db.spool") && strstr(e->d_name, ".spool"))
      snprintf(n1[0] ? n2 : n1, sizeof n1, "%s", e->d_name);
  closedir(d);
  CU_ASSERT_FATAL(sr_load(n1, &c) == 0);
  CU_ASSERT_FATAL(sr_load(n2, &x) == 0);
  if (c.hdr.exec_index) { /* order them: c is the fork child's image 0 */
    LrtSpool t = c;
    c = x;
    x = t;
  }
  CU_ASSERT_EQUAL(c.hdr.ppid, p.hdr.pid);
  CU_ASSERT_EQUAL(x.hdr.pid, c.hdr.pid);
  CU_ASSERT_EQUAL(c.hdr.exec_index, 0);
  CU_ASSERT_EQUAL(x.hdr.exec_index, 1);
  CU_ASSERT_EQUAL(c.hdr.end_reason, LR_END_EXEC);
  CU_ASSERT_EQUAL(sr_count_sized(&c, LR_EV_MALLOC, 300, 0, 0, NULL), 2);
  CU_ASSERT_EQUAL(sr_count_sized(&x, LR_EV_MALLOC, 400, 0, 0, NULL), 4);
  CU_ASSERT_EQUAL(sr_count_sized(&p, LR_EV_MALLOC, 300, 0, 0, NULL), 0);
  lrt_spool_free(&p);
  lrt_spool_free(&c);
  lrt_spool_free(&x);
}

static void test_dlopen(void) {
  CU_ASSERT_FATAL(sr_run_gt("dlopen", "dlopen", sr_plugin, NULL) == 0);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load("dlopen.db.spool", &s) == 0);
  const LrtModule *m = NULL, *um = NULL;
  for (size_t i = 0; i < s.nmod; i++)
    if (!s.mod[i].unload && strstr(s.mod[i].path, "gt_plugin")) m = &s.mod[i];
  CU_ASSERT_FATAL(m != NULL);
  for (size_t i = 0; i < s.nmod; i++)
    if (s.mod[i].unload && s.mod[i].base == m->base) um = &s.mod[i];
  CU_ASSERT_FATAL(um != NULL);
  CU_ASSERT(m->seq > 0 && um->seq > m->seq);
  CU_ASSERT_EQUAL(m->bid_len, 20);
  size_t in, inside = 0;
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 77, 0, sr_fn_addr("dlopen", "fn"), &in), 4);
  CU_ASSERT_EQUAL(in, 4);
  for (size_t i = 0; i < s.nev; i++) {
    const LrtEvent *e = &s.ev[i];
    const LrtStack *st = lrt_stack(&s, e->stack);
    if (e->kind == LR_EV_MALLOC && e->size == 77 && st && st->n &&
        st->ips[0] >= m->base && st->ips[0] < m->base + m->size && e->seq > m->seq &&
        e->seq < um->seq)
      inside++;
  }
  CU_ASSERT_EQUAL(inside, 4);
  lrt_spool_free(&s);
  if (sr_import("dlopen")) {
    CU_ASSERT_EQUAL(sr_sql("dlopen", "SELECT count(*) FROM allocations a JOIN stack_frames f "
                                  "ON f.stack_id=a.stack_id AND f.depth=0 WHERE a.size=77 "
                                  "AND f.function='gt_plugin_alloc' AND f.module LIKE '%gt_plugin%'"), 4);
    CU_ASSERT_EQUAL(sr_sql("dlopen", "SELECT count(*) FROM modules WHERE path LIKE '%gt_plugin%' "
                                  "AND load_seq > 0 AND unload_seq > load_seq"), 1);
  }
}

/* dlopen("libgt_plugin.so") by bare name resolves through the program's
** RUNPATH ($ORIGIN), as without the shim (whose own dlopen call would use
** the shim's search path). LD_LIBRARY_PATH is emptied so only RUNPATH can
** find it. */
static void test_dlopen_runpath(void) {
  char out[600], env_out[640], env_pre[600], outf[600];
  snprintf(out, sizeof out, "%s/rpath.db", sr_dir);
  snprintf(env_out, sizeof env_out, "LOWRAM_OUT=%s", out);
  snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s", sr_shim);
  snprintf(outf, sizeof outf, "%s/rpath.out", sr_dir);
  char *env[] = {env_pre, env_out, "LD_LIBRARY_PATH=", NULL};
  char *argv[] = {(char *)sr_gt, "dlopen", "libgt_plugin.so", NULL};
  CU_ASSERT_FATAL(lrt_run(argv, env, outf, NULL) == 0);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load("rpath.db.spool", &s) == 0);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 77, 0, 0, NULL), 4);
  lrt_spool_free(&s);
}

static void test_leak_spawn(void) {
  CU_ASSERT_FATAL(sr_run_gt("spawn", "spawn", NULL, NULL) == 0);
  LrtSpool p, c;
  char child[300];
  CU_ASSERT_FATAL(sr_find_spool("spawn.", "spawn.db.spool", child, sizeof child) == 1);
  CU_ASSERT_FATAL(sr_load("spawn.db.spool", &p) == 0);
  CU_ASSERT_FATAL(sr_load(child, &c) == 0);
  CU_ASSERT_EQUAL(sr_count_sized(&p, LR_EV_MALLOC, 555, 0, 0, NULL), 1);
  CU_ASSERT_EQUAL(sr_count_sized(&p, LR_EV_MALLOC, 1000, 0, 0, NULL), 0);
  CU_ASSERT_EQUAL(sr_count_sized(&c, LR_EV_MALLOC, 1000, 0, 0, NULL), 100);
  CU_ASSERT_EQUAL(c.hdr.ppid, p.hdr.pid);
  CU_ASSERT_EQUAL(c.hdr.exec_index, 0);
  /* the never-freeing child: none of its 100 blocks is freed */
  size_t freed = 0;
  for (size_t i = 0; i < c.nev; i++)
    if (c.ev[i].kind == LR_EV_FREE)
      for (size_t k = 0; k < c.nev; k++)
        freed += c.ev[k].kind == LR_EV_MALLOC && c.ev[k].size == 1000 && c.ev[k].addr == c.ev[i].addr;
  CU_ASSERT_EQUAL(freed, 0);
  lrt_spool_free(&p);
  lrt_spool_free(&c);
}

static void test_endings(void) {
  LrtSpool s;
  /* SIGKILL: every event up to the kill is there, the run is not "ended" */
  CU_ASSERT_FATAL(sr_run_gt("kill", "kill", NULL, NULL) == 128 + 9);
  CU_ASSERT_FATAL(sr_load("kill.db.spool", &s) == 0);
  size_t in;
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 48, 0, sr_fn_addr("kill", "gt_before_kill"), &in), 1000);
  CU_ASSERT_EQUAL(in, 1000);
  int marked = 0;
  for (size_t i = 0; i < s.noth; i++)
    marked += s.oth[i].type == LR_REC_MARK && !strcmp(s.oth[i].name, "before_kill");
  CU_ASSERT_EQUAL(marked, 1);
  CU_ASSERT_EQUAL(s.hdr.flags & LR_SPOOL_ENDED, 0);
  CU_ASSERT_EQUAL(s.hdr.end_reason, LR_END_UNKNOWN);
  lrt_spool_free(&s);
  if (sr_import("kill")) {
    CU_ASSERT_EQUAL(sr_sql("kill", "SELECT count(*) FROM allocations WHERE size=48"), 1000);
    CU_ASSERT_EQUAL(sr_sql("kill", "SELECT count(*) FROM markers WHERE name='before_kill'"), 1);
  }

  CU_ASSERT_EQUAL(sr_run_gt("abort", "abort", NULL, NULL), 128 + 6);
  CU_ASSERT_FATAL(sr_load("abort.db.spool", &s) == 0);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 4242, 0, 0, NULL), 1);
  CU_ASSERT_EQUAL(s.hdr.end_reason, LR_END_SIGNAL);
  CU_ASSERT_EQUAL(s.hdr.end_code, 6);
  lrt_spool_free(&s);

  CU_ASSERT_EQUAL(sr_run_gt("segv", "segv", NULL, NULL), 128 + 11);
  CU_ASSERT_FATAL(sr_load("segv.db.spool", &s) == 0);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 123, 0, 0, NULL), 1);
  CU_ASSERT_EQUAL(s.hdr.end_reason, LR_END_SIGNAL);
  CU_ASSERT_EQUAL(s.hdr.end_code, 11);
  lrt_spool_free(&s);

  CU_ASSERT_EQUAL(sr_run_gt("vfork", "vfork", NULL, NULL), 0);
  CU_ASSERT_FATAL(sr_load("vfork.db.spool", &s) == 0);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 11, 0, 0, NULL), 1);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 22, 0, 0, NULL), 1);
  CU_ASSERT_EQUAL(s.hdr.end_reason, LR_END_EXIT); /* not the child's _exit */
  lrt_spool_free(&s);

  CU_ASSERT_EQUAL(sr_run_gt("ret3", "ret3", NULL, NULL), 3);
  CU_ASSERT_FATAL(sr_load("ret3.db.spool", &s) == 0);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 33, 0, 0, NULL), 1);
  CU_ASSERT_EQUAL(s.hdr.end_reason, LR_END_EXIT);
  CU_ASSERT_EQUAL(s.hdr.end_code, 3);
  lrt_spool_free(&s);

  CU_ASSERT_EQUAL(sr_run_gt("exit5", "exit5", NULL, NULL), 5);
  CU_ASSERT_FATAL(sr_load("exit5.db.spool", &s) == 0);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 55, 0, 0, NULL), 1);
  CU_ASSERT_EQUAL(s.hdr.end_reason, LR_END_EXIT);
  CU_ASSERT_EQUAL(s.hdr.end_code, 5);
  lrt_spool_free(&s);

  CU_ASSERT_EQUAL(sr_run_gt("_exit", "_exit", NULL, NULL), 7);
  CU_ASSERT_FATAL(sr_load("_exit.db.spool", &s) == 0);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 99, 0, 0, NULL), 1);
  CU_ASSERT_EQUAL(s.hdr.end_reason, LR_END__EXIT);
  CU_ASSERT_EQUAL(s.hdr.end_code, 7);
  lrt_spool_free(&s);
}

static void test_cpp(void) {
  if (!sr_cpp) {
    fprintf(stderr, "test_shim_runs: no C++ compiler: C++ check skipped\n");
    return;
  }
  char *argv[] = {(char *)sr_cpp, NULL};
  CU_ASSERT_FATAL(sr_run_tag("cpp", argv, NULL) == 0);
  LrtSpool s;
  CU_ASSERT_FATAL(sr_load("cpp.db.spool", &s) == 0);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 40, 0, 0, NULL), 7);
  CU_ASSERT_EQUAL(sr_count_sized(&s, LR_EV_MALLOC, 80, 0, 0, NULL), 1);
  size_t frees = 0;
  for (size_t i = 0; i < s.nev; i++)
    for (size_t k = 0; k < s.nev && s.ev[i].kind == LR_EV_FREE; k++)
      frees += s.ev[k].kind == LR_EV_MALLOC && (s.ev[k].size == 40 || s.ev[k].size == 80) &&
               s.ev[k].addr == s.ev[i].addr && s.ev[k].seq < s.ev[i].seq;
  CU_ASSERT_EQUAL(frees, 8);
  /* libstdc++'s operator new keeps no frame pointer: the fp walker loses
  ** its caller, so names are checked with libunwind only */
  int fp = s.hdr.unwinder == 1;
  lrt_spool_free(&s);
  if (sr_import("cpp") && !fp) {
    CU_ASSERT_EQUAL(sr_sql("cpp", "SELECT count(*) FROM allocations a JOIN stack_frames f "
                               "ON f.stack_id=a.stack_id WHERE a.size=40 "
                               "AND f.function LIKE '%gt_cpp_new%'"), 7);
    /* stored demangled (_Z10gt_cpp_newv is what .symtab holds) */
    CU_ASSERT_EQUAL(sr_sql("cpp", "SELECT count(*) FROM allocations a JOIN stack_frames f "
                               "ON f.stack_id=a.stack_id WHERE a.size=40 "
                               "AND f.function = 'gt_cpp_new()'"), 7);
  }
}

int main(int argc, char **argv) {
  if (sr_start(argc, argv, "shim-runs")) return 2;
  CU_initialize_registry();
  CU_pSuite s = CU_add_suite("shim_runs", NULL, NULL);
  CU_add_test(s, "basic: exact malloc family ground truth", test_basic);
  CU_add_test(s, "mmap, RSS samples, annotations", test_mmap_rss_marks);
  CU_add_test(s, "8 threads at once", test_threads);
  CU_add_test(s, "fork: child has its own spool", test_fork);
  CU_add_test(s, "exec: new image, new spool", test_exec);
  CU_add_test(s, "fork, then exec with a copied environment", test_fork_exec);
  CU_add_test(s, "dlopen/dlclose modules", test_dlopen);
  CU_add_test(s, "dlopen by name uses the program's RUNPATH", test_dlopen_runpath);
  CU_add_test(s, "posix_spawn and a never-freeing child", test_leak_spawn);
  CU_add_test(s, "SIGKILL, abort, segv, vfork, exit codes", test_endings);
  CU_add_test(s, "C++ new/delete", test_cpp);
  return lrt_main();
}
