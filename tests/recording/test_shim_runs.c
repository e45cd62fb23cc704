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
** argv: gt_prog gt_plugin.so lrt_spool_dump [gt_cpp]
*/
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lrtest.h"
#include "spool_decode.h"

static const char *gt, *plugin, *cpp, *shim;
static char *dir;
static int have_import = -1;

/* Runs argv under the shim with LOWRAM_OUT=dir/tag.db; stdout to dir/tag.out. */
static int run_tag(const char *tag, char *const argv[], const char *extra) {
  char out[600], env_out[640], env_pre[600], outf[600];
  snprintf(out, sizeof out, "%s/%s.db", dir, tag);
  snprintf(env_out, sizeof env_out, "LOWRAM_OUT=%s", out);
  snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s", shim);
  snprintf(outf, sizeof outf, "%s/%s.out", dir, tag);
  char *env[] = {env_pre, env_out, (char *)(extra ? extra : "LOWRAM_RSS_INTERVAL=5"), NULL};
  return lrt_run(argv, env, outf, NULL);
}

static int run_gt(const char *tag, const char *mode, const char *arg, const char *extra) {
  char *argv[] = {(char *)gt, (char *)mode, (char *)arg, NULL};
  return run_tag(tag, argv, extra);
}

static int load(const char *name, LrtSpool *s) {
  char path[600], err[300];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (lrt_spool_load(path, s, err, sizeof err)) {
    fprintf(stderr, "test_shim_runs: %s\n", err);
    return -1;
  }
  return 0;
}

/* The other spool in dir whose name starts with prefix (not `exclude`). */
static int find_spool(const char *prefix, const char *exclude, char *out, size_t cap) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int found = 0;
  while (d && (e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (!strncmp(e->d_name, prefix, strlen(prefix)) && n > 6 &&
        !strcmp(e->d_name + n - 6, ".spool") && strcmp(e->d_name, exclude)) {
      snprintf(out, cap, "%s", e->d_name);
      found++;
    }
  }
  if (d) closedir(d);
  return found;
}

/* The address gt_prog printed for function `name` in run `tag`. */
static uintptr_t fn_addr(const char *tag, const char *name) {
  char path[600];
  snprintf(path, sizeof path, "%s/%s.out", dir, tag);
  char *txt = lrt_read_file(path, NULL);
  uintptr_t v = 0;
  char key[128];
  snprintf(key, sizeof key, "%s=", name);
  char *p = txt ? strstr(txt, key) : NULL;
  if (p) v = (uintptr_t)strtoull(p + strlen(key), NULL, 16);
  free(txt);
  return v;
}

/* Whether frame `depth` of the event's stack is a return address inside
** the function starting at fn (these functions are all under 400 bytes). */
static int frame_in(const LrtSpool *s, const LrtEvent *e, unsigned depth, uintptr_t fn) {
  const LrtStack *st = lrt_stack(s, e->stack);
  return st && fn && depth < st->n && st->ips[depth] > fn && st->ips[depth] - fn < 400;
}

/* Events of `kind` and `size` (size ~0: any) and how many of them have
** frame `depth` in fn (fn 0: not checked). */
static size_t count_sized(const LrtSpool *s, unsigned kind, uint64_t size, unsigned depth,
                          uintptr_t fn, size_t *in_fn) {
  size_t n = 0, k = 0;
  for (size_t i = 0; i < s->nev; i++) {
    const LrtEvent *e = &s->ev[i];
    if (e->kind != kind || (size != ~0ull && e->size != size)) continue;
    n++;
    if (fn && frame_in(s, e, depth, fn)) k++;
  }
  if (in_fn) *in_fn = k;
  return n;
}

