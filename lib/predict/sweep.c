/*
** sweep.c: the parameter grid, command templating, running each
** combination under `lowram record`, and the sweep index (see sweep.h for
** the file format and why runs go through the lowram binary).
*/
#include "lowram/sweep.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct Param {
  char *name;
  int nvalues;
  char *values[LR_SWEEP_MAX_VALUES];
} Param;

struct LrSweep {
  int nparams;
  Param params[LR_SWEEP_MAX_PARAMS];
  int argc;
  char **argv;
};

LrSweep *lr_sweep_new(void) { return calloc(1, sizeof(LrSweep)); }

void lr_sweep_free(LrSweep *s) {
  if (!s) return;
  for (int p = 0; p < s->nparams; p++) {
    free(s->params[p].name);
    for (int v = 0; v < s->params[p].nvalues; v++) free(s->params[p].values[v]);
  }
  for (int i = 0; i < s->argc; i++) free(s->argv[i]);
  free(s->argv);
  free(s);
}

static int valid_name(const char *n, size_t len) {
  if (len == 0 || len > 63 || !(isalpha((unsigned char)n[0]) || n[0] == '_')) return 0;
  for (size_t i = 1; i < len; i++)
    if (!(isalnum((unsigned char)n[i]) || n[i] == '_')) return 0;
  static const char *const reserved[] = {"run", "trace", "status"};
  for (size_t i = 0; i < 3; i++)
    if (strlen(reserved[i]) == len && !strncmp(n, reserved[i], len)) return 0;
  return 1;
}

static int valid_value(const char *v, size_t len) {
  if (len == 0 || len > 255) return 0;
  for (size_t i = 0; i < len; i++)
    if (v[i] == '\t' || v[i] == '\n' || v[i] == '\r' || v[i] == '{' || v[i] == '}' ||
        v[i] == ',')
      return 0;
  return 1;
}

size_t lr_sweep_nruns(const LrSweep *s) {
  size_t n = 1;
  for (int p = 0; p < s->nparams; p++) n *= (size_t)s->params[p].nvalues;
  return s->nparams ? n : 0;
}

int lr_sweep_add_param(LrSweep *s, const char *spec, LrErr *err) {
  const char *eq = strchr(spec, '=');
  if (!eq) return lr_err_set(err, "--param '%s': expected NAME=V1,V2,...", spec);
  size_t nlen = (size_t)(eq - spec);
  if (!valid_name(spec, nlen))
    return lr_err_set(err, "--param '%s': the name must be an identifier (letters, digits, _) "
                           "other than run, trace or status", spec);
  for (int p = 0; p < s->nparams; p++)
    if (strlen(s->params[p].name) == nlen && !strncmp(s->params[p].name, spec, nlen))
      return lr_err_set(err, "--param '%s': %.*s is given twice", spec, (int)nlen, spec);
  if (s->nparams >= LR_SWEEP_MAX_PARAMS)
    return lr_err_set(err, "--param '%s': at most %d parameters", spec, LR_SWEEP_MAX_PARAMS);
  Param pr;
  memset(&pr, 0, sizeof pr);
  const char *v = eq + 1;
  for (;;) {
    const char *end = strchr(v, ',');
    size_t len = end ? (size_t)(end - v) : strlen(v);
    if (!valid_value(v, len)) {
      for (int i = 0; i < pr.nvalues; i++) free(pr.values[i]);
      return lr_err_set(err, "--param '%s': empty or invalid value (no tab, newline, "
                             "braces; at most 255 bytes)", spec);
    }
    int dup = 0;
    for (int i = 0; i < pr.nvalues; i++)
      if (strlen(pr.values[i]) == len && !strncmp(pr.values[i], v, len)) dup = 1;
    if (dup || pr.nvalues >= LR_SWEEP_MAX_VALUES) {
      for (int i = 0; i < pr.nvalues; i++) free(pr.values[i]);
      return lr_err_set(err, dup ? "--param '%s': a value is repeated"
                                 : "--param '%s': too many values", spec);
    }
    pr.values[pr.nvalues++] = strndup(v, len);
    if (!end) break;
    v = end + 1;
  }
  size_t runs = lr_sweep_nruns(s) ? lr_sweep_nruns(s) : 1;
  if (runs * (size_t)pr.nvalues > LR_SWEEP_MAX_RUNS) {
    for (int i = 0; i < pr.nvalues; i++) free(pr.values[i]);
    return lr_err_set(err, "--param '%s': the grid would have more than %d runs", spec,
                      LR_SWEEP_MAX_RUNS);
  }
  pr.name = strndup(spec, nlen);
  s->params[s->nparams++] = pr;
  return 0;
}

