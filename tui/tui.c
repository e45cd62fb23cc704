/*
** tui.c: `lowram tui TRACE|SWEEP_DIR`, `lowram tui --live SPOOL` and the
** screen of `lowram record --tui`: the loop. It opens the trace (the
** import, when it is a spool, prints progress before the screen changes),
** builds the model, then waits for keys: each one goes to lt_model_key and
** the screen is drawn again. The terminal is restored on every way out:
** `q`, an error, SIGINT/SIGTERM/SIGHUP (a flag the loop sees within a
** tenth of a second; curses calls are not safe in a handler).
**
** Live (live.h): between keys, a few times a second, a newer import of the
** run replaces the model's trace (lt_model_swap). --live SPOOL ends when
** every process of the run has ended or is gone: the final import (frames
** named) goes to the spool's own trace name (lr_import_open), with its
** progress in the status line, and the same screen becomes the ordinary
** browser. `q` while live leaves the view; the program is not ours and goes
** on. `record --tui`: see tui.h.
*/
#include <errno.h>
#include <stdarg.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "live.h"
#include "screen.h"
#include "lowram/import.h"
#include "lowram/sweep.h"
#include "lowram/text.h"
#include "lowram/units.h"
#include "tui.h"

static volatile sig_atomic_t got_signal;

/* Library messages name files from the trace: escaped before stderr
** (lowram/text.h); the front end is single-threaded. */
static char emsg[2200];

static void on_signal(int sig) { got_signal = sig; }

/* snprintf for messages that may be cut on purpose (long paths, errors). */
__attribute__((format(printf, 3, 4))) static void msg(char *buf, size_t len, const char *fmt,
                                                      ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, len, fmt, ap);
  va_end(ap);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: lowram tui [--ascii] TRACE.db|SPOOL|SWEEP_DIR\n"
          "       lowram tui [--ascii] --live SPOOL\n"
          "  Browse a trace in the terminal: the run, its peak and a chart of live\n"
          "  bytes and RSS, what is live at a time cursor (table or call tree), leaks,\n"
          "  temporaries, the largest blocks and phases. Given a sweep directory\n"
          "  (lowram sweep), it also shows predicted peaks and advice, on the\n"
          "  sweep's last usable run. Press ? for the keys.\n"
          "  --live SPOOL  follow a run while it is recorded (LD_PRELOAD=liblowram.so\n"
          "            LOWRAM_OUT=run.db: SPOOL is run.db.spool): re-imported a few times a\n"
          "            second; when every process has ended, imported to its trace\n"
          "            (run.db) and browsed; q leaves, the program goes on\n"
          "  --ascii   ASCII only (also LR_ASCII=1, or a locale that is not UTF-8);\n"
          "            NO_COLOR in the environment turns colors off\n");
}

/* Import progress on stderr, before curses takes the screen. */
static int progress(void *ctx, const LrImportProgress *p) {
  (void)ctx;
  static const char *const stage[] = {"merging", "indexing", "naming frames", "aggregates"};
  fprintf(stderr, "\rlowram tui: importing: %s, %llu events, %.1f s   ",
          stage[p->stage <= LR_IMPORT_AGGREGATES ? p->stage : 0], (unsigned long long)p->events,
          p->seconds);
  return got_signal != 0;
}

/* A sweep directory: the trace of its last run that went well. */
static int sweep_trace(const char *dir, char *out, size_t len, LrErr *err) {
  LrSweepIndex *ix = lr_sweep_index_read(dir, err);
  if (!ix) return -1;
  int found = 0;
  for (size_t i = lr_sweep_index_nruns(ix); i-- > 0 && !found;)
    if (!strcmp(lr_sweep_index_status(ix, i), "ok")) {
      snprintf(out, len, "%s", lr_sweep_index_trace(ix, i));
      found = 1;
    }
  lr_sweep_index_free(ix);
  return found ? 0 : lr_err_set(err, "%s: the sweep has no run that finished well", dir);
}

