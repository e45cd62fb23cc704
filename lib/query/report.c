/*
** report.c: fills the report model (report.h) from a trace's aggregate
** tables. Each section is a small query on an agg_ table or an indexed
** range of `allocations`; the only scans proportional to the trace are the
** contributor queries (one at the moment asked, one per detailed phase).
*/
#include "lowram/report.h"

#include "core/trace_internal.h"
#include "query/peak_sql.h"
#include "query/qdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Ctx {
  LrTrace *t;
  sqlite3 *db;
  const char *path;
  LrErr *err;
  LrReport *r;
} Ctx;

static int sqlfail(Ctx *c) {
  return lr_err_set(c->err, "%s: %s", c->path, sqlite3_errmsg(c->db));
}

static int prep(Ctx *c, const char *sql, sqlite3_stmt **st) {
  if (sqlite3_prepare_v2(c->db, sql, -1, st, NULL) != SQLITE_OK) return sqlfail(c);
  return 0;
}

static int64_t one_int(Ctx *c, const char *sql, int64_t dflt) {
  sqlite3_stmt *st;
  int64_t v = dflt;
  if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) return dflt;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static void one_text(Ctx *c, const char *sql, char *buf, size_t len) {
  sqlite3_stmt *st;
  buf[0] = 0;
  if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) return;
  if (sqlite3_step(st) == SQLITE_ROW) {
    const unsigned char *t = sqlite3_column_text(st, 0);
    if (t) snprintf(buf, len, "%s", (const char *)t);
  }
  sqlite3_finalize(st);
}

/* argv is stored as a JSON array of strings; people read it space-joined. */
static void argv_words(const char *json, char *out, size_t len) {
  size_t o = 0;
  int in = 0;
  if (json[0] != '[') {
    size_t n = strlen(json);
    if (n >= len) n = len - 1;
    memcpy(out, json, n);
    out[n] = 0;
    return;
  }
  for (const char *p = json + 1; *p && o + 1 < len; p++) {
    if (!in) {
      if (*p == '"') {
        in = 1;
        if (o) out[o++] = ' ';
      }
      continue;
    }
    if (*p == '"') {
      in = 0;
      continue;
    }
    if (*p == '\\' && p[1]) {
      p++;
      char ch = *p == 'n' ? ' ' : *p == 't' ? ' ' : *p;
      if (*p == 'u') {
        /* \uXXXX: kept as '?' rather than decoded */
        for (int k = 0; k < 4 && p[1]; k++) p++;
        ch = '?';
      }
      if (o + 1 < len) out[o++] = ch;
      continue;
    }
    out[o++] = *p;
  }
  if (o >= len) o = len - 1;
  out[o] = 0;
}

static void run_info(Ctx *c) {
  LrRun *u = &c->r->run;
  char buf[4096];
  one_text(c, "SELECT value FROM meta WHERE key = 'argv'", buf, sizeof buf);
  argv_words(buf, u->argv, sizeof u->argv);
  one_text(c, "SELECT value FROM meta WHERE key = 'start_time'", u->start_time,
           sizeof u->start_time);
  one_text(c, "SELECT value FROM meta WHERE key = 'end_reason'", u->end_reason,
           sizeof u->end_reason);
  u->end_code = one_int(c, "SELECT value FROM meta WHERE key = 'end_code'", -1);
  u->pid = one_int(c, "SELECT value FROM meta WHERE key = 'pid'", -1);
  u->complete = one_int(c, "SELECT value FROM meta WHERE key = 'complete'", 0) == 1;
  u->cut_short = one_int(c, "SELECT value FROM meta WHERE key = 'cut_short'", 0) == 1;
  int64_t last_ns = one_int(c, "SELECT value FROM agg_info WHERE key = 'last_ns'", 0);
  u->duration_ns = one_int(c, "SELECT value FROM meta WHERE key = 'end_ns'", last_ns);
  if (u->duration_ns < last_ns) u->duration_ns = last_ns;
  u->allocs = one_int(c, "SELECT value FROM agg_info WHERE key = 'allocs'", 0);
  u->frees = one_int(c, "SELECT value FROM agg_info WHERE key = 'frees'", 0);
  u->events = one_int(c, "SELECT value FROM meta WHERE key = 'events'", -1);
  if (u->events < 0) u->events = u->allocs + u->frees;
  u->threads = one_int(c, "SELECT count(*) FROM threads", 0);
  u->markers = one_int(c, "SELECT count(*) FROM markers", 0);
  u->samples = one_int(c, "SELECT count(*) FROM rss_samples", 0);
}

