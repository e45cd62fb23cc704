/*
** test_damage.c: spools cut short or damaged, files in the way, and traces
** that are not what lr_trace_open wants. The rule under test: a clear
** one-line error naming the file, or a clean import of what is intact;
** never a crash, never a changed or half-written file.
*/
#include <CUnit/Basic.h>
#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lowram/import.h"
#include "lrtest.h"
#include "ingest/spool_read.h"
#include "test_import.h"
#include "lowram/trace.h"
#include "core/trace_internal.h"

/* Records an open spool holds, counted with the reader alone. */
static long count_records(const char *path, LrSpoolStats *st) {
  LrSpool *sp = lr_spool_open(path, NULL);
  if (!sp) return -1;
  long n = 0;
  for (uint32_t i = 0; i < lr_spool_nchunks(sp); i++) {
    LrSpoolCursor *c = lr_spool_cursor(sp, i);
    LrSpoolRec r;
    while (c && lr_spool_next(c, &r)) n++;
    lr_spool_cursor_free(c);
  }
  if (st) *st = *lr_spool_stats(sp);
  lr_spool_close(sp);
  return n;
}

static void small_spool(Gen *g, int seal) {
  gen_init(g, 4096);
  GW w;
  gw_init(&w, g, 9);
  const uint8_t bid[] = {1, 2, 3};
  gw_module(&w, 0, 0x400000, 0x10000, bid, 3, "/bin/x");
  uint64_t ips[] = {0x400100, 0x400200};
  gw_stack(&w, 1, 2, ips);
  for (uint64_t i = 0; i < 40; i++) {
    gw_alloc(&w, LR_EV_MALLOC, 2 * i + 1, 0x10000 + 64 * i, 100 + i, 1);
    if (i % 3 == 0) gw_free(&w, 2 * i + 2, 0x10000 + 64 * i);
  }
  gw_mmap(&w, 100, 0x7f0000000000, 8192, 1, 3, 0x22, 0, "");
  gw_mark(&w, 101, "end");
  if (seal) gw_seal(&w);
}

/* Cut at every byte: the reader never fails past the header and decodes
** exactly the whole records before the cut; imports at a sample of cuts
** succeed with exactly those events. */
static void test_truncated_every_byte(void) {
  Gen g;
  small_spool(&g, 0);
  const char *dir = ti_dir();
  char path[4096];
  snprintf(path, sizeof path, "%s/cut.spool", dir);
  size_t payload0 = LR_SPOOL_HEADER_SIZE + sizeof(LrChunkHeader);
  int bad = 0;
  for (size_t cut = 0; cut <= g.size; cut++) {
    CU_ASSERT_EQUAL_FATAL(gen_write(&g, path, cut), 0);
    long n = count_records(path, NULL);
    long want = 0;
    for (size_t i = 0; i < g.nrec; i++)
      if (g.rec_end[i] <= cut) want++;
    if (cut < sizeof(LrSpoolHeader)) want = -1;
    if (n != want) {
      if (!bad) fprintf(stderr, "cut %zu: %ld records, want %ld\n", cut, n, want);
      bad++;
    }
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_TRUE(g.nrec > 50);
  /* imports: events = whole event records before the cut */
  for (size_t cut = payload0 - 40; cut <= g.size; cut += 97) {
    Gen part = g; /* shares the buffer; only size differs */
    part.size = cut;
    char name[32];
    snprintf(name, sizeof name, "cut%zu", cut);
    LrErr err;
    int rc = ti_import(&part, name, &err);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc != 0) {
      fprintf(stderr, "cut %zu: %s\n", cut, err.msg);
      continue;
    }
    int64_t want_ev = 0, want_rows = 0;
    for (size_t i = 0; i < g.nrec; i++)
      if (g.rec_end[i] <= cut && g.rec_type[i] < 32) {
        want_ev++;
        want_rows += g.rec_type[i] != LR_EV_FREE;
      }
    CU_ASSERT_EQUAL(ti_int("SELECT value FROM meta WHERE key = 'events'"), want_ev);
    CU_ASSERT_EQUAL(ti_int("SELECT count(*) FROM allocations"), want_rows);
    CU_ASSERT_EQUAL(ti_int("SELECT value FROM meta WHERE key = 'complete'"), 1);
  }
  gen_free(&g);
}