/* Imports dir/tag.db with `lowram import` if that works here. */
static int import_tag(const char *tag) {
  if (have_import == 0) return 0;
  char db[600], log[600];
  snprintf(db, sizeof db, "%s/%s.db", dir, tag);
  snprintf(log, sizeof log, "%s/%s.import.log", dir, tag);
  char *argv[] = {(char *)lrt_env("LOWRAM_BIN"), "import", db, NULL};
  int rc = lrt_run(argv, NULL, log, log);
  if (have_import < 0) {
    have_import = rc == 0;
    if (!have_import)
      fprintf(stderr, "test_shim_runs: `lowram import` failed (see %s): SQL checks skipped\n",
              log);
  }
  return rc == 0;
}

static int64_t sql(const char *tag, const char *q) {
  char db[600];
  snprintf(db, sizeof db, "%s/%s.db", dir, tag);
  return lrt_sql_int(db, q);
}

/* ---- tests -------------------------------------------------------------- */

static void test_basic(void) {
  CU_ASSERT_FATAL(run_gt("basic", "basic", NULL, NULL) == 0);
  LrtSpool s;
  CU_ASSERT_FATAL(load("basic.db.spool", &s) == 0);
  size_t in;
  CU_ASSERT_EQUAL(count_sized(&s, LR_EV_MALLOC, 24, 0, fn_addr("basic", "gt_alloc_small"), &in), 10);
  CU_ASSERT_EQUAL(in, 10);
  CU_ASSERT_EQUAL(count_sized(&s, LR_EV_CALLOC, 1024, 0, fn_addr("basic", "gt_alloc_zeroed"), &in), 5);
  CU_ASSERT_EQUAL(in, 5);
  CU_ASSERT_EQUAL(count_sized(&s, LR_EV_MALLOC, 1 << 20, 0, fn_addr("basic", "gt_alloc_big"), &in), 2);
  CU_ASSERT_EQUAL(in, 2);
  uintptr_t al = fn_addr("basic", "gt_alloc_aligned");
  CU_ASSERT_EQUAL(count_sized(&s, LR_EV_POSIX_MEMALIGN, 1000, 0, al, &in), 1);
  CU_ASSERT_EQUAL(in, 1);
  CU_ASSERT_EQUAL(count_sized(&s, LR_EV_ALIGNED_ALLOC, 4096, 0, al, &in), 1);
  CU_ASSERT_EQUAL(count_sized(&s, LR_EV_MEMALIGN, 300, 0, al, &in), 1);
  CU_ASSERT_EQUAL(count_sized(&s, LR_EV_VALLOC, 5000, 0, al, &in), 1);
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
  uintptr_t rc = fn_addr("basic", "gt_realloc_chain");
  CU_ASSERT(frame_in(&s, r[0], 0, rc) && frame_in(&s, r[2], 0, rc));
  CU_ASSERT_EQUAL(s.hdr.end_reason, LR_END_EXIT);
  CU_ASSERT(s.hdr.flags & LR_SPOOL_ENDED);
  CU_ASSERT_EQUAL(s.hdr.end_code, 0);
  CU_ASSERT_EQUAL(s.hdr.stack_depth, 64);
  CU_ASSERT(s.argc == 2 && !strcmp(s.argv[1], "basic"));
  lrt_spool_free(&s);

  if (import_tag("basic")) {
    CU_ASSERT_EQUAL(sql("basic", "SELECT count(*) FROM allocations WHERE kind='malloc' AND size=24"), 10);
    CU_ASSERT_EQUAL(sql("basic", "SELECT count(*) FROM allocations a JOIN stack_frames f "
                                 "ON f.stack_id=a.stack_id AND f.depth=0 "
                                 "WHERE a.size=24 AND f.function='gt_alloc_small'"), 10);
    CU_ASSERT_EQUAL(sql("basic", "SELECT count(*) FROM allocations a JOIN stack_frames f "
                                 "ON f.stack_id=a.stack_id AND f.depth=1 "
                                 "WHERE a.size=1024 AND f.function='mode_basic'"), 5);
    CU_ASSERT_EQUAL(sql("basic", "SELECT count(*) FROM allocations WHERE kind='realloc'"), 3);
    CU_ASSERT_EQUAL(sql("basic", "SELECT count(*) FROM allocations WHERE free_seq IS NULL "
                                 "AND region='heap'"), 0);
  }
}

