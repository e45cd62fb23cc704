/*
** export.c: `lowram export`: options, the output file, and errors; the
** writing itself is the library's (lowram/export.h).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "progress.h"
#include "lowram/export.h"
#include "lowram/import.h"
#include "lowram/peak.h"
#include "lowram/trace.h"
#include "lowram/units.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: lowram export TRACE.db --what contributors|allocations|timeline|stacks|leaks\n"
          "                      [--format csv|folded] [--at MOMENT] [--by KEY] [-o FILE]\n"
          "                      [--pid PID | --process N] (default: the highest peak)\n"
          "  contributors  blocks live at --at (default: the peak), grouped by --by\n"
          "  allocations   every allocation, or those live at --at when given\n"
          "  timeline      live bytes per time bucket (csv only)\n"
          "  stacks        per stack: calls, bytes, temporaries, leaks\n"
          "  leaks         heap/anon blocks live at the end, grouped by --by\n"
          "  folded        stacks with bytes, for flame graphs (contributors, allocations,\n"
          "                stacks and leaks; always per stack)\n");
}

static int same_file(const char *a, const char *b) {
  struct stat x, y;
  return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

int lr_cli_export(int argc, char **argv) {
  const char *path = NULL, *what = NULL, *format = "csv", *at = NULL, *out = NULL;
  const char *sel_pid = NULL, *sel_proc = NULL;
  LrBy by = LR_BY_STACK;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    }
    const char **dst = !strcmp(a, "--what") ? &what : !strcmp(a, "--format") ? &format
                     : !strcmp(a, "--at") ? &at : !strcmp(a, "-o") ? &out
                     : !strcmp(a, "--pid") ? &sel_pid : !strcmp(a, "--process") ? &sel_proc
                     : NULL;
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
  LrExportOpts eo = {.at = at, .by = by};
  if (lr_export_parse_what(what, &eo.what)) {
    lr_cli_error("export", "--what wants contributors, allocations, timeline, stacks or leaks, "
                 "not '%s'", what);
    return 2;
  }
  int csv = !strcmp(format, "csv");
  if (!csv && strcmp(format, "folded")) {
    lr_cli_error("export", "--format wants csv or folded, not '%s'", format);
    return 2;
  }
  eo.format = csv ? LR_EXPORT_CSV : LR_EXPORT_FOLDED;
  if (!csv && eo.what == LR_EXPORT_TIMELINE) {
    lr_cli_error("export", "the timeline has no folded form; use --format csv");
    return 2;
  }
  LrErr err = {{0}};
  LrTrace *t = lr_import_open(path, NULL, &err);
  if (!t) {
    lr_cli_error("export", "%s", err.msg);
    return 1;
  }
  int sel = lr_cli_select("export", t, sel_pid, sel_proc);
  if (sel) {
    lr_trace_close(t);
    return sel;
  }
  const char *tp = lr_trace_path(t);
  if (out && same_file(out, tp)) {
    lr_cli_error("export", "%s: -o would overwrite the trace itself", out);
    lr_trace_close(t);
    return 2;
  }
  if (!lr_trace_complete(t))
    fprintf(stderr, "note: %s is unfinished; `lowram recover %s` completes it. Exporting what "
            "it holds.\n", lr_cli_esc(tp), lr_cli_esc(tp));
  int ret = 1;
  FILE *f = NULL;
  LrMoment m;
  /* a bad --at fails before -o creates anything */
  if ((eo.what == LR_EXPORT_CONTRIBUTORS || (eo.what == LR_EXPORT_ALLOCATIONS && at)) &&
      lr_peak_moment(t, at, &m, &err))
    goto fail;
  if (out && !(f = fopen(out, "w"))) {
    lr_err_set(&err, "%s: cannot write: %m", out);
    goto fail;
  }
  if (!f) f = stdout;
  int rc = lr_export(t, &eo, f, &err);
  if (fflush(f) != 0 && !rc) rc = lr_err_set(&err, "%s: write failed: %m", out ? out : "stdout");
  if (!rc) ret = 0;
fail:
  if (f && f != stdout && fclose(f) != 0 && !ret) {
    lr_err_set(&err, "%s: write failed: %m", out);
    ret = 1;
  }
  if (ret && out && strstr(err.msg, out)) lr_cli_error("export", "%s", err.msg);
  else if (ret) lr_cli_trace_error("export", lr_trace_path(t), err.msg);
  lr_trace_close(t);
  return ret;
}
