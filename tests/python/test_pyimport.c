/*
** test_pyimport.c: Python frames in the import (lib/ingest/pyframes.c) on
** spools built byte by byte (tests/import/spoolgen.h), so every frame is
** known by construction:
**   - a STACK with Python frames whose native record comes later, in
**     another thread's chunk, is spliced before the evaluator's frame;
**   - without a PYEVAL record the Python frames follow the native ones;
**   - a Python frame shared by two stacks is one frames row; one whose
**     PYCODE record is missing keeps its line and has no name;
**   - the report's site is the program's own Python line, or the innermost
**     Python frame when all are the library's;
**   - a spool cut inside a PYCODE record imports what came before.
*/
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lowram/import.h"
#include "lowram/peak.h"
#include "lowram/trace.h"
#include "lrtest.h"
#include "spoolgen.h"

#define EXE 0x400000ull   /* "/x/python3.11", 1 MiB (no such file: not symbolized) */
#define LIB 0x7f0000000000ull /* "/x/_multiarray.so", 1 MiB */
#define EVAL_LO 0x410000ull
#define EVAL_HI 0x420000ull

static char *dir;

/* Appends one record's bytes to the writer's chunk (PYCODE and PYEVAL,
** which spoolgen has no writer for). */
static void raw(GW *w, const uint8_t *rec, size_t n) {
  if (w->chunk < 0) gw_new_chunk(w);
  LrChunkHeader *c = (LrChunkHeader *)(void *)(w->g->buf + LR_SPOOL_HEADER_SIZE +
                                               (size_t)w->chunk * w->g->chunk_size);
  memcpy((uint8_t *)(c + 1) + w->used, rec, n);
  w->used += (uint32_t)n;
  c->used = w->used;
}

static void pycode(GW *w, uint64_t id, uint64_t line, const char *fn, const char *file) {
  uint8_t b[512], *p = b;
  *p++ = LR_REC_PYCODE;
  p = lr_put_uv(p, id);
  p = lr_put_uv(p, line);
  p = lr_put_uv(p, strlen(fn));
  memcpy(p, fn, strlen(fn));
  p += strlen(fn);
  p = lr_put_uv(p, strlen(file));
  memcpy(p, file, strlen(file));
  p += strlen(file);
  raw(w, b, (size_t)(p - b));
}

static void pyeval(GW *w, uint64_t lo, uint64_t hi) {
  uint8_t b[32], *p = b;
  *p++ = LR_REC_PYEVAL;
  p = lr_put_uv(p, lo);
  p = lr_put_uv(p, hi);
  raw(w, b, (size_t)(p - b));
}

/* Imports g as dir/name.db; its path (static buffer). */
static const char *import(Gen *g, const char *name) {
  static char db[4096];
  char spool[4096];
  snprintf(spool, sizeof spool, "%s/%s.spool", dir, name);
  snprintf(db, sizeof db, "%s/%s.db", dir, name);
  CU_ASSERT_FATAL(gen_write(g, spool, SIZE_MAX) == 0);
  LrErr err = {{0}};
  int rc = lr_import(spool, db, NULL, NULL, &err);
  if (rc != 0) fprintf(stderr, "import %s: %s\n", name, err.msg);
  CU_ASSERT_FATAL(rc == 0);
  return db;
}

/* One stack's frames as "name file:line|..." (module basename for natives). */
static const char *frames(const char *db, int64_t stack, char *buf, size_t len) {
  char sql[512];
  snprintf(sql, sizeof sql,
           "SELECT group_concat(x, '|') FROM (SELECT CASE WHEN module = '[python]' THEN "
           "coalesce(function, '?') || ' ' || coalesce(file, '?') || ':' || line ELSE "
           "printf('%%s+0x%%x', replace(module, rtrim(module, replace(module, '/', '')), ''), "
           "rel_pc) END AS x FROM stack_frames WHERE stack_id = %lld ORDER BY depth)",
           (long long)stack);
  return lrt_sql_text(db, sql, buf, len);
}

/* Two threads; thread 100's chunk names stack 3 = (native 1, make_kv:8,
** <module>:21) before thread 200's chunk holds native stack 1. */
static void build(Gen *g, int with_eval) {
  gen_init(g, 65536);
  GW a, b;
  gw_init(&a, g, 100);
  gw_init(&b, g, 200);
  gw_module(&a, 0, EXE, 0x100000, NULL, 0, "/x/python3.11");
  gw_module(&a, 0, LIB, 0x100000, NULL, 0, "/x/_multiarray.so");
  gw_thread(&a, 1, 100, "main");
  if (with_eval) pyeval(&a, EVAL_LO, EVAL_HI);
  pycode(&a, 1, 7, "make_kv", "/t/p.py");
  pycode(&a, 2, 1, "<module>", "/t/p.py");
  pycode(&a, 3, 200, "ones", "/usr/lib/python3/dist-packages/numpy/core/numeric.py");
  uint64_t s3[] = {LR_PYREF_TAG | 1, lr_pyframe(1, 8), lr_pyframe(2, 21)};
  gw_stack(&a, 3, 3, s3);
  gw_alloc(&a, LR_EV_MALLOC, 2, 0x10000, 1000, 3);
  /* the same <module>:21 frame under another native stack, and code 9
  ** whose PYCODE record is missing */
  uint64_t s4[] = {LR_PYREF_TAG | 2, lr_pyframe(9, 5), lr_pyframe(2, 21)};
  gw_stack(&a, 4, 3, s4);
  gw_alloc(&a, LR_EV_MALLOC, 3, 0x20000, 2000, 4);
  /* only library Python frames: numpy's ones under native stack 1 */
  uint64_t s5[] = {LR_PYREF_TAG | 1, lr_pyframe(3, 205)};
  gw_stack(&a, 5, 2, s5);
  gw_alloc(&a, LR_EV_MALLOC, 4, 0x30000, 3000, 5);
  gw_thread(&b, 5, 200, "other");
  /* native 1: numpy's C code, CPython's call code, the evaluator, main */
  uint64_t s1[] = {LIB + 0x100, EXE + 0x5000, EVAL_LO + 0x100, EXE + 0x50000};
  gw_stack(&b, 1, 4, s1);
  uint64_t s2[] = {EXE + 0x6000, EXE + 0x50000};
  gw_stack(&b, 2, 2, s2);
  gw_alloc(&b, LR_EV_MALLOC, 6, 0x40000, 4000, 1);
  gw_seal(&a);
  gw_seal(&b);
}