int lr_sweep_set_command(LrSweep *s, int argc, char *const *argv, LrErr *err) {
  if (argc < 1 || !argv[0][0]) return lr_err_set(err, "no command given after --");
  for (int p = 0; p < s->nparams; p++) {
    char ph[80];
    snprintf(ph, sizeof ph, "{%s}", s->params[p].name);
    int used = 0;
    for (int i = 0; i < argc; i++)
      if (strstr(argv[i], ph)) used = 1;
    if (!used)
      return lr_err_set(err, "parameter %s never appears as %s in the command, so every run "
                             "would be the same", s->params[p].name, ph);
  }
  s->argv = calloc((size_t)argc + 1, sizeof *s->argv);
  if (!s->argv) return lr_err_set(err, "out of memory");
  for (int i = 0; i < argc; i++) s->argv[i] = strdup(argv[i]);
  s->argc = argc;
  return 0;
}

int lr_sweep_nparams(const LrSweep *s) { return s->nparams; }
const char *lr_sweep_param_name(const LrSweep *s, int p) { return s->params[p].name; }

const char *lr_sweep_value(const LrSweep *s, size_t run, int p) {
  /* the last parameter varies fastest */
  size_t stride = 1;
  for (int q = s->nparams - 1; q > p; q--) stride *= (size_t)s->params[q].nvalues;
  return s->params[p].values[(run / stride) % (size_t)s->params[p].nvalues];
}

/* arg with each {name} of a declared parameter replaced by its value. */
static char *substitute(const LrSweep *s, size_t run, const char *arg) {
  size_t cap = strlen(arg) + 1, len = 0;
  for (int p = 0; p < s->nparams; p++) cap += 256 * 8;
  char *out = malloc(cap);
  if (!out) return NULL;
  const char *a = arg;
  while (*a) {
    int done = 0;
    if (*a == '{') {
      for (int p = 0; p < s->nparams && !done; p++) {
        size_t n = strlen(s->params[p].name);
        if (!strncmp(a + 1, s->params[p].name, n) && a[1 + n] == '}') {
          const char *v = lr_sweep_value(s, run, p);
          size_t vl = strlen(v);
          if (len + vl + strlen(a) + 1 > cap) {
            cap = (len + vl + strlen(a) + 1) * 2;
            char *nb = realloc(out, cap);
            if (!nb) {
              free(out);
              return NULL;
            }
            out = nb;
          }
          memcpy(out + len, v, vl);
          len += vl;
          a += n + 2;
          done = 1;
        }
      }
    }
    if (!done) {
      if (len + 2 > cap) {
        cap *= 2;
        char *nb = realloc(out, cap);
        if (!nb) {
          free(out);
          return NULL;
        }
        out = nb;
      }
      out[len++] = *a++;
    }
  }
  out[len] = 0;
  return out;
}

