/*
** test_stacks.c: stacks as a trie (stack_nodes) behind the `stack_entries`
** virtual table (lib/store/stackvt.h). Every number is known by
** construction:
**   - 200 stacks under one 20-frame caller chain, 10 at a time sharing a
**     middle frame, give 20 + 20 + 200 nodes; a stack that is a prefix of
**     another and a repeated stack add none, a known frame under another
**     caller adds one;
**   - stack_entries gives back every (stack_id, depth, frame_id) put in,
**     by `stack_id =`, by IN, by a range, and by the full scan, which
**     comes in (stack_id, depth) order without a sort;
**   - INSERT appends a stack's frames in depth order and never changes
**     another stack sharing its nodes; out of order, twice, UPDATE and
**     DELETE are refused;
**   - a parent chain that loops, or points at a missing node, is an
**     error naming the stack after a bounded number of rows.
*/
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrtest.h"
#include "store/stackvt.h"
#include "tbuild.h"

enum { NSTACKS = 200, COMMON = 20, MAXF = 32 };

static char *dir;

typedef struct Want {
  int64_t id, n, f[MAXF];
} Want;

static Want want[NSTACKS + 4]; /* + the two stacks test_insert_appends adds */
static int nwant;

static int64_t one_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  int64_t v = INT64_MIN;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
    return v;
  }
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* Stack s (0-based): its own innermost frame, a middle frame shared by 10
** stacks, then the common callers 20 .. 1 (frame 1 outermost). */
static void make(Want *w, int s) {
  w->id = s + 1;
  w->n = 2 + COMMON;
  w->f[0] = 1000 + s;
  w->f[1] = 500 + s / 10;
  for (int j = 0; j < COMMON; j++) w->f[2 + j] = COMMON - j;
}

static void put(sqlite3 *db, LrStackTrie *t, const Want *w) {
  int64_t node = 0;
  int oom = 0;
  CU_ASSERT_EQUAL_FATAL(lr_stack_trie_put(t, w->f, (size_t)w->n, &node, &oom), 0);
  char sql[160];
  snprintf(sql, sizeof sql,
           "INSERT OR IGNORE INTO stacks(id, nframes, node) VALUES(%lld, %lld, %lld)",
           (long long)w->id, (long long)w->n, (long long)node);
  tb_exec(db, sql);
}

/* The trie of the 200 stacks and two more, in a fresh trace. */
static sqlite3 *build(const char *name) {
  char *path = lrt_path_in(dir, name);
  sqlite3 *db = tb_create(path); /* path: lrtest's buffer */
  if (!db) return NULL;
  int oom = 0;
  LrStackTrie *t = lr_stack_trie_new(db, "main", &oom);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  nwant = 0;
  for (int s = 0; s < NSTACKS; s++) {
    make(&want[nwant], s);
    put(db, t, &want[nwant++]);
  }
  CU_ASSERT_EQUAL(lr_stack_trie_nodes(t), COMMON + NSTACKS / 10 + NSTACKS);
  /* the common callers alone: every node exists already */
  Want *w = &want[nwant++];
  w->id = 301;
  w->n = COMMON;
  for (int j = 0; j < COMMON; j++) w->f[j] = COMMON - j;
  put(db, t, w);
  CU_ASSERT_EQUAL(lr_stack_trie_nodes(t), COMMON + NSTACKS / 10 + NSTACKS);
  /* stack 1's innermost frame right under frame 1: a new node */
  w = &want[nwant++];
  w->id = 302;
  w->n = 2;
  w->f[0] = 1000;
  w->f[1] = 1;
  put(db, t, w);
  put(db, t, &want[0]); /* again: stays as it was */
  CU_ASSERT_EQUAL(lr_stack_trie_nodes(t), COMMON + NSTACKS / 10 + NSTACKS + 1);
  lr_stack_trie_free(t);
  return db;
}

