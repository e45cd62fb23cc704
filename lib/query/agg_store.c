/*
** agg_store.c: what the aggregate pass (agg.c) reads besides the rows (the
** RSS samples it fills in) and writes when it is done (the agg_* tables).
*/
#include "query/agg_pass.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- RSS samples: rss_samples.allocated, for the importer's process ---- */

int lr_aggp_load_samples(Pass *p) {
  sqlite3_stmt *st;
  int has = 0;
  if (p->proc <= 0) return 0;
  if (sqlite3_prepare_v2(p->db, "SELECT count(*) FROM pragma_table_info('rss_samples', 'main') "
                         "WHERE name = 'allocated'", -1, &st, NULL) != SQLITE_OK)
    return lr_aggp_dberr(p, "rss_samples");
  if (sqlite3_step(st) == SQLITE_ROW) has = sqlite3_column_int(st, 0) > 0;
  sqlite3_finalize(st);
  if (!has) return 0; /* a file from before the column */
  if (sqlite3_prepare_v2(p->db, "SELECT rowid, seq FROM main.rss_samples WHERE process_id = ?1 "
                         "ORDER BY seq, rowid", -1, &st, NULL) != SQLITE_OK)
    return lr_aggp_dberr(p, "rss_samples");
  sqlite3_bind_int64(st, 1, p->proc);
  size_t cap = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (lr_aggp_grow((void **)&p->smp, &cap, p->nsmp + 1, sizeof(Sample))) {
      sqlite3_finalize(st);
      return lr_aggp_oom(p);
    }
    p->smp[p->nsmp++] = (Sample){sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), 0};
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : lr_aggp_dberr(p, "rss_samples");
}

/* Invariant 4: every sample before `seq` (INT64_MAX: all) takes live now. */
void lr_aggp_samples_upto(Pass *p, int64_t seq) {
  int64_t v = wadd(wadd(p->live[R_HEAP], p->live[R_ANON]), p->live[R_FILE]);
  while (p->ismp < p->nsmp && p->smp[p->ismp].seq < seq) p->smp[p->ismp++].allocated = v;
}

int lr_aggp_store_samples(Pass *p) {
  sqlite3_stmt *st;
  if (!p->nsmp) return 0;
  assert(p->ismp == p->nsmp);
  if (sqlite3_prepare_v2(p->db, "UPDATE main.rss_samples SET allocated = ?1 WHERE rowid = ?2",
                         -1, &st, NULL) != SQLITE_OK)
    return lr_aggp_dberr(p, "rss_samples");
  for (size_t i = 0; i < p->nsmp; i++) {
    sqlite3_bind_int64(st, 1, p->smp[i].allocated);
    sqlite3_bind_int64(st, 2, p->smp[i].rowid);
    if (lr_aggp_step_done(p, st, "rss_samples")) {
      sqlite3_finalize(st);
      return -1;
    }
  }
  sqlite3_finalize(st);
  return 0;
}

/* ---- kinds ---- */

static const char *const region_names[] = {"heap", "anon", "file", "reserved"};

/* Counts one row; a kind past MAX_KINDS distinct (a damaged trace) or
** longer than a name goes under "?". */
void lr_aggp_kind_note(Pass *p, const char *kind, int region, int64_t size) {
  if (!kind || strlen(kind) >= sizeof p->kinds[0].kind) kind = "?";
  KindStat *k = NULL;
  for (size_t i = 0; i < p->nkinds && !k; i++)
    if (p->kinds[i].region == region && !strcmp(p->kinds[i].kind, kind)) k = &p->kinds[i];
  if (!k && p->nkinds < MAX_KINDS) {
    k = &p->kinds[p->nkinds++];
    snprintf(k->kind, sizeof k->kind, "%s", kind);
    k->region = region;
  }
  if (!k) return lr_aggp_kind_note(p, "?", region, size);
  k->calls++;
  k->bytes = wadd(k->bytes, size);
}

/* The importer's (proc > 0) into main, process_id leading (agg.h). */
int lr_aggp_store_kinds(Pass *p) {
  sqlite3_stmt *st;
  char sql[256];
  if (p->proc > 0)
    snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO main.agg_kinds VALUES(%lld, ?1, ?2, ?3, ?4)",
             (long long)p->proc);
  else
    snprintf(sql, sizeof sql, "INSERT INTO %s.agg_kinds VALUES(?1, ?2, ?3, ?4)", p->schema);
  if (sqlite3_prepare_v2(p->db, sql, -1, &st, NULL) != SQLITE_OK) return lr_aggp_dberr(p, "kinds");
  for (size_t i = 0; i < p->nkinds; i++) {
    sqlite3_bind_text(st, 1, p->kinds[i].kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, region_names[p->kinds[i].region & 3], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, p->kinds[i].calls);
    sqlite3_bind_int64(st, 4, p->kinds[i].bytes);
    if (lr_aggp_step_done(p, st, "kinds")) {
      sqlite3_finalize(st);
      return -1;
    }
  }
  sqlite3_finalize(st);
  return 0;
}

