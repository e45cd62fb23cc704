/*
** model.h: the state of `lowram tui`, with no curses at all.
**
** The model owns everything a screen shows: the report of the trace
** (report.h), the time cursor (a tick of the chart and the seq it stands
** for), the contributors at that seq (peak.h), and for each view its list
** state: grouping, sort, tree shape and expansion, selection, scroll, and
** the filter. Keys are pure functions of the model (lt_model_key), so the
** tests drive the browser the way a user does, without a terminal; the
** view (view.c, chart.c) only reads the model and draws it.
**
** Every string that comes from the trace (symbols, paths, markers, the
** command line) goes through lt_escape() before it reaches the screen.
*/
#ifndef LT_MODEL_H
#define LT_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lowram/err.h"
#include "lowram/peak.h"
#include "lowram/report.h"
#include "lowram/suggest.h"
#include "lowram/trace.h"

/* a + b and a - b clamped to the int64 range: times, seqs and byte counts
** come from the trace, and a damaged one holds INT64_MAX and INT64_MIN
** (signed overflow found by tests/fuzz/fuzz_tui.c). Used by model.c,
** rows.c and export.c. */
static inline int64_t lt_sat_add(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}

static inline int64_t lt_sat_sub(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_sub_overflow(a, b, &r) ? (b < 0 ? INT64_MAX : INT64_MIN) : r;
}

typedef enum LtView {
  LT_OVERVIEW, /* run, peak, chart, contributors at the time cursor */
  LT_LEAKS,    /* blocks live at the end */
  LT_TEMPS,    /* temporaries per stack */
  LT_LARGEST,  /* the largest blocks */
  LT_PHASES,   /* marker to marker */
  LT_SUGGEST,  /* predicted peaks of a sweep and advice */
  LT_PROCS,    /* the run's processes as a tree; enter shows one in every view */
  LT_NVIEWS
} LtView;

typedef enum LtSort { LT_SORT_BYTES, LT_SORT_COUNT, LT_SORT_NAME, LT_SORT_ORDER, LT_NSORTS } LtSort;
/* flat table, call tree from main down, call tree from the allocation up */
typedef enum LtShape { LT_FLAT, LT_TOPDOWN, LT_BOTTOMUP, LT_NSHAPES } LtShape;

/* Keys the model understands besides printable ASCII (tui.c maps curses'
** KEY_* codes to these, tests use them directly). */
enum {
  LT_KEY_UP = 0x1000, LT_KEY_DOWN, LT_KEY_LEFT, LT_KEY_RIGHT, LT_KEY_HOME, LT_KEY_END,
  LT_KEY_PGUP, LT_KEY_PGDN, LT_KEY_SLEFT, LT_KEY_SRIGHT, LT_KEY_ENTER, LT_KEY_ESC,
  LT_KEY_BACKSPACE, LT_KEY_TAB, LT_KEY_BTAB
};

/* What lt_model_key did, so the loop knows whether to quit. */
typedef enum LtAction { LT_NONE, LT_REDRAW, LT_QUIT } LtAction;

/* One chart column: the report's fine timeline merged to the screen width. */
typedef struct LtTick {
  int64_t ns_start, ns_end, max_live, rss; /* rss -1: no sample */
  int has_peak;
  const char *marker; /* first marker in the column, or NULL */
} LtTick;

/* A marker the cursor can jump to (the phases' starts). */
typedef struct LtMarker {
  int64_t seq, ns, nth;
  const char *name;
} LtMarker;

typedef struct LtNode LtNode; /* a call-tree node (rows.c) */

