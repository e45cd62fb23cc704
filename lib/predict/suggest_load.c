/*
** suggest_load.c: the runs of a sweep directory for the model (suggest.c):
** which runs are usable, which process of each run's trace is read (the
** program, not the shell around it: lr_diff_pick), and the parameters
** that vary among them.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lowram/diff.h"
#include "lowram/sweep.h"
#include "lowram/trace.h"
#include "predict/sitebytes.h"
#include "predict/suggest_internal.h"

/* 0 if path is a regular file; else -1 with a one-line reason naming it.
** Opened without blocking and checked on the descriptor, so a FIFO (or a
** device) under a trace's name is refused instead of hanging the open that
** SQLite would make. */
int lr_suggest_regular_file(const char *path, LrErr *err) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return lr_err_set(err, "%s: %s", path, strerror(errno));
  struct stat st;
  int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  close(fd);
  return ok ? 0 : lr_err_set(err, "%s: not a regular file", path);
}

/* The process each trace is read for (diff.h, lr_diff_pick): `process`
** (processes.id) in every trace when given, else the process running the
** same command in every trace (`command` when given), found by the run's
** parameter values in its argv (words: ntraces * nwords). Traces that
** cannot be opened here get 0; reading them fails later with the reason. */
int lr_suggest_pick_processes(LrSuggest *m, char *const *paths, int ntraces,
                              const char *const *words, int nwords, const char *command,
                              int64_t process, LrErr *err) {
  m->pick = calloc((size_t)(ntraces ? ntraces : 1), sizeof *m->pick);
  LrTrace **t = calloc((size_t)(ntraces ? ntraces : 1), sizeof *t);
  LrPick *got = calloc((size_t)(ntraces ? ntraces : 1), sizeof *got);
  const char **w = calloc((size_t)(ntraces ? ntraces : 1) * (size_t)(nwords ? nwords : 1),
                          sizeof *w);
  int *slot = calloc((size_t)(ntraces ? ntraces : 1), sizeof *slot);
  int rc = m->pick && t && got && w && slot ? 0 : lr_err_set(err, "out of memory");
  int nt = 0;
  for (int i = 0; i < ntraces && !rc; i++) {
    LrErr e2;
    if (!(t[nt] = lr_trace_open(paths[i], &e2))) continue;
    for (int k = 0; k < nwords; k++) w[nt * nwords + k] = words[i * nwords + k];
    slot[nt++] = i;
  }
  if (!rc && process > 0) {
    for (int k = 0; k < nt && !rc; k++)
      if (!(rc = lr_trace_select_process(t[k], process, err))) {
        LrProcess *ps = NULL;
        size_t np = 0;
        if (!(rc = lr_trace_processes(t[k], &ps, &np, err)))
          for (size_t j = 0; j < np; j++)
            if (ps[j].id == process) {
              LrPick *o = &got[k];
              o->id = process;
              o->pid = ps[j].pid;
              o->peak = ps[j].peak;
              o->nprocs = (int)np;
              lr_diff_argv_words(ps[j].argv, o->command, sizeof o->command);
              char *sp = strchr(o->command, ' '), *sl;
              if (sp) *sp = 0;
              if ((sl = strrchr(o->command, '/')))
                memmove(o->command, sl + 1, strlen(sl + 1) + 1);
              snprintf(o->argv, sizeof o->argv, "%s", ps[j].argv);
            }
        free(ps);
      }
  } else if (!rc && nt) {
    rc = lr_diff_pick(t, nt, nwords ? w : NULL, nwords, command, got, err);
  }
  for (int k = 0; k < nt; k++) {
    if (!rc) m->pick[slot[k]] = got[k];
    lr_trace_close(t[k]);
  }
  free(t);
  free(got);
  free(w);
  free(slot);
  return rc ? -1 : 0;
}