static void test_splice(void) {
  Gen g;
  build(&g, 1);
  const char *db = import(&g, "splice");
  char buf[1024];
  CU_ASSERT_STRING_EQUAL(frames(db, 3, buf, sizeof buf),
                         "_multiarray.so+0x100|python3.11+0x5000|make_kv /t/p.py:8|"
                         "<module> /t/p.py:21|python3.11+0x10100|python3.11+0x50000");
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT nframes FROM stacks WHERE id = 3"), 6);
  /* stack 2 has no evaluator frame: the Python frames come last; code 9
  ** has no name but keeps its line */
  CU_ASSERT_STRING_EQUAL(frames(db, 4, buf, sizeof buf),
                         "python3.11+0x6000|python3.11+0x50000|? ?:5|<module> /t/p.py:21");
  /* the native stacks stay as they were */
  CU_ASSERT_STRING_EQUAL(frames(db, 1, buf, sizeof buf),
                         "_multiarray.so+0x100|python3.11+0x5000|python3.11+0x10100|"
                         "python3.11+0x50000");
  /* one [python] module; one row per Python frame (<module>:21 shared) */
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT count(*) FROM modules WHERE path = '[python]'"), 1);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT count(*) FROM frames f JOIN modules m ON "
                                  "m.id = f.module_id WHERE m.path = '[python]'"),
                  4);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT rel_pc FROM frames WHERE function = 'make_kv'"),
                  (1 << 24) | 8);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT size FROM allocations WHERE stack_id = 3"), 1000);
  /* the report's site: the program's own line; numpy's line when only it */
  LrErr err = {{0}};
  LrTrace *t = lr_trace_open(db, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  LrStacks *c = lr_peak_stacks_new(t);
  const LrStack *s = lr_peak_stack(c, 3, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(s->site, 2);
  CU_ASSERT_EQUAL(s->own, 2);
  CU_ASSERT_STRING_EQUAL(s->frames[s->site].function, "make_kv");
  s = lr_peak_stack(c, 5, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(s->site, 2);
  CU_ASSERT_STRING_EQUAL(s->frames[s->site].function, "ones");
  s = lr_peak_stack(c, 1, &err); /* no Python frames: the native choice */
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(s->site, 0);
  lr_peak_stacks_free(c);
  lr_trace_close(t);
  gen_free(&g);
}

static void test_no_eval(void) {
  Gen g;
  build(&g, 0);
  const char *db = import(&g, "noeval");
  char buf[1024];
  CU_ASSERT_STRING_EQUAL(frames(db, 3, buf, sizeof buf),
                         "_multiarray.so+0x100|python3.11+0x5000|python3.11+0x10100|"
                         "python3.11+0x50000|make_kv /t/p.py:8|<module> /t/p.py:21");
  gen_free(&g);
}

/* A spool whose last chunk ends inside a PYCODE record (the process was
** killed): the records before it are kept, the import succeeds. */
static void test_cut(void) {
  Gen g;
  gen_init(&g, 65536);
  GW a;
  gw_init(&a, &g, 100);
  gw_thread(&a, 1, 100, "main");
  uint64_t s1[] = {EXE + 0x100};
  gw_stack(&a, 1, 1, s1);
  gw_alloc(&a, LR_EV_MALLOC, 2, 0x1000, 777, 1);
  pycode(&a, 1, 3, "f", "/t/q.py");
  LrChunkHeader *c = (LrChunkHeader *)(void *)(g.buf + LR_SPOOL_HEADER_SIZE);
  c->used -= 2; /* `used` ends inside the record (damage: the writer never does) */
  const char *db = import(&g, "cut");
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT size FROM allocations"), 777);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT count(*) FROM modules WHERE path = '[python]'"), 0);
  gen_free(&g);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  dir = lrt_tmpdir("pyimport");
  CU_pSuite s = CU_add_suite("pyimport", NULL, NULL);
  CU_add_test(s, "splice before the evaluator, names, sites", test_splice);
  CU_add_test(s, "no PYEVAL: Python frames after the native ones", test_no_eval);
  CU_add_test(s, "a spool cut inside a PYCODE record", test_cut);
  return lrt_main();
}
