/*
** test_import.c: the importer on synthetic spools (spoolgen.h): exact rows
** for the heap and mapping lifetimes, the merge of several threads' chunks
** in seq order, stacks/frames/modules, meta, and what a damaged spool does
** (truncated at every byte, corrupt chunk, bad header): never a crash,
** never a half trace, never an overwritten file.
*/
#include <CUnit/Basic.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lowram/import.h"
#include "lrtest.h"
#include "ingest/spool_read.h"
#include "spoolgen.h"
#include "test_import.h"
#include "lowram/trace.h"

static char path_spool[4096], path_db[4096];

/* Writes g to DIR/name.spool and imports it to DIR/name.db; returns the
** import's result, with its message in *err. */
const char *ti_dir(void) {
  static char *dir;
  if (!dir) dir = lrt_tmpdir("import");
  return dir;
}

int ti_import(Gen *g, const char *name, LrErr *err) {
  const char *dir = ti_dir();
  snprintf(path_spool, sizeof path_spool, "%s/%s.spool", dir, name);
  snprintf(path_db, sizeof path_db, "%s/%s.db", dir, name);
  unlink(path_db);
  if (gen_write(g, path_spool, SIZE_MAX) != 0) return -2;
  LrErr e;
  if (!err) err = &e;
  err->msg[0] = 0;
  return lr_import(path_spool, path_db, NULL, NULL, err);
}

const char *ti_db(void) { return path_db; }
const char *ti_spool(void) { return path_spool; }

int64_t ti_int(const char *sql) { return lrt_sql_int(path_db, sql); }

#define Q(sql, expect) CU_ASSERT_EQUAL(ti_int(sql), (int64_t)(expect))

/* ---- heap ---- */

static void test_malloc_free(void) {
  Gen g;
  gen_init(&g, 65536);
  GW w;
  gw_init(&w, &g, 100);
  gw_alloc(&w, LR_EV_MALLOC, 1, 0x1000, 100, 1);
  gw_alloc(&w, LR_EV_CALLOC, 2, 0x2000, 200, 2);
  gw_free(&w, 3, 0x1000);
  gw_free(&w, 4, 0x9999); /* never allocated */
  gw_memalign(&w, LR_EV_POSIX_MEMALIGN, 5, 0x3000, 64, 1, 32);
  gw_alloc(&w, LR_EV_MALLOC, 6, 0x1000, 7, 0); /* address reused, no stack */
  gw_free(&w, 7, 0x1000);
  LrErr err;
  CU_ASSERT_EQUAL_FATAL(ti_import(&g, "heap", &err), 0);
  Q("SELECT count(*) FROM allocations", 4);
  Q("SELECT free_seq FROM allocations WHERE address = 4096 AND alloc_seq = 1", 3);
  Q("SELECT count(*) FROM allocations WHERE address = 4096 AND alloc_seq = 1 AND kind = 'malloc'"
    " AND size = 100 AND free_kind = 'free' AND alloc_ns = 10 AND free_ns = 30 AND"
    " thread_id = 100 AND stack_id = 1 AND region = 'heap' AND alignment IS NULL", 1);
  Q("SELECT count(*) FROM allocations WHERE address = 8192 AND kind = 'calloc' AND size = 200"
    " AND free_seq IS NULL AND free_kind IS NULL", 1);
  Q("SELECT alignment FROM allocations WHERE kind = 'posix_memalign'", 32);
  Q("SELECT count(*) FROM allocations WHERE alloc_seq = 6 AND stack_id IS NULL AND free_seq = 7",
    1);
  Q("SELECT value FROM meta WHERE key = 'unmatched_frees'", 1);
  Q("SELECT value FROM meta WHERE key = 'events'", 7);
  Q("SELECT value FROM meta WHERE key = 'peak_heap'", 300);
  Q("SELECT value FROM meta WHERE key = 'peak_heap_seq'", 2);
  Q("SELECT count(*) FROM leaks", 2);
  Q("SELECT sum(delta) FROM live_changes WHERE region = 'heap'", 264);
  Q("SELECT max(region_live) FROM live_bytes WHERE region = 'heap'", 300);
  Q("SELECT seq FROM live_bytes WHERE region_live = 300", 2);
  gen_free(&g);
}