static int map_key(int ch) {
  switch (ch) {
  case KEY_UP: return LT_KEY_UP;
  case KEY_DOWN: return LT_KEY_DOWN;
  case KEY_LEFT: return LT_KEY_LEFT;
  case KEY_RIGHT: return LT_KEY_RIGHT;
  case KEY_SLEFT: return LT_KEY_SLEFT;
  case KEY_SRIGHT: return LT_KEY_SRIGHT;
  case KEY_HOME: return LT_KEY_HOME;
  case KEY_END: return LT_KEY_END;
  case KEY_PPAGE: return LT_KEY_PGUP;
  case KEY_NPAGE: return LT_KEY_PGDN;
  case KEY_ENTER: case '\n': case '\r': return LT_KEY_ENTER;
  case 27: return LT_KEY_ESC;
  case KEY_BACKSPACE: case 127: case 8: return LT_KEY_BACKSPACE;
  case '\t': return LT_KEY_TAB;
  case KEY_BTAB: return LT_KEY_BTAB;
  default: return ch;
  }
}

static void set_size(LtModel *m) {
  lt_model_set_width(m, COLS);
  lt_model_set_page(m, lt_view_list_rows(m->view, LINES, COLS));
}

/* ---- one session: the screen, the model, what is followed ---- */

typedef struct Session {
  LtModel m;
  int have_model;
  LtScreen sc;
  int up;               /* curses owns the terminal */
  LtLive lv;
  int live;             /* following the run */
  double next_poll;
  char wait_msg[600];   /* before the first import: what we wait for */
  /* record --tui */
  const LtRecordRun *rec; /* &rec_copy: record's own goes out of scope */
  LtRecordRun rec_copy;
  char rec_log[4200], rec_cmd[600], rec_out[4200];
  int child_done, status;
} Session;

static Session S;

static void screen_on(Session *s) {
  if (s->up) return;
  if (s->sc.color >= 0 && stdscr) {
    /* after endwin: the next refresh takes the terminal back */
    refresh();
    s->up = 1;
    return;
  }
  if (!initscr()) return;
  s->up = 1;
  cbreak();
  noecho();
  keypad(stdscr, TRUE);
  set_escdelay(25);
  curs_set(0);
  /* wake up a few times a second, so a signal and a live run are seen
     without a key */
  timeout(100);
  s->sc.color = 0;
  if (!getenv("NO_COLOR") && has_colors()) {
    start_color();
    use_default_colors();
    init_pair(LT_PAIR_TITLE, COLOR_CYAN, -1);
    init_pair(LT_PAIR_BAR, COLOR_GREEN, -1);
    init_pair(LT_PAIR_RSS, COLOR_BLUE, -1);
    init_pair(LT_PAIR_PEAK, COLOR_RED, -1);
    init_pair(LT_PAIR_MARK, COLOR_YELLOW, -1);
    init_pair(LT_PAIR_DIM, COLOR_WHITE, -1);
    s->sc.color = 1;
  }
}

static void screen_off(Session *s) {
  if (!s->up) return;
  endwin();
  s->up = 0;
}

static void draw(Session *s) {
  if (!s->up) return;
  if (s->have_model) {
    lt_view_draw(&s->sc, &s->m);
  } else {
    /* live, before the run's first events are imported */
    erase();
    mvaddstr(0, 0, " lowram  live");
    char e[700];
    lt_escape(s->wait_msg, e, sizeof e, s->sc.ascii);
    lt_put(2, 0, e, COLS);
    lt_put(LINES - 1, 0, "q leaves", COLS);
  }
  refresh();
}

/* record --tui: CMD and every process it left have ended (all reaped). */
static int run_over(Session *s) {
  if (!s->child_done) {
    int st;
    pid_t w = waitpid((pid_t)s->rec->pid, &st, WNOHANG);
    if (w != (pid_t)s->rec->pid) return 0;
    s->child_done = 1;
    s->status = st;
  }
  for (;;) {
    int st;
    pid_t w = waitpid(-1, &st, WNOHANG);
    if (w > 0 || (w < 0 && errno == EINTR)) continue;
    return w < 0; /* ECHILD: nobody left; 0: some still run */
  }
}

