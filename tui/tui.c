/*
** tui.c: `lowram tui TRACE|SWEEP_DIR`, the loop. It opens the trace (the
** import, when it is a spool, prints progress before the screen changes),
** builds the model, then waits for keys: each one goes to lt_model_key and
** the screen is drawn again. The terminal is restored on every way out:
** `q`, an error, SIGINT/SIGTERM/SIGHUP (a flag the loop sees within a
** tenth of a second; curses calls are not safe in a handler).
*/
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "screen.h"
#include "lowram/import.h"
#include "lowram/sweep.h"
#include "tui.h"

static volatile sig_atomic_t got_signal;

static void on_signal(int sig) { got_signal = sig; }

static void usage(FILE *f) {
  fprintf(f,
          "usage: lowram tui [--ascii] TRACE.db|SPOOL|SWEEP_DIR\n"
          "  Browse a trace in the terminal: the run, its peak and a chart of live\n"
          "  bytes and RSS, what is live at a time cursor (table or call tree), leaks,\n"
          "  temporaries, the largest blocks and phases. Given a sweep directory\n"
          "  (lowram sweep), it also shows predicted peaks and advice, on the\n"
          "  sweep's last usable run. Press ? for the keys.\n"
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

static int run(LtModel *m, int ascii) {
  LtScreen sc = {ascii, 0};
  if (!initscr()) {
    fprintf(stderr, "lowram tui: cannot use this terminal (TERM=%s)\n",
            getenv("TERM") ? getenv("TERM") : "");
    return 1;
  }
  cbreak();
  noecho();
  keypad(stdscr, TRUE);
  set_escdelay(25);
  curs_set(0);
  /* wake up a few times a second, so a signal is seen without a key */
  timeout(100);
  if (!getenv("NO_COLOR") && has_colors()) {
    start_color();
    use_default_colors();
    init_pair(LT_PAIR_TITLE, COLOR_CYAN, -1);
    init_pair(LT_PAIR_BAR, COLOR_GREEN, -1);
    init_pair(LT_PAIR_RSS, COLOR_BLUE, -1);
    init_pair(LT_PAIR_PEAK, COLOR_RED, -1);
    init_pair(LT_PAIR_MARK, COLOR_YELLOW, -1);
    init_pair(LT_PAIR_DIM, COLOR_WHITE, -1);
    sc.color = 1;
  }
  set_size(m);
  lt_view_draw(&sc, m);
  refresh();
  for (;;) {
    if (got_signal) break;
    int ch = getch();
    if (ch == ERR) continue;
    if (ch == KEY_RESIZE) {
      set_size(m);
    } else {
      LtView before = m->view;
      if (lt_model_key(m, map_key(ch)) == LT_QUIT) break;
      if (m->view != before) set_size(m);
    }
    lt_view_draw(&sc, m);
    refresh();
  }
  endwin();
  return got_signal ? 128 + got_signal : 0;
}

int lt_main(int argc, char **argv) {
  const char *path = NULL;
  int ascii = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(argv[i], "--ascii")) {
      ascii = 1;
    } else if (!strcmp(argv[i], "--live")) {
      fprintf(stderr, "lowram tui: --live is not there yet; open the trace when the run ends\n");
      return 2;
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
  setlocale(LC_ALL, "");
  const char *cs = nl_langinfo(CODESET);
  const char *env_ascii = getenv("LR_ASCII");
  if ((env_ascii && *env_ascii && strcmp(env_ascii, "0")) || !cs || strcmp(cs, "UTF-8"))
    ascii = 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);

  LrErr err = {{0}};
  struct stat st;
  const char *sweep = NULL;
  char trace_path[1024];
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    if (sweep_trace(path, trace_path, sizeof trace_path, &err)) {
      fprintf(stderr, "lowram tui: %s\n", err.msg);
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
    fprintf(stderr, "lowram tui: %s\n", err.msg);
    return 1;
  }
  static LtModel m;
  if (lt_model_open(&m, t, sweep, &err)) {
    fprintf(stderr, "lowram tui: %s\n", err.msg);
    if (m.t) lt_model_free(&m);
    else lr_trace_close(t);
    return 1;
  }
  m.ascii = ascii;
  if (!lr_trace_complete(t))
    snprintf(m.status, sizeof m.status, "unfinished trace: `lowram recover` completes it");
  int rc = run(&m, ascii);
  lt_model_free(&m);
  return rc;
}
