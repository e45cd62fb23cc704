/*
** suggest.c: loading a sweep (or one trace) into the scaling model,
** predicting peaks, the budget search and the emitted model file
** (see suggest.h for the method; advice.c holds the advice).
*/
#include "lowram/suggest.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "predict/sitebytes.h"
#include "predict/suggest_internal.h"
#include "lowram/diff.h"
#include "lowram/sweep.h"
#include "lowram/trace.h"
#include "lowram/units.h"

void lr_suggest_note_add(LrSuggest *m, const char *fmt, ...) {
  if (m->nnotes >= LR_SUGGEST_MAX_NOTES) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m->notes[m->nnotes++], sizeof m->notes[0], fmt, ap);
  va_end(ap);
}

void lr_suggest_free(LrSuggest *m) {
  if (!m) return;
  for (int r = 0; r < m->nruns; r++) lr_sitebytes_free(m->runs[r]);
  free(m->runs);
  free(m->x);
  for (int s = 0; s < m->nsites; s++) free(m->site_key[s]);
  free(m->site_key);
  free(m->fits);
  free(m->ref_site);
  free(m->pick);
  lr_fit_space_free(m->space);
  free(m);
}

int lr_suggest_parse_num(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno || !isfinite(v) || v < 0) return -1;
  *out = v;
  return 0;
}

int lr_suggest_add_run(LrSuggest *m, LrSiteBytes *r, LrErr *err) {
  LrSiteBytes **nr = realloc(m->runs, sizeof *nr * (size_t)(m->nruns + 1));
  if (!nr) return lr_err_set(err, "out of memory");
  m->runs = nr;
  m->runs[m->nruns++] = r;
  return 0;
}

/* Single trace: the recorded integer parameters with a sequence or batch role. */
static int single_params(LrSuggest *m) {
  LrSiteBytes *r = m->runs[0];
  int have_seq = 0, have_batch = 0;
  m->x = calloc(LR_FIT_MAX_PARAMS, sizeof *m->x);
  if (!m->x) return -1;
  for (int i = 0; i < lr_sitebytes_nparams(r); i++) {
    const char *n = lr_sitebytes_param_name(r, i);
    int64_t v;
    if (lr_sitebytes_param_int(r, n, &v) || v < 1) continue;
    LrFitRole role = lr_fit_role_of(n);
    if ((role == LR_ROLE_SEQ && !have_seq) || (role == LR_ROLE_BATCH && !have_batch)) {
      if (role == LR_ROLE_SEQ) have_seq = 1;
      else have_batch = 1;
      m->x[m->nparams] = (double)v;
      snprintf(m->names[m->nparams++], sizeof m->names[0], "%.63s", n);
    }
  }
  if (!have_seq || !have_batch)
    lr_suggest_note_add(m, "the trace records no %s parameter (lowram_param): bytes that scale with it look "
            "constant here", !have_seq ? "sequence (seq_len)" : "batch");
  return 0;
}