/* A newer import of the run, if it is time: 1 when the screen changed. */
static int live_tick(Session *s) {
  double now = lt_live_now();
  if (now < s->next_poll) return 0;
  /* a few times a second, but never more than a third of the time importing */
  double gap = 2 * s->lv.import_secs;
  s->next_poll = now + (gap > 0.3 ? gap : 0.3);
  LrTrace *t = NULL;
  LrErr err = {{0}};
  int r = lt_live_poll(&s->lv, 0, &t, &err);
  if (r <= 0) {
    if (!s->have_model) {
      msg(s->wait_msg, sizeof s->wait_msg, "waiting for the run's first events: %s",
               err.msg[0] ? err.msg : "nothing yet");
      return 1;
    }
    if (r < 0) msg(s->m.status, sizeof s->m.status, "live import: %s", err.msg);
    return r < 0;
  }
  if (!s->have_model) {
    char note[256];
    snprintf(note, sizeof note, "%s", s->m.live_note);
    if (lt_model_open(&s->m, t, NULL, &err)) {
      if (s->m.t) lt_model_free(&s->m);
      else lr_trace_close(t);
      msg(s->wait_msg, sizeof s->wait_msg, "%s", err.msg);
      return 1;
    }
    s->have_model = 1;
    s->m.ascii = s->sc.ascii;
    msg(s->m.live_note, sizeof s->m.live_note, "%s", note);
    s->m.live = 1;
    s->m.follow = 1;
    set_size(&s->m);
    lt_model_cursor_tick(&s->m, s->m.nticks ? s->m.nticks - 1 : 0);
  } else if (lt_model_swap(&s->m, t, 0, &err)) {
    lr_trace_close(t);
    msg(s->m.status, sizeof s->m.status, "live import: %s", err.msg);
  } else {
    set_size(&s->m);
  }
  s->m.live_events = s->lv.events;
  return 1;
}

/* The loop. 0: q; 1: the live run is over; 128+signal. */
static int loop(Session *s) {
  draw(s);
  for (;;) {
    if (got_signal) return 128 + got_signal;
    int ch = getch();
    int redraw = 0;
    if (ch == KEY_RESIZE) {
      if (s->have_model) set_size(&s->m);
      redraw = 1;
    } else if (ch != ERR) {
      if (!s->have_model) {
        if (ch == 'q' || ch == 'Q') return 0;
      } else {
        LtView before = s->m.view;
        if (lt_model_key(&s->m, map_key(ch)) == LT_QUIT) return 0;
        if (s->m.view != before) set_size(&s->m);
      }
      redraw = 1;
    }
    if (s->live) {
      if (s->rec && run_over(s)) return 1;
      if (live_tick(s)) redraw = 1;
      if (!s->rec && s->have_model && s->lv.ended) return 1;
    }
    if (redraw) draw(s);
  }
}

static int decide_ascii(int ascii) {
  setlocale(LC_ALL, "");
  const char *cs = nl_langinfo(CODESET);
  const char *env_ascii = getenv("LR_ASCII");
  if ((env_ascii && *env_ascii && strcmp(env_ascii, "0")) || !cs || strcmp(cs, "UTF-8"))
    ascii = 1;
  return ascii;
}

static void own_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
}

static int run(LtModel *m, int ascii) {
  Session *s = &S;
  s->sc.ascii = ascii;
  s->sc.color = -1;
  screen_on(s);
  if (!s->up) {
    fprintf(stderr, "lowram tui: cannot use this terminal (TERM=%s)\n",
            getenv("TERM") ? getenv("TERM") : "");
    return 1;
  }
  (void)m;
  set_size(&s->m);
  int rc = loop(s);
  screen_off(s);
  return rc >= 128 ? rc : 0;
}

/* Progress of the final import in the status line. */
static int final_progress(void *ctx, const LrImportProgress *p) {
  Session *s = ctx;
  char b[200];
  lr_import_progress_text(p, b, sizeof b);
  msg(s->m.status, sizeof s->m.status, "the run ended; importing its trace: %s", b);
  draw(s);
  return got_signal != 0;
}

