/*
** cli_sweep.c: `lowram sweep`, the command line over sweep.h. It prints one
** progress line per run to stderr and a summary; the runs themselves are
** recorded by this same binary (/proc/self/exe record ...).
*/
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lowram/sweep.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: lowram sweep --param NAME=V1,V2,... [--param ...] [-o DIR] [--stdin FILE]\n"
          "                    -- CMD ARGS...\n"
          "Records CMD once per combination of the parameters' values; {NAME} in CMD's\n"
          "arguments is replaced by the run's value. DIR (default lowram-sweep-DATE-TIME,\n"
          "must not hold a sweep already) gets run-N.db, run-N.log and index.tsv.\n"
          "Each run's stdin is FILE (default /dev/null). Then: lowram suggest DIR.\n");
}

int lr_cli_sweep(int argc, char **argv) {
  LrSweep *s = lr_sweep_new();
  LrErr err;
  const char *dir = NULL, *stdin_path = NULL;
  char dirbuf[64];
  int i = 1, rc = 1;
  LrSweepRun *runs = NULL;
  if (!s) {
    lr_cli_error("sweep", "out of memory");
    return 1;
  }
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) {
      i++;
      break;
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      lr_sweep_free(s);
      return 0;
    } else if ((!strcmp(a, "--param") || !strcmp(a, "-p")) && i + 1 < argc) {
      if (lr_sweep_add_param(s, argv[++i], &err)) goto bad;
    } else if (!strncmp(a, "--param=", 8)) {
      if (lr_sweep_add_param(s, a + 8, &err)) goto bad;
    } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < argc) {
      dir = argv[++i];
    } else if (!strcmp(a, "--stdin") && i + 1 < argc) {
      stdin_path = argv[++i];
    } else {
      lr_cli_error("sweep", "unknown or incomplete option '%s'", a);
      usage(stderr);
      lr_sweep_free(s);
      return 2;
    }
  }
  if (lr_sweep_nparams(s) == 0) {
    lr_cli_error("sweep", "no --param given (e.g. --param seq=128,256,512)");
    lr_sweep_free(s);
    return 2;
  }
  if (i >= argc) {
    lr_cli_error("sweep", "no command given (put it after --)");
    lr_sweep_free(s);
    return 2;
  }
  if (lr_sweep_set_command(s, argc - i, argv + i, &err)) goto bad;
  if (stdin_path && access(stdin_path, R_OK) != 0) {
    lr_cli_error("sweep", "--stdin %s: %s", stdin_path, strerror(errno));
    goto out;
  }
  if (!dir) {
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(dirbuf, sizeof dirbuf, "lowram-sweep-%Y%m%d-%H%M%S", &tm);
    dir = dirbuf;
  }
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
    lr_cli_error("sweep", "%s: %s", dir, strerror(errno));
    goto out;
  }
  char ixpath[PATH_MAX];
  snprintf(ixpath, sizeof ixpath, "%s/%s", dir, LR_SWEEP_INDEX);
  if (access(ixpath, F_OK) == 0) {
    lr_cli_error("sweep", "%s already holds a sweep (%s); choose another -o", dir, ixpath);
    goto out;
  }
  for (size_t r = 0; r < lr_sweep_nruns(s); r++) {
    char old[PATH_MAX];
    snprintf(old, sizeof old, "%s/run-%zu.db", dir, r + 1);
    if (access(old, F_OK) == 0) {
      lr_cli_error("sweep", "%s already exists (an earlier sweep?); choose another -o", old);
      goto out;
    }
  }
  char self[PATH_MAX];
  ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
  if (sl <= 0) {
    lr_cli_error("sweep", "cannot find the lowram binary (/proc/self/exe): %s", strerror(errno));
    goto out;
  }
  self[sl] = 0;
  size_t n = lr_sweep_nruns(s);
  runs = calloc(n, sizeof *runs);
  if (!runs) {
    lr_cli_error("sweep", "out of memory");
    goto out;
  }
  if (lr_sweep_write_index(s, dir, runs, &err)) goto bad;
  size_t ok = 0;
  for (size_t r = 0; r < n; r++) {
    fprintf(stderr, "[%zu/%zu]", r + 1, n);
    for (int p = 0; p < lr_sweep_nparams(s); p++)
      fprintf(stderr, " %s=%s", lr_sweep_param_name(s, p), lr_sweep_value(s, r, p));
    fprintf(stderr, " ... ");
    fflush(stderr);
    if (lr_sweep_run(s, r, self, dir, stdin_path, &runs[r], &err)) {
      fprintf(stderr, "not started\n");
      goto bad;
    }
    char st[64];
    lr_sweep_status(&runs[r], st, sizeof st);
    fprintf(stderr, "%s (%.1f s)\n", st, runs[r].seconds);
    if (!strcmp(st, "ok")) ok++;
    if (lr_sweep_write_index(s, dir, runs, &err)) goto bad;
  }
  printf("%zu of %zu runs ok; index: %s\n", ok, n, ixpath);
  for (size_t r = 0; r < n; r++) {
    char st[64];
    if (!strcmp(lr_sweep_status(&runs[r], st, sizeof st), "ok")) continue;
    printf("failed: run %zu (", r + 1);
    for (int p = 0; p < lr_sweep_nparams(s); p++)
      printf("%s%s=%s", p ? " " : "", lr_sweep_param_name(s, p), lr_sweep_value(s, r, p));
    printf("): %s, see %s/run-%zu.log; left out of the model\n", st, dir, r + 1);
  }
  rc = ok ? 0 : 1;
  if (!ok) lr_cli_error("sweep", "no run succeeded");
  goto out;
bad:
  lr_cli_error("sweep", "%s", err.msg);
out:
  free(runs);
  lr_sweep_free(s);
  return rc;
}