static void test_mmap_rss_marks(void) {
  char file[600];
  snprintf(file, sizeof file, "%s/weights.bin", dir);
  CU_ASSERT_FATAL(run_gt("mmap", "mmap", file, "LOWRAM_RSS_INTERVAL=1") == 0);
  LrtSpool s;
  CU_ASSERT_FATAL(load("mmap.db.spool", &s) == 0);
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
  CU_ASSERT(frame_in(&s, anon, 0, fn_addr("mmap", "gt_map_anon")));
  CU_ASSERT_STRING_EQUAL(fmap->path, file);
  CU_ASSERT_EQUAL(fmap->offset, 64 << 10);
  CU_ASSERT_EQUAL(fmap->prot, PROT_READ);
  CU_ASSERT(frame_in(&s, fmap, 0, fn_addr("mmap", "gt_map_file")));
  CU_ASSERT_EQUAL(part->addr, anon->addr + (1 << 20));
  CU_ASSERT(part->seq > anon->seq);
  CU_ASSERT_EQUAL(rem->old_addr, anon->addr);
  CU_ASSERT_EQUAL(rem->old_size, 1 << 20);
  CU_ASSERT_EQUAL(rem->size, 8 << 20);
  CU_ASSERT(rem->free_seq < rem->seq && rem->free_seq > part->seq);
  CU_ASSERT(frame_in(&s, rem, 0, fn_addr("mmap", "gt_grow")));
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

  if (import_tag("mmap")) {
    CU_ASSERT_EQUAL(sql("mmap", "SELECT count(*) FROM allocations WHERE region='file' "
                                "AND file_offset=65536 AND size=65536"), 1);
    CU_ASSERT_EQUAL(sql("mmap", "SELECT count(*) FROM allocations WHERE region='anon' "
                                "AND kind='mremap' AND size=8388608"), 1);
    CU_ASSERT_EQUAL(sql("mmap", "SELECT count(*) FROM markers WHERE name IN ('load','compute')"), 2);
    CU_ASSERT_EQUAL(sql("mmap", "SELECT value_int FROM params WHERE name='seq_len'"), 512);
    CU_ASSERT(sql("mmap", "SELECT max(rss) FROM rss_samples") >= (5 << 20));
  }
}

