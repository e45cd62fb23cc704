/*
** agglive.c: see agglive.h.
**
** Invariants:
**   1. A level with a run file has all its rows so far in that file, in the
**      order they came (which is key order); a level without one (tmpfile
**      failed) has sent its rows to the batch.
**   2. The batch holds fewer than LIVE_BATCH rows between calls.
**   3. In a run file, each row is coded against the level's previous row
**      (prev_seq, prev_id), starting from 0, 0; decoding repeats it.
*/
#include "query/agglive.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/agg.h"

enum { LIVE_BATCH = 128, RUN_BUF = 64 * 1024 };

typedef struct Row {
  int64_t lvl, alloc_seq, id, size, stack_id, free_seq; /* free_seq < 0: NULL */
} Row;

typedef struct Run {
  FILE *f;
  int direct; /* tmpfile() failed: rows go to the batch */
  uint64_t n;
  int64_t prev_seq, prev_id;
} Run;

struct LrAggLive {
  sqlite3 *db;
  const char *path;
  LrErr *err;
  sqlite3_stmt *one, *many;
  Row batch[LIVE_BATCH];
  size_t nbatch;
  Run run[LR_AGG_LEVELS];
};

static int dberr(LrAggLive *w) {
  return lr_err_set(w->err, "%s: building aggregates (live index): %s", w->path,
                    sqlite3_errmsg(w->db));
}

LrAggLive *lr_agglive_new(sqlite3 *db, const char *schema, int64_t proc, const char *path,
                          LrErr *err) {
  LrAggLive *w = calloc(1, sizeof *w);
  if (!w) {
    lr_err_set(err, "%s: building aggregates: out of memory", path);
    return NULL;
  }
  w->db = db;
  w->path = path;
  w->err = err;
  char sql[160 + LIVE_BATCH * 40], row[48], head[160];
  if (proc > 0) {
    snprintf(head, sizeof head, "INSERT INTO main.agg_live(process_id, lvl, alloc_seq, id, "
                                "size, stack_id, free_seq) VALUES");
    snprintf(row, sizeof row, "(%lld,?,?,?,?,?,?)", (long long)proc);
  } else {
    snprintf(head, sizeof head, "INSERT INTO %s.agg_live VALUES", schema);
    snprintf(row, sizeof row, "(?,?,?,?,?,?)");
  }
  snprintf(sql, sizeof sql, "%s%s", head, row);
  if (sqlite3_prepare_v2(db, sql, -1, &w->one, NULL) != SQLITE_OK) goto fail;
  int n = snprintf(sql, sizeof sql, "%s", head);
  for (int i = 0; i < LIVE_BATCH && n > 0 && (size_t)n < sizeof sql; i++)
    n += snprintf(sql + n, sizeof sql - (size_t)n, "%s%s", i ? "," : "", row);
  if (sqlite3_prepare_v2(db, sql, -1, &w->many, NULL) != SQLITE_OK) goto fail;
  return w;
fail:
  dberr(w);
  lr_agglive_free(w);
  return NULL;
}

void lr_agglive_free(LrAggLive *w) {
  if (!w) return;
  sqlite3_finalize(w->one);
  sqlite3_finalize(w->many);
  for (int l = 0; l < LR_AGG_LEVELS; l++)
    if (w->run[l].f) fclose(w->run[l].f);
  free(w);
}

/* ---- the batch: rows into SQLite ---- */

static void bind_row(sqlite3_stmt *st, int base, const Row *r) {
  int64_t v[] = {r->lvl, r->alloc_seq, r->id, r->size, r->stack_id};
  for (int k = 0; k < 5; k++) sqlite3_bind_int64(st, base + k + 1, v[k]);
  if (r->free_seq >= 0) sqlite3_bind_int64(st, base + 6, r->free_seq);
  else sqlite3_bind_null(st, base + 6);
}

/* A full batch in one step; a partial one (only when finishing) row by row. */
static int flush_batch(LrAggLive *w) {
  int rc = SQLITE_DONE;
  if (w->nbatch == LIVE_BATCH) {
    for (size_t i = 0; i < LIVE_BATCH; i++) bind_row(w->many, 6 * (int)i, &w->batch[i]);
    rc = sqlite3_step(w->many);
    sqlite3_reset(w->many);
  } else {
    for (size_t i = 0; i < w->nbatch && rc == SQLITE_DONE; i++) {
      bind_row(w->one, 0, &w->batch[i]);
      rc = sqlite3_step(w->one);
      sqlite3_reset(w->one);
    }
  }
  w->nbatch = 0;
  return rc == SQLITE_DONE ? 0 : dberr(w);
}