/* Runs of a sweep directory, with their raw parameter values. */
int lr_suggest_load_sweep(LrSuggest *m, const char *dir, const LrSuggestFix *fix, int nfix,
                          const char *command, int64_t process, char ***values_out, int *nraw,
                          char (*raw_names)[64], LrErr *err) {
  LrSweepIndex *ix = lr_sweep_index_read(dir, err);
  if (!ix) return -1;
  int np = lr_sweep_index_nparams(ix);
  *nraw = np;
  for (int p = 0; p < np; p++) snprintf(raw_names[p], 64, "%s", lr_sweep_index_param(ix, p));
  for (int f = 0; f < nfix; f++) {
    int found = 0;
    for (int p = 0; p < np; p++) found |= !strcmp(fix[f].name, raw_names[p]);
    if (!found) {
      lr_sweep_index_free(ix);
      return lr_err_set(err, "--fix %s: the sweep in %s has no parameter %s", fix[f].name, dir,
                        fix[f].name);
    }
  }
  char **values = NULL;
  int ret;
  char failed[400] = "";
  int nfailed = 0;
  size_t nix = lr_sweep_index_nruns(ix);
  /* pass 1: the runs kept and readable; pass 2 reads each for its process */
  unsigned char *kept = calloc(nix ? nix : 1, 1);
  char **paths = calloc(nix ? nix : 1, sizeof *paths);
  const char **words = calloc((nix ? nix : 1) * (size_t)(np ? np : 1), sizeof *words);
  int *run_of = calloc(nix ? nix : 1, sizeof *run_of);
  LrErr *why = calloc(nix ? nix : 1, sizeof *why);
  int ntr = 0;
  if (!kept || !paths || !words || !run_of || !why) {
    lr_err_set(err, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < nix; i++) {
    int keep = 1;
    for (int f = 0; f < nfix; f++)
      for (int p = 0; p < np; p++)
        if (!strcmp(fix[f].name, raw_names[p])) {
          double a, b;
          const char *v = lr_sweep_index_value(ix, i, p);
          int same = !strcmp(v, fix[f].value) ||
                     (!lr_suggest_parse_num(v, &a) && !lr_suggest_parse_num(fix[f].value, &b) && a == b);
          if (!same) keep = 0;
        }
    if (!keep) continue;
    kept[i] = 1;
    const char *status = lr_sweep_index_status(ix, i);
    if (strcmp(status, "ok") != 0) {
      snprintf(why[i].msg, sizeof why[i].msg, "%s", status);
    } else if (!lr_suggest_regular_file(lr_sweep_index_trace(ix, i), &why[i])) {
      kept[i] = 2;
      paths[ntr] = (char *)lr_sweep_index_trace(ix, i);
      for (int p = 0; p < np; p++) words[ntr * np + p] = lr_sweep_index_value(ix, i, p);
      run_of[i] = ntr++;
    }
  }
  if (lr_suggest_pick_processes(m, paths, ntr, words, np, command, process, err)) goto fail;
  LrPick *picks = m->pick;
  m->pick = NULL; /* reindexed below: one per run kept */
  for (size_t i = 0; i < nix; i++) {
    if (!kept[i]) continue;
    int id = lr_sweep_index_run_id(ix, i);
    LrSiteBytes *r = NULL;
    LrErr e2 = why[i];
    if (kept[i] != 2) {
      /* the reason is in e2 */
    } else if (!(r = lr_sitebytes_read_process(lr_sweep_index_trace(ix, i), 0,
                                               picks[run_of[i]].id, &e2))) {
      /* the reason names the file */
    } else if (!lr_sitebytes_clean_exit(r)) {
      snprintf(e2.msg, sizeof e2.msg, "program ended with %s", lr_sitebytes_end(r));
      lr_sitebytes_free(r);
      r = NULL;
    }
    if (!r) {
      char desc[200] = "";
      size_t u = 0;
      for (int p = 0; p < np && u < sizeof desc; p++)
        u += (size_t)snprintf(desc + u, sizeof desc - u, "%s%s=%s", p ? " " : "", raw_names[p],
                              lr_sweep_index_value(ix, i, p));
      lr_suggest_note_add(m, "run %d (%s) failed: %s; left out", id, desc, e2.msg);
      size_t fl = strlen(failed);
      if (fl < sizeof failed - 16) snprintf(failed + fl, sizeof failed - fl, "%s%d", nfailed ? ", " : "", id);
      nfailed++;
      continue;
    }
    LrPick *np2 = realloc(m->pick, sizeof *np2 * (size_t)(m->nruns + 1));
    if (!np2 || lr_suggest_add_run(m, r, err)) {
      if (np2) m->pick = np2;
      lr_sitebytes_free(r);
      free(picks);
      lr_err_set(err, "out of memory");
      goto fail;
    }
    m->pick = np2;
    m->pick[m->nruns - 1] = picks[run_of[i]];
    char **nv = realloc(values, sizeof *nv * (size_t)(m->nruns * (np ? np : 1)));
    if (!nv) {
      free(picks);
      lr_err_set(err, "out of memory");
      goto fail;
    }
    values = nv;
    for (int p = 0; p < np; p++)
      values[(m->nruns - 1) * np + p] = strdup(lr_sweep_index_value(ix, i, p));
  }
  free(picks);
  *values_out = values;
  ret = 0;
  if (m->nruns == 0)
    ret = nfailed ? lr_err_set(err, "%s: no usable run (failed: %s)", dir, failed)
                  : lr_err_set(err, "%s: no run matches --fix", dir);
  goto out;
fail:
  ret = -1;
  if (values)
    for (int i = 0; i < (m->nruns - 1) * np; i++) free(values[i]);
  free(values);
out:
  free(kept);
  free(paths);
  free(words);
  free(run_of);
  free(why);
  lr_sweep_index_free(ix);
  return ret;
}

/* Picks the numeric, varying parameters and fills m->x. */
int lr_suggest_choose_params(LrSuggest *m, char **values, int nraw, char (*raw)[64], LrErr *err) {
  int keep[LR_SWEEP_MAX_PARAMS + 8];
  for (int p = 0; p < nraw; p++) {
    keep[p] = 0;
    int distinct = 0, numeric = 1;
    for (int r = 0; r < m->nruns; r++) {
      double v;
      if (lr_suggest_parse_num(values[r * nraw + p], &v)) numeric = 0;
      int seen = 0;
      for (int q = 0; q < r; q++)
        if (!strcmp(values[q * nraw + p], values[r * nraw + p])) seen = 1;
      distinct += !seen;
    }
    if (distinct < 2) {
      if (m->nruns > 1)
        lr_suggest_note_add(m, "parameter %s never changes (always %s): the model cannot predict other values "
                "of it", raw[p], values[p]);
      continue;
    }
    if (!numeric)
      return lr_err_set(err, "parameter %s is not a number in every run (e.g. %s); pick one "
                             "value with --fix %s=VALUE", raw[p], values[p], raw[p]);
    if (m->nparams >= LR_FIT_MAX_PARAMS)
      return lr_err_set(err, "more than %d varying parameters", LR_FIT_MAX_PARAMS);
    keep[p] = 1;
    snprintf(m->names[m->nparams++], sizeof m->names[0], "%.63s", raw[p]);
  }
  m->x = calloc((size_t)m->nruns * (size_t)(m->nparams ? m->nparams : 1), sizeof *m->x);
  if (!m->x) return lr_err_set(err, "out of memory");
  for (int r = 0; r < m->nruns; r++) {
    int q = 0;
    for (int p = 0; p < nraw; p++)
      if (keep[p]) lr_suggest_parse_num(values[r * nraw + p], &m->x[r * m->nparams + q++]);
  }
  return 0;
}

