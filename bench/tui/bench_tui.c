/*
** bench_tui.c: the TUI's speed where a person waits for it: the overview
** of a big trace (open, report model, chart, the contributors at the peak,
** the first rows) and every key after it, timed through the model the
** terminal loop drives (lt_model_key), so drawing is left out (curses
** draws a screenful in well under a millisecond).
**
** Usage: bench_tui [EVENTS] [PATH]   (default 10M events in
** /tmp/lowram-bench-report.db). A missing PATH is made first by
** bench_report (bench/report), the generator shaped like an inference run.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lowram/trace.h"
#include "model.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double worst;

/* Times one key (and the rows it leaves to draw), in ms. */
static double key(LtModel *m, int k, const char *what) {
  double t0 = now();
  lt_model_key(m, k);
  LtPane *p = lt_model_pane(m);
  char lines[64][LT_LINE];
  lt_model_detail(m, lines, 64);
  double ms = (now() - t0) * 1e3;
  if (ms > worst) worst = ms;
  if (what) printf("  %-34s %8.1f ms  (%zu rows)\n", what, ms, p->nrows);
  return ms;
}

int main(int argc, char **argv) {
  const char *events = argc > 1 ? argv[1] : "10000000";
  const char *path = argc > 2 ? argv[2] : "/tmp/lowram-bench-report.db";
  struct stat st;
  if (stat(path, &st)) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s '%s'", LR_BENCH_REPORT, events, path);
    printf("generating %s with bench_report...\n", path);
    if (system(cmd)) {
      fprintf(stderr, "bench_tui: %s failed\n", cmd);
      return 1;
    }
  }
  double t0 = now();
  LrErr err = {{0}};
  LrTrace *t = lr_trace_open(path, &err);
  if (!t) {
    fprintf(stderr, "bench_tui: %s\n", err.msg);
    return 1;
  }
  static LtModel m;
  if (lt_model_open(&m, t, NULL, &err)) {
    fprintf(stderr, "bench_tui: %s\n", err.msg);
    return 1;
  }
  lt_model_set_width(&m, 200);
  lt_model_set_page(&m, 40);
  LtPane *p = lt_model_pane(&m);
  char lines[64][LT_LINE];
  lt_model_detail(&m, lines, 64);
  double open_s = now() - t0;
  long long live = (long long)(m.at.live.heap + m.at.live.anon);
  printf("overview (open, report, chart, contributors at the peak): %.2f s; "
         "%zu rows, %lld B live at seq %lld\n",
         open_s, p->nrows, live, (long long)m.at.seq);
  printf("keys (each: the model's change plus the rows and detail to draw):\n");
  double sum = 0;
  int n = 0;
  for (int i = 0; i < 20; i++, n++) sum += key(&m, LT_KEY_RIGHT, NULL);
  printf("  %-34s %8.1f ms  (mean of 20)\n", "right (one column)", sum / n);
  key(&m, LT_KEY_LEFT, "left");
  key(&m, LT_KEY_HOME, "home");
  key(&m, LT_KEY_END, "end");
  key(&m, 'p', "p (peak)");
  key(&m, 'm', "m (next marker)");
  key(&m, 'M', "M (previous marker)");
  key(&m, 'p', "p");
  key(&m, 's', "s (sort by count)");
  key(&m, 's', "s (by name)");
  key(&m, 's', "s (order)");
  key(&m, 's', "s (bytes)");
  key(&m, 'g', "g (by function)");
  key(&m, 'g', "g (by module)");
  key(&m, 'g', "g (by file)");
  key(&m, 'g', "g (by stack)");
  key(&m, 't', "t (top-down tree)");
  key(&m, LT_KEY_DOWN, "down");
  key(&m, LT_KEY_ENTER, "enter (expand)");
  key(&m, LT_KEY_RIGHT, "right in a tree (expand)");
  key(&m, ']', "] (time, tree rebuilt)");
  key(&m, 't', "t (bottom-up tree)");
  key(&m, 't', "t (flat)");
  key(&m, '/', "/");
  key(&m, 'f', "f (filter as typed)");
  key(&m, 'n', "n");
  key(&m, '_', "_");
  key(&m, LT_KEY_ENTER, "enter (keep filter)");
  key(&m, LT_KEY_ESC, "escape (clear filter)");
  key(&m, '2', "2 (leaks: live at the end)");
  key(&m, 't', "t (leaks tree)");
  key(&m, '3', "3 (temporaries)");
  key(&m, '4', "4 (largest)");
  key(&m, '5', "5 (phases)");
  key(&m, '1', "1 (overview)");
  char dir[] = "/tmp/lowram-bench-tui-XXXXXX";
  if (mkdtemp(dir) && chdir(dir) == 0) {
    key(&m, 'e', "e (CSV of the contributors)");
    printf("  (%s)\n", m.status);
  }
  printf("slowest key: %.1f ms\n", worst);
  lt_model_free(&m);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("bench peak RSS: %ld MiB\n", ru.ru_maxrss / 1024);
  return 0;
}