static void test_sealed_partial_and_corrupt(void) {
  Gen g;
  small_spool(&g, 1);
  long whole;
  LrSpoolStats st;
  char path[4096];
  snprintf(path, sizeof path, "%s/sealed.spool", ti_dir());
  CU_ASSERT_EQUAL_FATAL(gen_write(&g, path, SIZE_MAX), 0);
  whole = count_records(path, &st);
  CU_ASSERT_EQUAL(whole, (long)g.nrec);
  CU_ASSERT_EQUAL(st.chunks_corrupt, 0);
  /* a sealed chunk cut by the end of the file: its prefix is read */
  CU_ASSERT_EQUAL_FATAL(gen_write(&g, path, g.rec_end[10]), 0);
  CU_ASSERT_EQUAL(count_records(path, &st), 11);
  /* one flipped bit in a sealed chunk: the chunk is skipped, counted */
  g.buf[g.rec_end[5] - 1] ^= 0x10;
  CU_ASSERT_EQUAL_FATAL(gen_write(&g, path, SIZE_MAX), 0);
  CU_ASSERT_EQUAL(count_records(path, &st), 0);
  CU_ASSERT_EQUAL(st.chunks_corrupt, 1);
  gen_free(&g);

  /* two threads, one corrupt chunk: the other's events are all there */
  gen_init(&g, 4096);
  GW a, b;
  gw_init(&a, &g, 1);
  gw_init(&b, &g, 2);
  for (uint64_t i = 0; i < 10; i++) {
    gw_alloc(&a, LR_EV_MALLOC, 2 * i + 1, 0x1000 + 16 * i, 10, 0);
    gw_alloc(&b, LR_EV_MALLOC, 2 * i + 2, 0x9000 + 16 * i, 20, 0);
  }
  gw_seal(&a);
  gw_seal(&b);
  g.buf[LR_SPOOL_HEADER_SIZE + sizeof(LrChunkHeader) + 3] ^= 1; /* chunk 0 = thread 1 */
  LrErr err;
  CU_ASSERT_EQUAL_FATAL(ti_import(&g, "corrupt", &err), 0);
  CU_ASSERT_EQUAL(ti_int("SELECT count(*) FROM allocations"), 10);
  CU_ASSERT_EQUAL(ti_int("SELECT count(*) FROM allocations WHERE thread_id = 2 AND size = 20"),
                  10);
  CU_ASSERT_EQUAL(ti_int("SELECT value FROM meta WHERE key = 'spool_chunks_corrupt'"), 1);
  gen_free(&g);
}

/* A chunk with a lying `used`, varints running off the end, an unknown
** record type, a string longer than the chunk: each ends its chunk there. */
static void test_bad_records(void) {
  Gen g;
  gen_init(&g, 4096);
  GW w;
  gw_init(&w, &g, 1);
  gw_alloc(&w, LR_EV_MALLOC, 1, 0x1000, 10, 0);
  gw_alloc(&w, LR_EV_MALLOC, 2, 0x2000, 10, 0);
  LrChunkHeader *ch = (LrChunkHeader *)(void *)(g.buf + LR_SPOOL_HEADER_SIZE);
  uint8_t *pl = (uint8_t *)(ch + 1);
  uint32_t used = ch->used;
  char path[4096];
  snprintf(path, sizeof path, "%s/bad.spool", ti_dir());
  LrSpoolStats st;
  /* unknown type after two good records */
  pl[used] = 99;
  ch->used = used + 1;
  gen_write(&g, path, SIZE_MAX);
  CU_ASSERT_EQUAL(count_records(path, &st), 2);
  CU_ASSERT_EQUAL(st.truncated, 1);
  /* a varint with 11 continuation bytes */
  pl[used] = LR_EV_FREE;
  memset(pl + used + 1, 0xff, 11);
  ch->used = used + 12;
  gen_write(&g, path, SIZE_MAX);
  CU_ASSERT_EQUAL(count_records(path, &st), 2);
  /* a string claiming 4000 bytes */
  uint8_t *p = pl + used;
  *p++ = LR_REC_MARK;
  p = lr_put_uv(p, 3);
  p = lr_put_uv(p, 30);
  p = lr_put_uv(p, 4000);
  ch->used = (uint32_t)(p - pl) + 10;
  gen_write(&g, path, SIZE_MAX);
  CU_ASSERT_EQUAL(count_records(path, &st), 2);
  /* a stack of 100000 frames */
  p = pl + used;
  *p++ = LR_REC_STACK;
  p = lr_put_uv(p, 5);
  p = lr_put_uv(p, 100000);
  ch->used = (uint32_t)(p - pl);
  gen_write(&g, path, SIZE_MAX);
  CU_ASSERT_EQUAL(count_records(path, &st), 2);
  /* used larger than the chunk: the whole chunk is refused */
  ch->used = 5000;
  gen_write(&g, path, SIZE_MAX);
  CU_ASSERT_EQUAL(count_records(path, &st), 0);
  CU_ASSERT_EQUAL(st.chunks_corrupt, 1);
  /* wrong index in the chunk header */
  ch->used = used;
  ch->index = 7;
  gen_write(&g, path, SIZE_MAX);
  CU_ASSERT_EQUAL(count_records(path, &st), 0);
  /* bad chunk magic: never written, skipped */
  ch->index = 0;
  ch->magic = 0;
  gen_write(&g, path, SIZE_MAX);
  CU_ASSERT_EQUAL(count_records(path, &st), 0);
  CU_ASSERT_EQUAL(st.chunks_unused, 1);
  gen_free(&g);
}