/* The rows of `sql` (stack_id, depth, frame_id) against want[] in order;
** returns the number of rows, -1 on a mismatch or error. */
static int64_t check_rows(sqlite3 *db, const char *sql, const int *order, int n) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
  int64_t rows = 0;
  int k = 0, d = 0, rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    while (k < n && d >= want[order[k]].n) k++, d = 0;
    if (k == n) break;
    const Want *w = &want[order[k]];
    if (sqlite3_column_int64(st, 0) != w->id || sqlite3_column_int64(st, 1) != d ||
        sqlite3_column_int64(st, 2) != w->f[d]) {
      fprintf(stderr, "%s: row %lld: (%lld, %lld, %lld), want (%lld, %d, %lld)\n", sql,
              (long long)rows, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
              sqlite3_column_int64(st, 2), (long long)w->id, d, (long long)w->f[d]);
      break;
    }
    d++;
    rows++;
  }
  while (k < n && d >= want[order[k]].n) k++, d = 0;
  sqlite3_finalize(st);
  return rc == SQLITE_DONE && k == n ? rows : -1;
}

static void test_trie_counts(void) {
  sqlite3 *db = build("counts.db");
  CU_ASSERT_PTR_NOT_NULL_FATAL(db);
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM stack_nodes"), 241);
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM stack_nodes WHERE parent IS NULL"), 1);
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM stacks"), NSTACKS + 2);
  /* v2 kept a row per frame: 200 * 22 + 20 + 2 */
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM stack_entries"), NSTACKS * 22 + 22);
  sqlite3_close(db);
}

static void test_entries_back(void) {
  sqlite3 *db = build("entries.db");
  CU_ASSERT_PTR_NOT_NULL_FATAL(db);
  int order[NSTACKS + 2];
  for (int i = 0; i < nwant; i++) order[i] = i;
  /* the full scan, in order, and SQLite sorts nothing */
  CU_ASSERT_EQUAL(check_rows(db,
                             "SELECT stack_id, depth, frame_id FROM stack_entries "
                             "ORDER BY stack_id, depth",
                             order, nwant),
                  NSTACKS * 22 + 22);
  char *plan = NULL;
  sqlite3_stmt *st;
  CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(db,
                                           "EXPLAIN QUERY PLAN SELECT e.stack_id, f.id FROM "
                                           "stack_entries e LEFT JOIN frames f ON f.id = "
                                           "e.frame_id ORDER BY e.stack_id, e.depth",
                                           -1, &st, NULL),
                        SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW)
    if (strstr((const char *)sqlite3_column_text(st, 3), "TEMP B-TREE")) plan = "sorted";
  sqlite3_finalize(st);
  CU_ASSERT_PTR_NULL(plan);
  /* one stack at a time */
  for (int i = 0; i < nwant; i++) {
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT stack_id, depth, frame_id FROM stack_entries WHERE stack_id = %lld "
             "ORDER BY depth",
             (long long)want[i].id);
    CU_ASSERT_EQUAL(check_rows(db, sql, &order[i], 1), want[i].n);
  }
  /* IN, a range, one depth */
  int in[] = {1, 50, 199};
  CU_ASSERT_EQUAL(check_rows(db,
                             "SELECT stack_id, depth, frame_id FROM stack_entries WHERE "
                             "stack_id IN (200, 2, 51) ORDER BY stack_id, depth",
                             in, 3),
                  66);
  int range[11];
  for (int i = 0; i < 11; i++) range[i] = 49 + i;
  CU_ASSERT_EQUAL(check_rows(db,
                             "SELECT stack_id, depth, frame_id FROM stack_entries WHERE "
                             "stack_id BETWEEN 50 AND 60 ORDER BY stack_id, depth",
                             range, 11),
                  11 * 22);
  CU_ASSERT_EQUAL(
      one_int(db, "SELECT frame_id FROM stack_entries WHERE stack_id = 37 AND depth = 1"), 503);
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM stack_entries WHERE depth = 21"), NSTACKS);
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM stack_entries WHERE stack_id = 999"), 0);
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM stack_entries WHERE stack_id = NULL"), 0);
  /* a node changed by another connection is seen (the lookups' cache) */
  tb_exec(db, "COMMIT");
  CU_ASSERT_EQUAL(
      one_int(db, "SELECT frame_id FROM stack_entries WHERE stack_id = 37 AND depth = 0"), 1036);
  sqlite3 *other;
  CU_ASSERT_EQUAL_FATAL(sqlite3_open(sqlite3_db_filename(db, "main"), &other), SQLITE_OK);
  tb_exec(other, "UPDATE stack_nodes SET frame_id = 4242 WHERE id = (SELECT node FROM stacks "
                 "WHERE id = 37)");
  sqlite3_close(other);
  CU_ASSERT_EQUAL(
      one_int(db, "SELECT frame_id FROM stack_entries WHERE stack_id = 37 AND depth = 0"), 4242);
  sqlite3_close(db);
}