static void rss_row(sqlite3_stmt *st, LrRss *o) {
  o->found = 1;
  o->seq = sqlite3_column_int64(st, 0);
  o->ns = sqlite3_column_int64(st, 1);
  o->rss = sqlite3_column_int64(st, 2);
  o->anon = sqlite3_column_int64(st, 3);
  o->file = sqlite3_column_int64(st, 4);
  o->shmem = sqlite3_column_int64(st, 5);
}

static int rss_info(Ctx *c) {
  sqlite3_stmt *st;
  LrRss before = {0}, after = {0};
  static const char *const sql[] = {
    "SELECT seq, ns, rss, anon, file, shmem FROM rss_samples WHERE seq <= ?1 "
    "ORDER BY seq DESC LIMIT 1",
    "SELECT seq, ns, rss, anon, file, shmem FROM rss_samples WHERE seq > ?1 "
    "ORDER BY seq LIMIT 1"};
  for (int k = 0; k < 2; k++) {
    if (prep(c, sql[k], &st)) return -1;
    sqlite3_bind_int64(st, 1, c->r->at.seq);
    if (sqlite3_step(st) == SQLITE_ROW) rss_row(st, k ? &after : &before);
    sqlite3_finalize(st);
  }
  if (before.found && after.found)
    c->r->rss_at = c->r->at.seq - before.seq <= after.seq - c->r->at.seq ? before : after;
  else c->r->rss_at = before.found ? before : after;
  if (prep(c, "SELECT seq, ns, rss, anon, file, shmem FROM rss_samples ORDER BY rss DESC, seq "
              "LIMIT 1", &st))
    return -1;
  if (sqlite3_step(st) == SQLITE_ROW) rss_row(st, &c->r->rss_max);
  sqlite3_finalize(st);
  return 0;
}

static int sites(Ctx *c, const char *order, const char *where, int top, LrSite **out,
                 size_t *n) {
  char sql[512];
  snprintf(sql, sizeof sql,
           "SELECT stack_id, calls, bytes, max_size, temp_calls, temp_bytes FROM agg_stacks "
           "%s ORDER BY %s, stack_id LIMIT %d", where, order, top);
  sqlite3_stmt *st;
  if (prep(c, sql, &st)) return -1;
  *out = calloc((size_t)top, sizeof **out);
  *n = 0;
  if (!*out) {
    sqlite3_finalize(st);
    return lr_err_set(c->err, "%s: out of memory", c->path);
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    LrSite *s = &(*out)[(*n)++];
    s->stack = lr_peak_stack(c->r->stacks, sqlite3_column_int64(st, 0), c->err);
    if (!s->stack) {
      sqlite3_finalize(st);
      return -1;
    }
    s->calls = sqlite3_column_int64(st, 1);
    s->bytes = sqlite3_column_int64(st, 2);
    s->max_size = sqlite3_column_int64(st, 3);
    s->temp_calls = sqlite3_column_int64(st, 4);
    s->temp_bytes = sqlite3_column_int64(st, 5);
  }
  sqlite3_finalize(st);
  return 0;
}