/* One line of a view's list. Columns the views do not share live in v[]. */
typedef struct LtRow {
  int depth;              /* tree depth; 0 in tables */
  int kids, open;         /* tree: the node has children / is expanded */
  const char *label;      /* raw text (escape before drawing); owned by the model */
  int64_t bytes, count;   /* the sort keys, with label and order */
  int64_t order;          /* position in the source (time for phases) */
  int64_t v[4];           /* view columns: see view.c's column tables */
  const LrStack *stack;   /* for the detail pane, or NULL */
  size_t frame;           /* tree: which frame of stack the node stands for */
  LtNode *node;           /* tree rows only */
  const void *src;        /* the LrGroup, LrSite, LrBlock, LrPhase, config or LrProcess */
} LtRow;

typedef struct LtPane {
  LtSort sort;
  LtShape shape;
  size_t sel, top;        /* selected row, first row on screen */
  LtRow *rows;
  size_t nrows, cap;
  int64_t total;          /* bytes the share column is a share of */
  LtNode *tree;           /* the root (no frame of its own) in tree shapes */
  char **open_paths;      /* tree expansion, by the node's path of names */
  int *open_state;        /* 1 open, 0 closed by the user */
  size_t nopen;
} LtPane;

/* A configuration of the sweep, with its prediction. */
typedef struct LtConfig {
  double x[LR_FIT_MAX_PARAMS];
  char label[128];
  LrSuggestPeak peak;
} LtConfig;

typedef struct LtModel {
  LrTrace *t;
  LrReport *r;
  LtView view;
  LrBy by;
  int ascii;              /* escape every byte >= 0x80 too */
  /* time */
  LtTick *ticks;
  size_t nticks;
  size_t tick;            /* the cursor's chart column */
  LrMoment at;            /* the moment of the cursor */
  int64_t end_seq;        /* the last seq of the trace */
  LtMarker *markers;
  size_t nmarkers;
  /* data behind the group views, refreshed when the cursor or `by` moves */
  LrGroups groups, stack_groups;   /* at the cursor: by `by`, and by stack (trees) */
  LrGroups leaks, leak_stacks;     /* at end_seq */
  int stack_groups_ok, leaks_ok, leak_stacks_ok;
  /* suggest view */
  LrSuggest *sg;
  LtConfig *configs;
  size_t nconfigs;
  char sweep_dir[512];
  /* the list of every view, and the filter they share */
  LtPane pane[LT_NVIEWS];
  char filter[128];
  int editing;            /* '/' typed: keys edit `edit` until enter or escape */
  char edit[128];
  int help;               /* '?' overlay shown */
  size_t page;            /* rows the list shows (set by the loop from the layout) */
  unsigned dirty;         /* bit v: view v's rows need a rebuild */
  char status[512];
  int export_n;           /* last n tried for lowram-<view>-<n>.csv */
  int width;              /* chart columns (lt_model_set_width) */
  char *want_sel[LT_NVIEWS]; /* label to select again once rows are rebuilt */
  /* the run's processes (lr_trace_processes) and the one every view shows */
  LrProcess *procs;
  size_t nprocs;
  int64_t proc_id;        /* lr_trace_process */
  int proc_chosen;        /* the user chose (pid, exec) below; kept across swaps */
  int64_t chosen_pid, chosen_exec;
  /* live mode (tui.c): the trace is swapped for a newer import a few times a
  ** second (lt_model_swap); the cursor follows the newest moment until the
  ** user moves it away from the last column */
  int live;
  int follow;
  int64_t live_events;
  char live_note[256];    /* e.g. where the program's output goes */
} LtModel;

/* Builds the model of trace t (the model takes it; closed by lt_model_free).
** sweep_dir: a sweep directory for the suggest view, or NULL. 0, or -1 with
** *err. ticks: the chart's resolution before lt_model_set_width. */
int lt_model_open(LtModel *m, LrTrace *t, const char *sweep_dir, LrErr *err);
void lt_model_free(LtModel *m);

/* The screen changed: chart columns and rows the list shows. Keeps the
** cursor at the same time. */
void lt_model_set_width(LtModel *m, int columns);
void lt_model_set_page(LtModel *m, size_t rows);

