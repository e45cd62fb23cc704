/*
** test_store.c: the block store of v3 traces (lib/store/). Every number is
** known by construction:
**   - the codec gives back every value, NULL and string of random rows
**     (any int64, strings with NUL bytes), and a block cut short or with a
**     byte changed is refused or decoded in bounds, never read past;
**   - the importer's writer puts rows in blocks by lifetime level, and the
**     `allocations` table answers live_at, seq ranges, id, stack, region
**     and IS NULL exactly as the rows computed here say, reading only the
**     blocks that can match;
**   - INSERT, UPDATE and DELETE through the table behave as on a plain
**     table (ids kept, a duplicate id refused, changes seen at once).
*/
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrtest.h"
#include "store/allocvt.h"
#include "store/blockcodec.h"
#include "store/blockstore.h"
#include "tbuild.h"

static char *dir;

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

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

/* ---- the codec ---- */

static const int64_t extremes[] = {
    0, 1, -1, INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1, 4096, -4096, (int64_t)1 << 40};

static void random_rows(LrBcRow *rows, int n, char strs[][8]) {
  for (int i = 0; i < n; i++) {
    LrBcRow *r = &rows[i];
    memset(r, 0, sizeof *r);
    for (int c = 0; c < LR_BC_NCOLS; c++) {
      uint64_t x = next_rand();
      if (x % 5 == 0) {
        r->nulls |= 1u << c;
        continue;
      }
      if (lr_bc_is_text(c)) {
        int k = (int)(x >> 8) % 6;
        r->s[c] = strs[k];
        r->len[c] = (uint32_t)(k == 5 ? 7 : strlen(strs[k])); /* the last holds NUL bytes */
      } else if (x % 7 == 0) {
        r->v[c] = extremes[(x >> 8) % (sizeof extremes / sizeof extremes[0])];
      } else if (x % 3 == 0) {
        /* the previous value + 2, wrapping (as int64 arithmetic may not) */
        r->v[c] = i > 0 && !(rows[i - 1].nulls & (1u << c))
                      ? (int64_t)((uint64_t)rows[i - 1].v[c] + 2)
                      : 7;
      } else {
        r->v[c] = (int64_t)(next_rand() >> (x % 64));
      }
    }
  }
}

static int same_row(const LrBcRow *a, const LrBcRow *b) {
  if (a->nulls != b->nulls) return 0;
  for (int c = 0; c < LR_BC_NCOLS; c++) {
    if (a->nulls & (1u << c)) continue;
    if (lr_bc_is_text(c)) {
      if (a->len[c] != b->len[c] || memcmp(a->s[c], b->s[c], a->len[c])) return 0;
    } else if (a->v[c] != b->v[c]) {
      return 0;
    }
  }
  return 1;
}

