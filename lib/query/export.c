/*
** export.c: a trace's contributors, allocations, timeline, stacks or leaks
** as CSV (RFC 4180, header row, CRLF line ends) for spreadsheets, or as
** folded stacks ("outer;...;inner bytes") for flamegraph.pl, inferno and
** speedscope (export.h). The CLI's `export` and the TUI's `e` both write
** through here, so a file looks the same whichever wrote it.
**
** Spreadsheets run cells that start with = + - @ (and tab or CR) as
** formulas; a text cell starting so is written with a leading single quote.
** Numeric cells are written by us as digits and need no defusing.
*/
#include "lowram/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lowram/text.h"

#include "core/trace_internal.h"
#include "query/peak_sql.h"
#include "query/qdb.h"

void lr_csv_text(FILE *f, const char *s) {
  /* control characters and invalid UTF-8 from the trace never reach the
  ** file raw (text.h): a cell stays one cell, and `cat` of it is harmless */
  char esc[8192];
  s = lr_text_escape(s, esc, sizeof esc);
  int formula = strchr("=+-@\t\r", s[0]) && s[0];
  int quote = formula || strpbrk(s, ",\"\r\n") != NULL;
  if (!quote) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  if (formula) fputc('\'', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static void csv_sep(FILE *f) { fputc(',', f); }
static void csv_end(FILE *f) { fputs("\r\n", f); }
static void csv_int(FILE *f, int64_t v) { fprintf(f, "%lld", (long long)v); }

static void csv_header(FILE *f, const char *const *cols) {
  for (int i = 0; cols[i]; i++) {
    if (i) csv_sep(f);
    lr_csv_text(f, cols[i]);
  }
  csv_end(f);
}

/* site function, file, line, module and the folded stack of s */
static void csv_stack(FILE *f, const LrStack *s) {
  char name[512];
  const LrFrame *fr = s && s->nframes ? &s->frames[s->site] : NULL;
  lr_csv_text(f, fr ? lr_peak_frame_name(fr, name, sizeof name) : "");
  csv_sep(f);
  lr_csv_text(f, fr ? fr->file : "");
  csv_sep(f);
  if (fr && fr->file) csv_int(f, fr->line);
  csv_sep(f);
  lr_csv_text(f, fr ? fr->module : "");
  csv_sep(f);
  char *path = s ? lr_peak_stack_path(s) : NULL;
  lr_csv_text(f, path ? path : "");
  free(path);
}

static void folded(FILE *f, const LrStack *s, int64_t bytes) {
  if (bytes <= 0) return;
  /* frames may hold spaces (C++ signatures): readers split at the last one */
  char *path = lr_peak_stack_path(s), esc[16384];
  fprintf(f, "%s %lld\n", path ? lr_text_escape(path, esc, sizeof esc) : "[?]", (long long)bytes);
  free(path);
}

int lr_export_groups(FILE *f, const LrGroups *g, int csv, int64_t whole) {
  if (!csv) {
    for (size_t i = 0; i < g->n; i++) folded(f, g->v[i].stack, g->v[i].bytes);
    return 0;
  }
  static const char *const cols[] = {"key", "bytes", "share", "blocks", "stack_id",
                                     "site_function", "site_file", "site_line", "site_module",
                                     "stack", NULL};
  csv_header(f, cols);
  for (size_t i = 0; i < g->n; i++) {
    const LrGroup *x = &g->v[i];
    lr_csv_text(f, x->key);
    csv_sep(f);
    csv_int(f, x->bytes);
    fprintf(f, ",%.6f,", whole > 0 ? (double)x->bytes / (double)whole : 0.0);
    csv_int(f, x->count);
    csv_sep(f);
    csv_int(f, x->stack ? x->stack->id : -1);
    csv_sep(f);
    csv_stack(f, x->stack);
    csv_end(f);
  }
  return 0;
}

static int export_allocations(FILE *f, sqlite3 *db, LrStacks *c, const LrMoment *at, int csv,
                              LrErr *err) {
  char live[LR_PEAK_LIVE_SQL], sql[LR_PEAK_LIVE_SQL + 512];
  if (at && lr_peak_has_live_at(db)) /* v3: the live rows straight from the blocks */
    snprintf(sql, sizeof sql,
             "SELECT id, kind, region, size, alloc_seq, alloc_ns, free_seq, free_ns, thread_id, "
             "ifnull(stack_id, -1), file FROM allocations WHERE live_at = %lld AND region IN "
             "('heap', 'anon') ORDER BY alloc_seq, id", (long long)at->seq);
  else if (at)
    snprintf(sql, sizeof sql,
             "SELECT a.id, kind, region, a.size, alloc_seq, alloc_ns, free_seq, free_ns, "
             "thread_id, ifnull(a.stack_id, -1), file FROM %s l JOIN allocations a ON a.id = l.id "
             "ORDER BY a.alloc_seq, a.id", lr_peak_live_sql(db, at->seq, 0, live, sizeof live));
  else
    snprintf(sql, sizeof sql,
             "SELECT id, kind, region, size, alloc_seq, alloc_ns, free_seq, free_ns, thread_id, "
             "ifnull(stack_id, -1), file FROM allocations ORDER BY alloc_seq, id");
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return lr_err_set(err, "allocations: %s", sqlite3_errmsg(db));
  static const char *const cols[] = {"id", "kind", "region", "size", "alloc_seq", "alloc_ns",
                                     "free_seq", "free_ns", "thread_id", "stack_id",
                                     "mapped_file", "site_function", "site_file", "site_line",
                                     "site_module", "stack", NULL};
  if (csv) csv_header(f, cols);
  int rc, ret = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const LrStack *s = lr_peak_stack(c, sqlite3_column_int64(st, 9), err);
    if (!s) {
      ret = -1;
      break;
    }
    if (!csv) {
      folded(f, s, sqlite3_column_int64(st, 3));
      continue;
    }
    for (int k = 0; k < 11; k++) {
      if (k) csv_sep(f);
      if (sqlite3_column_type(st, k) == SQLITE_NULL) continue;
      if (k == 1 || k == 2 || k == 10) lr_csv_text(f, (const char *)sqlite3_column_text(st, k));
      else csv_int(f, sqlite3_column_int64(st, k));
    }
    csv_sep(f);
    csv_stack(f, s);
    csv_end(f);
  }
  if (!ret && rc != SQLITE_DONE) ret = lr_err_set(err, "allocations: %s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return ret;
}

static int export_stacks(FILE *f, sqlite3 *db, LrStacks *c, int csv, LrErr *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT stack_id, calls, bytes, max_size, temp_calls, temp_bytes, "
                         "leak_calls, leak_bytes FROM agg_stacks ORDER BY bytes DESC, stack_id",
                         -1, &st, NULL) != SQLITE_OK)
    return lr_err_set(err, "stacks: %s", sqlite3_errmsg(db));
  static const char *const cols[] = {"stack_id", "calls", "bytes", "largest", "temporary_calls",
                                     "temporary_bytes", "leaked_blocks", "leaked_bytes",
                                     "site_function", "site_file", "site_line", "site_module",
                                     "stack", NULL};
  if (csv) csv_header(f, cols);
  int ret = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const LrStack *s = lr_peak_stack(c, sqlite3_column_int64(st, 0), err);
    if (!s) {
      ret = -1;
      break;
    }
    if (!csv) {
      folded(f, s, sqlite3_column_int64(st, 2));
      continue;
    }
    for (int k = 0; k < 8; k++) {
      csv_int(f, sqlite3_column_int64(st, k));
      csv_sep(f);
    }
    csv_stack(f, s);
    csv_end(f);
  }
  sqlite3_finalize(st);
  return ret;
}