static void test_realloc_chain(void) {
  Gen g;
  gen_init(&g, 65536);
  GW w;
  gw_init(&w, &g, 7);
  gw_alloc(&w, LR_EV_MALLOC, 1, 0x1000, 10, 1);
  gw_realloc(&w, 3, 0x2000, 20, 2, 0x1000, 2); /* moved */
  gw_realloc(&w, 5, 0x2000, 30, 2, 0x2000, 4); /* in place */
  gw_realloc(&w, 6, 0x3000, 5, 3, 0, 6);       /* realloc(NULL, 5): a malloc */
  gw_realloc(&w, 8, 0, 0, 3, 0x3000, 7);       /* realloc(p, 0): a free */
  LrErr err;
  CU_ASSERT_EQUAL_FATAL(ti_import(&g, "realloc", &err), 0);
  Q("SELECT count(*) FROM allocations", 4);
  Q("SELECT count(*) FROM allocations WHERE alloc_seq = 1 AND free_seq = 2 AND"
    " free_kind = 'realloc' AND size = 10 AND kind = 'malloc'", 1);
  Q("SELECT count(*) FROM allocations WHERE alloc_seq = 3 AND free_seq = 4 AND"
    " free_kind = 'realloc' AND size = 20 AND kind = 'realloc' AND address = 8192", 1);
  Q("SELECT count(*) FROM allocations WHERE alloc_seq = 5 AND free_seq IS NULL AND size = 30"
    " AND kind = 'realloc' AND stack_id = 2", 1);
  Q("SELECT count(*) FROM allocations WHERE alloc_seq = 6 AND free_seq = 7 AND size = 5 AND"
    " free_kind = 'realloc' AND address = 12288", 1);
  Q("SELECT value FROM meta WHERE key = 'unmatched_frees'", 0);
  Q("SELECT value FROM meta WHERE key = 'peak_heap'", 35);
  gen_free(&g);
}

/* Thread 1's realloc frees 0x1000 at seq 10 and returns 0x5000 at seq 12;
** thread 2 gets 0x1000 from malloc at seq 11, in between. */
static void test_realloc_cross_thread(void) {
  Gen g;
  gen_init(&g, 65536);
  GW a, b;
  gw_init(&a, &g, 1);
  gw_init(&b, &g, 2);
  gw_alloc(&a, LR_EV_MALLOC, 9, 0x1000, 16, 1);
  uint64_t ips[] = {0x1234};
  gw_stack(&a, 7, 1, ips); /* a new stack just before: it must not delay the realloc */
  gw_realloc(&a, 12, 0x5000, 64, 7, 0x1000, 10);
  gw_alloc(&b, LR_EV_MALLOC, 11, 0x1000, 32, 2);
  gw_free(&b, 13, 0x1000);
  LrErr err;
  CU_ASSERT_EQUAL_FATAL(ti_import(&g, "xrealloc", &err), 0);
  Q("SELECT count(*) FROM allocations", 3);
  Q("SELECT free_seq FROM allocations WHERE alloc_seq = 9", 10);
  Q("SELECT count(*) FROM allocations WHERE alloc_seq = 11 AND free_seq = 13 AND thread_id = 2"
    " AND size = 32", 1);
  Q("SELECT count(*) FROM allocations WHERE alloc_seq = 12 AND free_seq IS NULL AND"
    " address = 20480", 1);
  Q("SELECT value FROM meta WHERE key = 'unmatched_frees'", 0);
  Q("SELECT value FROM meta WHERE key = 'unmatched_allocs'", 0);
  Q("SELECT value FROM meta WHERE key = 'peak_heap'", 96);
  gen_free(&g);
}

/* ---- mappings ---- */

#define PG 4096u