static int dir_has_temp(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int found = 0;
  while (d && (e = readdir(d)))
    if (strstr(e->d_name, ".import-")) found = 1;
  if (d) closedir(d);
  return found;
}

static void expect_import_error(Gen *g, const char *name, const char *needle) {
  LrErr err;
  int rc = ti_import(g, name, &err);
  CU_ASSERT_NOT_EQUAL(rc, 0);
  if (!strstr(err.msg, needle) || !strstr(err.msg, name)) {
    fprintf(stderr, "%s: got \"%s\", want \"%s\"\n", name, err.msg, needle);
    CU_FAIL("error message");
  }
  CU_ASSERT_TRUE(strchr(err.msg, '\n') == NULL);
  CU_ASSERT_NOT_EQUAL(access(ti_db(), F_OK), 0);
}

static void test_bad_headers(void) {
  Gen g;
  gen_init(&g, 4096);
  GW w;
  gw_init(&w, &g, 1);
  gw_alloc(&w, LR_EV_MALLOC, 1, 0x1000, 10, 0);
  LrSpoolHeader *h = gen_header(&g);
  h->magic[0] = 'X';
  expect_import_error(&g, "badmagic", "not a lowram spool");
  h->magic[0] = 'L';
  h->version = 2;
  expect_import_error(&g, "badversion", "spool format version 2, this lowram reads 1");
  h->version = 1;
  h->chunk_size = 5000;
  expect_import_error(&g, "badchunk", "chunk_size");
  h->chunk_size = 4096;
  h->pointer_size = 3;
  expect_import_error(&g, "badptr", "pointer_size");
  h->pointer_size = 8;
  h->header_size = 12;
  expect_import_error(&g, "badhdr", "header_size");
  h->header_size = LR_SPOOL_HEADER_SIZE;
  Gen tiny = g;
  tiny.size = 100;
  expect_import_error(&tiny, "tiny", "shorter than a spool header");
  tiny.size = 0;
  expect_import_error(&tiny, "empty", "shorter than a spool header");
  CU_ASSERT_FALSE(dir_has_temp(ti_dir()));
  gen_free(&g);
}

static void test_never_overwrites(void) {
  Gen g;
  gen_init(&g, 4096);
  GW w;
  gw_init(&w, &g, 1);
  gw_alloc(&w, LR_EV_MALLOC, 1, 0x1000, 10, 0);
  CU_ASSERT_EQUAL_FATAL(ti_import(&g, "keep", NULL), 0);
  char db[4096];
  snprintf(db, sizeof db, "%s", ti_db());
  FILE *f = fopen(db, "w");
  fputs("precious", f);
  fclose(f);
  LrErr err;
  CU_ASSERT_NOT_EQUAL(lr_import(ti_spool(), db, NULL, NULL, &err), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "already exists"));
  size_t len;
  char *got = lrt_read_file(db, &len);
  CU_ASSERT_STRING_EQUAL(got, "precious");
  free(got);
  /* nor through a dangling symlink */
  char link_path[4200], target[4200];
  snprintf(link_path, sizeof link_path, "%s/link.db", ti_dir());
  snprintf(target, sizeof target, "%s/target.db", ti_dir());
  CU_ASSERT_EQUAL(symlink(target, link_path), 0);
  CU_ASSERT_NOT_EQUAL(lr_import(ti_spool(), link_path, NULL, NULL, &err), 0);
  CU_ASSERT_NOT_EQUAL(access(target, F_OK), 0);
  CU_ASSERT_FALSE(dir_has_temp(ti_dir()));
  gen_free(&g);
}