char **lr_sweep_command(const LrSweep *s, size_t run, LrErr *err) {
  if (run >= lr_sweep_nruns(s) || !s->argv) {
    lr_err_set(err, "no run %zu in this sweep", run + 1);
    return NULL;
  }
  char **out = calloc((size_t)s->argc + 1, sizeof *out);
  if (!out) {
    lr_err_set(err, "out of memory");
    return NULL;
  }
  for (int i = 0; i < s->argc; i++)
    if (!(out[i] = substitute(s, run, s->argv[i]))) {
      lr_sweep_argv_free(out);
      lr_err_set(err, "out of memory");
      return NULL;
    }
  return out;
}

void lr_sweep_argv_free(char **argv) {
  if (!argv) return;
  for (char **a = argv; *a; a++) free(*a);
  free(argv);
}

const char *lr_sweep_status(const LrSweepRun *r, char *buf, size_t len) {
  if (!r->started) snprintf(buf, len, "not run");
  else if (r->signal) snprintf(buf, len, "signal %d", r->signal);
  else if (r->exit_code) snprintf(buf, len, "exit %d", r->exit_code);
  else if (!r->have_trace) snprintf(buf, len, "no trace");
  else snprintf(buf, len, "ok");
  return buf;
}

int lr_sweep_run(const LrSweep *s, size_t run, const char *lowram_bin, const char *dir,
                 const char *stdin_path, LrSweepRun *out, LrErr *err) {
  memset(out, 0, sizeof *out);
  char **cmd = lr_sweep_command(s, run, err);
  if (!cmd) return -1;
  char trace[4096], log[4096];
  snprintf(trace, sizeof trace, "%s/run-%zu.db", dir, run + 1);
  snprintf(log, sizeof log, "%s/run-%zu.log", dir, run + 1);
  size_t n = 0;
  while (cmd[n]) n++;
  char **argv = calloc(n + 6, sizeof *argv);
  if (!argv) {
    lr_sweep_argv_free(cmd);
    return lr_err_set(err, "out of memory");
  }
  argv[0] = (char *)lowram_bin;
  argv[1] = "record";
  argv[2] = "-o";
  argv[3] = trace;
  argv[4] = "--";
  for (size_t i = 0; i < n; i++) argv[5 + i] = cmd[i];
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, stdin_path ? stdin_path : "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid;
  int rc = posix_spawn(&pid, lowram_bin, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  free(argv);
  lr_sweep_argv_free(cmd);
  if (rc != 0) return lr_err_set(err, "cannot start %s: %s", lowram_bin, strerror(rc));
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return lr_err_set(err, "waiting for run %zu: %s", run + 1, strerror(errno));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  out->started = 1;
  out->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  if (WIFSIGNALED(status)) out->signal = WTERMSIG(status);
  else out->exit_code = WEXITSTATUS(status);
  struct stat st;
  out->have_trace = stat(trace, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
  return 0;
}

int lr_sweep_write_index(const LrSweep *s, const char *dir, const LrSweepRun *runs,
                         LrErr *err) {
  char path[4096], tmp[4200];
  snprintf(path, sizeof path, "%s/%s", dir, LR_SWEEP_INDEX);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return lr_err_set(err, "%s: %s", tmp, strerror(errno));
  fprintf(f, "# lowram sweep index v1\n# command:");
  for (int i = 0; i < s->argc; i++) {
    fputc(' ', f);
    for (const char *c = s->argv[i]; *c; c++) fputc(*c == '\n' || *c == '\t' ? ' ' : *c, f);
  }
  fprintf(f, "\nrun");
  for (int p = 0; p < s->nparams; p++) fprintf(f, "\t%s", s->params[p].name);
  fprintf(f, "\ttrace\tstatus\n");
  size_t n = lr_sweep_nruns(s);
  for (size_t r = 0; r < n; r++) {
    char st[64];
    fprintf(f, "%zu", r + 1);
    for (int p = 0; p < s->nparams; p++) fprintf(f, "\t%s", lr_sweep_value(s, r, p));
    fprintf(f, "\trun-%zu.db\t%s\n", r + 1, lr_sweep_status(&runs[r], st, sizeof st));
  }
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) {
    unlink(tmp);
    return lr_err_set(err, "%s: write failed", tmp);
  }
  if (rename(tmp, path) != 0) return lr_err_set(err, "%s: %s", path, strerror(errno));
  return 0;
}

/* ---- reading an index back ---- */

typedef struct Row {
  int id;
  char *values[LR_SWEEP_MAX_PARAMS];
  char *trace;
  char *status;
} Row;

struct LrSweepIndex {
  int nparams;
  char *params[LR_SWEEP_MAX_PARAMS];
  size_t nrows;
  Row *rows;
  char *command;
};

void lr_sweep_index_free(LrSweepIndex *ix) {
  if (!ix) return;
  for (int p = 0; p < ix->nparams; p++) free(ix->params[p]);
  for (size_t i = 0; i < ix->nrows; i++) {
    for (int p = 0; p < ix->nparams; p++) free(ix->rows[i].values[p]);
    free(ix->rows[i].trace);
    free(ix->rows[i].status);
  }
  free(ix->rows);
  free(ix->command);
  free(ix);
}

/* Splits line at TABs into at most max fields (in place); returns the count
** or max + 1 when there are more. */
static int split_tabs(char *line, char **f, int max) {
  int n = 0;
  char *p = line;
  for (;;) {
    if (n == max) return max + 1;
    f[n++] = p;
    char *t = strchr(p, '\t');
    if (!t) break;
    *t = 0;
    p = t + 1;
  }
  return n;
}

LrSweepIndex *lr_sweep_index_read(const char *dir, LrErr *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, LR_SWEEP_INDEX);
  /* a FIFO or a device must not block or be read: checked on the
  ** descriptor, opened without blocking */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    lr_err_set(err, "%s: %s (not a sweep directory?)", path, strerror(errno));
    return NULL;
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    lr_err_set(err, "%s: not a regular file", path);
    close(fd);
    return NULL;
  }
  FILE *f = fcntl(fd, F_SETFL, 0) == 0 ? fdopen(fd, "r") : NULL;
  if (!f) {
    lr_err_set(err, "%s: %s", path, strerror(errno));
    close(fd);
    return NULL;
  }
  LrSweepIndex *ix = calloc(1, sizeof *ix);
  char line[8192];
  int lineno = 0, have_header = 0, have_magic = 0;
  const int maxf = LR_SWEEP_MAX_PARAMS + 3;
  char *fld[LR_SWEEP_MAX_PARAMS + 4];
  if (!ix) goto oom;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    size_t len = strlen(line);
    if (len && line[len - 1] == '\n') line[--len] = 0;
    else if (!feof(f)) {
      lr_err_set(err, "%s:%d: line too long", path, lineno);
      goto fail;
    }
    if (len && line[len - 1] == '\r') line[--len] = 0;
    if (lineno == 1) {
      if (strcmp(line, "# lowram sweep index v1") != 0) {
        lr_err_set(err, "%s:1: not a lowram sweep index (want '# lowram sweep index v1')", path);
        goto fail;
      }
      have_magic = 1;
      continue;
    }
    if (line[0] == '#') {
      if (!strncmp(line, "# command:", 10) && !ix->command) ix->command = strdup(line + 10);
      continue;
    }
    if (!len) continue;
    int n = split_tabs(line, fld, maxf);
    if (!have_header) {
      if (n > maxf || n < 3 || strcmp(fld[0], "run") || strcmp(fld[n - 2], "trace") ||
          strcmp(fld[n - 1], "status")) {
        lr_err_set(err, "%s:%d: header must be run, parameters..., trace, status", path, lineno);
        goto fail;
      }
      ix->nparams = n - 3;
      for (int p = 0; p < ix->nparams; p++) {
        if (!valid_name(fld[1 + p], strlen(fld[1 + p]))) {
          lr_err_set(err, "%s:%d: bad parameter name '%s'", path, lineno, fld[1 + p]);
          goto fail;
        }
        if (!(ix->params[p] = strdup(fld[1 + p]))) goto oom;
      }
      have_header = 1;
      continue;
    }
    if (n != ix->nparams + 3) {
      lr_err_set(err, "%s:%d: %d fields, the header has %d", path, lineno, n > maxf ? maxf : n,
                 ix->nparams + 3);
      goto fail;
    }
    char *end;
    errno = 0;
    long id = strtol(fld[0], &end, 10);
    if (end == fld[0] || *end || errno || id <= 0 || id > LR_SWEEP_MAX_RUNS) {
      lr_err_set(err, "%s:%d: bad run number '%s'", path, lineno, fld[0]);
      goto fail;
    }
    for (size_t i = 0; i < ix->nrows; i++)
      if (ix->rows[i].id == id) {
        lr_err_set(err, "%s:%d: run %ld listed twice", path, lineno, id);
        goto fail;
      }
    const char *tr = fld[n - 2];
    if (!*tr || strchr(tr, '/') || strlen(tr) > 255) {
      lr_err_set(err, "%s:%d: bad trace name '%s' (a file name in the sweep directory)", path,
                 lineno, tr);
      goto fail;
    }
    if (ix->nrows >= LR_SWEEP_MAX_RUNS) {
      lr_err_set(err, "%s:%d: more than %d runs", path, lineno, LR_SWEEP_MAX_RUNS);
      goto fail;
    }
    Row *nr = realloc(ix->rows, (ix->nrows + 1) * sizeof *nr);
    if (!nr) goto oom;
    ix->rows = nr;
    Row *r = &ix->rows[ix->nrows];
    memset(r, 0, sizeof *r);
    ix->nrows++;
    r->id = (int)id;
    for (int p = 0; p < ix->nparams; p++) {
      if (!valid_value(fld[1 + p], strlen(fld[1 + p]))) {
        lr_err_set(err, "%s:%d: bad value '%s' for %s", path, lineno, fld[1 + p], ix->params[p]);
        goto fail;
      }
      if (!(r->values[p] = strdup(fld[1 + p]))) goto oom;
    }
    size_t tl = strlen(dir) + strlen(tr) + 2;
    if (!(r->trace = malloc(tl))) goto oom;
    snprintf(r->trace, tl, "%s/%s", dir, tr);
    if (!(r->status = strdup(fld[n - 1]))) goto oom;
  }
  if (ferror(f)) {
    lr_err_set(err, "%s: read error", path);
    goto fail;
  }
  if (!have_magic || !have_header) {
    lr_err_set(err, "%s: %s", path, have_magic ? "no header row" : "empty file");
    goto fail;
  }
  fclose(f);
  if (!ix->command) ix->command = strdup("");
  return ix;
oom:
  lr_err_set(err, "%s: out of memory", path);
fail:
  fclose(f);
  lr_sweep_index_free(ix);
  return NULL;
}

int lr_sweep_index_nparams(const LrSweepIndex *ix) { return ix->nparams; }
const char *lr_sweep_index_param(const LrSweepIndex *ix, int p) { return ix->params[p]; }
size_t lr_sweep_index_nruns(const LrSweepIndex *ix) { return ix->nrows; }
int lr_sweep_index_run_id(const LrSweepIndex *ix, size_t i) { return ix->rows[i].id; }
const char *lr_sweep_index_value(const LrSweepIndex *ix, size_t i, int p) {
  return ix->rows[i].values[p];
}
const char *lr_sweep_index_trace(const LrSweepIndex *ix, size_t i) { return ix->rows[i].trace; }
const char *lr_sweep_index_status(const LrSweepIndex *ix, size_t i) { return ix->rows[i].status; }
const char *lr_sweep_index_command(const LrSweepIndex *ix) {
  return ix->command ? ix->command : "";
}