static void test_mmap_lifetimes(void) {
  Gen g;
  gen_init(&g, 65536);
  GW w;
  gw_init(&w, &g, 5);
  /* anon 5 pages, then the middle page unmapped, then everything */
  gw_mmap(&w, 1, 0x10000, 5 * PG, 1, 3, 0x22, 0, "");
  gw_munmap(&w, 2, 0x12000, PG);
  gw_munmap(&w, 3, 0x10000, 5 * PG);
  /* a file mapping of 10000 bytes at offset 4096, its first page unmapped */
  gw_mmap(&w, 4, 0x40000, 10000, 2, 1, 0x2, 4096, "/data/w.bin");
  gw_munmap(&w, 5, 0x40000, PG);
  /* MAP_FIXED over the second page of a 4-page mapping */
  gw_mmap(&w, 6, 0x80000, 4 * PG, 3, 3, 0x22, 0, "");
  gw_mmap(&w, 7, 0x81000, PG, 4, 1, 0x32, 0, "");
  /* mremap moves 2 pages to 4 */
  gw_mmap(&w, 8, 0x100000, 2 * PG, 5, 3, 0x22, 0, "");
  gw_mremap(&w, 10, 0x200000, 4 * PG, 6, 0x100000, 2 * PG, 1, 9);
  gw_munmap(&w, 11, 0x900000, PG); /* nothing there */
  LrErr err;
  CU_ASSERT_EQUAL_FATAL(ti_import(&g, "mmap", &err), 0);
  /* anon: the original, then two pieces alive from seq 2 to 3 */
  Q("SELECT count(*) FROM allocations WHERE alloc_seq = 1 AND free_seq = 2 AND"
    " free_kind = 'munmap' AND size = 20480 AND region = 'anon' AND kind = 'mmap'", 1);
  Q("SELECT count(*) FROM allocations WHERE alloc_seq = 2 AND free_seq = 3 AND stack_id = 1 AND"
    " prot = 3 AND flags = 34 AND size = 8192 AND address IN (65536, 77824)", 2);
  /* file: the rest keeps its place in the file */
  Q("SELECT count(*) FROM allocations WHERE alloc_seq = 4 AND free_seq = 5 AND region = 'file'"
    " AND file = '/data/w.bin' AND file_offset = 4096 AND size = 10000", 1);
  Q("SELECT count(*) FROM allocations WHERE alloc_seq = 5 AND free_seq IS NULL AND"
    " address = 266240 AND size = 5904 AND file_offset = 8192 AND region = 'file'", 1);
  /* MAP_FIXED */
  Q("SELECT count(*) FROM allocations WHERE alloc_seq = 6 AND free_seq = 7 AND"
    " free_kind = 'mmap'", 1);
  Q("SELECT count(*) FROM allocations WHERE alloc_seq = 7 AND free_seq IS NULL AND"
    " ((address = 524288 AND size = 4096 AND stack_id = 3) OR"
    "  (address = 528384 AND size = 4096 AND stack_id = 4 AND flags = 50) OR"
    "  (address = 532480 AND size = 8192 AND stack_id = 3))", 3);
  /* mremap */
  Q("SELECT count(*) FROM allocations WHERE alloc_seq = 8 AND free_seq = 9 AND"
    " free_kind = 'mremap'", 1);
  Q("SELECT count(*) FROM allocations WHERE alloc_seq = 10 AND kind = 'mremap' AND"
    " address = 2097152 AND size = 16384 AND region = 'anon' AND prot = 3 AND stack_id = 6 AND"
    " free_seq IS NULL", 1);
  Q("SELECT count(*) FROM allocations", 11);
  Q("SELECT value FROM meta WHERE key = 'unmatched_munmaps'", 1);
  Q("SELECT sum(delta) FROM live_changes WHERE region = 'anon'", 4096 * 4 + 4096 * 4);
  Q("SELECT sum(delta) FROM live_changes WHERE region = 'file'", 5904);
  /* the split at seq 2 never shows more than was mapped */
  Q("SELECT max(total_live) FROM live_bytes WHERE seq <= 3", 5 * 4096);
  gen_free(&g);
}