static int largest(Ctx *c, int top) {
  char sql[512];
  snprintf(sql, sizeof sql,
           "SELECT a.id, a.size, a.alloc_seq, a.alloc_ns, ifnull(a.free_seq, -1), a.kind, "
           "a.region, ifnull(a.stack_id, -1) FROM agg_largest l CROSS JOIN allocations a ON a.id = l.id "
           "ORDER BY a.size DESC, a.id LIMIT %d", top);
  sqlite3_stmt *st;
  if (prep(c, sql, &st)) return -1;
  LrReport *r = c->r;
  r->largest = calloc((size_t)top, sizeof *r->largest);
  if (!r->largest) {
    sqlite3_finalize(st);
    return lr_err_set(c->err, "%s: out of memory", c->path);
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    LrBlock *b = &r->largest[r->nlargest++];
    b->id = sqlite3_column_int64(st, 0);
    b->size = sqlite3_column_int64(st, 1);
    b->alloc_seq = sqlite3_column_int64(st, 2);
    b->alloc_ns = sqlite3_column_int64(st, 3);
    b->free_seq = sqlite3_column_int64(st, 4);
    const char *k = (const char *)sqlite3_column_text(st, 5);
    const char *g = (const char *)sqlite3_column_text(st, 6);
    snprintf(b->kind, sizeof b->kind, "%s", k ? k : "?");
    snprintf(b->region, sizeof b->region, "%s", g ? g : "?");
    if (!(b->stack = lr_peak_stack(r->stacks, sqlite3_column_int64(st, 7), c->err))) {
      sqlite3_finalize(st);
      return -1;
    }
  }
  sqlite3_finalize(st);
  return 0;
}

static int cmp_phase_peak(const void *a, const void *b) {
  const LrPhase *x = *(LrPhase *const *)a, *y = *(LrPhase *const *)b;
  if (x->peak_live != y->peak_live) return x->peak_live > y->peak_live ? -1 : 1;
  return x->start_seq < y->start_seq ? -1 : x->start_seq > y->start_seq;
}

static int phases(Ctx *c, const LrReportOpts *o) {
  LrReport *r = c->r;
  size_t n = (size_t)one_int(c, "SELECT count(*) FROM agg_phases", 0);
  if (!n) return 0;
  r->phases = calloc(n, sizeof *r->phases);
  LrPhase **order = calloc(n, sizeof *order);
  if (!r->phases || !order) {
    free(order);
    return lr_err_set(c->err, "%s: out of memory", c->path);
  }
  sqlite3_stmt *st;
  if (prep(c, "SELECT name, nth, start_seq, end_seq, start_ns, end_ns, start_live, end_live, "
              "peak_live, peak_seq, peak_ns FROM agg_phases ORDER BY id", &st)) {
    free(order);
    return -1;
  }
  while (r->nphases < n && sqlite3_step(st) == SQLITE_ROW) {
    LrPhase *p = &r->phases[r->nphases];
    const char *name = (const char *)sqlite3_column_text(st, 0);
    snprintf(p->name, sizeof p->name, "%s", name ? name : "");
    int64_t *v[] = {&p->nth, &p->start_seq, &p->end_seq, &p->start_ns, &p->end_ns,
                    &p->start_live, &p->end_live, &p->peak_live, &p->peak_seq, &p->peak_ns};
    for (int k = 0; k < 10; k++) *v[k] = sqlite3_column_int64(st, k + 1);
    order[r->nphases] = p;
    r->nphases++;
  }
  sqlite3_finalize(st);
  qsort(order, r->nphases, sizeof *order, cmp_phase_peak);
  /* contributors for the highest occurrence of each marker name, highest
     first: that is what tells whether prefill or decode sets the peak */
  int detail = o->phase_detail > 0 ? o->phase_detail : 8, done = 0;
  int ret = 0;
  for (size_t i = 0; i < r->nphases && done < detail; i++) {
    LrPhase *p = order[i];
    int seen = 0;
    for (size_t k = 0; k < i && !seen; k++)
      seen = order[k]->has_top && !strcmp(order[k]->name, p->name);
    if (seen) continue;
    done++;
    if (lr_peak_contributors(c->t, r->stacks, p->peak_seq, o->by, 0, &p->top, c->err)) {
      ret = -1;
      break;
    }
    p->has_top = 1;
  }
  free(order);
  return ret;
}