/* One row per agg_timeline bucket. The RSS columns come from the highest
** rss_samples row whose time falls in the bucket (as the report's timeline
** ticks place samples by time); they are empty when no sample does. Buckets
** are of equal width from ns0 (agg.c), so a sample's bucket is arithmetic. */
static int export_timeline(FILE *f, sqlite3 *db, LrErr *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(
          db,
          "WITH g AS (SELECT ns_start - bucket * (ns_end - ns_start) AS ns0, "
          "                  ns_end - ns_start AS w FROM agg_timeline ORDER BY bucket LIMIT 1), "
          "r AS (SELECT (s.ns - g.ns0) / g.w AS bucket, max(s.rss) AS rss, s.anon AS anon, "
          "             s.file AS file FROM rss_samples s, g "
          "      WHERE g.w > 0 AND s.ns >= g.ns0 GROUP BY 1) "
          "SELECT t.ns_start, t.ns_end, t.start_seq, t.end_seq, t.max_live, t.max_seq, "
          "t.heap, t.anon, t.file, r.rss, r.anon, r.file "
          "FROM agg_timeline t LEFT JOIN r ON r.bucket = t.bucket ORDER BY t.bucket",
          -1, &st, NULL) != SQLITE_OK)
    return lr_err_set(err, "timeline: %s", sqlite3_errmsg(db));
  static const char *const cols[] = {"ns_start", "ns_end", "first_seq", "last_seq", "max_live",
                                     "max_live_seq", "heap_at_end", "anon_at_end",
                                     "file_at_end", "rss", "rss_anon", "rss_file", NULL};
  csv_header(f, cols);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    for (int k = 0; k < 12; k++) {
      if (k) csv_sep(f);
      if (sqlite3_column_type(st, k) != SQLITE_NULL) csv_int(f, sqlite3_column_int64(st, k));
    }
    csv_end(f);
  }
  int ret = rc == SQLITE_DONE ? 0 : lr_err_set(err, "timeline: %s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return ret;
}

