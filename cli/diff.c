/*
** cli_diff.c: `lowram diff A.db B.db`: peak change and per-site change
** between two traces, sites matched by their symbolized stacks (diff.h).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "progress.h"
#include "lowram/diff.h"
#include "lowram/import.h"
#include "lowram/trace.h"
#include "lowram/units.h"

static void usage(FILE *f) {
  fprintf(f, "usage: lowram diff A.db B.db [--top N] [--by stack|function|module|file|line]\n"
             "                 [--pid PID | --process N] (once: both traces; twice: A, then B)\n"
             "                 [--command NAME] (the process running NAME in each trace)\n"
             "  sites are matched by name (their symbolized stacks), not by ids;\n"
             "  rows are sorted by the change of bytes live at each trace's peak;\n"
             "  by default each trace's process running the same command is compared\n"
             "  (the program, not the shell that started it)\n");
}

/* Rotating buffers so one printf can format several values. */
static char bb[16][32];
static unsigned bi;
static const char *B(int64_t v) { return lr_fmt_bytes(bb[bi++ % 16], 32, v); }

static void change(char *buf, size_t len, int64_t a, int64_t b) {
  char x[32];
  lr_fmt_bytes(x, sizeof x, b - a);
  if (a > 0) snprintf(buf, len, "%s%s (%+.1f%%)", b >= a ? "+" : "", x,
                      100.0 * (double)(b - a) / (double)a);
  else snprintf(buf, len, "%s%s", b >= a ? "+" : "", x);
}

static const char *site_name(const LrDiffRow *r, char *buf, size_t len) {
  const LrStack *s = r->stack_b ? r->stack_b : r->stack_a;
  if (!s || !s->nframes) return lr_cli_esc(r->key);
  const LrFrame *f = &s->frames[s->site];
  char name[160];
  lr_peak_frame_name(f, name, sizeof name);
  const char *file = f->file ? strrchr(f->file, '/') : NULL;
  file = file ? file + 1 : f->file;
  if (file)
    snprintf(buf, len, "%.50s %.30s:%lld", lr_cli_esc(name), lr_cli_esc(file), (long long)f->line);
  else snprintf(buf, len, "%.60s", lr_cli_esc(name));
  return buf;
}