static int mapped(Ctx *c) {
  LrReport *r = c->r;
  size_t n = (size_t)one_int(c, "SELECT count(DISTINCT ifnull(file, '')) FROM agg_maps", 0);
  r->rss_file_baseline = -1;
  if (!n) return 0;
  r->mapped = calloc(n, sizeof *r->mapped);
  if (!r->mapped) return lr_err_set(c->err, "%s: out of memory", c->path);
  sqlite3_stmt *st;
  if (prep(c, "SELECT ifnull(file, '?'), count(*), sum(size), "
              "sum(CASE WHEN free_seq IS NULL THEN size ELSE 0 END) FROM agg_maps "
              "GROUP BY 1 ORDER BY sum(size) DESC, 1", &st))
    return -1;
  while (r->nmapped < n && sqlite3_step(st) == SQLITE_ROW) {
    LrMapped *m = &r->mapped[r->nmapped];
    m->file = strdup((const char *)sqlite3_column_text(st, 0));
    if (!m->file) break;
    m->mappings = sqlite3_column_int64(st, 1);
    m->size = sqlite3_column_int64(st, 2);
    m->live_at_end = sqlite3_column_int64(st, 3);
    r->nmapped++;
  }
  sqlite3_finalize(st);
  r->rss_file_baseline = one_int(c, "SELECT file FROM rss_samples WHERE seq < "
                                    "(SELECT min(alloc_seq) FROM agg_maps) "
                                    "ORDER BY seq DESC LIMIT 1", -1);
  r->rss_file_baseline_lowest = 0;
  if (r->rss_file_baseline < 0) {
    /* no sample before the first mapping: mmap pages come in lazily, so the
       lowest RssFile seen is the closest to "everything but the maps" */
    r->rss_file_baseline = one_int(c, "SELECT min(file) FROM rss_samples", -1);
    r->rss_file_baseline_lowest = r->rss_file_baseline >= 0;
  }
  int64_t base = r->rss_file_baseline < 0 ? 0 : r->rss_file_baseline;
  /* per sample: which files are mapped and how much, then share the excess */
  sqlite3_stmt *smp, *live;
  if (prep(c, "SELECT seq, file FROM rss_samples ORDER BY seq", &smp)) return -1;
  if (prep(c, "SELECT ifnull(file, '?'), sum(size) FROM agg_maps WHERE alloc_seq <= ?1 AND "
              "(free_seq IS NULL OR free_seq > ?1) GROUP BY 1", &live)) {
    sqlite3_finalize(smp);
    return -1;
  }
  int64_t *part = calloc(r->nmapped + 1, sizeof *part);
  while (part && sqlite3_step(smp) == SQLITE_ROW) {
    int64_t seq = sqlite3_column_int64(smp, 0), file = sqlite3_column_int64(smp, 1);
    int64_t total = 0;
    memset(part, 0, (r->nmapped + 1) * sizeof *part);
    sqlite3_bind_int64(live, 1, seq);
    while (sqlite3_step(live) == SQLITE_ROW) {
      const char *f = (const char *)sqlite3_column_text(live, 0);
      int64_t sz = sqlite3_column_int64(live, 1);
      for (size_t i = 0; i < r->nmapped; i++)
        if (f && !strcmp(f, r->mapped[i].file)) part[i] = sz;
      total += sz;
    }
    sqlite3_reset(live);
    int64_t excess = file - base;
    for (size_t i = 0; i < r->nmapped && total > 0; i++) {
      if (part[i] > r->mapped[i].max_live) r->mapped[i].max_live = part[i];
      if (excess <= 0 || !part[i]) continue;
      int64_t share = (int64_t)((double)excess * (double)part[i] / (double)total);
      if (share > part[i]) share = part[i];
      if (share > r->mapped[i].resident) r->mapped[i].resident = share;
    }
  }
  free(part);
  sqlite3_finalize(smp);
  sqlite3_finalize(live);
  /* a file's live size when no sample saw it still counts */
  for (size_t i = 0; i < r->nmapped; i++)
    if (r->mapped[i].max_live == 0) {
      sqlite3_stmt *q;
      if (prep(c, "SELECT max(size) FROM agg_maps WHERE ifnull(file, '?') = ?1", &q)) return -1;
      sqlite3_bind_text(q, 1, r->mapped[i].file, -1, SQLITE_STATIC);
      if (sqlite3_step(q) == SQLITE_ROW) r->mapped[i].max_live = sqlite3_column_int64(q, 0);
      sqlite3_finalize(q);
    }
  return 0;
}

