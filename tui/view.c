/*
** view.c: draws the model (model.h) on the whole screen, htop style: a tab
** line, the view's header (the run, the peak, the chart and the cursor for
** the overview), the list, the detail of the selected row, and a status
** line. It reads the model and never changes what it shows, except that
** lt_model_pane() builds rows that are stale.
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "screen.h"
#include "lowram/units.h"

/* Where each part of a view goes on a screen of lines x cols. */
typedef struct Layout {
  int header, chart_y, chart_h, list_y, list_h, detail_y, detail_h, status_y;
} Layout;

static Layout layout(LtView v, int lines, int cols) {
  (void)cols;
  Layout l = {0};
  l.status_y = lines - 1;
  /* the detail pane takes about a fifth, at least 3 lines */
  l.detail_h = lines / 5 < 3 ? 3 : lines / 5;
  if (v == LT_OVERVIEW) {
    l.header = 3;
    l.chart_y = 1 + l.header;
    l.chart_h = lines / 6 < 3 ? 3 : lines / 6 > 12 ? 12 : lines / 6;
    /* chart, axis, labels, cursor line, column header */
    l.list_y = l.chart_y + l.chart_h + 2 + 2;
  } else {
    l.header = 1;
    l.list_y = 1 + l.header + 1;
  }
  l.detail_y = l.status_y - l.detail_h;
  l.list_h = l.detail_y - 1 - l.list_y;
  if (l.list_h < 1) l.list_h = 1;
  return l;
}

size_t lt_view_list_rows(LtView v, int lines, int cols) {
  return (size_t)layout(v, lines, cols).list_h;
}

int lt_put(int y, int x, const char *s, int cols) {
  /* count columns by characters (a UTF-8 lead byte starts one) */
  int used = 0;
  size_t bytes = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p & 0xc0) != 0x80) {
      if (used == cols) break;
      used++;
    }
    bytes = (size_t)(p - (const unsigned char *)s) + 1;
  }
  if (bytes) mvaddnstr(y, x, s, (int)bytes);
  return used;
}

/* printf, escaped by the caller, cut to the screen (vsnprintf: a long
** name is cut on purpose, it is not an error). */
__attribute__((format(printf, 3, 4))) static void put_f(int y, int x, const char *fmt, ...) {
  char buf[LT_LINE];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  lt_put(y, x, buf, COLS - x > 0 ? COLS - x : 0);
}
#define PUT put_f

static const char *B(char *b, int64_t v) { return lr_fmt_bytes(b, 32, v); }
static const char *T(char *b, int64_t v) { return lr_fmt_ns(b, 32, v); }

static void tabs(const LtScreen *sc, const LtModel *m) {
  attron(A_REVERSE);
  move(0, 0);
  clrtoeol();
  for (int x = 0; x < COLS; x++) mvaddch(0, x, ' ');
  int x = lt_put(0, 0, " lowram ", COLS);
  /* 80 columns: one space between tabs and a short name for temporaries */
  int wide = COLS >= 90;
  for (int v = 0; v < LT_NVIEWS; v++) {
    char t[32];
    snprintf(t, sizeof t, wide ? " %d %s " : " %d %s", v + 1,
             !wide && v == LT_TEMPS ? "temps" : lt_view_name((LtView)v));
    if (v == (int)m->view) attroff(A_REVERSE), attron(A_BOLD | A_UNDERLINE);
    if (x < COLS) x += lt_put(0, x, t, COLS - x);
    if (v == (int)m->view) attroff(A_BOLD | A_UNDERLINE), attron(A_REVERSE);
  }
  attroff(A_REVERSE);
  (void)sc;
}

static void moment_text(const LtModel *m, const LrMoment *a, char *buf, size_t len) {
  char t[32], name[160];
  if (a->seq < 0) {
    snprintf(buf, len, "before the first event");
    return;
  }
  if (!a->marker[0]) {
    snprintf(buf, len, "seq %lld, %s", (long long)a->seq, T(t, a->ns));
    return;
  }
  char nth[24] = "";
  if (a->marker_nth > 1) snprintf(nth, sizeof nth, "#%lld", (long long)a->marker_nth);
  snprintf(buf, len, "seq %lld, %s, in %s%s", (long long)a->seq, T(t, a->ns),
           lt_escape(a->marker, name, sizeof name, m->ascii), nth);
}