static void test_threads(void) {
  CU_ASSERT_FATAL(run_gt("threads", "threads", NULL, NULL) == 0);
  LrtSpool s;
  CU_ASSERT_FATAL(load("threads.db.spool", &s) == 0);
  uintptr_t fn = fn_addr("threads", "gt_thread_work");
  uint32_t tids[8] = {0};
  for (unsigned t = 0; t < 8; t++) {
    size_t in;
    CU_ASSERT_EQUAL(count_sized(&s, LR_EV_MALLOC, 64 + t, 0, fn, &in), 1000);
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
  int nthreads = 0;
  for (size_t i = 0; i < s.noth; i++) nthreads += s.oth[i].type == LR_REC_THREAD;
  CU_ASSERT(nthreads >= 9);
  lrt_spool_free(&s);
  if (import_tag("threads")) {
    CU_ASSERT_EQUAL(sql("threads", "SELECT count(DISTINCT thread_id) FROM allocations "
                                   "WHERE size BETWEEN 64 AND 71"), 8);
    CU_ASSERT_EQUAL(sql("threads", "SELECT count(*) FROM allocations WHERE size BETWEEN 64 AND 71"),
                    8000);
  }
}

static void test_fork(void) {
  CU_ASSERT_FATAL(run_gt("fork", "fork", NULL, NULL) == 0);
  LrtSpool p, c;
  char child[300];
  CU_ASSERT_FATAL(find_spool("fork.", "fork.db.spool", child, sizeof child) == 1);
  CU_ASSERT_FATAL(load("fork.db.spool", &p) == 0);
  CU_ASSERT_FATAL(load(child, &c) == 0);
  size_t in;
  CU_ASSERT_EQUAL(count_sized(&p, LR_EV_MALLOC, 100, 0, fn_addr("fork", "gt_parent_alloc"), &in), 3);
  CU_ASSERT_EQUAL(in, 3);
  CU_ASSERT_EQUAL(count_sized(&p, LR_EV_MALLOC, 200, 0, 0, NULL), 0);
  CU_ASSERT_EQUAL(count_sized(&c, LR_EV_MALLOC, 200, 0, fn_addr("fork", "gt_child_alloc"), &in), 5);
  CU_ASSERT_EQUAL(in, 5);
  CU_ASSERT_EQUAL(count_sized(&c, LR_EV_MALLOC, 100, 0, 0, NULL), 0);
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
  CU_ASSERT_FATAL(run_gt("exec", "exec", NULL, NULL) == 0);
  LrtSpool a, b;
  char second[300];
  CU_ASSERT_FATAL(find_spool("exec.", "exec.db.spool", second, sizeof second) == 1);
  CU_ASSERT_FATAL(load("exec.db.spool", &a) == 0);
  CU_ASSERT_FATAL(load(second, &b) == 0);
  CU_ASSERT_EQUAL(count_sized(&a, LR_EV_MALLOC, 300, 0, 0, NULL), 2);
  CU_ASSERT_EQUAL(count_sized(&a, LR_EV_MALLOC, 400, 0, 0, NULL), 0);
  CU_ASSERT_EQUAL(count_sized(&b, LR_EV_MALLOC, 400, 0, 0, NULL), 4);
  CU_ASSERT_EQUAL(a.hdr.pid, b.hdr.pid);
  CU_ASSERT_EQUAL(a.hdr.exec_index, 0);
  CU_ASSERT_EQUAL(b.hdr.exec_index, 1);
  CU_ASSERT_EQUAL(a.hdr.end_reason, LR_END_EXEC);
  CU_ASSERT_EQUAL(b.hdr.end_reason, LR_END_EXIT);
  CU_ASSERT(b.argc == 2 && !strcmp(b.argv[1], "exec2"));
  lrt_spool_free(&a);
  lrt_spool_free(&b);
}

static void test_dlopen(void) {
  CU_ASSERT_FATAL(run_gt("dlopen", "dlopen", plugin, NULL) == 0);
  LrtSpool s;
  CU_ASSERT_FATAL(load("dlopen.db.spool", &s) == 0);
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
  CU_ASSERT_EQUAL(count_sized(&s, LR_EV_MALLOC, 77, 0, fn_addr("dlopen", "fn"), &in), 4);
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
  if (import_tag("dlopen")) {
    CU_ASSERT_EQUAL(sql("dlopen", "SELECT count(*) FROM allocations a JOIN stack_frames f "
                                  "ON f.stack_id=a.stack_id AND f.depth=0 WHERE a.size=77 "
                                  "AND f.function='gt_plugin_alloc' AND f.module LIKE '%gt_plugin%'"), 4);
    CU_ASSERT_EQUAL(sql("dlopen", "SELECT count(*) FROM modules WHERE path LIKE '%gt_plugin%' "
                                  "AND load_seq > 0 AND unload_seq > load_seq"), 1);
  }
}

/* dlopen("libgt_plugin.so") by bare name resolves through the program's
** RUNPATH ($ORIGIN), as without the shim (whose own dlopen call would use
** the shim's search path). LD_LIBRARY_PATH is emptied so only RUNPATH can
** find it. */
static void test_dlopen_runpath(void) {
  char out[600], env_out[640], env_pre[600], outf[600];
  snprintf(out, sizeof out, "%s/rpath.db", dir);
  snprintf(env_out, sizeof env_out, "LOWRAM_OUT=%s", out);
  snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s", shim);
  snprintf(outf, sizeof outf, "%s/rpath.out", dir);
  char *env[] = {env_pre, env_out, "LD_LIBRARY_PATH=", NULL};
  char *argv[] = {(char *)gt, "dlopen", "libgt_plugin.so", NULL};
  CU_ASSERT_FATAL(lrt_run(argv, env, outf, NULL) == 0);
  LrtSpool s;
  CU_ASSERT_FATAL(load("rpath.db.spool", &s) == 0);
  CU_ASSERT_EQUAL(count_sized(&s, LR_EV_MALLOC, 77, 0, 0, NULL), 4);
  lrt_spool_free(&s);
}

static void test_leak_spawn(void) {
  CU_ASSERT_FATAL(run_gt("spawn", "spawn", NULL, NULL) == 0);
  LrtSpool p, c;
  char child[300];
  CU_ASSERT_FATAL(find_spool("spawn.", "spawn.db.spool", child, sizeof child) == 1);
  CU_ASSERT_FATAL(load("spawn.db.spool", &p) == 0);
  CU_ASSERT_FATAL(load(child, &c) == 0);
  CU_ASSERT_EQUAL(count_sized(&p, LR_EV_MALLOC, 555, 0, 0, NULL), 1);
  CU_ASSERT_EQUAL(count_sized(&p, LR_EV_MALLOC, 1000, 0, 0, NULL), 0);
  CU_ASSERT_EQUAL(count_sized(&c, LR_EV_MALLOC, 1000, 0, 0, NULL), 100);
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
  CU_ASSERT_FATAL(run_gt("kill", "kill", NULL, NULL) == 128 + 9);
  CU_ASSERT_FATAL(load("kill.db.spool", &s) == 0);
  size_t in;
  CU_ASSERT_EQUAL(count_sized(&s, LR_EV_MALLOC, 48, 0, fn_addr("kill", "gt_before_kill"), &in), 1000);
  CU_ASSERT_EQUAL(in, 1000);
  int marked = 0;
  for (size_t i = 0; i < s.noth; i++)
    marked += s.oth[i].type == LR_REC_MARK && !strcmp(s.oth[i].name, "before_kill");
  CU_ASSERT_EQUAL(marked, 1);
  CU_ASSERT_EQUAL(s.hdr.flags & LR_SPOOL_ENDED, 0);
  CU_ASSERT_EQUAL(s.hdr.end_reason, LR_END_UNKNOWN);
  lrt_spool_free(&s);
  if (import_tag("kill")) {
    CU_ASSERT_EQUAL(sql("kill", "SELECT count(*) FROM allocations WHERE size=48"), 1000);
    CU_ASSERT_EQUAL(sql("kill", "SELECT count(*) FROM markers WHERE name='before_kill'"), 1);
  }

  CU_ASSERT_EQUAL(run_gt("abort", "abort", NULL, NULL), 128 + 6);
  CU_ASSERT_FATAL(load("abort.db.spool", &s) == 0);
  CU_ASSERT_EQUAL(count_sized(&s, LR_EV_MALLOC, 4242, 0, 0, NULL), 1);
  CU_ASSERT_EQUAL(s.hdr.end_reason, LR_END_SIGNAL);
  CU_ASSERT_EQUAL(s.hdr.end_code, 6);
  lrt_spool_free(&s);

  CU_ASSERT_EQUAL(run_gt("_exit", "_exit", NULL, NULL), 7);
  CU_ASSERT_FATAL(load("_exit.db.spool", &s) == 0);
  CU_ASSERT_EQUAL(count_sized(&s, LR_EV_MALLOC, 99, 0, 0, NULL), 1);
  CU_ASSERT_EQUAL(s.hdr.end_reason, LR_END__EXIT);
  CU_ASSERT_EQUAL(s.hdr.end_code, 7);
  lrt_spool_free(&s);
}

/* The spool is never written through an existing file or symlink: the
** shim picks the next name instead. */
static void test_no_overwrite(void) {
  char db[600], sp[600], link_target[600];
  snprintf(db, sizeof db, "%s/taken.db", dir);
  snprintf(sp, sizeof sp, "%s/taken.db.spool", dir);
  snprintf(link_target, sizeof link_target, "%s/victim", dir);
  FILE *f = fopen(link_target, "w");
  CU_ASSERT_FATAL(f != NULL);
  fputs("precious\n", f);
  fclose(f);
  CU_ASSERT_FATAL(symlink(link_target, sp) == 0);
  CU_ASSERT_FATAL(run_gt("taken", "leak", NULL, NULL) == 0);
  char *txt = lrt_read_file(link_target, NULL);
  CU_ASSERT(txt && !strcmp(txt, "precious\n"));
  free(txt);
  char other[300];
  CU_ASSERT_FATAL(find_spool("taken.", "taken.db.spool", other, sizeof other) == 1);
  LrtSpool s;
  CU_ASSERT_FATAL(load(other, &s) == 0);
  char expect[64];
  snprintf(expect, sizeof expect, "taken.%llu.db.spool", (unsigned long long)s.hdr.pid);
  CU_ASSERT_STRING_EQUAL(other, expect);
  CU_ASSERT_EQUAL(count_sized(&s, LR_EV_MALLOC, 1000, 0, 0, NULL), 100);
  lrt_spool_free(&s);
}

static void test_cpp(void) {
  if (!cpp) {
    fprintf(stderr, "test_shim_runs: no C++ compiler: C++ check skipped\n");
    return;
  }
  char *argv[] = {(char *)cpp, NULL};
  CU_ASSERT_FATAL(run_tag("cpp", argv, NULL) == 0);
  LrtSpool s;
  CU_ASSERT_FATAL(load("cpp.db.spool", &s) == 0);
  CU_ASSERT_EQUAL(count_sized(&s, LR_EV_MALLOC, 40, 0, 0, NULL), 7);
  CU_ASSERT_EQUAL(count_sized(&s, LR_EV_MALLOC, 80, 0, 0, NULL), 1);
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
  if (import_tag("cpp") && !fp) {
    CU_ASSERT_EQUAL(sql("cpp", "SELECT count(*) FROM allocations a JOIN stack_frames f "
                               "ON f.stack_id=a.stack_id WHERE a.size=40 "
                               "AND f.function LIKE '%gt_cpp_new%'"), 7);
  }
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
    const char *arg = !strcmp(modes[m][0], "dlopen") ? plugin : NULL;
    if (!strcmp(modes[m][0], "cpp")) {
      if (!cpp) continue;
      char *argv[] = {(char *)cpp, NULL};
      CU_ASSERT_FATAL(run_tag(tc, argv, "LOWRAM_UNWIND=libunwind") == 0);
      CU_ASSERT_FATAL(run_tag(ts, argv, "LOWRAM_UNWIND=libunwind-strict") == 0);
    } else {
      CU_ASSERT_FATAL(run_gt(tc, modes[m][2], arg, "LOWRAM_UNWIND=libunwind") == 0);
      CU_ASSERT_FATAL(run_gt(ts, modes[m][2], arg, "LOWRAM_UNWIND=libunwind-strict") == 0);
    }
    char fc[80], fs[80];
    snprintf(fc, sizeof fc, "%s.db.spool", tc);
    snprintf(fs, sizeof fs, "%s.db.spool", ts);
    LrtSpool a, b;
    CU_ASSERT_FATAL(load(fc, &a) == 0);
    CU_ASSERT_FATAL(load(fs, &b) == 0);
    if (a.hdr.unwinder != 0) { /* a -Dunwind=fp build: no libunwind to compare with */
      fprintf(stderr, "test_shim_runs: shim built without libunwind: fast-path check skipped\n");
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
          fprintf(stderr, "test_shim_runs: %s event %zu:\n  checked %s\n  strict  %s\n",
                  modes[m][0], i, sa, sb);
      }
    }
    CU_ASSERT(compared > 0);
    CU_ASSERT_EQUAL(diff, 0);
    lrt_spool_free(&a);
    lrt_spool_free(&b);
  }
}