/* mremap frees its old range at free_seq (2); another thread maps that
** range at 3, before the moved mapping appears at 4. */
static void test_mremap_cross_thread(void) {
  Gen g;
  gen_init(&g, 65536);
  GW a, b;
  gw_init(&a, &g, 1);
  gw_init(&b, &g, 2);
  gw_mmap(&a, 1, 0x100000, 2 * PG, 0, 3, 0x22, 0, "");
  uint64_t ips[] = {0x1234};
  gw_stack(&a, 9, 1, ips);
  gw_mremap(&a, 4, 0x200000, 4 * PG, 9, 0x100000, 2 * PG, 1, 2);
  gw_mmap(&b, 3, 0x100000, PG, 0, 3, 0x22, 0, "");
  CU_ASSERT_EQUAL_FATAL(ti_import(&g, "xmremap", NULL), 0);
  Q("SELECT count(*) FROM allocations", 3);
  Q("SELECT count(*) FROM allocations WHERE alloc_seq = 1 AND free_seq = 2 AND"
    " free_kind = 'mremap'", 1);
  Q("SELECT count(*) FROM allocations WHERE alloc_seq = 3 AND free_seq IS NULL AND"
    " thread_id = 2", 1);
  Q("SELECT count(*) FROM allocations WHERE alloc_seq = 4 AND kind = 'mremap' AND"
    " stack_id = 9 AND size = 16384", 1);
  gen_free(&g);
}

/* ---- merge ---- */

/* Three threads, seq dealt round-robin, small chunks so each thread has
** many, interleaved in the file. Thread 1 frees what thread 0 allocated one
** number before: only a merge in seq order matches every free. */
static void test_multithread_merge(void) {
  Gen g;
  gen_init(&g, 4096);
  GW w[3];
  for (int t = 0; t < 3; t++) gw_init(&w[t], &g, 200 + (uint32_t)t);
  const int steps = 3000;
  for (int i = 0; i < steps; i++) {
    uint64_t base = 3 * (uint64_t)i;
    gw_alloc(&w[0], LR_EV_MALLOC, base + 1, 0x100000 + 16 * (uint64_t)i, (uint64_t)i + 1, 1);
    gw_free(&w[1], base + 2, 0x100000 + 16 * (uint64_t)i);
    if (i % 2 == 0)
      gw_alloc(&w[2], LR_EV_MALLOC, base + 3, 0x900000 + 16 * (uint64_t)i, 1000, 1);
    else
      gw_free(&w[2], base + 3, 0x900000 + 16 * (uint64_t)(i - 1));
  }
  gw_seal(&w[0]); /* the others stay unsealed, as if killed */
  CU_ASSERT_TRUE(g.nchunks > 9);
  LrErr err;
  CU_ASSERT_EQUAL_FATAL(ti_import(&g, "merge", &err), 0);
  Q("SELECT value FROM meta WHERE key = 'unmatched_frees'", 0);
  Q("SELECT value FROM meta WHERE key = 'events'", 3 * steps);
  Q("SELECT count(*) FROM allocations", steps + steps / 2);
  Q("SELECT count(*) FROM allocations WHERE free_seq = alloc_seq + 1 AND thread_id = 200", steps);
  Q("SELECT count(*) FROM allocations WHERE free_seq = alloc_seq + 3 AND thread_id = 202",
    steps / 2);
  Q("SELECT count(*) FROM leaks", 0);
  /* live peak: one block of thread 2 (1000) plus thread 0's largest (steps) */
  Q("SELECT value FROM meta WHERE key = 'peak_heap'", 1000 + steps);
  Q("SELECT count(*) FROM threads", 3);
  Q("SELECT first_seq FROM threads WHERE tid = 201", 2);
  gen_free(&g);
}

/* ---- stacks, modules, the rest ---- */