static void overview_header(const LtScreen *sc, LtModel *m, const Layout *l) {
  const LrRun *u = &m->r->run;
  char cmd[1200], b1[32], b2[32], b3[32], w[256];
  lt_escape(u->argv[0] ? u->argv : "?", cmd, sizeof cmd, m->ascii);
  if (m->nprocs > 1) {
    /* which process every view shows, and that there are others */
    size_t nth = 0;
    for (size_t i = 0; i < m->nprocs; i++)
      if (m->procs[i].id == m->proc_id) nth = i + 1;
    PUT(1, 0, "Run of %zu processes (7 lists them); shown: pid %lld (%zu of %zu) %s", m->nprocs,
        (long long)u->pid, nth, m->nprocs, cmd);
  } else {
    PUT(1, 0, "Run %s", cmd);
  }
  char end[64] = "?";
  if (m->live && (!u->end_reason[0] || !strcmp(u->end_reason, "killed"))) {
    /* a live import sees a process that has not ended yet as killed */
    for (size_t i = 0; i < m->nprocs; i++)
      if (m->procs[i].id == m->proc_id) lt_proc_end(m, &m->procs[i], end, sizeof end);
  } else if (u->end_reason[0]) {
    lt_escape(u->end_reason, w, sizeof w, m->ascii);
    if (u->end_code >= 0) snprintf(end, sizeof end, "%.40s (%lld)", w, (long long)u->end_code);
    else snprintf(end, sizeof end, "%.40s", w);
  }
  PUT(2, 0, "pid %lld, %lld thread%s, ran %s, ended: %s%s; %lld allocations, %lld markers",
      (long long)u->pid, (long long)u->threads, u->threads == 1 ? "" : "s", T(b1, u->duration_ns),
      end, u->cut_short ? " (cut short)" : "", (long long)u->allocs, (long long)u->markers);
  const LrMoment *p = &m->r->peak;
  moment_text(m, p, w, sizeof w);
  attron(A_BOLD);
  PUT(3, 0, "Peak %s = %lld B (%s)   peak RSS %s", B(b1, p->live.heap + p->live.anon),
      (long long)(p->live.heap + p->live.anon), w,
      m->r->rss_max.found ? B(b2, m->r->rss_max.rss) : "-");
  attroff(A_BOLD);
  lt_chart_draw(sc, m, l->chart_y, l->chart_h, COLS);
  const LrMoment *a = &m->at;
  int64_t live = a->live.heap + a->live.anon, pk = p->live.heap + p->live.anon;
  moment_text(m, a, w, sizeof w);
  attron(A_BOLD);
  PUT(l->chart_y + l->chart_h + 2, 0, "Cursor %s: live %s (%.0f%% of peak)%s", w, B(b3, live),
      pk > 0 ? 100.0 * (double)live / (double)pk : 0.0, a->is_peak ? " PEAK" : "");
  attroff(A_BOLD);
}

