/* tbuild.c: see tbuild.h. */
#include "tbuild.h"

#include <CUnit/CUnit.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/trace_internal.h"
#include "query/agg.h"
#include "lrtest.h"

void tb_exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    fprintf(stderr, "tbuild: %s\n  in: %.200s\n", msg ? msg : "?", sql);
    CU_FAIL("SQL failed while building a trace");
  }
  sqlite3_free(msg);
}

sqlite3 *tb_create(const char *path) {
  unlink(path);
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) return NULL;
  tb_exec(db, lr_schema_sql);
  tb_exec(db, "BEGIN");
  tb_meta(db, "format", "lowram-trace");
  tb_meta(db, "schema_version", "1");
  tb_meta(db, "argv", "[\"./app\",\"--model\",\"m.bin\"]");
  tb_meta(db, "pid", "4242");
  tb_meta(db, "end_reason", "exit");
  tb_meta(db, "end_code", "0");
  tb_meta(db, "page_size", "4096");
  return db;
}

static void run(sqlite3 *db, const char *sql, const char *types, ...) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "tbuild: %s\n", sqlite3_errmsg(db));
    CU_FAIL("prepare failed");
    return;
  }
  va_list ap;
  va_start(ap, types);
  for (int i = 0; types[i]; i++) {
    if (types[i] == 'i') sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
    else if (types[i] == 'n') {
      int64_t v = va_arg(ap, int64_t);
      if (v >= 0) sqlite3_bind_int64(st, i + 1, v);
      else sqlite3_bind_null(st, i + 1);
    } else {
      const char *s = va_arg(ap, const char *);
      if (s) sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT);
      else sqlite3_bind_null(st, i + 1);
    }
  }
  va_end(ap);
  if (sqlite3_step(st) != SQLITE_DONE) {
    fprintf(stderr, "tbuild: %s\n  in: %s\n", sqlite3_errmsg(db), sql);
    CU_FAIL("insert failed");
  }
  sqlite3_finalize(st);
}

void tb_meta(sqlite3 *db, const char *key, const char *value) {
  run(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", "ss", key, value);
}

void tb_frame(sqlite3 *db, int64_t id, const char *module, const char *fn, const char *file,
              int64_t line) {
  run(db,
      "INSERT OR IGNORE INTO modules(path, base, size, load_seq) "
      "SELECT ?1, 4096 * (1 + (SELECT count(*) FROM modules)) * 65536, 65536, 0 "
      "WHERE NOT EXISTS (SELECT 1 FROM modules WHERE path = ?1)",
      "s", module);
  run(db,
      "INSERT INTO frames(id, module_id, rel_pc, function, file, line) "
      "VALUES(?1, (SELECT id FROM modules WHERE path = ?2), ?1 * 16, ?3, ?4, ?5)",
      "isssn", id, module, fn, file, line);
}

void tb_stack(sqlite3 *db, int64_t id, ...) {
  va_list ap;
  va_start(ap, id);
  int64_t depth = 0;
  while (va_arg(ap, int64_t) != 0) depth++;
  va_end(ap);
  /* the stacks row first: stack_entries appends to it, depth 0 first */
  run(db, "INSERT INTO stacks(id, nframes) VALUES(?1, ?2)", "ii", id, depth);
  va_start(ap, id);
  for (int64_t d = 0, f; (f = va_arg(ap, int64_t)) != 0; d++)
    run(db, "INSERT INTO stack_entries(stack_id, depth, frame_id) VALUES(?1, ?2, ?3)", "iii",
        id, d, f);
  va_end(ap);
}

static int64_t next_address = 0x10000;

int64_t tb_alloc(sqlite3 *db, const char *region, int64_t size, int64_t alloc_seq,
                 int64_t free_seq, int64_t tid, int64_t stack) {
  const char *kind = !strcmp(region, "heap") ? "malloc" : "mmap";
  /* unsigned: sizes near INT64_MAX wrap the fake address instead of UB */
  next_address = (int64_t)((uint64_t)next_address + (uint64_t)size + 16);
  run(db,
      "INSERT INTO allocations(kind, region, address, size, alloc_seq, free_seq, alloc_ns, "
      "free_ns, free_kind, thread_id, stack_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?5 * 1000, "
      "?6 * 1000, CASE WHEN ?6 IS NULL THEN NULL WHEN ?2 = 'heap' THEN 'free' ELSE 'munmap' "
      "END, ?7, ?8)",
      "ssiiinin", kind, region, next_address, size, alloc_seq, free_seq, tid, stack);
  run(db, "INSERT OR IGNORE INTO threads(tid, first_seq) VALUES(?1, ?2)", "ii", tid, alloc_seq);
  return (int64_t)sqlite3_last_insert_rowid(db);
}

int64_t tb_map_file(sqlite3 *db, const char *file, int64_t size, int64_t alloc_seq,
                    int64_t free_seq, int64_t tid, int64_t stack) {
  int64_t id = tb_alloc(db, "file", size, alloc_seq, free_seq, tid, stack);
  run(db, "UPDATE allocations SET file = ?1, file_offset = 0, prot = 1, flags = 2 WHERE id = ?2",
      "si", file, id);
  return id;
}

void tb_marker(sqlite3 *db, int64_t seq, const char *name) {
  run(db, "INSERT INTO markers(seq, ns, thread_id, name) VALUES(?1, ?1 * 1000, 1, ?2)", "is",
      seq, name);
}

void tb_rss(sqlite3 *db, int64_t seq, int64_t rss, int64_t anon, int64_t file) {
  run(db, "INSERT INTO rss_samples(seq, ns, rss, anon, file, shmem) VALUES(?1, ?1 * 1000, ?2, "
      "?3, ?4, 0)", "iiii", seq, rss, anon, file);
}

int tb_finish(sqlite3 *db, const char *path, int complete) {
  LrErr err = {{0}};
  char buf[64];
  int64_t last = 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT max(max(alloc_seq), ifnull(max(free_seq), 0)) "
                         "FROM allocations", -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) last = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  snprintf(buf, sizeof buf, "%lld", (long long)last * 1000);
  tb_meta(db, "end_ns", buf);
  snprintf(buf, sizeof buf, "%lld", (long long)last);
  tb_meta(db, "events", buf);
  int rc = 0;
  if (complete) {
    rc = lr_agg_build(db, path, &err);
    if (rc) fprintf(stderr, "tbuild: %s\n", err.msg);
    tb_meta(db, "complete", "1");
  } else {
    tb_meta(db, "complete", "0");
  }
  tb_exec(db, "COMMIT");
  sqlite3_close(db);
  return rc;
}


LrTrace *tb_open_ro(const char *path) {
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return NULL;
  LrTrace *t = lr_trace_wrap(db, path);
  if (!t) {
    sqlite3_close(db);
    return NULL;
  }
  t->owns_db = 1; /* the fixture's connection goes with the handle */
  return t;
}

const LrGroup *tb_group(const LrGroups *g, const char *key) {
  for (size_t i = 0; i < g->n; i++)
    if (!strcmp(g->v[i].key, key)) return &g->v[i];
  return NULL;
}