/* --live SPOOL */
static int live_main(const char *spool, int ascii) {
  Session *s = &S;
  LrErr err = {{0}};
  struct stat st;
  if (stat(spool, &st) == 0 && !lr_import_is_spool(spool)) {
    fprintf(stderr, "lowram tui: --live %s: not a spool (a trace opens without --live)\n", spool);
    return 2;
  }
  if (lt_live_init(&s->lv, &err)) {
    fprintf(stderr, "lowram tui: %s\n", lr_text_escape(err.msg, emsg, sizeof emsg));
    return 1;
  }
  snprintf(s->lv.spool, sizeof s->lv.spool, "%s", spool);
  char out[4096] = "";
  lr_import_default_out(spool, out, sizeof out);
  msg(s->m.live_note, sizeof s->m.live_note,
           "following %s; q leaves (the program goes on)", spool);
  msg(s->wait_msg, sizeof s->wait_msg, "waiting for %s", spool);
  s->live = 1;
  s->sc.ascii = ascii;
  s->sc.color = -1;
  screen_on(s);
  if (!s->up) {
    lt_live_free(&s->lv);
    fprintf(stderr, "lowram tui: cannot use this terminal\n");
    return 1;
  }
  int rc = loop(s);
  if (rc == 1) {
    /* the run is over: its trace under its own name, then the browser */
    s->live = 0;
    LrImportOpts io = {0};
    io.progress = final_progress;
    io.progress_ctx = s;
    LrTrace *t = lr_import_open(spool, &io, &err);
    s->m.live = 0;
    if (!t) {
      msg(s->m.status, sizeof s->m.status, "the run ended; import failed: %s", err.msg);
    } else if (lt_model_swap(&s->m, t, s->m.follow, &err)) {
      lr_trace_close(t);
      msg(s->m.status, sizeof s->m.status, "the run ended; %s", err.msg);
    } else {
      char e[300];
      set_size(&s->m);
      msg(s->m.status, sizeof s->m.status, "the run ended: its trace is %s",
               lt_escape(out, e, sizeof e, s->sc.ascii));
    }
    lt_live_free(&s->lv);
    rc = got_signal ? 128 + got_signal : loop(s);
  }
  screen_off(s);
  lt_live_free(&s->lv);
  if (s->have_model) lt_model_free(&s->m);
  s->have_model = 0;
  return rc >= 128 ? rc : 0;
}

int lt_record_live(const LtRecordRun *r, int *status) {
  Session *s = &S;
  LrErr err = {{0}};
  s->rec_copy = *r;
  snprintf(s->rec_log, sizeof s->rec_log, "%s", r->log);
  snprintf(s->rec_cmd, sizeof s->rec_cmd, "%s", r->command);
  snprintf(s->rec_out, sizeof s->rec_out, "%s", r->out);
  s->rec_copy.log = s->rec_log;
  s->rec_copy.command = s->rec_cmd;
  s->rec_copy.out = s->rec_out;
  s->rec_copy.dir = s->rec_copy.prefix = NULL; /* used here only */
  s->rec = &s->rec_copy;
  if (lt_live_init(&s->lv, &err)) {
    fprintf(stderr, "lowram record: --tui: %s; recording without the live view\n", lr_text_escape(err.msg, emsg, sizeof emsg));
    return 0;
  }
  snprintf(s->lv.dir, sizeof s->lv.dir, "%s", r->dir);
  snprintf(s->lv.prefix, sizeof s->lv.prefix, "%s", r->prefix);
  s->lv.root_pid = r->pid;
  s->lv.adopter = r->adopter;
  s->lv.since_ns = r->since_ns;
  s->lv.root_only = r->root_only;
  /* short names: the command's base name, the log from the current
     directory when it is under it */
  char c[200], l[600], cwd[4096];
  const char *base = strrchr(r->command, '/') ? strrchr(r->command, '/') + 1 : r->command;
  const char *log = r->log;
  size_t cl = getcwd(cwd, sizeof cwd) ? strlen(cwd) : 0;
  if (cl && !strncmp(log, cwd, cl) && log[cl] == '/') log += cl + 1;
  lt_escape(base, c, sizeof c, 1);
  lt_escape(log, l, sizeof l, 1);
  snprintf(s->rec_log, sizeof s->rec_log, "%s", log);
  msg(s->m.live_note, sizeof s->m.live_note,
      "output: %s | q: leave, %s keeps running | ^C stops it", l, c);
  msg(s->wait_msg, sizeof s->wait_msg, "%s runs (pid %llu); its output goes to %s", c,
           (unsigned long long)r->pid, l);
  s->live = 1;
  s->sc.ascii = decide_ascii(0);
  s->sc.color = -1;
  screen_on(s);
  if (!s->up) {
    lt_live_free(&s->lv);
    fprintf(stderr, "lowram record: --tui: cannot use this terminal; recording without it\n");
    return 0;
  }
  int rc = loop(s);
  screen_off(s);
  lt_live_free(&s->lv); /* the model keeps its trace open; the file goes */
  s->live = 0;
  if (rc == 1) {
    *status = s->status;
    return 1;
  }
  fprintf(stderr, "lowram record: left the live view; %s keeps running (pid %llu, output in %s); "
          "its trace is imported when it ends (Ctrl-C stops it)\n", c,
          (unsigned long long)r->pid, l);
  if (s->have_model) lt_model_free(&s->m);
  s->have_model = 0;
  return 0;
}