static void test_codec_round_trip(void) {
  static char strs[6][8] = {"malloc", "heap", "", "free", "/m.bin", {'a', 0, 'b', 0, 'c', 0, 'd'}};
  static LrBcRow rows[LR_BC_MAX_ROWS];
  LrBcEnc *e = lr_bc_enc_new();
  LrBcCols cols;
  memset(&cols, 0, sizeof cols);
  static const int sizes[] = {1, 2, 7, 100, 1023, LR_BC_MAX_ROWS};
  int bad = 0, oom = 0;
  for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
    int n = sizes[t];
    random_rows(rows, n, strs);
    size_t len;
    const uint8_t *b = lr_bc_encode(e, rows, n, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    uint8_t *copy = malloc(len);
    memcpy(copy, b, len);
    CU_ASSERT_EQUAL_FATAL(lr_bc_decode(copy, len, (1u << LR_BC_NCOLS) - 1, &cols, &oom), 0);
    CU_ASSERT_EQUAL(cols.n, n);
    for (int i = 0; i < n; i++) {
      LrBcRow got;
      lr_bc_row(&cols, i, &got);
      if (!same_row(&rows[i], &got) && bad++ < 3)
        for (int c = 0; c < LR_BC_NCOLS; c++)
          if (!(rows[i].nulls & (1u << c)) &&
              (lr_bc_is_text(c)
                   ? (rows[i].len[c] != got.len[c] || memcmp(rows[i].s[c], got.s[c], got.len[c]))
                   : rows[i].v[c] != got.v[c]))
            fprintf(stderr, "n %d row %d col %d: %lld/%u vs %lld/%u\n", n, i, c,
                    (long long)rows[i].v[c], rows[i].len[c], (long long)got.v[c], got.len[c]);
    }
    /* one column alone: the same values, the others not decoded */
    CU_ASSERT_EQUAL_FATAL(lr_bc_decode(copy, len, 1u << LR_BC_SIZE, &cols, &oom), 0);
    CU_ASSERT_EQUAL(cols.have, 1u << LR_BC_SIZE);
    for (int i = 0; i < n; i++)
      bad += (int)cols.null[LR_BC_SIZE][i] != !!(rows[i].nulls & (1u << LR_BC_SIZE)) ||
             (!cols.null[LR_BC_SIZE][i] && cols.v[LR_BC_SIZE][i] != rows[i].v[LR_BC_SIZE]);
    /* cut short anywhere: refused */
    int accepted = 0;
    for (size_t cut = 0; cut < len; cut++)
      accepted += lr_bc_decode(copy, cut, ~0u, &cols, &oom) == 0;
    CU_ASSERT_EQUAL(accepted, 0);
    /* one byte changed: refused or decoded, in bounds (ASan watches) */
    for (int k = 0; k < 2000; k++) {
      uint8_t *dam = malloc(len);
      memcpy(dam, copy, len);
      dam[next_rand() % len] ^= (uint8_t)(1 + next_rand() % 255);
      if (lr_bc_decode(dam, len, ~0u, &cols, &oom) == 0)
        CU_ASSERT(cols.n >= 1 && cols.n <= n + 1024);
      free(dam);
    }
    free(copy);
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(oom, 0);
  lr_bc_cols_free(&cols);
  lr_bc_enc_free(e);
}

/* Malloc churn compresses: 1024 rows of the same size, stack and thread,
** each living 1 seq, take under 4 bytes a row. */
static void test_codec_churn_is_small(void) {
  static LrBcRow rows[LR_BC_MAX_ROWS];
  for (int i = 0; i < LR_BC_MAX_ROWS; i++) {
    LrBcRow *r = &rows[i];
    memset(r, 0, sizeof *r);
    r->v[LR_BC_ID] = i + 1;
    r->s[LR_BC_KIND] = "malloc";
    r->len[LR_BC_KIND] = 6;
    r->s[LR_BC_REGION] = "heap";
    r->len[LR_BC_REGION] = 4;
    r->s[LR_BC_FREE_KIND] = "free";
    r->len[LR_BC_FREE_KIND] = 4;
    r->v[LR_BC_ADDRESS] = 0x5555000 + 32 * (i % 2);
    r->v[LR_BC_SIZE] = 100;
    r->v[LR_BC_ALLOC_SEQ] = 2 * i + 1;
    r->v[LR_BC_FREE_SEQ] = 2 * i + 2;
    r->v[LR_BC_ALLOC_NS] = 1000 * i;
    r->v[LR_BC_FREE_NS] = 1000 * i + 40;
    r->v[LR_BC_THREAD] = 77;
    r->v[LR_BC_STACK] = 3;
    r->nulls = 1u << LR_BC_ALIGN | 1u << LR_BC_PROT | 1u << LR_BC_FLAGS | 1u << LR_BC_FILE |
               1u << LR_BC_FILE_OFFSET;
  }
  LrBcEnc *e = lr_bc_enc_new();
  size_t len = 0, plen = 0, ulen = 0, cap = 0;
  const uint8_t *b = lr_bc_encode(e, rows, LR_BC_MAX_ROWS, &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  uint8_t *raw = malloc(len), *un = NULL;
  memcpy(raw, b, len);
  const uint8_t *pk = lr_bc_pack(e, raw, len, &plen);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pk);
  printf("\n    1024 churn rows: %zu bytes, %zu deflated", len, plen);
  CU_ASSERT(len > 0 && len < 4 * LR_BC_MAX_ROWS);
  CU_ASSERT(plen > 0 && plen < LR_BC_MAX_ROWS / 2); /* under half a byte a row */
  /* unpacked: the same bytes; damaged: refused or the right length, in bounds */
  int oom = 0;
  CU_ASSERT_EQUAL(lr_bc_unpack(pk, plen, &un, &cap, &ulen, &oom), 0);
  CU_ASSERT(ulen == len && un && !memcmp(un, raw, len));
  uint8_t *dam = malloc(plen);
  int accepted = 0;
  for (size_t cut = 0; cut < plen; cut++)
    accepted += lr_bc_unpack(pk, cut, &un, &cap, &ulen, &oom) == 0;
  CU_ASSERT_EQUAL(accepted, 0);
  for (int k = 0; k < 3000; k++) {
    memcpy(dam, pk, plen);
    dam[next_rand() % plen] ^= (uint8_t)(1 + next_rand() % 255);
    if (lr_bc_unpack(dam, plen, &un, &cap, &ulen, &oom) == 0) CU_ASSERT(ulen <= ((size_t)64 << 20));
  }
  /* a raw block stored as such: byte 0, then the block */
  uint8_t small[] = {0, 1, 2, 3};
  CU_ASSERT_EQUAL(lr_bc_unpack(small, sizeof small, &un, &cap, &ulen, &oom), 0);
  CU_ASSERT(ulen == 3 && un[0] == 1 && un[2] == 3);
  CU_ASSERT_EQUAL(oom, 0);
  free(dam);
  free(raw);
  free(un);
  lr_bc_enc_free(e);
}

/* ---- the table ---- */

typedef struct Life {
  int64_t id, size, aseq, fseq; /* fseq < 0: never freed */
  int64_t stack;
  int anon;
} Life;

enum { NLIFE = 6000 };
static Life life[NLIFE];

/* Lifetimes of every level: most short, some long, some never freed. */
static void make_lives(void) {
  int64_t seq = 1;
  for (int i = 0; i < NLIFE; i++) {
    Life *l = &life[i];
    l->id = i + 1;
    l->aseq = seq;
    seq += 1 + (int64_t)(next_rand() % 3);
    uint64_t x = next_rand() % 100;
    int64_t span = x < 60 ? 3 : x < 80 ? 200 : x < 90 ? 5000 : x < 95 ? 300000 : -1;
    l->fseq = span < 0 ? -1 : l->aseq + 1 + (int64_t)(next_rand() % (uint64_t)span);
    l->size = 16 + (int64_t)(next_rand() % 5000);
    l->stack = 1 + (int64_t)(next_rand() % 9);
    l->anon = next_rand() % 10 == 0;
  }
}

static int64_t want_live(int64_t s, int64_t *bytes) {
  int64_t n = 0, b = 0;
  for (int i = 0; i < NLIFE; i++)
    if (life[i].aseq <= s && (life[i].fseq < 0 || life[i].fseq > s)) {
      n++;
      b += life[i].size;
    }
  *bytes = b;
  return n;
}

/* The importer's path: rows through the buffering writer, as rows.c does. */
static sqlite3 *store_db(const char *name) {
  char path[600];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  sqlite3 *db = tb_create(path);
  if (!db) return NULL;
  int oom = 0;
  LrBsWriter *w = lr_bs_writer_new(db, "main", 1, &oom);
  CU_ASSERT_PTR_NOT_NULL_FATAL(w);
  /* in the order lifetimes end, as the merge hands them over */
  int *order = malloc(sizeof *order * NLIFE);
  for (int i = 0; i < NLIFE; i++) order[i] = i;
  for (int i = 1; i < NLIFE; i++) { /* insertion sort by end (never freed last) */
    int k = order[i], j = i - 1;
    int64_t ek = life[k].fseq < 0 ? INT64_MAX : life[k].fseq;
    while (j >= 0 && (life[order[j]].fseq < 0 ? INT64_MAX : life[order[j]].fseq) > ek) {
      order[j + 1] = order[j];
      j--;
    }
    order[j + 1] = k;
  }
  for (int i = 0; i < NLIFE; i++) {
    const Life *l = &life[order[i]];
    LrBcRow r;
    memset(&r, 0, sizeof r);
    r.v[LR_BC_ID] = l->id;
    r.s[LR_BC_KIND] = l->anon ? "mmap" : "malloc";
    r.len[LR_BC_KIND] = (uint32_t)strlen(r.s[LR_BC_KIND]);
    r.s[LR_BC_REGION] = l->anon ? "anon" : "heap";
    r.len[LR_BC_REGION] = 4;
    r.v[LR_BC_SIZE] = l->size;
    r.v[LR_BC_ALLOC_SEQ] = l->aseq;
    r.v[LR_BC_ALLOC_NS] = l->aseq * 1000;
    if (l->fseq < 0) {
      r.nulls |= 1u << LR_BC_FREE_SEQ | 1u << LR_BC_FREE_NS | 1u << LR_BC_FREE_KIND;
    } else {
      r.v[LR_BC_FREE_SEQ] = l->fseq;
      r.v[LR_BC_FREE_NS] = l->fseq * 1000;
      r.s[LR_BC_FREE_KIND] = "free";
      r.len[LR_BC_FREE_KIND] = 4;
    }
    r.v[LR_BC_THREAD] = 1;
    r.v[LR_BC_STACK] = l->stack;
    r.nulls |= 1u << LR_BC_ALIGN | 1u << LR_BC_PROT | 1u << LR_BC_FLAGS | 1u << LR_BC_FILE |
               1u << LR_BC_FILE_OFFSET;
    CU_ASSERT_EQUAL_FATAL(lr_bs_put(w, &r, &oom), 0);
  }
  CU_ASSERT_EQUAL(lr_bs_flush(w, &oom), 0);
  lr_bs_writer_free(w);
  free(order);
  return db;
}

static void test_table_answers(void) {
  make_lives();
  sqlite3 *db = store_db("store.db");
  CU_ASSERT_PTR_NOT_NULL_FATAL(db);
  char q[512];
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM allocations"), NLIFE);
  CU_ASSERT_EQUAL(one_int(db, "SELECT sum(n) FROM alloc_blocks"), NLIFE);
  /* a level per lifetime's magnitude: level 7 holds exactly the unfreed
  ** and those living 16^7 seqs or more (none here) */
  int64_t unfreed = 0;
  for (int i = 0; i < NLIFE; i++) unfreed += life[i].fseq < 0;
  CU_ASSERT_EQUAL(one_int(db, "SELECT sum(n) FROM alloc_blocks WHERE lvl = 7"), unfreed);
  CU_ASSERT_EQUAL(one_int(db, "SELECT sum(nlive) FROM alloc_blocks"), unfreed);
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM allocations WHERE free_seq IS NULL"), unfreed);
  int bad = 0;
  for (int k = 0; k < 60; k++) {
    int64_t s = (int64_t)(next_rand() % (uint64_t)(life[NLIFE - 1].aseq + 10)), bytes;
    int64_t n = want_live(s, &bytes);
    snprintf(q, sizeof q, "SELECT count(*) FROM allocations WHERE live_at = %lld", (long long)s);
    bad += one_int(db, q) != n;
    snprintf(q, sizeof q, "SELECT total(size) FROM allocations WHERE live_at = %lld", (long long)s);
    bad += one_int(db, q) != bytes;
    /* and the same through plain SQL (SQLite's own comparisons) */
    snprintf(q, sizeof q,
             "SELECT count(*) FROM allocations WHERE alloc_seq <= %lld AND "
             "(free_seq IS NULL OR free_seq > %lld)",
             (long long)s, (long long)s);
    bad += one_int(db, q) != n;
    /* ranges */
    int64_t lo = s, hi = s + 500, na = 0, nf = 0;
    for (int i = 0; i < NLIFE; i++) {
      na += life[i].aseq > lo && life[i].aseq <= hi;
      nf += life[i].fseq > lo && life[i].fseq <= hi;
    }
    snprintf(q, sizeof q,
             "SELECT count(*) FROM allocations WHERE alloc_seq > %lld AND "
             "alloc_seq <= %lld",
             (long long)lo, (long long)hi);
    bad += one_int(db, q) != na;
    snprintf(q, sizeof q,
             "SELECT count(*) FROM allocations WHERE free_seq > %lld AND "
             "free_seq <= %lld",
             (long long)lo, (long long)hi);
    bad += one_int(db, q) != nf;
    int64_t id = 1 + (int64_t)(next_rand() % NLIFE);
    snprintf(q, sizeof q, "SELECT size FROM allocations WHERE id = %lld", (long long)id);
    bad += one_int(db, q) != life[id - 1].size;
    snprintf(q, sizeof q, "SELECT alloc_seq FROM allocations WHERE rowid = %lld", (long long)id);
    bad += one_int(db, q) != life[id - 1].aseq;
  }
  CU_ASSERT_EQUAL(bad, 0);
  int64_t st3 = 0, anon = 0;
  for (int i = 0; i < NLIFE; i++) {
    st3 += life[i].stack == 3;
    anon += life[i].anon;
  }
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM allocations WHERE stack_id = 3"), st3);
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM allocations WHERE region = 'anon'"), anon);
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM allocations WHERE kind = 'mmap'"), anon);
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM allocations WHERE process_id = 2"), 0);
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM allocations WHERE size = NULL"), 0);
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM allocations WHERE alloc_seq > 1.5"), NLIFE - 1);
  /* live_at without a value reaching the table is refused, not wrong */
  sqlite3_stmt *st;
  CU_ASSERT_NOT_EQUAL(sqlite3_prepare_v2(db,
                                         "SELECT count(*) FROM allocations a, markers m "
                                         "WHERE a.live_at > m.seq",
                                         -1, &st, NULL),
                      SQLITE_OK);
  sqlite3_close(db);
}

static void test_table_writes(void) {
  char path[600];
  snprintf(path, sizeof path, "%s/writes.db", dir);
  sqlite3 *db = tb_create(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(db);
  for (int i = 0; i < 3000; i++) tb_alloc(db, "heap", 100 + i, 10 + i, i % 3 ? 20 + i : -1, 1, 1);
  tb_exec(db, "COMMIT");
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM allocations"), 3000);
  CU_ASSERT_EQUAL(one_int(db, "SELECT max(id) FROM allocations"), 3000);
  CU_ASSERT_EQUAL(one_int(db, "SELECT sum(n) FROM alloc_blocks"), 3000);
  /* an UPDATE of one row, seen at once; the others untouched */
  tb_exec(db, "UPDATE allocations SET size = 7, file = 'a' || char(0) || 'b' WHERE id = 1500");
  CU_ASSERT_EQUAL(one_int(db, "SELECT size FROM allocations WHERE id = 1500"), 7);
  CU_ASSERT_EQUAL(one_int(db, "SELECT length(CAST(file AS BLOB)) FROM allocations WHERE id = 1500"),
                  3);
  CU_ASSERT_EQUAL(one_int(db, "SELECT total(size) FROM allocations"),
                  3000 * 100 + 2999 * 3000 / 2 - (100 + 1499) + 7);
  /* an UPDATE of every row */
  tb_exec(db, "UPDATE allocations SET size = 9223372036854775807");
  CU_ASSERT_EQUAL(one_int(db, "SELECT min(size) FROM allocations"), INT64_MAX);
  /* DELETE */
  tb_exec(db, "DELETE FROM allocations WHERE alloc_seq < 1010");
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM allocations"), 2000);
  CU_ASSERT_EQUAL(one_int(db, "SELECT min(id) FROM allocations"), 1001);
  /* a duplicate id is refused; a new one is the next */
  CU_ASSERT_NOT_EQUAL(sqlite3_exec(db,
                                   "INSERT INTO allocations(id, kind, region, address, size, "
                                   "alloc_seq, alloc_ns, thread_id) VALUES(2000, 'malloc', "
                                   "'heap', 1, 1, 1, 1, 1)",
                                   NULL, NULL, NULL),
                      SQLITE_OK);
  tb_exec(db, "INSERT INTO allocations(kind, region, address, size, alloc_seq, alloc_ns, "
              "thread_id) VALUES('malloc', 'heap', 1, 1, 1, 1, 1)");
  CU_ASSERT_EQUAL(one_int(db, "SELECT max(id) FROM allocations"), 3001);
  /* a rolled-back insert leaves nothing */
  tb_exec(db, "BEGIN; INSERT INTO allocations(kind, region, address, size, alloc_seq, alloc_ns, "
              "thread_id) VALUES('malloc', 'heap', 1, 1, 1, 1, 1); ROLLBACK");
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM allocations"), 2001);
  /* a text where an integer belongs is refused with the column's name */
  CU_ASSERT_NOT_EQUAL(
      sqlite3_exec(db, "UPDATE allocations SET size = 'big' WHERE id = 1001", NULL, NULL, NULL),
      SQLITE_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(sqlite3_errmsg(db), "allocations.size"));
  sqlite3_close(db);
}

/* A v2 trace (a plain allocations table with its indexes, agg_live gone)
** reads as the v3 trace it was made from: `lowram report` prints the same
** and suggest's per-stack pass (SQL there, blocks here) agrees. */
static void test_v2_reads_the_same(void) {
  char v3[600], v2[600], o3[600], o2[600], e[600];
  snprintf(v3, sizeof v3, "%s/v3.db", dir);
  snprintf(v2, sizeof v2, "%s/v2.db", dir);
  sqlite3 *db = tb_create(v3);
  CU_ASSERT_PTR_NOT_NULL_FATAL(db);
  tb_frame(db, 1, "/bin/prog", "load", "prog.c", 10);
  tb_frame(db, 2, "/bin/prog", "main", "prog.c", 50);
  tb_stack(db, 1, 1, 2, 0);
  tb_stack(db, 2, 2, 0);
  for (int i = 0; i < 2500; i++)
    tb_alloc(db, i % 5 ? "heap" : "anon", 100 + i, 10 + 2 * i, i % 4 ? 11 + 2 * i + i % 300 : -1, 1,
             1 + i % 2);
  CU_ASSERT_EQUAL_FATAL(tb_finish(db, v3, 1), 0);
  char cmd[1400];
  snprintf(cmd, sizeof cmd, "cp '%s' '%s'", v3, v2);
  CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
  CU_ASSERT_EQUAL_FATAL(sqlite3_open(v2, &db), SQLITE_OK);
  sqlite3_stmt *st;
  char *views = NULL;
  CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(db,
                                           "SELECT group_concat(sql, ';') FROM sqlite_master "
                                           "WHERE type = 'view' AND sql LIKE '%allocations%'",
                                           -1, &st, NULL),
                        SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW) views = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  CU_ASSERT_PTR_NOT_NULL_FATAL(views);
  char *conv =
      sqlite3_mprintf("DROP VIEW live_bytes; DROP VIEW live_changes; DROP VIEW leaks;"
                      "CREATE TABLE a2 AS SELECT * FROM allocations; DROP TABLE allocations;"
                      "ALTER TABLE a2 RENAME TO allocations;" /* xDestroy dropped alloc_blocks */
                      "CREATE INDEX allocations_alloc_seq ON allocations(process_id, alloc_seq);"
                      "CREATE INDEX allocations_free_seq ON allocations(process_id, free_seq);"
                      "%s; PRAGMA user_version = 2",
                      views);
  CU_ASSERT_EQUAL(sqlite3_exec(db, conv, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_free(conv);
  sqlite3_free(views);
  sqlite3_close(db);
  snprintf(o3, sizeof o3, "%s/v3.txt", dir);
  snprintf(o2, sizeof o2, "%s/v2.txt", dir);
  snprintf(e, sizeof e, "%s/err.txt", dir);
  CU_ASSERT_EQUAL(lrt_lowram(o3, e, "report", v3, "--top", "5", NULL), 0);
  CU_ASSERT_EQUAL(lrt_lowram(o2, e, "report", v2, "--top", "5", NULL), 0);
  char *a = lrt_read_file(o3, NULL), *b = lrt_read_file(o2, NULL);
  CU_ASSERT_FATAL(a && b);
  /* the first line names the file; the rest must match */
  const char *ra = strchr(a, '\n'), *rb = strchr(b, '\n');
  CU_ASSERT(ra && rb && !strcmp(ra, rb) && strstr(ra, "Leaks") != NULL);
  free(a);
  free(b);
}

int main(void) {
  dir = lrt_tmpdir("store");
  if (!dir || CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("store", NULL, NULL);
  CU_add_test(s, "codec: random rows back exactly, damage refused", test_codec_round_trip);
  CU_add_test(s, "codec: malloc churn under 4 bytes a row, half a byte deflated",
              test_codec_churn_is_small);
  CU_add_test(s, "table: live_at, ranges, ids as computed", test_table_answers);
  CU_add_test(s, "table: INSERT, UPDATE, DELETE as a plain table", test_table_writes);
  CU_add_test(s, "a v2 trace reads as the v3 trace it came from", test_v2_reads_the_same);
  return lrt_main();
}