static void test_stacks_modules_meta(void) {
  Gen g;
  gen_init(&g, 65536);
  GW w;
  gw_init(&w, &g, 77);
  static const char *const argv[] = {"qrun", "--seq", "a \"quoted\" arg"};
  gw_argv(&w, 3, argv);
  const uint8_t bid[] = {0xde, 0xad, 0xbe, 0xef};
  gw_module(&w, 0, 0x400000, 0x1000, bid, sizeof bid, "/usr/bin/prog");
  uint64_t s1[] = {0x400010, 0x400020, 0x999999};
  uint64_t s2[] = {0x400010};
  gw_stack(&w, 1, 3, s1);
  gw_stack(&w, 2, 1, s2);
  gw_alloc(&w, LR_EV_MALLOC, 1, 0x1000, 8, 1);
  gw_unmodule(&w, 2, 0x400000);
  gw_module(&w, 3, 0x400000, 0x2000, NULL, 0, "/usr/lib/other.so");
  gw_stack(&w, 3, 1, s2); /* same pc, now in the other module */
  gw_rss(&w, 3, 1 << 20, 1 << 19, 1 << 18, 0);
  gw_rss(&w, 4, 3 << 20, 1 << 19, 1 << 18, 4096);
  gw_mark(&w, 4, "prefill");
  gw_param_int(&w, 4, "seq_len", -512);
  gw_param_str(&w, 4, "model", "tiny");
  gw_thread(&w, 5, 77, "main");
  gw_thread(&w, 5, 78, "worker");
  LrErr err;
  CU_ASSERT_EQUAL_FATAL(ti_import(&g, "stacks", &err), 0);
  Q("SELECT count(*) FROM stacks", 3);
  Q("SELECT nframes FROM stacks WHERE id = 1", 3);
  Q("SELECT count(*) FROM stack_entries", 5);
  Q("SELECT count(*) FROM frames", 4);
  Q("SELECT count(*) FROM frames WHERE module_id IS NULL AND rel_pc = 10066329", 1);
  Q("SELECT rel_pc FROM stack_frames WHERE stack_id = 2 AND depth = 0 AND"
    " module = '/usr/bin/prog'", 16);
  Q("SELECT count(*) FROM stack_frames WHERE stack_id = 3 AND module = '/usr/lib/other.so'", 1);
  Q("SELECT e1.frame_id = e2.frame_id FROM stack_entries e1, stack_entries e2"
    " WHERE e1.stack_id = 1 AND e1.depth = 0 AND e2.stack_id = 2", 1);
  Q("SELECT unload_seq FROM modules WHERE path = '/usr/bin/prog' AND build_id = 'deadbeef'", 2);
  Q("SELECT count(*) FROM modules WHERE build_id IS NULL AND unload_seq IS NULL AND load_seq = 3",
    1);
  Q("SELECT count(*) FROM rss_samples WHERE seq = 4 AND rss = 3145728 AND shmem = 4096", 1);
  Q("SELECT value FROM meta WHERE key = 'peak_rss'", 3 << 20);
  Q("SELECT count(*) FROM markers WHERE seq = 4 AND ns = 40 AND name = 'prefill' AND"
    " thread_id = 77", 1);
  Q("SELECT value_int FROM params WHERE name = 'seq_len'", -512);
  Q("SELECT count(*) FROM params WHERE name = 'model' AND value_text = 'tiny' AND"
    " value_int IS NULL", 1);
  Q("SELECT count(*) FROM threads WHERE (tid = 77 AND name = 'main' AND first_seq = 0) OR"
    " (tid = 78 AND name = 'worker' AND first_seq = 5)", 2);
  char buf[256];
  CU_ASSERT_STRING_EQUAL(lrt_sql_text(ti_db(), "SELECT value FROM meta WHERE key = 'argv'", buf,
                                      sizeof buf),
                         "[\"qrun\",\"--seq\",\"a \\\"quoted\\\" arg\"]");
  Q("SELECT json_array_length(value) FROM meta WHERE key = 'argv'", 3);
  CU_ASSERT_STRING_EQUAL(lrt_sql_text(ti_db(), "SELECT value FROM meta WHERE key = 'start_time'",
                                      buf, sizeof buf),
                         "2025-11-25T04:00:00.123Z");
  CU_ASSERT_STRING_EQUAL(lrt_sql_text(ti_db(), "SELECT value FROM meta WHERE key = 'end_reason'",
                                      buf, sizeof buf),
                         "exit");
  CU_ASSERT_STRING_EQUAL(lrt_sql_text(ti_db(), "SELECT value FROM meta WHERE key = 'format'",
                                      buf, sizeof buf),
                         "lowram-trace");
  Q("SELECT value FROM meta WHERE key = 'pid'", 4242);
  Q("SELECT value FROM meta WHERE key = 'ppid'", 4241);
  Q("SELECT value FROM meta WHERE key = 'mem_total'", 2ll << 30);
  Q("SELECT value FROM meta WHERE key = 'complete'", 1);
  Q("PRAGMA user_version", LR_SCHEMA_VERSION);
  /* v3: the rows are in blocks of the store, every one of them once */
  Q("SELECT sum(n) FROM alloc_blocks", ti_int("SELECT count(*) FROM allocations"));
  Q("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'alloc_blocks'", 0);
  gen_free(&g);
}