/* The tick that time ns falls in, in double (rounding can reach width). */
static int tick_of(int64_t ns, int64_t t0, int64_t t1, uint64_t span, int width) {
  if (ns <= t0) return 0;
  if (ns >= t1) return width - 1;
  int k = (int)(((double)ns - (double)t0) * width / (double)span);
  return k >= width ? width - 1 : k < 0 ? 0 : k;
}

/* t0 + span * i / width, without overflow (span may be near 2^64). */
static int64_t tick_at(int64_t t0, uint64_t span, int i, int width) {
  double off = (double)span * i / width;
  uint64_t o = off >= (double)span ? span : (uint64_t)off;
  return (int64_t)((uint64_t)t0 + o);
}

static int timeline(Ctx *c, int width) {
  LrReport *r = c->r;
  int64_t t0 = one_int(c, "SELECT min(ns_start) FROM agg_timeline", 0);
  int64_t t1 = one_int(c, "SELECT value FROM agg_info WHERE key = 'last_ns'", 0);
  if (t1 < r->run.duration_ns) t1 = r->run.duration_ns;
  if (t0 == INT64_MAX) t0 = INT64_MAX - 1;
  if (t1 <= t0) t1 = t0 + 1;
  r->timeline = calloc((size_t)width, sizeof *r->timeline);
  if (!r->timeline) return lr_err_set(c->err, "%s: out of memory", c->path);
  r->ntimeline = (size_t)width;
  /* Times come from the trace: a damaged one spans INT64_MIN..INT64_MAX,
  ** which no int64_t difference holds. The span is exact in uint64_t (t1 >
  ** t0), each tick's offset is cut to it, and the sum wraps back into
  ** range; the tick index is computed in double (found by fuzz_tui). */
  uint64_t span = (uint64_t)t1 - (uint64_t)t0;
  for (int i = 0; i < width; i++) {
    LrTick *t = &r->timeline[i];
    t->ns_start = tick_at(t0, span, i, width);
    t->ns_end = tick_at(t0, span, i + 1, width);
    t->max_live = -1;
    t->rss = -1;
  }
#define TICK(ns) tick_of((ns), t0, t1, span, width)
  sqlite3_stmt *st;
  /* an agg bucket is narrower than a tick; it lands in the tick of its start */
  if (prep(c, "SELECT ns_start, max_live, heap + anon, max_seq FROM agg_timeline "
              "ORDER BY bucket", &st))
    return -1;
  while (sqlite3_step(st) == SQLITE_ROW) {
    LrTick *t = &r->timeline[TICK(sqlite3_column_int64(st, 0))];
    int64_t mx = sqlite3_column_int64(st, 1);
    if (mx > t->max_live) t->max_live = mx;
    t->end_live = sqlite3_column_int64(st, 2);
    if (sqlite3_column_int64(st, 3) == r->peak.seq) t->has_peak = 1;
  }
  sqlite3_finalize(st);
  /* live bytes hold between events: a tick starts at the previous one's end */
  int64_t carry = 0;
  for (int i = 0; i < width; i++) {
    LrTick *t = &r->timeline[i];
    if (t->max_live < 0) t->end_live = carry;
    if (t->max_live < carry) t->max_live = carry;
    carry = t->end_live;
  }
  if (prep(c, "SELECT ns, rss FROM rss_samples ORDER BY seq", &st)) return -1;
  while (sqlite3_step(st) == SQLITE_ROW) {
    LrTick *t = &r->timeline[TICK(sqlite3_column_int64(st, 0))];
    int64_t v = sqlite3_column_int64(st, 1);
    if (v > t->rss) t->rss = v;
  }
  sqlite3_finalize(st);
  if (prep(c, "SELECT ns, name FROM markers ORDER BY seq, id", &st)) return -1;
  while (sqlite3_step(st) == SQLITE_ROW) {
    LrTick *t = &r->timeline[TICK(sqlite3_column_int64(st, 0))];
    const char *n = (const char *)sqlite3_column_text(st, 1);
    if (!t->marker[0] && n) snprintf(t->marker, sizeof t->marker, "%s", n);
  }
  sqlite3_finalize(st);
#undef TICK
  return 0;
}