static void expect_open_error(const char *path, const char *needle) {
  LrErr err = {{0}};
  LrTrace *t = lr_import_open(path, NULL, &err);
  CU_ASSERT_PTR_NULL(t);
  lr_trace_close(t);
  char want[4400];
  snprintf(want, sizeof want, "%s: %s", path, needle);
  if (strncmp(err.msg, want, strlen(want))) {
    fprintf(stderr, "open %s: got \"%s\", want \"%s\"\n", path, err.msg, want);
    CU_FAIL("trace open message");
  }
}

/* Progress: every stage is reported, in order; a cancel leaves no file. */
typedef struct Prog {
  int calls, last_stage, in_order, cancel_at;
  uint64_t last_events;
} Prog;

static int on_progress(void *ctx, const LrImportProgress *p) {
  Prog *g = ctx;
  g->calls++;
  if ((int)p->stage < g->last_stage || p->events < g->last_events) g->in_order = 0;
  g->last_stage = (int)p->stage;
  g->last_events = p->events;
  return g->cancel_at >= 0 && (int)p->stage == g->cancel_at;
}

static void test_import_progress(void) {
  const char *dir = ti_dir();
  Gen g;
  gen_init(&g, 4096);
  GW w;
  gw_init(&w, &g, 1);
  for (int i = 0; i < 3 * LR_IMPORT_PROGRESS_EVENTS / 2; i++)
    gw_alloc(&w, LR_EV_MALLOC, 1, 0x1000 + 16 * (uint64_t)i, 16, 0);
  char sp[4096], out[4096];
  snprintf(sp, sizeof sp, "%s/prog.spool", dir);
  gen_write(&g, sp, SIZE_MAX);
  gen_free(&g);
  /* cancelled while naming frames: nothing under the name, no temp file */
  snprintf(out, sizeof out, "%s/prog-cancel.db", dir);
  Prog c = {0, 0, 1, LR_IMPORT_SYMBOLS, 0};
  LrImportOpts o = {.progress = on_progress, .progress_ctx = &c};
  LrErr err = {{0}};
  CU_ASSERT_NOT_EQUAL(lr_import(sp, out, &o, NULL, &err), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "import cancelled"));
  CU_ASSERT_NOT_EQUAL(access(out, F_OK), 0);
  CU_ASSERT_FALSE(dir_has_temp(dir));
  /* a whole import: merge reports at 0 and 65536 events, then each stage once */
  snprintf(out, sizeof out, "%s/prog.db", dir);
  Prog a = {0, 0, 1, -1, 0};
  o.progress_ctx = &a;
  LrImportStats st;
  CU_ASSERT_EQUAL_FATAL(lr_import(sp, out, &o, &st, &err), 0);
  CU_ASSERT_EQUAL(st.events, (uint64_t)(3 * LR_IMPORT_PROGRESS_EVENTS / 2));
  CU_ASSERT_EQUAL(a.calls, 2 + 3);
  CU_ASSERT_EQUAL(a.last_stage, LR_IMPORT_AGGREGATES);
  CU_ASSERT_EQUAL(a.last_events, st.events);
  CU_ASSERT_TRUE(a.in_order);
}