/* A STACK record opening its chunk (where seq restarts at 0) still sees
** the module a dlopen on another thread added just before its event. */
static void test_stack_after_dlopen(void) {
  Gen g;
  gen_init(&g, 65536);
  GW a, b;
  gw_init(&a, &g, 1);
  gw_init(&b, &g, 2);
  gw_module(&a, 0, 0x400000, 0x1000, NULL, 0, "/bin/main");
  gw_alloc(&a, LR_EV_MALLOC, 1, 0x1000, 8, 0);
  gw_module(&a, 10, 0x7000000, 0x1000, NULL, 0, "/lib/plugin.so");
  uint64_t ips[] = {0x7000010, 0x400020};
  gw_stack(&b, 5, 2, ips);
  gw_alloc(&b, LR_EV_MALLOC, 11, 0x2000, 8, 5);
  CU_ASSERT_EQUAL_FATAL(ti_import(&g, "dlopen", NULL), 0);
  Q("SELECT rel_pc FROM stack_frames WHERE stack_id = 5 AND depth = 0 AND"
    " module = '/lib/plugin.so'", 16);
  Q("SELECT rel_pc FROM stack_frames WHERE stack_id = 5 AND depth = 1 AND module = '/bin/main'",
    32);
  gen_free(&g);
}

static void test_end_reasons(void) {
  static const struct { uint32_t flags, reason; const char *name; } cases[] = {
    {0, 0, "killed"},
    {LR_SPOOL_CUT_SHORT, 0, "cut_short"},
    {LR_SPOOL_ENDED, LR_END_SIGNAL, "signal"},
    {LR_SPOOL_ENDED, LR_END__EXIT, "_exit"},
    {LR_SPOOL_ENDED, LR_END_EXEC, "exec"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    Gen g;
    gen_init(&g, 65536);
    gen_header(&g)->flags = cases[i].flags;
    gen_header(&g)->end_reason = cases[i].reason;
    GW w;
    gw_init(&w, &g, 1);
    gw_alloc(&w, LR_EV_MALLOC, 1, 0x1000, 8, 1);
    gw_alloc(&w, LR_EV_MALLOC, 2, 0x2000, 8, 1);
    char name[32], buf[32];
    snprintf(name, sizeof name, "end%zu", i);
    CU_ASSERT_EQUAL_FATAL(ti_import(&g, name, NULL), 0);
    CU_ASSERT_STRING_EQUAL(lrt_sql_text(ti_db(), "SELECT value FROM meta WHERE"
                                                 " key = 'end_reason'", buf, sizeof buf),
                           cases[i].name);
    if (!(cases[i].flags & LR_SPOOL_ENDED)) Q("SELECT value FROM meta WHERE key = 'end_ns'", 20);
    gen_free(&g);
  }
}

void ti_add_tests_basic(CU_pSuite s) {
  CU_add_test(s, "malloc/free rows", test_malloc_free);
  CU_add_test(s, "realloc chain", test_realloc_chain);
  CU_add_test(s, "realloc across threads", test_realloc_cross_thread);
  CU_add_test(s, "mmap, partial munmap, MAP_FIXED, mremap", test_mmap_lifetimes);
  CU_add_test(s, "mremap across threads", test_mremap_cross_thread);
  CU_add_test(s, "multi-thread multi-chunk merge", test_multithread_merge);
  CU_add_test(s, "stacks, modules, rss, markers, meta", test_stacks_modules_meta);
  CU_add_test(s, "stack opening a chunk after a dlopen", test_stack_after_dlopen);
  CU_add_test(s, "end reasons", test_end_reasons);
}