static int site_of(LrSuggest *m, const char *key, LrErr *err) {
  for (int s = 0; s < m->nsites; s++)
    if (!strcmp(m->site_key[s], key)) return s;
  char **nk = realloc(m->site_key, sizeof *nk * (size_t)(m->nsites + 1));
  if (!nk) return lr_err_set(err, "out of memory");
  m->site_key = nk;
  if (!(m->site_key[m->nsites] = strdup(key))) return lr_err_set(err, "out of memory");
  return m->nsites++;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The RSS sampler ticks every few milliseconds, so a short run's peak RSS
** may be missed or seen once; a fit over such samples predicts nonsense.
** Then the estimate is the predicted heap plus the median gap between the
** sampled peak RSS and the heap peak of the runs (at least 0). */
static void rss_fallback(LrSuggest *m, const double *rss) {
  int64_t fewest = INT64_MAX;
  for (int r = 0; r < m->nruns; r++)
    if (lr_sitebytes_rss_samples(m->runs[r]) < fewest) fewest = lr_sitebytes_rss_samples(m->runs[r]);
  if (fewest >= 20 && m->rss_fit.validated && m->rss_fit.cls != LR_FIT_IRREGULAR) return;
  double *gap = malloc(sizeof *gap * (size_t)m->nruns);
  if (!gap) {
    m->have_rss = 0;
    return;
  }
  for (int r = 0; r < m->nruns; r++) gap[r] = rss[r] - (double)lr_sitebytes_peak(m->runs[r]);
  qsort(gap, (size_t)m->nruns, sizeof *gap, cmp_double);
  double med = m->nruns % 2 ? gap[m->nruns / 2] : (gap[m->nruns / 2 - 1] + gap[m->nruns / 2]) / 2;
  free(gap);
  m->rss_gap_mode = 1;
  m->rss_gap = med > 0 ? med : 0;
  char b[32];
  lr_suggest_note_add(m, "RSS was sampled too sparsely to fit (as few as %lld samples in a run); the RSS "
          "estimate is the predicted heap plus the median measured RSS-heap gap, %s",
       (long long)fewest, lr_fmt_bytes(b, sizeof b, (int64_t)m->rss_gap));
}

static int run_phase(const LrSiteBytes *rb, const char *name) {
  int rp = 0;
  while (rp < lr_sitebytes_nphases(rb) - 1 && strcmp(lr_sitebytes_phase_name(rb, rp), name)) rp++;
  return rp;
}

/* A phase's peak moment can move between runs (a buffer of the previous
** phase freed early, stdio's buffer allocated late): then the bytes "at
** the peak" jump between two different states and no small model fits
** them. When the phase holds the same events in every run, each run's peak
** event (by its ordinal in the phase) becomes a moment of its own, read in
** every run at that same point of the program; the phase's predicted peak
** is the highest of its moments. Otherwise the phase has one entry, each
** run's own peak (phase_ord = -1). */
static void add_phase_entries(LrSuggest *m, const char *name) {
  int64_t ords[8], nev = -1;
  int nords = 0, same = 1;
  for (int r = 0; r < m->nruns; r++) {
    LrSiteBytes *rb = m->runs[r];
    int rp = run_phase(rb, name);
    int64_t e = lr_sitebytes_phase_events(rb, rp), o = lr_sitebytes_phase_ordinal(rb, rp);
    if (nev < 0) nev = e;
    if (e != nev || e <= 0 || o < 0) same = 0;
    int seen = 0;
    for (int i = 0; i < nords; i++) seen |= ords[i] == o;
    if (!seen && nords < 8) ords[nords++] = o;
    else if (!seen) same = 0;
  }
  if (m->estimate || !same || nords <= 1 || m->nphases + nords > LR_SITEBYTES_MAX_PHASES) {
    if (m->nphases < LR_SITEBYTES_MAX_PHASES) {
      m->phase_ord[m->nphases] = -1;
      snprintf(m->phase[m->nphases++], sizeof m->phase[0], "%s", name);
    }
    return;
  }
  for (int i = 0; i < nords; i++) {
    m->phase_ord[m->nphases] = ords[i];
    snprintf(m->phase[m->nphases++], sizeof m->phase[0], "%s", name);
  }
}

/* Phases every run has, sites that matter, and the y vectors. */
static int build_and_fit(LrSuggest *m, LrErr *err) {
  LrSiteBytes *r0 = m->runs[0];
  for (int p = 0; p < lr_sitebytes_nphases(r0); p++) {
    const char *name = lr_sitebytes_phase_name(r0, p);
    int everywhere = 1;
    for (int r = 1; r < m->nruns && everywhere; r++) {
      int found = 0;
      for (int q = 0; q < lr_sitebytes_nphases(m->runs[r]); q++)
        found |= !strcmp(lr_sitebytes_phase_name(m->runs[r], q), name);
      everywhere = found;
    }
    if (!everywhere) {
      lr_suggest_note_add(m, "phase '%s' is missing from some runs; left out of the model", name);
      continue;
    }
    add_phase_entries(m, name);
  }
  int64_t top = 0;
  for (int r = 0; r < m->nruns; r++)
    if (lr_sitebytes_peak(m->runs[r]) > top) {
      top = lr_sitebytes_peak(m->runs[r]);
      m->ref_run = r;
    }
  /* pass 1: sites large enough somewhere get their own fits */
  double small = LR_SUGGEST_SMALL * (double)top;
  for (int r = 0; r < m->nruns; r++) {
    LrSiteBytes *rb = m->runs[r];
    for (int s = 0; s < lr_sitebytes_nsites(rb); s++)
      for (int p = 0; p < lr_sitebytes_nphases(rb); p++)
        if ((double)lr_sitebytes_bytes(rb, p, s) > small ||
            (lr_sitebytes_arena_of_key(lr_sitebytes_site_key(rb, s)) != LR_ARENA_NONE &&
             lr_sitebytes_bytes(rb, p, s) > 0)) {
          if (site_of(m, lr_sitebytes_site_key(rb, s), err) < 0) return -1;
          break;
        }
  }
  m->small_site = site_of(m, "(small sites)", err);
  if (m->small_site < 0) return -1;
  size_t cells = (size_t)m->nphases * (size_t)m->nsites;
  m->fits = calloc(cells ? cells : 1, sizeof *m->fits);
  m->ref_site = malloc(sizeof(int) * (size_t)m->nsites);
  double *y = calloc(cells * (size_t)m->nruns + 1, sizeof *y);
  double *file = calloc((size_t)m->nphases * (size_t)m->nruns + 1, sizeof *file);
  if (!m->fits || !m->ref_site || !y || !file) {
    free(y);
    free(file);
    return lr_err_set(err, "out of memory");
  }
  for (int s = 0; s < m->nsites; s++) m->ref_site[s] = -1;
  int rc = 0;
  for (int r = 0; r < m->nruns && !rc; r++) {
    LrSiteBytes *rb = m->runs[r];
    int ns = lr_sitebytes_nsites(rb);
    int *map = malloc(sizeof(int) * (size_t)ns);
    int64_t *mom = malloc(sizeof(int64_t) * (size_t)ns);
    if (!map || !mom) {
      free(map);
      free(mom);
      rc = lr_err_set(err, "out of memory");
      break;
    }
    for (int s = 0; s < ns; s++) {
      map[s] = m->small_site;
      for (int q = 0; q < m->nsites; q++)
        if (!strcmp(m->site_key[q], lr_sitebytes_site_key(rb, s))) map[s] = q;
      if (r == m->ref_run && map[s] != m->small_site) m->ref_site[map[s]] = s;
    }
    for (int ph = 0; ph < m->nphases && !rc; ph++) {
      int rp = run_phase(rb, m->phase[ph]);
      int64_t f = lr_sitebytes_phase_file(rb, rp);
      if (m->phase_ord[ph] >= 0)
        rc = lr_sitebytes_moment(rb, rp, m->phase_ord[ph], mom, &f, err);
      for (int s = 0; s < ns && !rc; s++)
        y[((size_t)ph * (size_t)m->nsites + (size_t)map[s]) * (size_t)m->nruns + (size_t)r] +=
            (double)(m->phase_ord[ph] >= 0 ? mom[s] : lr_sitebytes_bytes(rb, rp, s));
      file[ph * m->nruns + r] = (double)f;
    }
    lr_sitebytes_release(rb);
    free(map);
    free(mom);
  }
  if (rc) {
    free(y);
    free(file);
    return rc;
  }
  if (m->estimate) {
    rc = lr_suggest_estimate_fits(m, y, file);
  } else {
    const char *np[LR_FIT_MAX_PARAMS];
    for (int p = 0; p < m->nparams; p++) np[p] = m->names[p];
    m->space = lr_fit_space_new(m->nparams, np, m->nruns, m->x, err);
    if (!m->space) rc = -1;
    /* arenas: a constant or a line, never curvature fitted to their jitter */
    LrFitOptions plain, arena;
    lr_fit_options_default(&plain);
    arena = plain;
    arena.max_degree = 1;
    for (size_t c = 0; c < cells && !rc; c++) {
      int site = (int)(c % (size_t)m->nsites);
      int is_arena = lr_sitebytes_arena_of_key(m->site_key[site]) != LR_ARENA_NONE;
      rc = lr_fit_site(m->space, y + c * (size_t)m->nruns, is_arena ? &arena : &plain,
                       &m->fits[c], err);
    }
    for (int ph = 0; ph < m->nphases && !rc; ph++)
      rc = lr_fit_site(m->space, file + ph * m->nruns, NULL, &m->file_fit[ph], err);
    double *rss = calloc((size_t)m->nruns, sizeof *rss);
    m->have_rss = rss != NULL;
    for (int r = 0; r < m->nruns && rss; r++) {
      rss[r] = (double)lr_sitebytes_rss_peak(m->runs[r]);
      if (rss[r] < 0) m->have_rss = 0;
    }
    if (m->have_rss && !rc) rc = lr_fit_site(m->space, rss, NULL, &m->rss_fit, err);
    if (m->have_rss && !rc) rss_fallback(m, rss);
    free(rss);
    int thin = 0, irregular = 0, noisy = 0;
    for (size_t c = 0; c < cells; c++) {
      if (m->fits[c].cls == LR_FIT_ZERO) continue;
      thin += !m->fits[c].validated;
      irregular += m->fits[c].cls == LR_FIT_IRREGULAR;
      noisy += m->fits[c].noisy;
    }
    if (noisy)
      lr_suggest_note_add(m, "%d site fits are noisy (bytes differ between runs beyond what any small model "
              "explains): they were chosen by leave-one-out error without squares, and the "
              "range beside each prediction shows their error", noisy);
    for (int p = 0; p < m->nparams && !rc; p++)
      if (lr_fit_space_distinct(m->space, p) < 3)
        lr_suggest_note_add(m, "parameter %s has only %d values: growth in it is taken as linear (curvature "
                "needs 3 or more)", m->names[p], lr_fit_space_distinct(m->space, p));
    if (thin)
      lr_suggest_note_add(m, "%d site fits could not be cross-checked (as many terms as runs): the sweep is "
              "too thin to tell; add values", thin);
    if (irregular)
      lr_suggest_note_add(m, "%d site fits are irregular (no small model within 5%%): predictions there are "
              "rough", irregular);
  }
  free(y);
  free(file);
  return rc;
}

LrSuggest *lr_suggest_load(const char *path, const LrSuggestFix *fix, int nfix, LrErr *err) {
  return lr_suggest_load_process(path, fix, nfix, NULL, 0, err);
}

LrSuggest *lr_suggest_load_process(const char *path, const LrSuggestFix *fix, int nfix,
                                   const char *command, int64_t process, LrErr *err) {
  LrSuggest *m = calloc(1, sizeof *m);
  if (!m) {
    lr_err_set(err, "out of memory");
    return NULL;
  }
  struct stat st;
  if (stat(path, &st) != 0) {
    lr_err_set(err, "%s: %s", path, strerror(errno));
    goto fail;
  }
  char **values = NULL;
  int nraw = 0;
  char raw[LR_SWEEP_MAX_PARAMS][64];
  if (S_ISDIR(st.st_mode)) {
    int rc = lr_suggest_load_sweep(m, path, fix, nfix, command, process, &values, &nraw, raw, err);
    if (!rc) rc = lr_suggest_choose_params(m, values, nraw, raw, err);
    if (values)
      for (int i = 0; i < m->nruns * nraw; i++) free(values[i]);
    free(values);
    if (rc) goto fail;
  } else {
    if (lr_suggest_regular_file(path, err)) goto fail;
    char *one = (char *)path;
    if (lr_suggest_pick_processes(m, &one, 1, NULL, 0, command, process, err)) goto fail;
    LrSiteBytes *r = lr_sitebytes_read_process(path, 0, m->pick[0].id, err);
    if (!r) goto fail;
    if (lr_suggest_add_run(m, r, err)) {
      lr_sitebytes_free(r);
      goto fail;
    }
    m->estimate = 1;
    lr_suggest_note_add(m, "one trace, no sweep: every prediction is an estimate (a site whose bytes are a "
            "multiple of the recorded seq*batch, seq or batch is taken to grow linearly with it)");
    if (nfix) lr_suggest_note_add(m, "--fix applies to sweeps; ignored for a single trace");
    if (!lr_sitebytes_clean_exit(r))
      lr_suggest_note_add(m, "%s: the program ended with %s; the trace holds what happened until then", path,
           lr_sitebytes_end(r));
    if (single_params(m)) {
      lr_err_set(err, "out of memory");
      goto fail;
    }
  }
  /* the program is the process read (the shell around it is not) */
  snprintf(m->program, sizeof m->program, "%s",
           m->pick[0].id ? m->pick[0].command : lr_sitebytes_program(m->runs[0]));
  for (int r = 1; r < m->nruns; r++) {
    const char *pr = m->pick[r].id ? m->pick[r].command : lr_sitebytes_program(m->runs[r]);
    if (strcmp(pr, m->program) != 0) {
      lr_err_set(err, "traces from different programs: %s runs '%s' but %s runs '%s'",
                 lr_sitebytes_path(m->runs[0]), m->program, lr_sitebytes_path(m->runs[r]), pr);
      goto fail;
    }
  }
  /* an interpreter's stacks explode into groups that do not repeat from run
  ** to run: then every run is keyed coarsely, so sites still match */
  int exploded = 0;
  for (int r = 0; r < m->nruns; r++) exploded |= lr_sitebytes_exploded(m->runs[r]);
  if (exploded) {
    for (int r = 0; r < m->nruns; r++) {
      LrSiteBytes *c = lr_sitebytes_read_process(lr_sitebytes_path(m->runs[r]), 1, m->pick[r].id,
                                                 err);
      if (!c) goto fail;
      lr_sitebytes_free(m->runs[r]);
      m->runs[r] = c;
    }
    m->coarse = 1;
    lr_suggest_note_add(m, "stacks exploded (over %d distinct stacks with a few blocks each): sites are keyed "
            "by %d frames from the first frame outside the C runtime and the interpreter",
         LR_SITEBYTES_EXPLODED_STACKS, LR_SITEBYTES_COARSE_FRAMES);
  }
  if (build_and_fit(m, err)) goto fail;
  return m;
fail:
  lr_suggest_free(m);
  return NULL;
}

int lr_suggest_is_estimate(const LrSuggest *m) { return m->estimate; }
const LrPick *lr_suggest_pick(const LrSuggest *m, int run) {
  return run >= 0 && run < m->nruns && m->pick ? &m->pick[run] : NULL;
}
const char *lr_suggest_program(const LrSuggest *m) { return m->program; }
int lr_suggest_nruns(const LrSuggest *m) { return m->nruns; }
int lr_suggest_nnotes(const LrSuggest *m) { return m->nnotes; }
const char *lr_suggest_note(const LrSuggest *m, int i) { return m->notes[i]; }
int lr_suggest_nparams(const LrSuggest *m) { return m->nparams; }
const char *lr_suggest_param_name(const LrSuggest *m, int p) { return m->names[p]; }
LrFitRole lr_suggest_param_role(const LrSuggest *m, int p) { return lr_fit_role_of(m->names[p]); }

int lr_suggest_param_index(const LrSuggest *m, const char *name) {
  for (int p = 0; p < m->nparams; p++)
    if (!strcmp(m->names[p], name)) return p;
  return -1;
}

int lr_suggest_param_values(const LrSuggest *m, int p, double *out, int max) {
  int n = 0;
  for (int r = 0; r < m->nruns; r++) {
    double v = m->x[r * m->nparams + p];
    int seen = 0;
    for (int i = 0; i < n; i++) seen |= out[i] == v;
    if (seen || n >= max) continue;
    int i = n++;
    while (i > 0 && out[i - 1] > v) {
      out[i] = out[i - 1];
      i--;
    }
    out[i] = v;
  }
  return n;
}

int lr_suggest_param_distinct(const LrSuggest *m, int p) {
  double v[LR_SWEEP_MAX_RUNS > 256 ? 256 : LR_SWEEP_MAX_RUNS];
  return lr_suggest_param_values(m, p, v, 256);
}

double lr_suggest_param_min(const LrSuggest *m, int p) {
  double v = INFINITY;
  for (int r = 0; r < m->nruns; r++) v = fmin(v, m->x[r * m->nparams + p]);
  return v;
}

double lr_suggest_param_max(const LrSuggest *m, int p) {
  double v = 0;
  for (int r = 0; r < m->nruns; r++) v = fmax(v, m->x[r * m->nparams + p]);
  return v;
}

const char *lr_suggest_recorded_text(const LrSuggest *m, const char *name) {
  const char *v = lr_sitebytes_param_text(m->runs[0], name);
  for (int r = 1; r < m->nruns && v; r++) {
    const char *o = lr_sitebytes_param_text(m->runs[r], name);
    if (!o || strcmp(o, v)) return NULL;
  }
  return v;
}

int lr_suggest_nphases(const LrSuggest *m) { return m->nphases; }
const char *lr_suggest_phase_name(const LrSuggest *m, int ph) { return m->phase[ph]; }
int lr_suggest_nsites(const LrSuggest *m) { return m->nsites; }
const char *lr_suggest_site_key(const LrSuggest *m, int s) { return m->site_key[s]; }
const LrFitResult *lr_suggest_fit(const LrSuggest *m, int ph, int s) {
  return &m->fits[(size_t)ph * (size_t)m->nsites + (size_t)s];
}

double lr_suggest_site_at(const LrSuggest *m, int ph, int s, const double *x) {
  double v = lr_fit_eval(lr_suggest_fit(m, ph, s), m->nparams, x);
  return v > 0 ? v : 0;
}

void lr_suggest_site_stats(const LrSuggest *m, int ph, int s, int64_t *allocs,
                           int64_t *live_blocks, int64_t *max_block) {
  *allocs = *live_blocks = *max_block = 0;
  int rs = m->ref_site[s];
  if (rs < 0) return;
  LrSiteBytes *rb = m->runs[m->ref_run];
  int rp = 0;
  while (rp < lr_sitebytes_nphases(rb) && strcmp(lr_sitebytes_phase_name(rb, rp), m->phase[ph]))
    rp++;
  *allocs = lr_sitebytes_site_allocs(rb, rs);
  *max_block = lr_sitebytes_site_max_block(rb, rs);
  if (rp < lr_sitebytes_nphases(rb)) *live_blocks = lr_sitebytes_blocks(rb, rp, rs);
}

const char *lr_suggest_rss_method(const LrSuggest *m) {
  return !m->have_rss ? "none"
         : m->estimate ? "heap x measured ratio"
         : m->rss_gap_mode ? "heap + median gap"
                           : "fitted";
}

int lr_suggest_site_is_temporary(const LrSuggest *m, int s) {
  int rs = m->ref_site[s];
  if (rs < 0) return 0;
  LrSiteBytes *rb = m->runs[m->ref_run];
  return lr_sitebytes_site_mean_life(rb, rs) * LR_SUGGEST_TEMP_SHARE < (double)lr_sitebytes_span(rb);
}

LrArena lr_suggest_site_arena(const LrSuggest *m, int s) {
  return lr_sitebytes_arena_of_key(m->site_key[s]);
}

int lr_suggest_coarse(const LrSuggest *m) { return m->coarse; }

const char *lr_suggest_mapped_file(const LrSuggest *m, int ph) {
  if (ph < 0 || ph >= m->nphases) return "";
  LrSiteBytes *rb = m->runs[m->ref_run];
  return lr_sitebytes_phase_file_name(rb, run_phase(rb, m->phase[ph]));
}

int lr_suggest_site_is_held(const LrSuggest *m, int ph, int s) {
  int rs = m->ref_site[s];
  if (rs < 0) return 0;
  LrSiteBytes *rb = m->runs[m->ref_run];
  int64_t now = lr_sitebytes_bytes(rb, run_phase(rb, m->phase[ph]), rs);
  return now > 0 && 2 * lr_sitebytes_site_late_bytes(rb, rs) >= now;
}

double lr_suggest_site_band(const LrSuggest *m, int ph, int s, const double *x) {
  const LrFitResult *r = lr_suggest_fit(m, ph, s);
  if (r->band <= 0) return 0;
  double v = lr_suggest_site_at(m, ph, s, x);
  /* the error seen on runs left out, growing with the site beyond the sweep */
  return r->band * (r->ymax > 0 && v > r->ymax ? v / r->ymax : 1);
}

void lr_suggest_predict(const LrSuggest *m, const double *x, LrSuggestPeak *out) {
  memset(out, 0, sizeof *out);
  out->phase = -1;
  out->heap = -1;
  out->low = out->high = 0;
  for (int ph = 0; ph < m->nphases; ph++) {
    double sum = 0, band = 0;
    for (int s = 0; s < m->nsites; s++) {
      sum += lr_suggest_site_at(m, ph, s, x);
      band += lr_suggest_site_band(m, ph, s, x);
    }
    if (sum > out->heap) {
      out->heap = sum;
      out->phase = ph;
    }
    if (sum - band > out->low) out->low = sum - band;
    if (sum + band > out->high) out->high = sum + band;
  }
  if (out->heap < 0) out->heap = 0;
  if (out->low > out->heap) out->low = out->heap;
  if (out->high < out->heap) out->high = out->heap;
  if (out->phase >= 0) {
    out->file = fmax(0, lr_fit_eval(&m->file_fit[out->phase], m->nparams, x));
  }
  out->rss = !m->have_rss      ? -1
             : m->estimate    ? out->heap * m->rss_ratio
             : m->rss_gap_mode ? out->heap + m->rss_gap
                              : fmax(0, lr_fit_eval(&m->rss_fit, m->nparams, x));
  for (int p = 0; p < m->nparams; p++)
    if (x[p] < lr_suggest_param_min(m, p) || x[p] > lr_suggest_param_max(m, p))
      out->extrapolated = 1;
}

int lr_suggest_largest(const LrSuggest *m, const double *x, int p, double limit, double cap,
                       double *out) {
  double xv[LR_FIT_MAX_PARAMS];
  memcpy(xv, x, sizeof(double) * (size_t)m->nparams);
  LrSuggestPeak pk;
  xv[p] = 1;
  lr_suggest_predict(m, xv, &pk);
  if (pk.heap > limit) return 0;
  /* double until it no longer fits, then bisect: the first crossing is the
  ** answer even if some far-off value would "fit" again */
  double lo = 1, hi = 2;
  for (;;) {
    if (hi >= cap) {
      xv[p] = cap;
      lr_suggest_predict(m, xv, &pk);
      if (pk.heap <= limit) {
        *out = cap;
        return 1;
      }
      hi = cap;
      break;
    }
    xv[p] = hi;
    lr_suggest_predict(m, xv, &pk);
    if (pk.heap > limit) break;
    lo = hi;
    hi *= 2;
  }
  /* lo fits, hi does not */
  while (hi - lo > 1) {
    double mid = floor((lo + hi) / 2);
    xv[p] = mid;
    lr_suggest_predict(m, xv, &pk);
    if (pk.heap <= limit) lo = mid;
    else hi = mid;
  }
  *out = lo;
  return 1;
}

double lr_suggest_constant_part(const LrSuggest *m, const double *x) {
  LrSuggestPeak pk;
  lr_suggest_predict(m, x, &pk);
  if (pk.phase < 0) return 0;
  double zero[LR_FIT_MAX_PARAMS] = {0};
  double sum = 0;
  for (int s = 0; s < m->nsites; s++) sum += lr_suggest_site_at(m, pk.phase, s, zero);
  return sum;
}

int lr_suggest_emit(const LrSuggest *m, const char *path, double margin_pct, LrErr *err) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return lr_err_set(err, "%s: %s", tmp, strerror(errno));
  const char *np[LR_FIT_MAX_PARAMS];
  for (int p = 0; p < m->nparams; p++) np[p] = m->names[p];
  fprintf(f, "lowram-memmodel 1\n"
             "# Peak heap + anonymous-mmap bytes of '%s' as a function of its parameters,\n"
             "# fitted by `lowram suggest` from %d run%s%s. Peak = max over phases of the\n"
             "# sum of the phase's terms; a limit L fits when peak <= L * (1 - margin).\n"
             "# Format: runner/memmodel.h.\n",
          m->program, m->nruns, m->nruns == 1 ? "" : "s",
          m->estimate ? " (one trace: estimates)" : "");
  fprintf(f, "program %s\nparams", m->program[0] ? m->program : "?");
  for (int p = 0; p < m->nparams; p++) fprintf(f, " %s", m->names[p]);
  fprintf(f, "\n");
  for (int p = 0; p < m->nparams; p++)
    fprintf(f, "range %s %.17g %.17g\n", m->names[p], lr_suggest_param_min(m, p),
            lr_suggest_param_max(m, p));
  fprintf(f, "margin %.6g\n", margin_pct / 100);
  for (int ph = 0; ph < m->nphases; ph++) {
    fprintf(f, "phase %s\n", m->phase[ph]);
    /* the phase total: the sum of its sites' polynomials, term by term */
    LrFitTerm terms[LR_FIT_MAX_TERMS];
    double coef[LR_FIT_MAX_TERMS];
    int nt = 0;
    for (int s = 0; s < m->nsites; s++) {
      const LrFitResult *r = lr_suggest_fit(m, ph, s);
      for (int k = 0; k < r->nterms; k++) {
        int t = 0;
        while (t < nt && memcmp(&terms[t], &r->term[k], sizeof terms[t])) t++;
        if (t == nt) {
          if (nt == LR_FIT_MAX_TERMS) continue;
          terms[nt] = r->term[k];
          coef[nt++] = 0;
        }
        coef[t] += r->coef[k];
      }
    }
    for (int t = 0; t < nt; t++) {
      char name[128];
      fprintf(f, "term %s %.17g\n", lr_fit_term_name(terms[t], m->nparams, np, name, sizeof name),
              coef[t]);
    }
    fprintf(f, "end\n");
  }
  int bad = ferror(f);
  if (fclose(f) || bad) {
    remove(tmp);
    return lr_err_set(err, "%s: write failed", tmp);
  }
  if (rename(tmp, path)) return lr_err_set(err, "%s: %s", path, strerror(errno));
  return 0;
}