int lr_cli_diff(int argc, char **argv) {
  const char *pa = NULL, *pb = NULL, *sel_pid[2] = {NULL, NULL}, *sel_proc[2] = {NULL, NULL};
  const char *command = NULL;
  int top = 20, nsel = 0;
  LrBy by = LR_BY_STACK;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(a, "--pid") || !strcmp(a, "--process")) {
      if (i + 1 >= argc) {
        lr_cli_error("diff", "option %s needs a value", a);
        return 2;
      }
      /* once: both traces; twice: A's, then B's */
      int k = nsel < 2 ? nsel++ : 1;
      sel_pid[k] = a[3] == 'i' ? argv[i + 1] : NULL;
      sel_proc[k] = a[3] == 'i' ? NULL : argv[i + 1];
      i++;
      continue;
    }
    if (!strcmp(a, "--command")) {
      if (i + 1 >= argc || !argv[i + 1][0]) {
        lr_cli_error("diff", "option %s needs a value", a);
        return 2;
      }
      command = argv[++i];
      continue;
    }
    if (!strcmp(a, "--top") || !strcmp(a, "--by")) {
      if (i + 1 >= argc) {
        lr_cli_error("diff", "option %s needs a value", a);
        return 2;
      }
      const char *v = argv[++i];
      if (a[2] == 't') {
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || n < 1 || n > 100000) {
          lr_cli_error("diff", "--top wants a positive count, not '%s'", v);
          return 2;
        }
        top = (int)n;
      } else if (lr_peak_parse_by(v, &by)) {
        lr_cli_error("diff", "--by wants stack, function, module, file or line, not '%s'", v);
        return 2;
      }
      continue;
    }
    if (a[0] == '-') {
      lr_cli_error("diff", "unknown option '%s' (see lowram diff --help)", a);
      return 2;
    }
    if (!pa) pa = a;
    else if (!pb) pb = a;
    else {
      lr_cli_error("diff", "two traces, not more ('%s')", a);
      return 2;
    }
  }
  if (!pb) {
    usage(stderr);
    return 2;
  }
  LrErr err = {{0}};
  LrTrace *ta = lr_import_open(pa, NULL, &err), *tb = NULL;
  if (!ta || !(tb = lr_import_open(pb, NULL, &err))) {
    lr_cli_error("diff", "%s", err.msg);
    lr_trace_close(ta);
    return 1;
  }
  if (nsel && command) {
    lr_cli_error("diff", "--command and --pid/--process name the process twice; give one");
    lr_trace_close(ta);
    lr_trace_close(tb);
    return 2;
  }
  /* the process of each trace that runs the same command, unless named */
  LrPick pick[2];
  LrTrace *both_t[2] = {ta, tb};
  memset(pick, 0, sizeof pick);
  int sel = 0;
  if (!nsel && lr_diff_pick(both_t, 2, NULL, 0, command, pick, &err)) {
    lr_cli_error("diff", "%s", err.msg);
    sel = 1;
  }
  for (int k = 0; k < 2 && !sel && !nsel; k++)
    if (pick[k].id && lr_trace_select_process(both_t[k], pick[k].id, &err)) {
      lr_cli_error("diff", "%s", err.msg);
      sel = 1;
    }
  if (!sel && nsel) sel = lr_cli_select("diff", ta, sel_pid[0], sel_proc[0]);
  if (!sel && nsel)
    sel = nsel == 1 ? lr_cli_select("diff", tb, sel_pid[0], sel_proc[0])
                    : lr_cli_select("diff", tb, sel_pid[1], sel_proc[1]);
  if (sel) {
    lr_trace_close(ta);
    lr_trace_close(tb);
    return sel;
  }
  LrDiff *d = NULL;
  int ret = 1;
  if (lr_diff_build(ta, tb, by, &d, &err)) {
    char both[8192];
    snprintf(both, sizeof both, "%s vs %s", lr_trace_path(ta), lr_trace_path(tb));
    if (strstr(err.msg, lr_trace_path(ta)) || strstr(err.msg, lr_trace_path(tb)))
      lr_cli_error("diff", "%s", err.msg);
    else
      lr_cli_trace_error("diff", both, err.msg);
    goto out;
  }
  char ch[64];
  int64_t a = d->peak_a.live.heap + d->peak_a.live.anon;
  int64_t b = d->peak_b.live.heap + d->peak_b.live.anon;
  printf("lowram diff\n");
  for (int k = 0; k < 2; k++) {
    printf("  %c %s", "AB"[k], lr_cli_esc(lr_trace_path(both_t[k])));
    LrProcess *ps = NULL;
    size_t np = 0;
    int64_t id = lr_trace_process(both_t[k]);
    if (lr_trace_processes(both_t[k], &ps, &np, &err) == 0 && np > 1)
      for (size_t j = 0; j < np; j++)
        if (ps[j].id == id) {
          char words[200];
          lr_diff_argv_words(ps[j].argv, words, sizeof words);
          if (strlen(words) > 60) snprintf(words + 57, sizeof words - 57, "...");
          printf(": process #%lld pid %lld of %zu, %s", (long long)id, (long long)ps[j].pid, np,
                 lr_cli_esc(words));
        }
    free(ps);
    printf("\n");
  }
  printf("\n");
  change(ch, sizeof ch, a, b);
  printf("  %-16s %12s %12s  %s\n", "", "A", "B", "change");
  printf("  %-16s %12s %12s  %s\n", "peak (heap+anon)", B(a), B(b), ch);
  change(ch, sizeof ch, d->peak_a.live.heap, d->peak_b.live.heap);
  printf("  %-16s %12s %12s  %s\n", "  heap then", B(d->peak_a.live.heap),
         B(d->peak_b.live.heap), ch);
  change(ch, sizeof ch, d->peak_a.live.anon, d->peak_b.live.anon);
  printf("  %-16s %12s %12s  %s\n", "  anon then", B(d->peak_a.live.anon),
         B(d->peak_b.live.anon), ch);
  change(ch, sizeof ch, d->heap_peak_a, d->heap_peak_b);
  printf("  %-16s %12s %12s  %s\n", "heap-only peak", B(d->heap_peak_a), B(d->heap_peak_b), ch);
  change(ch, sizeof ch, d->peak_a.live.file, d->peak_b.live.file);
  printf("  %-16s %12s %12s  %s\n", "file maps then", B(d->peak_a.live.file),
         B(d->peak_b.live.file), ch);
  printf("\nSites by %s (live at each peak; allocated over the run)\n", lr_peak_by_name(by));
  printf("  %10s %10s %11s %10s %10s  %s\n", "peak A", "peak B", "change", "alloc A", "alloc B",
         "site");
  int shown = 0;
  for (size_t i = 0; i < d->n && shown < top; i++) {
    const LrDiffRow *r = &d->rows[i];
    if (r->peak_a == r->peak_b && r->bytes_a == r->bytes_b) continue;
    char name[160], dp[32], sign[40];
    lr_fmt_bytes(dp, sizeof dp, r->peak_b - r->peak_a);
    snprintf(sign, sizeof sign, "%s%s", r->peak_b > r->peak_a ? "+" : "", dp);
    printf("  %10s %10s %11s %10s %10s  %s%s\n", B(r->peak_a), B(r->peak_b), sign, B(r->bytes_a),
           B(r->bytes_b), site_name(r, name, sizeof name),
           !r->stack_a ? " [only in B]" : !r->stack_b ? " [only in A]" : "");
    shown++;
  }
  if (!shown) printf("  (no site differs)\n");
  ret = 0;
out:
  lr_diff_free(d);
  lr_trace_close(ta);
  lr_trace_close(tb);
  return ret;
}