static void view_header(const LtModel *m) {
  const LrReport *r = m->r;
  char b1[32], b2[32];
  const LtPane *p = &m->pane[m->view];
  switch (m->view) {
  case LT_LEAKS:
    PUT(1, 0, "Leaks: %s in %lld blocks live at the end (seq %lld), by %s, %s, sort %s",
        B(b1, m->leaks.bytes), (long long)m->leaks.count, (long long)m->end_seq,
        lr_peak_by_name(m->by), lt_shape_name(p->shape), lt_sort_name(p->sort));
    break;
  case LT_TEMPS:
    PUT(1, 0, "Temporaries: %lld blocks, %s (freed by their thread before it allocated again)",
        (long long)r->temp_calls, B(b1, r->temp_bytes));
    break;
  case LT_LARGEST:
    PUT(1, 0, "Largest blocks: %zu, sort %s", r->nlargest, lt_sort_name(p->sort));
    break;
  case LT_PHASES:
    PUT(1, 0, "Phases (marker to marker): %zu, sort %s", r->nphases, lt_sort_name(p->sort));
    break;
  case LT_PROCS:
    PUT(1, 0, "Processes: %zu, shown in every view: pid %lld (*); enter shows the selected one; "
        "sort %s", m->nprocs, (long long)r->run.pid, lt_sort_name(p->sort));
    break;
  default:
    if (m->sg) {
      char d[600];
      PUT(1, 0, "Predicted peaks from %d runs of %s (RSS: %s), sort %s", lr_suggest_nruns(m->sg),
          lt_escape(m->sweep_dir, d, sizeof d, m->ascii), lr_suggest_rss_method(m->sg),
          lt_sort_name(p->sort));
    } else {
      PUT(1, 0, "Suggestions need a sweep directory");
    }
    break;
  }
  (void)b2;
}

static void column_header(const LtModel *m, int y) {
  attron(A_UNDERLINE);
  move(y, 0);
  clrtoeol();
  switch (m->view) {
  case LT_OVERVIEW:
  case LT_LEAKS:
    /* the list's state sits in its header, where the eye is */
    PUT(y, 0, "%10s %6s %-10s %7s  %s%s, sort %s", "bytes", "share", "", "blocks",
        m->pane[m->view].shape != LT_FLAT ? lt_shape_name(m->pane[m->view].shape) : "",
        m->pane[m->view].shape != LT_FLAT ? " tree"
        : m->by == LR_BY_STACK            ? "by stack (site <- callers)"
                                          : m->by == LR_BY_FUNCTION ? "by function"
                                          : m->by == LR_BY_MODULE ? "by module" : "by file",
        lt_sort_name(m->pane[m->view].sort));
    break;
  case LT_TEMPS: PUT(y, 0, "%10s %10s %8s  %s", "temp bytes", "blocks", "calls", "site"); break;
  case LT_LARGEST:
    PUT(y, 0, "%10s %-7s %-5s %10s %9s  %s", "size", "kind", "where", "at", "freed", "site");
    break;
  case LT_PHASES:
    PUT(y, 0, "%-20s %10s %10s %10s %10s %10s", "phase", "start", "length", "at start", "peak",
        "at end");
    break;
  case LT_PROCS:
    PUT(y, 0, " %10s %8s %4s %-11s %9s  %s", "own peak", "pid", "exec", "ended", "ran",
        "command (children under their parent)");
    break;
  default: PUT(y, 0, "%10s %10s  %-30s %s", "heap+anon", "RSS", "configuration", "set by"); break;
  }
  attroff(A_UNDERLINE);
}

static void bar(const LtScreen *sc, char *out, size_t len, int64_t part, int64_t whole) {
  int w = 10;
  double f = whole > 0 ? (double)part / (double)whole : 0;
  int eighths = (int)(f * w * 8 + 0.5);
  size_t o = 0;
  for (int i = 0; i < w && o + 4 < len; i++) {
    int fill = eighths - i * 8;
    fill = fill < 0 ? 0 : fill > 8 ? 8 : fill;
    if (sc->ascii) {
      out[o++] = fill >= 4 ? '#' : ' ';
    } else {
      static const char *const part8[9] = {" ", "\u258f", "\u258e", "\u258d", "\u258c",
                                           "\u258b", "\u258a", "\u2589", "\u2588"};
      size_t n = strlen(part8[fill]);
      memcpy(out + o, part8[fill], n);
      o += n;
    }
  }
  out[o] = 0;
}