/* One key (ASCII or LT_KEY_*). Pure: changes only the model (and `e`
** writes a file in the current directory). */
LtAction lt_model_key(LtModel *m, int key);

/* The actions behind the keys, for tests and the loop. 0, or -1 with the
** reason in m->status. */
int lt_model_cursor_tick(LtModel *m, size_t tick); /* moves to a chart column */
int lt_model_cursor_step(LtModel *m, int delta);   /* one column left/right */
int lt_model_cursor_seq(LtModel *m, int64_t seq);  /* an exact moment */
int lt_model_to_peak(LtModel *m);
int lt_model_next_marker(LtModel *m, int dir);     /* +1 next, -1 previous */
void lt_model_set_view(LtModel *m, LtView v);
void lt_model_cycle_sort(LtModel *m);
int lt_model_cycle_by(LtModel *m);
void lt_model_cycle_shape(LtModel *m);
void lt_model_move(LtModel *m, long delta);        /* selection, clamped */
void lt_model_expand(LtModel *m, int open);        /* the selected node */
void lt_model_set_filter(LtModel *m, const char *text);

/* Shows process `id` (LrProcess.id) in every view: the trace selects it
** (lr_trace_select_process), the model's data is rebuilt, the cursor goes
** to that process's peak. 0, or -1 with m->status. */
int lt_model_select_process(LtModel *m, int64_t id);

/* Live mode: t (a newer import of the same run) replaces the model's trace,
** which is closed. View, grouping, sort, shape, filter, the selected rows
** (by label) and the chosen process (by pid and exec index) stay; the
** cursor goes to the newest moment when m->follow, else stays at its seq
** (at_peak: to the peak instead, for the final trace). On failure (-1, *err)
** nothing changed and t is not taken. */
int lt_model_swap(LtModel *m, LrTrace *t, int at_peak, LrErr *err);

/* The words of a JSON array of strings (a process's argv) joined by
** spaces, raw (escape before drawing). Returns buf. */
char *lt_argv_words(const char *json, char *buf, size_t len);

/* How process p ended, for a column: "exit 0", "signal 9", "running"
** (live, its pid still there), "killed"... Returns buf. */
char *lt_proc_end(const LtModel *m, const LrProcess *p, char *buf, size_t len);

/* The rows of the current view (rebuilt if the state changed). */
LtPane *lt_model_pane(LtModel *m);

/* The detail of the selected row as lines of escaped text (at most max,
** each cut to LT_LINE bytes). Returns the count. */
#define LT_LINE 640
size_t lt_model_detail(LtModel *m, char (*lines)[LT_LINE], size_t max);

/* Writes the current view as CSV to lowram-<view>-<n>.csv in dir (never
** over an existing file). 0 and the path in out, or -1 with m->status. */
int lt_model_export(LtModel *m, const char *dir, char *out, size_t len);
/* The rows of the current view as CSV to f (what lt_model_export writes). */
int lt_model_write_csv(LtModel *m, FILE *f);

/* Names of things for the header and the status line. */
const char *lt_view_name(LtView v);
const char *lt_sort_name(LtSort s);
const char *lt_shape_name(LtShape s);

/* Copies s into buf (len >= 1) so it can go to a terminal: bytes < 0x20,
** 0x7f, bytes of invalid UTF-8 (and with ascii, every byte >= 0x80) become
** "\xNN"; a backslash stays itself. Cut at a whole character. Returns buf. */
char *lt_escape(const char *s, char *buf, size_t len, int ascii);

/* "function file:line (module)" of a frame, escaped. */
char *lt_frame_text(const LrFrame *f, char *buf, size_t len, int ascii);

/* Internal to the model (rows.c / export.c share them with model.c). */
void lt_rows_build(LtModel *m, LtView v);
void lt_rows_free(LtPane *p);
int lt_row_matches(const LtModel *m, const char *label, const LrStack *s);

#endif
