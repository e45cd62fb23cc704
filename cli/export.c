/*
** cli_export.c: `lowram export`: a trace's contributors, allocations,
** timeline, stacks or leaks as CSV (RFC 4180, header row, CRLF line ends)
** for spreadsheets, or as folded stacks ("outer;...;inner bytes") for
** flamegraph.pl, inferno and speedscope.
**
** Spreadsheets run cells that start with = + - @ (and tab or CR) as
** formulas; a text cell starting so is written with a leading single quote.
** Numeric cells are written by us as digits and need no defusing.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "query/agg.h"
#include "cli.h"
#include "lowram/peak.h"
#include "lowram/trace.h"
#include "lowram/units.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: lowram export TRACE.db --what contributors|allocations|timeline|stacks|leaks\n"
          "                      [--format csv|folded] [--at MOMENT] [--by KEY] [-o FILE]\n"
          "  contributors  blocks live at --at (default: the peak), grouped by --by\n"
          "  allocations   every allocation, or those live at --at when given\n"
          "  timeline      live bytes per time bucket (csv only)\n"
          "  stacks        per stack: calls, bytes, temporaries, leaks\n"
          "  leaks         heap/anon blocks live at the end, grouped by --by\n"
          "  folded        stacks with bytes, for flame graphs (contributors, allocations,\n"
          "                stacks and leaks; always per stack)\n");
}

static void csv_text(FILE *f, const char *s) {
  if (!s) s = "";
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
    csv_text(f, cols[i]);
  }
  csv_end(f);
}

/* site function, file, line, module and the folded stack of s */
static void csv_stack(FILE *f, const LrStack *s) {
  char name[512];
  const LrFrame *fr = s && s->nframes ? &s->frames[s->site] : NULL;
  csv_text(f, fr ? lr_peak_frame_name(fr, name, sizeof name) : "");
  csv_sep(f);
  csv_text(f, fr ? fr->file : "");
  csv_sep(f);
  if (fr && fr->file) csv_int(f, fr->line);
  csv_sep(f);
  csv_text(f, fr ? fr->module : "");
  csv_sep(f);
  char *path = s ? lr_peak_stack_path(s) : NULL;
  csv_text(f, path ? path : "");
  free(path);
}

static void folded(FILE *f, const LrStack *s, int64_t bytes) {
  if (bytes <= 0) return;
  /* frames may hold spaces (C++ signatures): readers split at the last one */
  char *path = lr_peak_stack_path(s);
  fprintf(f, "%s %lld\n", path ? path : "[?]", (long long)bytes);
  free(path);
}

static int export_groups(FILE *f, const LrGroups *g, int csv, int64_t whole) {
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
    csv_text(f, x->key);
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
  if (at)
    snprintf(sql, sizeof sql,
             "SELECT a.id, kind, region, a.size, alloc_seq, alloc_ns, free_seq, free_ns, "
             "thread_id, ifnull(a.stack_id, -1), file FROM %s l JOIN allocations a ON a.id = l.id "
             "ORDER BY a.alloc_seq, a.id", lr_peak_live_sql(at->seq, 0, live, sizeof live));
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
      if (k == 1 || k == 2 || k == 10) csv_text(f, (const char *)sqlite3_column_text(st, k));
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

static int export_timeline(FILE *f, sqlite3 *db, LrErr *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT ns_start, ns_end, start_seq, end_seq, max_live, max_seq, "
                         "heap, anon, file FROM agg_timeline ORDER BY bucket", -1, &st,
                         NULL) != SQLITE_OK)
    return lr_err_set(err, "timeline: %s", sqlite3_errmsg(db));
  static const char *const cols[] = {"ns_start", "ns_end", "first_seq", "last_seq", "max_live",
                                     "max_live_seq", "heap_at_end", "anon_at_end",
                                     "file_at_end", NULL};
  csv_header(f, cols);
  while (sqlite3_step(st) == SQLITE_ROW) {
    for (int k = 0; k < 9; k++) {
      if (k) csv_sep(f);
      csv_int(f, sqlite3_column_int64(st, k));
    }
    csv_end(f);
  }
  sqlite3_finalize(st);
  return 0;
}