static void test_trace_open(void) {
  const char *dir = ti_dir();
  char p[4096];
  snprintf(p, sizeof p, "%s/missing.db", dir);
  expect_open_error(p, "no such file");
  snprintf(p, sizeof p, "%s/text.db", dir);
  FILE *f = fopen(p, "w");
  fputs("hello, this is not a database at all\n", f);
  fclose(f);
  expect_open_error(p, "not a SQLite file");
  snprintf(p, sizeof p, "%s/other.db", dir);
  sqlite3 *db;
  sqlite3_open(p, &db);
  sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES(1);", 0, 0, 0);
  sqlite3_close(db);
  expect_open_error(p, "not a lowram trace");
  snprintf(p, sizeof p, "%s/future.db", dir);
  sqlite3_open(p, &db);
  sqlite3_exec(db, "PRAGMA user_version = 4; CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
                   "INSERT INTO meta VALUES('format', 'lowram-trace');", 0, 0, 0);
  sqlite3_close(db);
  expect_open_error(p, "trace schema version 4, this lowram reads 2 and 3");
  /* a v1 trace (one file per process): what to do, in one line */
  snprintf(p, sizeof p, "%s/v1.db", dir);
  sqlite3_open(p, &db);
  sqlite3_exec(db, "PRAGMA user_version = 1; CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
                   "INSERT INTO meta VALUES('format', 'lowram-trace');", 0, 0, 0);
  sqlite3_close(db);
  expect_open_error(p, "v1 trace: re-import its spool with this lowram, or use lowram <= 0.1");

  /* a spool, and a trace name whose spool is beside it: imported on open */
  Gen g;
  gen_init(&g, 4096);
  GW w;
  gw_init(&w, &g, 1);
  gw_alloc(&w, LR_EV_MALLOC, 1, 0x1000, 10, 0);
  snprintf(p, sizeof p, "%s/plain.db.spool", dir);
  gen_write(&g, p, SIZE_MAX);
  snprintf(p, sizeof p, "%s/plain.db", dir);
  LrErr err;
  /* lr_trace_open opens traces only: the spool beside is ingest's job */
  CU_ASSERT_PTR_NULL(lr_trace_open(p, &err));
  LrTrace *t = lr_import_open(p, NULL, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  CU_ASSERT_TRUE(lr_trace_complete(t));
  int64_t v = 0;
  CU_ASSERT_EQUAL(lr_trace_meta_int(t, "events", &v), 0);
  CU_ASSERT_EQUAL(v, 1);
  CU_ASSERT_STRING_EQUAL(lr_trace_path(t), p);
  /* read-only: a write fails */
  CU_ASSERT_NOT_EQUAL(sqlite3_exec(lr_trace_db(t), "DELETE FROM meta", 0, 0, 0), SQLITE_OK);
  lr_trace_close(t);
  snprintf(p, sizeof p, "%s/plain.db.spool", dir);
  t = lr_import_open(p, NULL, &err); /* the spool again: opens the trace made from it */
  CU_ASSERT_PTR_NOT_NULL(t);
  if (t) CU_ASSERT_TRUE(strstr(lr_trace_path(t), "plain.db") && !strstr(lr_trace_path(t), "spool"));
  lr_trace_close(t);
  char out[64];
  CU_ASSERT_EQUAL(lr_import_default_out("a/run.db.spool", out, sizeof out), 0);
  CU_ASSERT_STRING_EQUAL(out, "a/run.db");
  CU_ASSERT_EQUAL(lr_import_default_out("a/run.bin", out, sizeof out), 0);
  CU_ASSERT_STRING_EQUAL(out, "a/run.bin.db");
  gen_free(&g);
}

/* Random damage to an unsealed chunk (what a crash mid-write or a bad disk
** could leave): the reader and the importer must stay in bounds; the
** sanitizer build checks that part. What they keep is a prefix: never more
** records than were written. */
static void test_random_damage(void) {
  Gen g;
  small_spool(&g, 0);
  uint8_t *orig = malloc(g.size);
  memcpy(orig, g.buf, g.size);
  char path[4096];
  snprintf(path, sizeof path, "%s/fuzz.spool", ti_dir());
  unsigned seed = 12345;
  size_t payload0 = LR_SPOOL_HEADER_SIZE + sizeof(LrChunkHeader);
  size_t used = ((LrChunkHeader *)(void *)(g.buf + LR_SPOOL_HEADER_SIZE))->used;
  for (int it = 0; it < 600; it++) {
    memcpy(g.buf, orig, g.size);
    int flips = 1 + it % 8;
    for (int f = 0; f < flips; f++) {
      seed = seed * 1103515245u + 12345u;
      size_t at = payload0 + (seed >> 8) % used;
      seed = seed * 1103515245u + 12345u;
      g.buf[at] = (uint8_t)(seed >> 16);
    }
    CU_ASSERT_EQUAL_FATAL(gen_write(&g, path, SIZE_MAX), 0);
    long n = count_records(path, NULL);
    CU_ASSERT_TRUE(n >= 0 && n <= (long)g.nrec);
    if (it % 30 == 0) {
      char name[32];
      snprintf(name, sizeof name, "fuzz%d", it);
      CU_ASSERT_EQUAL(ti_import(&g, name, NULL), 0);
      CU_ASSERT_EQUAL(ti_int("SELECT value FROM meta WHERE key = 'complete'"), 1);
    }
  }
  free(orig);
  gen_free(&g);
}

void ti_add_tests_damage(CU_pSuite s) {
  CU_add_test(s, "random damage stays in bounds", test_random_damage);
  CU_add_test(s, "truncated at every byte", test_truncated_every_byte);
  CU_add_test(s, "sealed partial and corrupt chunks", test_sealed_partial_and_corrupt);
  CU_add_test(s, "bad records end their chunk", test_bad_records);
  CU_add_test(s, "bad headers: clear errors, no file", test_bad_headers);
  CU_add_test(s, "never overwrites", test_never_overwrites);
  CU_add_test(s, "trace open errors and spool import", test_trace_open);
  CU_add_test(s, "import progress in stage order, cancel leaves nothing", test_import_progress);
}