static const char *const what_names[] = {"contributors", "allocations", "timeline", "stacks",
                                         "leaks"};

int lr_export_parse_what(const char *s, LrExportWhat *out) {
  for (int k = 0; k < 5; k++)
    if (s && !strcmp(s, what_names[k])) {
      *out = (LrExportWhat)k;
      return 0;
    }
  return -1;
}

int lr_export(LrTrace *t, const LrExportOpts *o, FILE *f, LrErr *err) {
  int csv = o->format == LR_EXPORT_CSV;
  if (!csv && o->what == LR_EXPORT_TIMELINE)
    return lr_err_set(err, "the timeline has no folded form; use --format csv");
  sqlite3 *db = lr_qdb(t, err);
  if (!db) return -1;
  LrStacks *c = lr_peak_stacks_new(t);
  if (!c) return lr_err_set(err, "%s: out of memory", lr_trace_path(t));
  LrMoment m;
  int rc = 0, w = (int)o->what;
  if ((w == LR_EXPORT_CONTRIBUTORS || (w == LR_EXPORT_ALLOCATIONS && o->at)) &&
      lr_peak_moment(t, o->at, &m, err))
    rc = -1;
  else if (w == LR_EXPORT_CONTRIBUTORS || w == LR_EXPORT_LEAKS) {
    LrGroups g;
    LrBy by = csv ? o->by : LR_BY_STACK;
    if (w == LR_EXPORT_CONTRIBUTORS) rc = lr_peak_contributors(t, c, m.seq, by, 0, &g, err);
    else rc = lr_peak_group_sql(db, c, "SELECT stack_id, sum(size), count(*) FROM allocations "
                                "WHERE free_seq IS NULL AND region NOT IN ('file', 'reserved') GROUP BY stack_id",
                                by, &g, err);
    if (!rc) {
      lr_export_groups(f, &g, csv, g.bytes);
      lr_peak_groups_free(&g);
    }
  } else if (w == LR_EXPORT_ALLOCATIONS) {
    rc = export_allocations(f, db, c, o->at ? &m : NULL, csv, err);
  } else if (w == LR_EXPORT_TIMELINE) {
    rc = export_timeline(f, db, err);
  } else {
    rc = export_stacks(f, db, c, csv, err);
  }
  lr_peak_stacks_free(c);
  return rc;
}