/* ---- storing ---- */

int lr_aggp_exec(Pass *p, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(p->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    lr_err_set(p->err, "%s: building aggregates: %s", p->path, msg ? msg : "?");
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

int lr_aggp_create_tables(Pass *p) {
  static const char *const names[] = {"agg_info", "agg_checkpoints", "agg_timeline",
                                      "agg_phases", "agg_stacks", "agg_largest", "agg_maps",
                                      "agg_kinds"};
  char sql[4096];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s.%s", p->schema, names[i]);
    if (lr_aggp_exec(p, sql)) return -1;
  }
  const char *s = p->schema;
  snprintf(sql, sizeof sql,
           "CREATE TABLE %s.agg_info(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
           "CREATE TABLE %s.agg_checkpoints(seq INTEGER PRIMARY KEY, ns INTEGER, heap INTEGER,"
           " anon INTEGER, file INTEGER);"
           "CREATE TABLE %s.agg_timeline(bucket INTEGER PRIMARY KEY, ns_start INTEGER,"
           " ns_end INTEGER, start_seq INTEGER, end_seq INTEGER, max_live INTEGER,"
           " max_seq INTEGER, max_ns INTEGER, heap INTEGER, anon INTEGER, file INTEGER);"
           "CREATE TABLE %s.agg_phases(id INTEGER PRIMARY KEY, name TEXT, nth INTEGER,"
           " marker_id INTEGER, start_seq INTEGER, start_ns INTEGER, end_seq INTEGER,"
           " end_ns INTEGER, start_live INTEGER, end_live INTEGER, peak_live INTEGER,"
           " peak_seq INTEGER, peak_ns INTEGER);"
           "CREATE TABLE %s.agg_stacks(stack_id INTEGER PRIMARY KEY, calls INTEGER,"
           " bytes INTEGER, max_size INTEGER, temp_calls INTEGER, temp_bytes INTEGER,"
           " leak_calls INTEGER, leak_bytes INTEGER);"
           "CREATE TABLE %s.agg_largest(id INTEGER PRIMARY KEY, size INTEGER);"
           "CREATE TABLE %s.agg_maps(id INTEGER PRIMARY KEY, file TEXT, size INTEGER,"
           " file_offset INTEGER, alloc_seq INTEGER, alloc_ns INTEGER, free_seq INTEGER,"
           " free_ns INTEGER);"
           "INSERT INTO %s.agg_checkpoints VALUES(-1, 0, 0, 0, 0);",
           s, s, s, s, s, s, s, s);
  if (lr_aggp_exec(p, sql)) return -1;
  /* the importer's go into main.agg_kinds (build) */
  snprintf(sql, sizeof sql, "CREATE TABLE %s.agg_kinds(kind TEXT, region TEXT, calls INTEGER,"
           " bytes INTEGER, PRIMARY KEY(kind, region)) WITHOUT ROWID", s);
  return p->proc > 0 ? 0 : lr_aggp_exec(p, sql);
}

int lr_aggp_prep(Pass *p, sqlite3_stmt **st, const char *fmt) {
  char sql[512];
  snprintf(sql, sizeof sql, fmt, p->schema);
  if (sqlite3_prepare_v2(p->db, sql, -1, st, NULL) != SQLITE_OK) return lr_aggp_dberr(p, "prepare");
  return 0;
}

int lr_aggp_step_done(Pass *p, sqlite3_stmt *st, const char *what) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : lr_aggp_dberr(p, what);
}