static int same_file(const char *a, const char *b) {
  struct stat x, y;
  return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

int lr_cli_export(int argc, char **argv) {
  const char *path = NULL, *what = NULL, *format = "csv", *at = NULL, *out = NULL;
  LrBy by = LR_BY_STACK;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    }
    const char **dst = !strcmp(a, "--what") ? &what : !strcmp(a, "--format") ? &format
                     : !strcmp(a, "--at") ? &at : !strcmp(a, "-o") ? &out : NULL;
    const char *byv = NULL;
    if (dst || !strcmp(a, "--by")) {
      if (i + 1 >= argc) {
        lr_cli_error("export", "option %s needs a value", a);
        return 2;
      }
      if (dst) *dst = argv[++i];
      else byv = argv[++i];
      if (byv && lr_peak_parse_by(byv, &by)) {
        lr_cli_error("export", "--by wants stack, function, module, file or line, not '%s'",
                     byv);
        return 2;
      }
      continue;
    }
    if (a[0] == '-') {
      lr_cli_error("export", "unknown option '%s' (see lowram export --help)", a);
      return 2;
    }
    if (path) {
      lr_cli_error("export", "one trace at a time ('%s' and '%s')", path, a);
      return 2;
    }
    path = a;
  }
  if (!path || !what) {
    usage(stderr);
    return 2;
  }
  static const char *const whats[] = {"contributors", "allocations", "timeline", "stacks",
                                      "leaks"};
  int w = -1;
  for (int k = 0; k < 5; k++)
    if (!strcmp(what, whats[k])) w = k;
  if (w < 0) {
    lr_cli_error("export", "--what wants contributors, allocations, timeline, stacks or leaks, "
                 "not '%s'", what);
    return 2;
  }
  int csv = !strcmp(format, "csv");
  if (!csv && strcmp(format, "folded")) {
    lr_cli_error("export", "--format wants csv or folded, not '%s'", format);
    return 2;
  }
  if (!csv && w == 2) {
    lr_cli_error("export", "the timeline has no folded form; use --format csv");
    return 2;
  }
  LrErr err = {{0}};
  LrTrace *t = lr_trace_open(path, &err);
  if (!t) {
    lr_cli_error("export", "%s", err.msg);
    return 1;
  }
  const char *tp = lr_trace_path(t);
  if (out && same_file(out, tp)) {
    lr_cli_error("export", "%s: -o would overwrite the trace itself", out);
    lr_trace_close(t);
    return 2;
  }
  if (!lr_trace_complete(t))
    fprintf(stderr, "note: %s is unfinished; `lowram recover %s` completes it. Exporting what "
            "it holds.\n", tp, tp);
  sqlite3 *db = lr_trace_db(t);
  LrStacks *c = lr_peak_stacks_new(db);
  int ret = 1;
  FILE *f = NULL;
  LrMoment m;
  if (!c || lr_agg_ensure(db, tp, &err)) goto fail;
  if ((w == 0 || (w == 1 && at)) && lr_peak_moment(db, tp, at, &m, &err)) goto fail;
  if (out && !(f = fopen(out, "w"))) {
    lr_err_set(&err, "%s: cannot write: %m", out);
    goto fail;
  }
  if (!f) f = stdout;
  int rc = 0;
  if (w == 0 || w == 4) {
    LrGroups g;
    if (w == 0) rc = lr_peak_contributors(db, c, m.seq, csv ? by : LR_BY_STACK, 0, &g, &err);
    else rc = lr_peak_group_sql(db, c, "SELECT stack_id, sum(size), count(*) FROM allocations "
                                "WHERE free_seq IS NULL AND region <> 'file' GROUP BY stack_id",
                                csv ? by : LR_BY_STACK, &g, &err);
    if (!rc) {
      export_groups(f, &g, csv, g.bytes);
      lr_peak_groups_free(&g);
    }
  } else if (w == 1) {
    rc = export_allocations(f, db, c, at ? &m : NULL, csv, &err);
  } else if (w == 2) {
    rc = export_timeline(f, db, &err);
  } else {
    rc = export_stacks(f, db, c, csv, &err);
  }
  if (fflush(f) != 0 && !rc) rc = lr_err_set(&err, "%s: write failed: %m", out ? out : "stdout");
  if (!rc) ret = 0;
fail:
  if (f && f != stdout && fclose(f) != 0 && !ret) {
    lr_err_set(&err, "%s: write failed: %m", out);
    ret = 1;
  }
  if (ret && out && strstr(err.msg, out)) lr_cli_error("export", "%s", err.msg);
  else if (ret) lr_cli_trace_error("export", lr_trace_path(t), err.msg);
  lr_peak_stacks_free(c);
  lr_trace_close(t);
  return ret;
}