int lt_record_browse(const char *trace) {
  Session *s = &S;
  LrErr err = {{0}};
  own_signals(); /* record's are SIG_DFL by now: a signal must restore the terminal */
  LrTrace *t = lr_trace_open(trace, &err);
  int rc = 1;
  if (!t) {
    fprintf(stderr, "lowram record: %s\n", lr_text_escape(err.msg, emsg, sizeof emsg));
  } else if (!s->have_model ? lt_model_open(&s->m, t, NULL, &err)
                            : lt_model_swap(&s->m, t, s->m.follow, &err)) {
    fprintf(stderr, "lowram record: %s\n", lr_text_escape(err.msg, emsg, sizeof emsg));
    if (!s->have_model && s->m.t) lt_model_free(&s->m);
    else lr_trace_close(t);
    s->have_model = 0;
  } else {
    s->have_model = 1;
    s->m.live = 0;
    s->m.ascii = s->sc.ascii;
    char e[600];
    const char *w = s->rec ? s->rec->log : "";
    int st = s->status;
    msg(s->m.status, sizeof s->m.status, "ended (%s %d): the trace is %s; output in %s",
             WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
             lt_escape(trace, e, sizeof e, s->sc.ascii), w);
    screen_on(s);
    set_size(&s->m);
    loop(s);
    screen_off(s);
    rc = 0;
  }
  if (s->have_model) lt_model_free(&s->m);
  s->have_model = 0;
  return rc;
}

int lt_main(int argc, char **argv) {
  const char *path = NULL;
  int ascii = 0, live = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(argv[i], "--ascii")) {
      ascii = 1;
    } else if (!strcmp(argv[i], "--live")) {
      live = 1;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "lowram tui: unknown option '%s' (see lowram tui --help)\n", argv[i]);
      return 2;
    } else if (path) {
      fprintf(stderr, "lowram tui: one trace at a time ('%s' and '%s')\n", path, argv[i]);
      return 2;
    } else {
      path = argv[i];
    }
  }
  if (!path) {
    usage(stderr);
    return 2;
  }
  ascii = decide_ascii(ascii);
  own_signals();
  if (live) return live_main(path, ascii);

  LrErr err = {{0}};
  struct stat st;
  const char *sweep = NULL;
  char trace_path[1024];
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    if (sweep_trace(path, trace_path, sizeof trace_path, &err)) {
      fprintf(stderr, "lowram tui: %s\n", lr_text_escape(err.msg, emsg, sizeof emsg));
      return 1;
    }
    sweep = path;
    path = trace_path;
  }
  LrImportOpts io = {0};
  if (isatty(2)) io.progress = progress;
  LrTrace *t = lr_import_open(path, &io, &err);
  if (isatty(2) && io.progress) fprintf(stderr, "\r\033[K");
  if (!t) {
    fprintf(stderr, "lowram tui: %s\n", lr_text_escape(err.msg, emsg, sizeof emsg));
    return 1;
  }
  LtModel *m = &S.m;
  if (lt_model_open(m, t, sweep, &err)) {
    fprintf(stderr, "lowram tui: %s\n", lr_text_escape(err.msg, emsg, sizeof emsg));
    if (m->t) lt_model_free(m);
    else lr_trace_close(t);
    return 1;
  }
  S.have_model = 1;
  m->ascii = ascii;
  if (!lr_trace_complete(t))
    snprintf(m->status, sizeof m->status, "unfinished trace: `lowram recover` completes it");
  int rc = run(m, ascii);
  lt_model_free(m);
  S.have_model = 0;
  return rc;
}