static void list_row(const LtScreen *sc, LtModel *m, const LtPane *p, const LtRow *r, int y) {
  char e[LT_LINE], b1[32], b2[32], b3[32], share[16], br[64];
  lt_escape(r->label, e, sizeof e, m->ascii);
  if (p->total > 0) snprintf(share, sizeof share, "%.1f%%", 100.0 * (double)r->bytes / (double)p->total);
  else snprintf(share, sizeof share, "-");
  switch (m->view) {
  case LT_OVERVIEW:
  case LT_LEAKS: {
    bar(sc, br, sizeof br, r->bytes, p->total);
    char indent[80] = "";
    if (r->node) {
      int d = r->depth > 30 ? 30 : r->depth;
      memset(indent, ' ', (size_t)d * 2);
      snprintf(indent + d * 2, sizeof indent - (size_t)d * 2, "%s ",
               !r->kids ? " " : r->open ? "-" : "+");
    }
    PUT(y, 0, "%10s %6s %s %7lld  %s%s", B(b1, r->bytes), share, br, (long long)r->count,
        indent, e);
    break;
  }
  case LT_TEMPS:
    PUT(y, 0, "%10s %10lld %8lld  %s", B(b1, r->bytes), (long long)r->count, (long long)r->v[0], e);
    break;
  case LT_LARGEST: {
    const LrBlock *b = r->src;
    char fr[32], k[16], g[16];
    if (r->v[2] < 0) snprintf(fr, sizeof fr, "never");
    else snprintf(fr, sizeof fr, "%lld", (long long)r->v[2]);
    PUT(y, 0, "%10s %-7s %-5s %10s %9s  %s", B(b1, r->bytes), lt_escape(b->kind, k, sizeof k, 1),
        lt_escape(b->region, g, sizeof g, 1), T(b2, r->v[0]), fr, e);
    break;
  }
  case LT_PHASES:
    PUT(y, 0, "%-20.60s %10s %10s %10s %10s %10s", e, T(b1, r->v[0]), T(b2, r->v[1]),
        B(b3, r->v[2]), B(share, r->bytes), B(br, r->v[3]));
    break;
  case LT_PROCS: {
    char end[64], indent[80] = "";
    int d = r->depth > 30 ? 30 : r->depth;
    memset(indent, ' ', (size_t)d * 2);
    indent[d * 2] = 0;
    PUT(y, 0, "%c%10s %8lld %4lld %-11.11s %9s  %s%s", r->v[3] == m->proc_id ? '*' : ' ',
        B(b1, r->bytes), (long long)r->v[0], (long long)r->v[1],
        lt_proc_end(m, r->src, end, sizeof end), r->v[2] >= 0 ? T(b2, r->v[2]) : "-", indent, e);
    break;
  }
  default: {
    const LtConfig *c = r->src;
    char ph[160];
    PUT(y, 0, "%10s %10s  %-30s %s%s", B(b1, r->bytes), c->peak.rss < 0 ? "?" : B(b2, r->count), e,
        lt_escape(lr_suggest_phase_name(m->sg, c->peak.phase), ph, sizeof ph, m->ascii),
        c->peak.extrapolated ? " (extrapolated)" : "");
    break;
  }
  }
}

static void help(void) {
  static const char *const keys[] = {
    "1..7 / tab   views: overview, leaks, temporaries, largest, phases, suggest,",
    "             processes (7 or P)",
    "left/right   time cursor one column (in a tree: collapse/expand)",
    "[ ] , .      time cursor one column (always)",
    "home/end     time cursor to the start/end (lists: first/last row)",
    "p            cursor to the peak",
    "m / M        cursor to the next / previous marker",
    "up/down j/k  select a row; pgup/pgdn a page",
    "s            sort: bytes, count, name, order",
    "g            group by stack, function, module, file",
    "t            flat table, top-down tree, bottom-up tree",
    "enter/+/-    expand or collapse the selected tree node",
    "enter        processes: show the selected process in every view",
    "/            filter by function or module (escape clears)",
    "e            write this view as CSV (lowram-VIEW-N.csv, never overwritten)",
    "q            quit;  ? this help (any key closes it)",
    "live         end: the cursor follows the newest moment again",
  };
  int n = (int)(sizeof keys / sizeof keys[0]), w = 0;
  for (int i = 0; i < n; i++)
    if ((int)strlen(keys[i]) > w) w = (int)strlen(keys[i]);
  w += 4;
  if (w > COLS) w = COLS;
  int y0 = (LINES - n - 2) / 2 > 0 ? (LINES - n - 2) / 2 : 0, x0 = (COLS - w) / 2;
  for (int i = -1; i <= n; i++) {
    move(y0 + 1 + i, x0);
    attron(A_REVERSE);
    for (int x = 0; x < w; x++) addch(' ');
    if (i == -1) lt_put(y0, x0 + 2, "Keys", w - 2);
    else if (i < n) lt_put(y0 + 1 + i, x0 + 2, keys[i], w - 4);
    attroff(A_REVERSE);
  }
}