/* heaptrack on the same program must count the same allocation calls. */
static void test_heaptrack(void) {
  if (access("/usr/bin/heaptrack", X_OK) || access("/usr/bin/heaptrack_print", X_OK)) {
    fprintf(stderr, "test_shim_runs: heaptrack not installed: comparison skipped\n");
    return;
  }
  char out[600], zst[600], rep[600];
  snprintf(out, sizeof out, "%s/ht", dir);
  char *argv[] = {"/usr/bin/heaptrack", "-o", out, (char *)gt, "basic", NULL};
  CU_ASSERT_FATAL(lrt_run(argv, NULL, "/dev/null", "/dev/null") == 0);
  snprintf(zst, sizeof zst, "%s/ht.zst", dir);
  if (access(zst, R_OK)) snprintf(zst, sizeof zst, "%s/ht.gz", dir);
  snprintf(rep, sizeof rep, "%s/ht.txt", dir);
  char *pargv[] = {"/usr/bin/heaptrack_print", "-f", zst, "-p", "0", "-a", "0", "-T", "0",
                   "-l", "0", "-n", "0", NULL};
  CU_ASSERT_FATAL(lrt_run(pargv, NULL, rep, "/dev/null") == 0);
  char *txt = lrt_read_file(rep, NULL);
  CU_ASSERT_FATAL(txt != NULL);
  char *p = strstr(txt, "calls to allocation functions: ");
  CU_ASSERT_FATAL(p != NULL);
  long ht = strtol(p + strlen("calls to allocation functions: "), NULL, 10);
  free(txt);
  LrtSpool s;
  if (access(lrt_env("LOWRAM_BUILD_ROOT"), F_OK) == 0 && load("basic.db.spool", &s) == 0) {
    long ours = 0;
    for (size_t i = 0; i < s.nev; i++)
      ours += s.ev[i].kind != LR_EV_FREE && s.ev[i].kind < LR_EV_MMAP;
    fprintf(stderr, "test_shim_runs: allocation calls: lowram %ld, heaptrack %ld\n", ours, ht);
    CU_ASSERT_EQUAL(ours, ht);
    lrt_spool_free(&s);
  } else {
    CU_FAIL("basic.db.spool missing (test_basic must run first)");
  }
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: test_shim_runs GT_PROG GT_PLUGIN SPOOL_DUMP [GT_CPP]\n");
    return 2;
  }
  gt = argv[1];
  plugin = argv[2];
  cpp = argc > 4 ? argv[4] : NULL;
  shim = lrt_env("LOWRAM_SHIM");
  dir = lrt_tmpdir("shim-runs");
  CU_initialize_registry();
  CU_pSuite s = CU_add_suite("shim_runs", NULL, NULL);
  CU_add_test(s, "basic: exact malloc family ground truth", test_basic);
  CU_add_test(s, "mmap, RSS samples, annotations", test_mmap_rss_marks);
  CU_add_test(s, "8 threads at once", test_threads);
  CU_add_test(s, "fork: child has its own spool", test_fork);
  CU_add_test(s, "exec: new image, new spool", test_exec);
  CU_add_test(s, "dlopen/dlclose modules", test_dlopen);
  CU_add_test(s, "dlopen by name uses the program's RUNPATH", test_dlopen_runpath);
  CU_add_test(s, "posix_spawn and a never-freeing child", test_leak_spawn);
  CU_add_test(s, "SIGKILL, abort, _exit", test_endings);
  CU_add_test(s, "never overwrites or follows a symlink", test_no_overwrite);
  CU_add_test(s, "C++ new/delete", test_cpp);
  CU_add_test(s, "fp fast path gives libunwind's stacks", test_checked_equals_strict);
  CU_add_test(s, "heaptrack agrees on allocation calls", test_heaptrack);
  return lrt_main();
}
