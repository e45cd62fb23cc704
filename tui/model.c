/*
** model.c: the browser's state and the keys that change it (model.h).
** No curses here: the loop (tui.c) maps terminal keys to lt_model_key and
** the views draw what this file keeps. The rows of each list are built in
** rows.c, CSV in export.c.
*/
#include "model.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "lowram/units.h"

/* The report's timeline is asked for at this resolution once, then merged
** down to the terminal's width on every resize, so a resize never queries. */
#define FINE_TICKS 1024
/* Rows per section of the report (temporaries, largest blocks). */
#define REPORT_TOP 200

static const char *const view_names[LT_NVIEWS] = {"overview", "leaks", "temporaries",
                                                  "largest", "phases", "suggest",
                                                  "processes"};
static const char *const sort_names[LT_NSORTS] = {"bytes", "count", "name", "order"};
static const char *const shape_names[LT_NSHAPES] = {"flat", "top-down", "bottom-up"};

const char *lt_view_name(LtView v) { return v < LT_NVIEWS ? view_names[v] : "?"; }
const char *lt_sort_name(LtSort s) { return s < LT_NSORTS ? sort_names[s] : "?"; }
const char *lt_shape_name(LtShape s) { return s < LT_NSHAPES ? shape_names[s] : "?"; }

/* ---- escaping ---- */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if it is not one:
** overlong forms, surrogates and code points past U+10FFFF are invalid, as
** a terminal might act on them. */
static int utf8_len(const unsigned char *p) {
  unsigned c = p[0];
  int n;
  unsigned min, cp;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) n = 2, min = 0x80, cp = c & 0x1f;
  else if ((c & 0xf0) == 0xe0) n = 3, min = 0x800, cp = c & 0x0f;
  else if ((c & 0xf8) == 0xf0) n = 4, min = 0x10000, cp = c & 0x07;
  else return 0;
  for (int i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (p[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  /* C1 controls (U+0080..U+009F) are control characters too */
  if (cp >= 0x80 && cp <= 0x9f) return 0;
  return n;
}

char *lt_escape(const char *s, char *buf, size_t len, int ascii) {
  size_t o = 0;
  if (!len) return buf;
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  while (*p) {
    int n = utf8_len(p);
    if (n == 1 && *p >= 0x20 && *p != 0x7f) {
      if (o + 1 >= len) break;
      buf[o++] = (char)*p++;
    } else if (n > 1 && !ascii) {
      if (o + (size_t)n >= len) break;
      memcpy(buf + o, p, (size_t)n);
      o += (size_t)n;
      p += n;
    } else {
      /* one byte at a time, so a broken sequence shows what it holds */
      if (o + 4 >= len) break;
      snprintf(buf + o, 5, "\\x%02x", *p++);
      o += 4;
    }
  }
  buf[o] = 0;
  return buf;
}

static const char *base(const char *p) {
  const char *s = p ? strrchr(p, '/') : NULL;
  return s ? s + 1 : p ? p : "?";
}

char *lt_frame_text(const LrFrame *f, char *buf, size_t len, int ascii) {
  char name[256], raw[600];
  lr_peak_frame_name(f, name, sizeof name);
  if (f->file)
    snprintf(raw, sizeof raw, "%s %s:%lld (%s)", name, base(f->file), (long long)f->line,
             base(f->module));
  else snprintf(raw, sizeof raw, "%s (%s)", name, base(f->module));
  return lt_escape(raw, buf, len, ascii);
}

/* ---- time ---- */

/* The moment of chart column i: the last event before the column ends. */
static int moment_of_tick(LtModel *m, size_t i, LrMoment *out) {
  LrErr err = {{0}};
  const LtTick *k = &m->ticks[i];
  if (i + 1 == m->nticks) return lr_peak_moment_at_seq(m->t, m->end_seq, out, &err);
  int64_t last = lt_sat_sub(k->ns_end, 1);
  int64_t ns = last > k->ns_start ? last : k->ns_start;
  char spec[40];
  snprintf(spec, sizeof spec, "%lldns", (long long)ns);
  if (lr_peak_moment(m->t, spec, out, &err) == 0) return 0;
  /* before the first event: nothing is live yet */
  memset(out, 0, sizeof *out);
  out->seq = -1;
  out->ns = ns;
  return 0;
}

static size_t tick_of_ns(const LtModel *m, int64_t ns) {
  for (size_t i = 0; i < m->nticks; i++)
    if (ns < m->ticks[i].ns_end) return i;
  return m->nticks ? m->nticks - 1 : 0;
}

/* A library message on the status line, which the view draws as it is:
** escaped, since it can quote the trace (a damaged schema's object name, a
** path). */
static void status_err(LtModel *m, const LrErr *err) {
  lt_escape(err->msg, m->status, sizeof m->status, m->ascii);
}

/* The group lists follow the cursor: dropped here, rebuilt on demand. */
static void drop_groups(LtModel *m) {
  lr_peak_groups_free(&m->groups);
  lr_peak_groups_free(&m->stack_groups);
  memset(&m->groups, 0, sizeof m->groups);
  memset(&m->stack_groups, 0, sizeof m->stack_groups);
  m->stack_groups_ok = 0;
  m->dirty = ~0u;
}

static int load_groups(LtModel *m) {
  LrErr err = {{0}};
  drop_groups(m);
  if (m->at.seq < 0) return 0;
  if (lr_peak_contributors(m->t, m->r->stacks, m->at.seq, m->by, 0, &m->groups, &err)) {
    status_err(m, &err);
    return -1;
  }
  return 0;
}

static int set_moment(LtModel *m, const LrMoment *at, size_t tick) {
  m->at = *at;
  m->tick = tick;
  return load_groups(m);
}

int lt_model_cursor_tick(LtModel *m, size_t tick) {
  if (!m->nticks) return -1;
  if (tick >= m->nticks) tick = m->nticks - 1;
  LrMoment at;
  if (moment_of_tick(m, tick, &at)) return -1;
  return set_moment(m, &at, tick);
}

int lt_model_cursor_step(LtModel *m, int delta) {
  long t = (long)m->tick + delta;
  if (t < 0) t = 0;
  return lt_model_cursor_tick(m, (size_t)t);
}

int lt_model_cursor_seq(LtModel *m, int64_t seq) {
  LrErr err = {{0}};
  LrMoment at;
  if (lr_peak_moment_at_seq(m->t, seq, &at, &err)) {
    status_err(m, &err);
    return -1;
  }
  return set_moment(m, &at, tick_of_ns(m, at.ns));
}

int lt_model_to_peak(LtModel *m) {
  if (lt_model_cursor_seq(m, m->r->peak.seq)) return -1;
  /* the column the report marked, even if the peak's time sits on an edge */
  for (size_t i = 0; i < m->nticks; i++)
    if (m->ticks[i].has_peak) m->tick = i;
  return 0;
}

int lt_model_next_marker(LtModel *m, int dir) {
  const LtMarker *k = NULL;
  if (dir > 0) {
    for (size_t i = 0; i < m->nmarkers && !k; i++)
      if (m->markers[i].seq > m->at.seq) k = &m->markers[i];
  } else {
    for (size_t i = m->nmarkers; i-- > 0 && !k;)
      if (m->markers[i].seq < m->at.seq) k = &m->markers[i];
  }
  if (!k) {
    snprintf(m->status, sizeof m->status, "no %s marker", dir > 0 ? "later" : "earlier");
    return -1;
  }
  if (lt_model_cursor_seq(m, k->seq)) return -1;
  char name[160];
  snprintf(m->status, sizeof m->status, "marker %s#%lld at seq %lld",
           lt_escape(k->name, name, sizeof name, m->ascii), (long long)k->nth,
           (long long)k->seq);
  return 0;
}

void lt_model_set_width(LtModel *m, int columns) {
  const LrReport *r = m->r;
  if (columns < 1) columns = 1;
  m->width = columns;
  size_t w = (size_t)columns;
  if (w > r->ntimeline) w = r->ntimeline;
  int64_t cursor_ns = m->nticks ? m->at.ns : 0;
  free(m->ticks);
  m->ticks = calloc(w ? w : 1, sizeof *m->ticks);
  m->nticks = m->ticks ? w : 0;
  for (size_t c = 0; c < m->nticks; c++) {
    size_t a = c * r->ntimeline / w, b = (c + 1) * r->ntimeline / w;
    LtTick *k = &m->ticks[c];
    k->ns_start = r->timeline[a].ns_start;
    k->ns_end = r->timeline[b - 1].ns_end;
    k->max_live = 0;
    k->rss = -1;
    for (size_t i = a; i < b; i++) {
      const LrTick *f = &r->timeline[i];
      if (f->max_live > k->max_live) k->max_live = f->max_live;
      if (f->rss > k->rss) k->rss = f->rss;
      if (f->has_peak) k->has_peak = 1;
      if (!k->marker && f->marker[0]) k->marker = f->marker;
    }
  }
  /* the cursor keeps its moment; only its column changes */
  m->tick = m->at.is_peak ? 0 : tick_of_ns(m, cursor_ns);
  if (m->at.is_peak)
    for (size_t i = 0; i < m->nticks; i++)
      if (m->ticks[i].has_peak) m->tick = i;
}

void lt_model_set_page(LtModel *m, size_t rows) { m->page = rows ? rows : 1; }

/* ---- lists ---- */

LtPane *lt_model_pane(LtModel *m) {
  /* only the view on screen is built; the others wait until shown */
  if (m->dirty & (1u << m->view)) {
    lt_rows_build(m, m->view);
    m->dirty &= ~(1u << m->view);
  }
  LtPane *p = &m->pane[m->view];
  if (m->want_sel[m->view]) {
    /* after a swap: the row the user had selected, if it is still there */
    for (size_t i = 0; i < p->nrows; i++)
      if (p->rows[i].label && !strcmp(p->rows[i].label, m->want_sel[m->view])) {
        p->sel = i;
        break;
      }
    free(m->want_sel[m->view]);
    m->want_sel[m->view] = NULL;
  }
  if (p->sel >= p->nrows) p->sel = p->nrows ? p->nrows - 1 : 0;
  /* keep the selection on screen */
  if (p->sel < p->top) p->top = p->sel;
  if (m->page && p->sel >= p->top + m->page) p->top = p->sel + 1 - m->page;
  if (p->top + m->page > p->nrows) p->top = p->nrows > m->page ? p->nrows - m->page : 0;
  return p;
}

void lt_model_set_view(LtModel *m, LtView v) {
  if (v >= LT_NVIEWS) return;
  m->view = v;
}

void lt_model_cycle_sort(LtModel *m) {
  LtPane *p = &m->pane[m->view];
  p->sort = (LtSort)((p->sort + 1) % LT_NSORTS);
  p->sel = p->top = 0;
  m->dirty = ~0u;
  snprintf(m->status, sizeof m->status, "sorted by %s", lt_sort_name(p->sort));
}

static int groups_view(LtView v) { return v == LT_OVERVIEW || v == LT_LEAKS; }

int lt_model_cycle_by(LtModel *m) {
  static const LrBy order[] = {LR_BY_STACK, LR_BY_FUNCTION, LR_BY_MODULE, LR_BY_FILE};
  size_t i = 0;
  while (i < 4 && order[i] != m->by) i++;
  m->by = order[(i + 1) % 4];
  lr_peak_groups_free(&m->leaks);
  lr_peak_groups_free(&m->leak_stacks);
  memset(&m->leaks, 0, sizeof m->leaks);
  memset(&m->leak_stacks, 0, sizeof m->leak_stacks);
  m->leaks_ok = m->leak_stacks_ok = 0;
  m->pane[LT_OVERVIEW].sel = m->pane[LT_LEAKS].sel = 0;
  snprintf(m->status, sizeof m->status, "grouped by %s", lr_peak_by_name(m->by));
  return load_groups(m);
}

void lt_model_cycle_shape(LtModel *m) {
  if (!groups_view(m->view)) {
    snprintf(m->status, sizeof m->status, "call trees are for contributors and leaks");
    return;
  }
  LtPane *p = &m->pane[m->view];
  p->shape = (LtShape)((p->shape + 1) % LT_NSHAPES);
  p->sel = p->top = 0;
  m->dirty = ~0u;
  snprintf(m->status, sizeof m->status, "%s", lt_shape_name(p->shape));
}

void lt_model_move(LtModel *m, long delta) {
  LtPane *p = lt_model_pane(m);
  long s = (long)p->sel + delta;
  if (s >= (long)p->nrows) s = (long)p->nrows - 1;
  if (s < 0) s = 0;
  p->sel = (size_t)s;
  lt_model_pane(m);
}

void lt_model_set_filter(LtModel *m, const char *text) {
  snprintf(m->filter, sizeof m->filter, "%s", text ? text : "");
  for (int v = 0; v < LT_NVIEWS; v++) m->pane[v].sel = m->pane[v].top = 0;
  m->dirty = ~0u;
}

/* ---- keys ---- */

static LtAction edit_key(LtModel *m, int key) {
  size_t n = strlen(m->edit);
  if (key == LT_KEY_ENTER || key == '\n' || key == '\r') {
    m->editing = 0;
    lt_model_set_filter(m, m->edit);
    if (m->filter[0]) {
      char e[160];
      snprintf(m->status, sizeof m->status, "filter: %s",
               lt_escape(m->filter, e, sizeof e, m->ascii));
    }
    return LT_REDRAW;
  }
  if (key == LT_KEY_ESC) {
    m->editing = 0;
    return LT_REDRAW;
  }
  if (key == LT_KEY_BACKSPACE || key == 127 || key == 8) {
    if (n) m->edit[n - 1] = 0;
  } else if (key >= 0x20 && key < 0x7f && n + 1 < sizeof m->edit) {
    m->edit[n] = (char)key;
    m->edit[n + 1] = 0;
  } else {
    return LT_NONE;
  }
  /* the list follows as one types, like htop's filter */
  lt_model_set_filter(m, m->edit);
  return LT_REDRAW;
}

static LtAction key_action(LtModel *m, int key);

LtAction lt_model_key(LtModel *m, int key) {
  if (m->editing) return edit_key(m, key);
  if (m->help) {
    m->help = 0; /* any key closes the help, even q: quitting takes a second q */
    return LT_REDRAW;
  }
  m->status[0] = 0;
  int64_t seq0 = m->at.seq;
  size_t tick0 = m->tick;
  LtAction a = key_action(m, key);
  /* live: the cursor stops following the newest moment once the user
     moves it anywhere but the last column (end brings it back) */
  if (m->at.seq != seq0 || m->tick != tick0) m->follow = m->nticks && m->tick + 1 == m->nticks;
  return a;
}

static LtAction key_action(LtModel *m, int key) {
  LtPane *p = &m->pane[m->view];
  int tree = groups_view(m->view) && p->shape != LT_FLAT;
  switch (key) {
  case 'q':
  case 'Q': return LT_QUIT;
  case '?': m->help = 1; break;
  case '1': case '2': case '3': case '4': case '5': case '6': case '7':
    lt_model_set_view(m, (LtView)(key - '1'));
    break;
  case 'P': lt_model_set_view(m, LT_PROCS); break;
  case LT_KEY_TAB: lt_model_set_view(m, (LtView)((m->view + 1) % LT_NVIEWS)); break;
  case LT_KEY_BTAB: lt_model_set_view(m, (LtView)((m->view + LT_NVIEWS - 1) % LT_NVIEWS)); break;
  case LT_KEY_LEFT:
    if (tree) lt_model_expand(m, 0);
    else lt_model_cursor_step(m, -1);
    break;
  case LT_KEY_RIGHT:
    if (tree) lt_model_expand(m, 1);
    else lt_model_cursor_step(m, 1);
    break;
  case LT_KEY_SLEFT: case '[': case ',': lt_model_cursor_step(m, -1); break;
  case LT_KEY_SRIGHT: case ']': case '.': lt_model_cursor_step(m, 1); break;
  case LT_KEY_HOME:
    if (m->view == LT_OVERVIEW) lt_model_cursor_tick(m, 0);
    else lt_model_move(m, -(long)p->nrows);
    break;
  case LT_KEY_END:
    if (m->view == LT_OVERVIEW) lt_model_cursor_tick(m, m->nticks ? m->nticks - 1 : 0);
    else lt_model_move(m, (long)p->nrows);
    break;
  case 'p': lt_model_to_peak(m); break;
  case 'm': lt_model_next_marker(m, 1); break;
  case 'M': lt_model_next_marker(m, -1); break;
  case LT_KEY_UP: case 'k': lt_model_move(m, -1); break;
  case LT_KEY_DOWN: case 'j': lt_model_move(m, 1); break;
  case LT_KEY_PGUP: lt_model_move(m, -(long)(m->page ? m->page : 1)); break;
  case LT_KEY_PGDN: lt_model_move(m, (long)(m->page ? m->page : 1)); break;
  case 's': lt_model_cycle_sort(m); break;
  case 'g':
    if (groups_view(m->view)) lt_model_cycle_by(m);
    else snprintf(m->status, sizeof m->status, "grouping is for contributors and leaks");
    break;
  case 't': lt_model_cycle_shape(m); break;
  case LT_KEY_ENTER: case '\n': case '\r': case ' ':
    if (m->view == LT_PROCS) {
      LtPane *q = lt_model_pane(m);
      if (q->nrows) lt_model_select_process(m, ((const LrProcess *)q->rows[q->sel].src)->id);
    } else if (tree) {
      LtPane *q = lt_model_pane(m);
      if (q->nrows) lt_model_expand(m, !q->rows[q->sel].open);
    }
    break;
  case '+': lt_model_expand(m, 1); break;
  case '-': lt_model_expand(m, 0); break;
  case '/':
    m->editing = 1;
    snprintf(m->edit, sizeof m->edit, "%s", m->filter);
    break;
  case LT_KEY_ESC:
    if (m->filter[0]) lt_model_set_filter(m, "");
    break;
  case 'e': {
    char path[600];
    lt_model_export(m, ".", path, sizeof path);
    break;
  }
  default: return LT_NONE;
  }
  return LT_REDRAW;
}

/* ---- opening ---- */

/* The last seq of the trace, found by bisection on "is this seq in the
** trace" since the public API gives a moment's seq but not the last one. */
static int64_t find_end_seq(LtModel *m) {
  int64_t lo = m->r->peak.seq > 0 ? m->r->peak.seq : 0, hi = INT64_MAX / 4;
  for (size_t i = 0; i < m->nmarkers; i++)
    if (m->markers[i].seq > lo) lo = m->markers[i].seq;
  char spec[32];
  LrMoment mo;
  LrErr err;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo + 1) / 2;
    snprintf(spec, sizeof spec, "%lld", (long long)mid);
    if (lr_peak_moment(m->t, spec, &mo, &err) == 0) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

static int load_suggest(LtModel *m, const char *dir, LrErr *err) {
  m->sg = lr_suggest_load(dir, NULL, 0, err);
  if (!m->sg) return -1;
  snprintf(m->sweep_dir, sizeof m->sweep_dir, "%s", dir);
  int np = lr_suggest_nparams(m->sg);
  double vals[LR_FIT_MAX_PARAMS][64];
  int nv[LR_FIT_MAX_PARAMS];
  size_t total = 1;
  for (int p = 0; p < np; p++) {
    nv[p] = lr_suggest_param_values(m->sg, p, vals[p], 64);
    if (nv[p] < 1) nv[p] = 1, vals[p][0] = 1;
    total *= (size_t)nv[p];
    if (total > 4096) total = 4096;
  }
  m->configs = calloc(total, sizeof *m->configs);
  if (!m->configs) return lr_err_set(err, "%s: out of memory", dir);
  /* every combination of the swept values, the first parameter slowest */
  for (size_t c = 0; c < total; c++) {
    LtConfig *k = &m->configs[c];
    size_t rest = c, len = 0;
    for (int p = np - 1; p >= 0; p--) {
      k->x[p] = vals[p][rest % (size_t)nv[p]];
      rest /= (size_t)nv[p];
    }
    for (int p = 0; p < np && len < sizeof k->label; p++)
      len += (size_t)snprintf(k->label + len, sizeof k->label - len, "%s%s=%g", p ? " " : "",
                              lr_suggest_param_name(m->sg, p), k->x[p]);
    lr_suggest_predict(m->sg, k->x, &k->peak);
  }
  m->nconfigs = total;
  return 0;
}

/* Everything built from the trace (not the panes' state, not the sweep). */
static void drop_data(LtModel *m) {
  for (int v = 0; v < LT_NVIEWS; v++) lt_rows_free(&m->pane[v]);
  lr_peak_groups_free(&m->groups);
  lr_peak_groups_free(&m->stack_groups);
  lr_peak_groups_free(&m->leaks);
  lr_peak_groups_free(&m->leak_stacks);
  memset(&m->groups, 0, sizeof m->groups);
  memset(&m->stack_groups, 0, sizeof m->stack_groups);
  memset(&m->leaks, 0, sizeof m->leaks);
  memset(&m->leak_stacks, 0, sizeof m->leak_stacks);
  m->stack_groups_ok = m->leaks_ok = m->leak_stacks_ok = 0;
  free(m->ticks);
  free(m->markers);
  free(m->procs);
  m->ticks = NULL;
  m->markers = NULL;
  m->procs = NULL;
  m->nticks = m->nmarkers = m->nprocs = 0;
  if (m->r) lr_report_free(m->r);
  m->r = NULL;
  m->dirty = ~0u;
}

static int build_report(LrTrace *t, LrReport **out, LrErr *err) {
  LrReportOpts o = {0};
  o.top = REPORT_TOP;
  o.timeline_width = FINE_TICKS;
  o.phase_top = 10;
  return lr_report_build(t, &o, out, err);
}

/* The rest of the data once m->t and m->r are set: markers, processes, the
** last seq, the chart. The cursor is left at the peak's moment. */
static int attach(LtModel *m, LrErr *err) {
  /* markers are where phases start; "(start)" is the span before the first */
  m->markers = calloc(m->r->nphases + 1, sizeof *m->markers);
  if (!m->markers) return lr_err_set(err, "out of memory");
  for (size_t i = 0; i < m->r->nphases; i++) {
    const LrPhase *p = &m->r->phases[i];
    if (i == 0 && !strcmp(p->name, "(start)")) continue;
    LtMarker *k = &m->markers[m->nmarkers++];
    k->seq = p->start_seq;
    k->ns = p->start_ns;
    k->nth = p->nth;
    k->name = p->name;
  }
  if (lr_trace_processes(m->t, &m->procs, &m->nprocs, err)) return -1;
  m->proc_id = lr_trace_process(m->t);
  m->nticks = 0; /* set_width: no old cursor column to keep */
  if (!m->r->run.allocs) {
    m->end_seq = 0;
    memset(&m->at, 0, sizeof m->at);
    m->at.seq = -1;
  } else {
    m->end_seq = find_end_seq(m);
    m->at = m->r->peak;
  }
  lt_model_set_width(m, m->width > 0 ? m->width : 80);
  m->dirty = ~0u;
  return 0;
}

/* The message names the file: the library's query errors may not ("query:
** integer overflow" on a damaged trace, found by fuzz_tui), and `lowram tui`
** prints it as it is. */
static int trace_err(LrTrace *t, LrErr *err) {
  const char *path = lr_trace_path(t);
  if (err && path && !strstr(err->msg, path)) {
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err->msg);
    lr_err_set(err, "%s: %s", path, msg);
  }
  return -1;
}

int lt_model_open(LtModel *m, LrTrace *t, const char *sweep_dir, LrErr *err) {
  memset(m, 0, sizeof *m);
  m->t = t;
  m->by = LR_BY_STACK;
  m->pane[LT_PHASES].sort = LT_SORT_ORDER;
  m->pane[LT_LARGEST].sort = LT_SORT_BYTES;
  if (build_report(t, &m->r, err)) return trace_err(t, err);
  if (sweep_dir && load_suggest(m, sweep_dir, err)) return -1;
  if (attach(m, err)) return trace_err(t, err);
  if (!m->r->run.allocs) return 0;
  if (lt_model_to_peak(m)) {
    lr_err_set(err, "%s", m->status);
    return trace_err(t, err);
  }
  return 0;
}

/* Replaces the model's data by report r of trace t (m->t itself, or a newer
** trace that replaces it), keeping every pane's state. where: 0 the same
** seq, 1 the peak, 2 the last moment. */
static int rebuild(LtModel *m, LrTrace *t, LrReport *r, int where, LrErr *err) {
  int64_t seq = m->at.seq;
  for (int v = 0; v < LT_NVIEWS; v++) {
    /* a pane not rebuilt since the last swap keeps the label it waits for */
    LtPane *p = &m->pane[v];
    if (m->want_sel[v] && (m->dirty & (1u << v))) continue;
    free(m->want_sel[v]);
    m->want_sel[v] = NULL;
    if (p->sel < p->nrows && p->rows[p->sel].label)
      m->want_sel[v] = strdup(p->rows[p->sel].label);
  }
  drop_data(m);
  if (t != m->t) {
    lr_trace_close(m->t);
    m->t = t;
  }
  m->r = r;
  if (attach(m, err)) return -1;
  if (!m->r->run.allocs) return 0;
  if (where == 1) return lt_model_to_peak(m);
  if (where == 2 || seq > m->end_seq) return lt_model_cursor_tick(m, m->nticks ? m->nticks - 1 : 0);
  return lt_model_cursor_seq(m, seq < 0 ? 0 : seq);
}

int lt_model_select_process(LtModel *m, int64_t id) {
  LrErr err = {{0}};
  const LrProcess *p = NULL;
  for (size_t i = 0; i < m->nprocs; i++)
    if (m->procs[i].id == id) p = &m->procs[i];
  if (lr_trace_select_process(m->t, id, &err)) {
    status_err(m, &err);
    return -1;
  }
  LrReport *r;
  if (build_report(m->t, &r, &err)) {
    status_err(m, &err);
    lr_trace_select_process(m->t, m->proc_id, &err); /* back to what the data shows */
    return -1;
  }
  m->proc_chosen = 1;
  m->chosen_pid = p ? p->pid : 0;
  m->chosen_exec = p ? p->exec_index : 0;
  if (rebuild(m, m->t, r, 1, &err)) {
    status_err(m, &err);
    return -1;
  }
  /* rebuild freed the process list p pointed into (ASan): find it again */
  p = NULL;
  for (size_t i = 0; i < m->nprocs; i++)
    if (m->procs[i].id == id) p = &m->procs[i];
  char words[600], e[300], b[32];
  const LrMoment *pk = &m->r->peak;
  snprintf(m->status, sizeof m->status, "showing pid %lld %s in every view: peak %s",
           (long long)m->r->run.pid,
           lt_escape(lt_argv_words(p ? p->argv : "[]", words, sizeof words), e, sizeof e, m->ascii),
           lr_fmt_bytes(b, sizeof b, lt_sat_add(pk->live.heap, pk->live.anon)));
  return 0;
}

int lt_model_swap(LtModel *m, LrTrace *t, int at_peak, LrErr *err) {
  /* the process the user chose, found again by pid and exec index (ids can
     change when a newer import finds more processes) */
  if (m->proc_chosen) {
    LrProcess *ps = NULL;
    size_t n = 0;
    if (lr_trace_processes(t, &ps, &n, err)) return -1;
    for (size_t i = 0; i < n; i++)
      if (ps[i].pid == m->chosen_pid && ps[i].exec_index == m->chosen_exec) {
        LrErr e2 = {{0}};
        lr_trace_select_process(t, ps[i].id, &e2);
      }
    free(ps);
  }
  LrReport *r;
  if (build_report(t, &r, err)) return -1;
  return rebuild(m, t, r, at_peak ? 1 : m->follow ? 2 : 0, err);
}

char *lt_argv_words(const char *json, char *buf, size_t len) {
  size_t o = 0;
  const char *p = json ? json : "";
  int in = 0, words = 0;
  if (!len) return buf;
  while (*p && o + 1 < len) {
    char c = *p++;
    if (!in) {
      if (c == '"') {
        in = 1;
        if (words++ && o + 1 < len) buf[o++] = ' ';
      }
      continue;
    }
    if (c == '"') {
      in = 0;
      continue;
    }
    if (c == '\\' && *p) {
      c = *p++;
      switch (c) {
      case 'n': c = '\n'; break;
      case 't': c = '\t'; break;
      case 'r': c = '\r'; break;
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'u': {
        /* \uXXXX: as UTF-8 (a control character stays one: escaped later) */
        unsigned v = 0;
        int k = 0;
        for (; k < 4 && p[k]; k++) {
          char h = p[k];
          v = v * 16 + (unsigned)(h >= '0' && h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
        }
        p += k;
        if (v < 0x80) c = (char)v;
        else {
          char u[3];
          int n = v < 0x800 ? 2 : 3;
          if (n == 2) u[0] = (char)(0xc0 | v >> 6), u[1] = (char)(0x80 | (v & 0x3f));
          else u[0] = (char)(0xe0 | v >> 12), u[1] = (char)(0x80 | (v >> 6 & 0x3f)),
          u[2] = (char)(0x80 | (v & 0x3f));
          for (int i = 0; i < n && o + 1 < len; i++) buf[o++] = u[i];
          continue;
        }
        break;
      }
      default: break; /* \" \\ \/ */
      }
    }
    buf[o++] = c;
  }
  buf[o] = 0;
  return buf;
}

char *lt_proc_end(const LtModel *m, const LrProcess *p, char *buf, size_t len) {
  char r[20];
  lt_escape(p->end_reason, r, sizeof r, 1);
  /* a live import sees a process that has not ended as "killed" */
  if (m->live && (!strcmp(p->end_reason, "killed") || !p->end_reason[0]) && p->pid > 0 &&
      (kill((pid_t)p->pid, 0) == 0 || errno == EPERM))
    snprintf(buf, len, "running");
  else if (p->end_code != INT64_MIN && (!strcmp(p->end_reason, "exit") ||
                                        !strcmp(p->end_reason, "_exit") ||
                                        !strcmp(p->end_reason, "signal")))
    snprintf(buf, len, "%s %lld", r, (long long)p->end_code);
  else snprintf(buf, len, "%s", r[0] ? r : "?");
  return buf;
}

void lt_model_free(LtModel *m) {
  if (!m->r && !m->t) return;
  for (int v = 0; v < LT_NVIEWS; v++) {
    lt_rows_free(&m->pane[v]);
    for (size_t i = 0; i < m->pane[v].nopen; i++) free(m->pane[v].open_paths[i]);
    free(m->pane[v].open_paths);
    free(m->pane[v].open_state);
    free(m->want_sel[v]);
  }
  drop_data(m);
  free(m->configs);
  if (m->sg) lr_suggest_free(m->sg);
  if (m->t) lr_trace_close(m->t);
  memset(m, 0, sizeof *m);
}