static void status(LtModel *m, int y) {
  move(y, 0);
  clrtoeol();
  if (m->editing) {
    char e[160];
    PUT(y, 0, "Filter (function or module; enter keeps, escape leaves): %s_",
        lt_escape(m->edit, e, sizeof e, 1));
    return;
  }
  attron(A_REVERSE);
  for (int x = 0; x < COLS; x++) mvaddch(y, x, ' ');
  int x0 = 0;
  if (m->live) {
    /* live: always says so, with the events imported so far */
    attron(A_BOLD);
    x0 = lt_put(y, 0, "LIVE ", COLS);
    attroff(A_BOLD);
    char t[200];
    snprintf(t, sizeof t, "%lld events%s | ", (long long)m->live_events,
             m->follow ? "" : ", cursor held (end follows)");
    x0 += lt_put(y, x0, t, COLS - x0);
  }
  if (x0 >= COLS) {
  } else if (m->status[0]) {
    PUT(y, x0, "%s", m->status);
  } else if (m->live && m->live_note[0]) {
    PUT(y, x0, "%s", m->live_note);
  } else {
    char e[160] = "";
    if (m->filter[0]) lt_escape(m->filter, e, sizeof e, m->ascii);
    PUT(y, x0, "%s%s%sq quit  ? keys  <-/-> time  p peak  m/M marker  s sort  g group  t tree"
        "  / filter  e csv", e[0] ? "filter '" : "", e, e[0] ? "'  " : "");
  }
  attroff(A_REVERSE);
}

void lt_view_draw(const LtScreen *sc, LtModel *m) {
  erase();
  Layout l = layout(m->view, LINES, COLS);
  tabs(sc, m);
  LtPane *p = lt_model_pane(m);
  if (m->view == LT_OVERVIEW) overview_header(sc, m, &l);
  else view_header(m);
  column_header(m, l.list_y - 1);
  for (int i = 0; i < l.list_h && p->top + (size_t)i < p->nrows; i++) {
    const LtRow *r = &p->rows[p->top + (size_t)i];
    int sel = p->top + (size_t)i == p->sel;
    if (sel) {
      attron(A_REVERSE);
      for (int x = 0; x < COLS; x++) mvaddch(l.list_y + i, x, ' ');
    }
    list_row(sc, m, p, r, l.list_y + i);
    if (sel) attroff(A_REVERSE);
  }
  if (!p->nrows) PUT(l.list_y, 2, "%s", m->filter[0] ? "(nothing matches the filter)" : "(none)");
  /* the detail: the selected row's stack, wrapped to the width */
  attron(A_UNDERLINE);
  move(l.detail_y, 0);
  for (int x = 0; x < COLS; x++) addch(' ');
  PUT(l.detail_y, 0, "Detail%s", p->nrows ? "" : "");
  attroff(A_UNDERLINE);
  static char lines[64][LT_LINE];
  size_t n = lt_model_detail(m, lines, 64);
  int y = l.detail_y + 1;
  for (size_t i = 0; i < n && y < l.status_y; i++) {
    const char *s = lines[i];
    /* long lines (advice) wrap; stacks are cut at the edge */
    do {
      int used = lt_put(y++, 0, s, COLS);
      size_t adv = 0;
      for (int c = 0; s[adv] && c < used; c++) {
        adv++;
        while ((s[adv] & 0xc0) == 0x80) adv++;
      }
      s += adv;
    } while (*s && m->view == LT_SUGGEST && y < l.status_y);
  }
  status(m, l.status_y);
  if (m->help) help();
}