int lr_report_build(LrTrace *t, const LrReportOpts *o, LrReport **out, LrErr *err) {
  *out = NULL;
  const char *path = lr_trace_path(t);
  sqlite3 *db = lr_qdb(t, err);
  if (!db) return -1;
  LrReport *r = calloc(1, sizeof *r);
  if (!r || !(r->stacks = lr_peak_stacks_new(t))) {
    free(r);
    return lr_err_set(err, "%s: out of memory", path);
  }
  Ctx c = {t, db, path, err, r};
  int top = o->top > 0 ? o->top : 10;
  run_info(&c);
  if (r->run.allocs == 0) {
    /* an empty trace has no peak; every section is simply empty */
    r->rss_file_baseline = -1;
    *out = r;
    return 0;
  }
  if (lr_peak_moment(t, NULL, &r->peak, err)) goto fail;
  if (o->at && *o->at) {
    if (lr_peak_moment(t, o->at, &r->at, err)) goto fail;
  } else {
    r->at = r->peak;
  }
  r->heap_peak = one_int(&c, "SELECT value FROM agg_info WHERE key = 'heap_peak'", 0);
  r->heap_peak_seq = one_int(&c, "SELECT value FROM agg_info WHERE key = 'heap_peak_seq'", 0);
  r->file_peak = one_int(&c, "SELECT value FROM agg_info WHERE key = 'file_peak'", 0);
  r->peak_reserved = one_int(&c, "SELECT value FROM agg_info WHERE key = 'peak_reserved'", 0);
  r->reserved_peak = one_int(&c, "SELECT value FROM agg_info WHERE key = 'reserved_peak'", 0);
  r->released_bytes = one_int(&c, "SELECT value FROM meta WHERE key = 'released_bytes'", 0);
  r->released_calls = one_int(&c, "SELECT value FROM meta WHERE key = 'released_calls'", 0);
  if (rss_info(&c)) goto fail;
  if (lr_peak_contributors(t, r->stacks, r->at.seq, o->by, o->min_size, &r->contributors, err))
    goto fail;
  if (lr_peak_group_sql(db, r->stacks,
                        "SELECT stack_id, sum(size), count(*) FROM allocations "
                        "WHERE free_seq IS NULL AND region NOT IN ('file', 'reserved') "
                        "GROUP BY stack_id",
                        o->by, &r->leaks, err))
    goto fail;
  r->temp_calls = one_int(&c, "SELECT sum(temp_calls) FROM agg_stacks", 0);
  r->temp_bytes = one_int(&c, "SELECT sum(temp_bytes) FROM agg_stacks", 0);
  if (sites(&c, "temp_calls DESC, temp_bytes DESC", "WHERE temp_calls > 0", top,
            &r->temporaries, &r->ntemporaries) ||
      sites(&c, "calls DESC, bytes DESC", "", top, &r->hot_calls, &r->nhot_calls) ||
      sites(&c, "bytes DESC, calls DESC", "", top, &r->hot_bytes, &r->nhot_bytes) ||
      largest(&c, top) || phases(&c, o) || mapped(&c) ||
      timeline(&c, o->timeline_width > 0 ? o->timeline_width : 60))
    goto fail;
  *out = r;
  return 0;
fail:
  lr_report_free(r);
  return -1;
}

void lr_report_free(LrReport *r) {
  if (!r) return;
  lr_peak_groups_free(&r->contributors);
  lr_peak_groups_free(&r->leaks);
  free(r->temporaries);
  free(r->hot_calls);
  free(r->hot_bytes);
  free(r->largest);
  for (size_t i = 0; i < r->nphases; i++) lr_peak_groups_free(&r->phases[i].top);
  free(r->phases);
  for (size_t i = 0; i < r->nmapped; i++) free(r->mapped[i].file);
  free(r->mapped);
  free(r->timeline);
  lr_peak_stacks_free(r->stacks);
  free(r);
}