static void test_insert_appends(void) {
  sqlite3 *db = build("insert.db");
  CU_ASSERT_PTR_NOT_NULL_FATAL(db);
  tb_exec(db, "COMMIT");
  /* two stacks inserted interleaved, in autocommit (a transaction each) */
  tb_exec(db, "INSERT INTO stacks(id, nframes) VALUES(900, 3), (901, 2)");
  tb_exec(db, "INSERT INTO stack_entries VALUES(900, 0, 7), (901, 0, 8)");
  tb_exec(db, "INSERT INTO stack_entries VALUES(900, 1, 9)");
  tb_exec(db, "INSERT INTO stack_entries VALUES(901, 1, 10)");
  tb_exec(db, "INSERT INTO stack_entries VALUES(900, 2, 11)");
  Want *w = &want[nwant];
  *w = (Want){900, 3, {7, 9, 11}};
  w[1] = (Want){901, 2, {8, 10}};
  int two[] = {nwant, nwant + 1};
  CU_ASSERT_EQUAL(check_rows(db,
                             "SELECT * FROM stack_entries WHERE stack_id >= 900 ORDER BY "
                             "stack_id, depth",
                             two, 2),
                  5);
  /* appending to stack 1 copies its chain: stack 2 shares its callers */
  tb_exec(db, "INSERT INTO stack_entries VALUES(1, 22, 77)");
  want[0].f[22] = 77;
  want[0].n = 23;
  int first[] = {0, 1};
  CU_ASSERT_EQUAL(check_rows(db,
                             "SELECT * FROM stack_entries WHERE stack_id IN (1, 2) ORDER BY "
                             "stack_id, depth",
                             first, 2),
                  45);
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM stack_entries WHERE stack_id = 301"), 20);
  /* refused: a gap, a depth again, a stack without its row, UPDATE, DELETE */
  const char *bad[] = {"INSERT INTO stack_entries VALUES(900, 5, 1)",
                       "INSERT INTO stack_entries VALUES(900, 0, 1)",
                       "INSERT INTO stack_entries VALUES(902, 0, 1)",
                       "INSERT INTO stack_entries VALUES(900, 3, 'x')",
                       "UPDATE stack_entries SET frame_id = 1 WHERE stack_id = 900",
                       "DELETE FROM stack_entries WHERE stack_id = 900"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CU_ASSERT_NOT_EQUAL(sqlite3_exec(db, bad[i], NULL, NULL, NULL), SQLITE_OK);
  CU_ASSERT_EQUAL(check_rows(db,
                             "SELECT * FROM stack_entries WHERE stack_id >= 900 ORDER BY "
                             "stack_id, depth",
                             two, 2),
                  5);
  /* a rolled-back append leaves the stack as it was, and the next one works */
  tb_exec(db, "BEGIN; INSERT INTO stack_entries VALUES(900, 3, 12); ROLLBACK");
  tb_exec(db, "INSERT INTO stack_entries VALUES(900, 3, 13)");
  w->f[3] = 13;
  w->n = 4;
  CU_ASSERT_EQUAL(check_rows(db,
                             "SELECT * FROM stack_entries WHERE stack_id >= 900 ORDER BY "
                             "stack_id, depth",
                             two, 2),
                  6);
  sqlite3_close(db);
}

/* Rows read by sql before it ends; *rc its last step's code. */
static int64_t rows_until_end(sqlite3 *db, const char *sql, int *rc) {
  sqlite3_stmt *st;
  int64_t n = 0;
  *rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (*rc != SQLITE_OK) return -1;
  while ((*rc = sqlite3_step(st)) == SQLITE_ROW && n < 1000000) n++;
  sqlite3_finalize(st);
  return n;
}

static void test_damage_stops(void) {
  sqlite3 *db = build("damage.db");
  CU_ASSERT_PTR_NOT_NULL_FATAL(db);
  int64_t root = one_int(db, "SELECT id FROM stack_nodes WHERE parent IS NULL");
  int64_t leaf = one_int(db, "SELECT node FROM stacks WHERE id = 5");
  char sql[200];
  const char *q[] = {"SELECT * FROM stack_entries WHERE stack_id = 5",
                     "SELECT * FROM stack_entries ORDER BY stack_id, depth"};
  /* a loop: the root's parent is a leaf under it */
  snprintf(sql, sizeof sql, "UPDATE stack_nodes SET parent = %lld WHERE id = %lld", (long long)leaf,
           (long long)root);
  tb_exec(db, sql);
  for (int i = 0; i < 2; i++) {
    int rc;
    int64_t n = rows_until_end(db, q[i], &rc);
    CU_ASSERT(n >= 22 && n < 200); /* the loop is met within twice its length */
    CU_ASSERT_EQUAL(rc, SQLITE_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(sqlite3_errmsg(db), "loop"));
  }
  /* a node its own parent */
  snprintf(sql, sizeof sql, "UPDATE stack_nodes SET parent = id WHERE id = %lld", (long long)root);
  tb_exec(db, sql);
  int rc;
  int64_t n = rows_until_end(db, q[0], &rc);
  CU_ASSERT(n >= 22 && n < 100);
  CU_ASSERT_EQUAL(rc, SQLITE_ERROR);
  /* a parent that is no node */
  snprintf(sql, sizeof sql, "UPDATE stack_nodes SET parent = 99999999 WHERE id = %lld",
           (long long)root);
  tb_exec(db, sql);
  for (int i = 0; i < 2; i++) {
    n = rows_until_end(db, q[i], &rc);
    CU_ASSERT_EQUAL(n, 22);
    CU_ASSERT_EQUAL(rc, SQLITE_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(sqlite3_errmsg(db), i ? "stack 1: node 99999999 is not"
                                                        : "stack 5: node 99999999 is not"));
  }
  /* a stack whose node is gone */
  tb_exec(db, "UPDATE stacks SET node = -4 WHERE id = 3");
  CU_ASSERT_EQUAL(rows_until_end(db, "SELECT * FROM stack_entries WHERE stack_id = 3", &rc), 0);
  CU_ASSERT_EQUAL(rc, SQLITE_ERROR);
  sqlite3_close(db);
}

int main(void) {
  dir = lrt_tmpdir("stacks");
  if (!dir || CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("stacks", NULL, NULL);
  CU_add_test(s, "trie: shared callers kept once, nodes as counted", test_trie_counts);
  CU_add_test(s, "stack_entries: every row back, by id, IN, range, scan", test_entries_back);
  CU_add_test(s, "stack_entries: INSERT appends, shared nodes untouched", test_insert_appends);
  CU_add_test(s, "stack_entries: a looping or dangling chain is an error", test_damage_stops);
  return lrt_main();
}