int lr_aggp_store_main(Pass *p) {
  sqlite3_stmt *st = NULL;
  int ret = -1;
  if (lr_aggp_prep(p, &st, "INSERT INTO %s.agg_info VALUES(?1, ?2)")) return -1;
  const struct { const char *k; int64_t v; } info[] = {
    {"version", LR_AGG_VERSION}, {"peak", p->peak}, {"peak_seq", p->peak_seq},
    {"peak_ns", p->peak_ns}, {"peak_heap", p->peak_heap}, {"peak_anon", p->peak_anon},
    {"peak_file", p->peak_file}, {"peak_reserved", p->peak_reserved},
    {"reserved_peak", p->reserved_peak}, {"heap_peak", p->heap_peak},
    {"heap_peak_seq", p->heap_peak_seq}, {"file_peak", p->file_peak},
    {"file_peak_seq", p->file_peak_seq}, {"first_seq", p->first_seq},
    {"last_seq", p->last_seq}, {"last_ns", p->last_ns}, {"groups", p->groups},
    {"allocs", p->nalloc}, {"frees", p->nfree}, {"end_heap", p->live[R_HEAP]},
    {"end_anon", p->live[R_ANON]}, {"end_file", p->live[R_FILE]},
    {"checkpoint_every", LR_AGG_CHECKPOINT}, {"bucket_ns", p->bucket_w},
  };
  for (size_t i = 0; i < sizeof info / sizeof info[0]; i++) {
    sqlite3_bind_text(st, 1, info[i].k, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, info[i].v);
    if (lr_aggp_step_done(p, st, "info")) goto out;
  }
  sqlite3_finalize(st);
  st = NULL;
  /* the final state is a checkpoint too, so live-at lookups past the last
     periodic one stay short */
  sqlite3_bind_int64(p->ins_ckpt, 1, p->groups ? p->last_seq : 0);
  sqlite3_bind_int64(p->ins_ckpt, 2, p->last_ns);
  sqlite3_bind_int64(p->ins_ckpt, 3, p->live[R_HEAP]);
  sqlite3_bind_int64(p->ins_ckpt, 4, p->live[R_ANON]);
  sqlite3_bind_int64(p->ins_ckpt, 5, p->live[R_FILE]);
  if (p->groups && lr_aggp_step_done(p, p->ins_ckpt, "checkpoints")) goto out;

  if (lr_aggp_prep(p, &st, "INSERT INTO %s.agg_timeline VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)"))
    goto out;
  for (int64_t i = 0; i < LR_AGG_BUCKETS; i++) {
    Bucket *b = &p->buckets[i];
    if (!b->used) continue;
    int64_t v[] = {i, p->bucket_ns0 + i * p->bucket_w, p->bucket_ns0 + (i + 1) * p->bucket_w,
                   b->start_seq, b->end_seq, b->max_live, b->max_seq, b->max_ns,
                   b->heap, b->anon, b->file};
    for (int k = 0; k < 11; k++) sqlite3_bind_int64(st, k + 1, v[k]);
    if (lr_aggp_step_done(p, st, "timeline")) goto out;
  }
  sqlite3_finalize(st);
  st = NULL;

  if (lr_aggp_prep(p, &st, "INSERT INTO %s.agg_phases VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)"))
    goto out;
  /* phase 0 is kept only if markers exist and events came before them */
  int64_t pid = 0;
  for (size_t i = p->nph > 1 && p->ph[0].start_seq >= 0 ? 0 : 1; i < p->nph; i++) {
    Phase *ph = &p->ph[i];
    if (i + 1 < p->nph) {
      ph->end_seq = p->ph[i + 1].start_seq - 1;
    } else if (p->last_seq > ph->end_seq) {
      ph->end_seq = p->last_seq;
    }
    sqlite3_bind_int64(st, 1, ++pid);
    sqlite3_bind_text(st, 2, ph->name, -1, SQLITE_STATIC);
    int64_t v[] = {ph->nth, ph->marker_id, ph->start_seq, ph->start_ns, ph->end_seq,
                   ph->end_ns, ph->start_live, ph->end_live, ph->peak_live, ph->peak_seq,
                   ph->peak_ns};
    for (int k = 0; k < 11; k++) sqlite3_bind_int64(st, k + 3, v[k]);
    if (lr_aggp_step_done(p, st, "phases")) goto out;
  }
  sqlite3_finalize(st);
  st = NULL;

  if (lr_aggp_prep(p, &st, "INSERT INTO %s.agg_stacks VALUES(?1,?2,?3,?4,?5,?6,?7,?8)")) goto out;
  for (size_t i = 0; i < p->capstk; i++) {
    StackStat *s = &p->stk[i];
    if (s->id == INT64_MIN) continue;
    int64_t v[] = {s->id, s->calls, s->bytes, s->max_size, s->temp_calls, s->temp_bytes,
                   s->leak_calls, s->leak_bytes};
    for (int k = 0; k < 8; k++) sqlite3_bind_int64(st, k + 1, v[k]);
    if (lr_aggp_step_done(p, st, "stacks")) goto out;
  }
  sqlite3_finalize(st);
  st = NULL;

  if (lr_aggp_prep(p, &st, "INSERT INTO %s.agg_largest VALUES(?1,?2)")) goto out;
  for (size_t i = 0; i < p->nbig; i++) {
    sqlite3_bind_int64(st, 1, p->big[i].id);
    sqlite3_bind_int64(st, 2, p->big[i].size);
    if (lr_aggp_step_done(p, st, "largest")) goto out;
  }
  ret = 0;
out:
  sqlite3_finalize(st);
  return ret;
}