static int to_batch(LrAggLive *w, const Row *r) {
  w->batch[w->nbatch++] = *r;
  return w->nbatch == LIVE_BATCH ? flush_batch(w) : 0;
}

/* ---- run files: zigzag varints of deltas ---- */

/* Deltas are taken in uint64_t: seqs and sizes come from a spool and may be
** anything, and wrapping arithmetic round-trips exactly without overflow. */
static uint64_t zz(uint64_t d) { return (d << 1) ^ (0 - (d >> 63)); }
static uint64_t unzz(uint64_t z) { return (z >> 1) ^ (0 - (z & 1)); }

static void put_uv(FILE *f, uint64_t v) {
  while (v >= 0x80) {
    putc_unlocked((int)(v & 0x7f) | 0x80, f);
    v >>= 7;
  }
  putc_unlocked((int)v, f);
}

static int get_uv(FILE *f, uint64_t *v) {
  uint64_t x = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    int c = getc_unlocked(f);
    if (c == EOF) return -1;
    x |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      *v = x;
      return 0;
    }
  }
  return -1;
}

int lr_agglive_add(LrAggLive *w, int lvl, int64_t alloc_seq, int64_t id, int64_t size,
                   int64_t stack_id, int64_t free_seq) {
  Row r = {lvl, alloc_seq, id, size, stack_id, free_seq};
  if (lvl < 0 || lvl >= LR_AGG_LEVELS) return to_batch(w, &r);
  Run *run = &w->run[lvl];
  if (!run->f && !run->direct) {
    run->f = tmpfile();
    if (run->f) setvbuf(run->f, NULL, _IOFBF, RUN_BUF);
    else run->direct = 1;
  }
  if (run->direct) return to_batch(w, &r);
  FILE *f = run->f;
  put_uv(f, zz((uint64_t)alloc_seq - (uint64_t)run->prev_seq));
  put_uv(f, zz((uint64_t)id - (uint64_t)run->prev_id));
  put_uv(f, zz((uint64_t)size));
  put_uv(f, zz((uint64_t)stack_id));
  /* 0: never freed; else 1 + the lifetime (free_seq - alloc_seq, zigzag:
     a damaged trace may free before it allocates) */
  if (free_seq < 0) {
    put_uv(f, 0);
  } else {
    putc_unlocked(1, f);
    put_uv(f, zz((uint64_t)free_seq - (uint64_t)alloc_seq));
  }
  run->prev_seq = alloc_seq;
  run->prev_id = id;
  run->n++;
  return 0;
}

/* Appends one level's run to the table, in key order (invariant 3). */
static int drain(LrAggLive *w, int lvl) {
  Run *run = &w->run[lvl];
  FILE *f = run->f;
  if (fflush(f) != 0 || ferror(f))
    return lr_err_set(w->err, "%s: building aggregates: temporary file: %s", w->path,
                      strerror(errno ? errno : EIO));
  rewind(f);
  uint64_t seq = 0, id = 0;
  for (uint64_t i = 0; i < run->n; i++) {
    uint64_t d[4], freed, life = 0;
    int bad = 0;
    for (int k = 0; k < 4; k++) bad |= get_uv(f, &d[k]);
    bad |= get_uv(f, &freed);
    if (!bad && freed) bad = get_uv(f, &life);
    if (bad)
      return lr_err_set(w->err, "%s: building aggregates: temporary file cut short", w->path);
    seq += unzz(d[0]);
    id += unzz(d[1]);
    Row r = {lvl, (int64_t)seq, (int64_t)id, (int64_t)unzz(d[2]), (int64_t)unzz(d[3]),
             freed ? (int64_t)(seq + unzz(life)) : -1};
    if (to_batch(w, &r)) return -1;
  }
  fclose(f);
  run->f = NULL;
  return 0;
}

int lr_agglive_finish(LrAggLive *w) {
  /* rows that went straight to the batch first, then each level in order;
     the batch is flushed between levels so a level's rows stay together */
  if (flush_batch(w)) return -1;
  for (int l = 0; l < LR_AGG_LEVELS; l++) {
    if (!w->run[l].f) continue;
    if (drain(w, l) || flush_batch(w)) return -1;
  }
  return 0;
}
