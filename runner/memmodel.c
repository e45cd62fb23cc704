/*
** memmodel.c: the bounds-checked reader of lowram's memory model file and
** the largest-value search (format and rules in memmodel.h).
*/
#include "memmodel.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct Term {
  unsigned char exp[QR_MEMMODEL_MAX_PARAMS];
  double coef;
} Term;

typedef struct Phase {
  char name[64];
  int nterms;
  Term terms[QR_MEMMODEL_MAX_TERMS];
} Phase;

struct QrMemModel {
  int nparams;
  char names[QR_MEMMODEL_MAX_PARAMS][64];
  double margin;
  int nphases;
  Phase *phases; /* QR_MEMMODEL_MAX_PHASES */
};

static int fail(char *err, size_t len, const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(char *err, size_t len, const char *path, int line, const char *fmt, ...) {
  if (err && len) {
    int n = line ? snprintf(err, len, "%s:%d: ", path, line) : snprintf(err, len, "%s: ", path);
    if (n < 0) n = 0;
    if ((size_t)n < len) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(err + n, len - (size_t)n, fmt, ap);
      va_end(ap);
    }
  }
  return -1;
}

static int ident(const char *s) {
  if (!*s || strlen(s) > 63 || !(isalpha((unsigned char)*s) || *s == '_')) return 0;
  for (; *s; s++)
    if (!(isalnum((unsigned char)*s) || *s == '_')) return 0;
  return 1;
}

static int parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno == ERANGE || !isfinite(v)) return -1;
  *out = v;
  return 0;
}

static int parse_term(const QrMemModel *m, const char *s, Term *t) {
  memset(t, 0, sizeof *t);
  if (!strcmp(s, "1")) return 0;
  while (*s) {
    const char *e = s;
    while (*e && *e != '*' && *e != '^') e++;
    size_t n = (size_t)(e - s);
    int which = -1;
    for (int p = 0; p < m->nparams; p++)
      if (strlen(m->names[p]) == n && !strncmp(m->names[p], s, n)) which = p;
    if (which < 0) return -1;
    int x = 1;
    if (*e == '^') {
      if (e[1] != '1' && e[1] != '2') return -1;
      x = e[1] - '0';
      e += 2;
    }
    if (t->exp[which] + x > 2) return -1;
    t->exp[which] = (unsigned char)(t->exp[which] + x);
    if (*e == '*') {
      if (!e[1]) return -1;
      e++;
    } else if (*e) {
      return -1;
    }
    s = e;
  }
  return 0;
}

void qr_memmodel_free(QrMemModel *m) {
  if (!m) return;
  free(m->phases);
  free(m);
}

QrMemModel *qr_memmodel_load(const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fail(err, errlen, path, 0, "%s", strerror(errno));
    return NULL;
  }
  QrMemModel *m = calloc(1, sizeof *m);
  if (m) m->phases = calloc(QR_MEMMODEL_MAX_PHASES, sizeof *m->phases);
  if (!m || !m->phases) {
    fail(err, errlen, path, 0, "out of memory");
    goto bad;
  }
  m->margin = 0.1;
  char line[1024];
  int lineno = 0, have_magic = 0, in_phase = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    size_t len = strlen(line);
    if (len && line[len - 1] == '\n') line[--len] = 0;
    else if (!feof(f)) {
      fail(err, errlen, path, lineno, "line longer than %zu bytes", sizeof line - 2);
      goto bad;
    }
    if (len && line[len - 1] == '\r') line[--len] = 0;
    if (memchr(line, 0, len) || strlen(line) != len) {
      fail(err, errlen, path, lineno, "NUL byte in text");
      goto bad;
    }
    const char *first = line;
    while (*first == ' ' || *first == '\t') first++;
    if (*first == '#' || !*first) continue;
    char *tok[8];
    int nt = 0;
    for (char *save = NULL, *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
      if (nt == 8) {
        fail(err, errlen, path, lineno, "too many fields");
        goto bad;
      }
      tok[nt++] = t;
    }
    if (nt == 0 || tok[0][0] == '#') continue;
    if (!have_magic) {
      if (nt != 2 || strcmp(tok[0], "lowram-memmodel")) {
        fail(err, errlen, path, lineno, "not a lowram memory model (want 'lowram-memmodel 1')");
        goto bad;
      }
      if (strcmp(tok[1], "1")) {
        fail(err, errlen, path, lineno, "model version %s, this reader knows version 1", tok[1]);
        goto bad;
      }
      have_magic = 1;
    } else if (!strcmp(tok[0], "program")) {
      /* informational */
    } else if (!strcmp(tok[0], "params")) {
      if (m->nparams || nt < 2 || nt > 1 + QR_MEMMODEL_MAX_PARAMS) {
        fail(err, errlen, path, lineno, "params: once, with 1 to %d names", QR_MEMMODEL_MAX_PARAMS);
        goto bad;
      }
      for (int i = 1; i < nt; i++) {
        if (!ident(tok[i])) {
          fail(err, errlen, path, lineno, "params: bad name '%s'", tok[i]);
          goto bad;
        }
        for (int p = 0; p < m->nparams; p++)
          if (!strcmp(m->names[p], tok[i])) {
            fail(err, errlen, path, lineno, "params: %s given twice", tok[i]);
            goto bad;
          }
        snprintf(m->names[m->nparams++], sizeof m->names[0], "%s", tok[i]);
      }
    } else if (!strcmp(tok[0], "range")) {
      double lo, hi;
      if (nt != 4 || qr_memmodel_param(m, tok[1]) < 0 || parse_double(tok[2], &lo) ||
          parse_double(tok[3], &hi) || lo > hi) {
        fail(err, errlen, path, lineno, "range: want 'range NAME MIN MAX' for a declared parameter");
        goto bad;
      }
    } else if (!strcmp(tok[0], "margin")) {
      double v;
      if (nt != 2 || parse_double(tok[1], &v) || v < 0 || v >= 1) {
        fail(err, errlen, path, lineno, "margin: want a fraction from 0 to below 1");
        goto bad;
      }
      m->margin = v;
    } else if (!strcmp(tok[0], "phase")) {
      if (in_phase || !m->nparams || nt < 2 || m->nphases == QR_MEMMODEL_MAX_PHASES) {
        fail(err, errlen, path, lineno, in_phase ? "phase inside a phase (missing 'end')"
                                        : !m->nparams ? "phase before params"
                                        : nt < 2 ? "phase without a name"
                                                 : "more than 64 phases");
        goto bad;
      }
      /* the name may hold spaces ("batch N") */
      Phase *ph = &m->phases[m->nphases++];
      size_t u = 0;
      for (int i = 1; i < nt && u < sizeof ph->name; i++)
        u += (size_t)snprintf(ph->name + u, sizeof ph->name - u, "%s%s", i > 1 ? " " : "", tok[i]);
      in_phase = 1;
    } else if (!strcmp(tok[0], "term")) {
      Phase *ph = &m->phases[m->nphases - 1];
      Term t;
      if (!in_phase || nt != 3) {
        fail(err, errlen, path, lineno, in_phase ? "term: want 'term TERM COEF'" : "term outside a phase");
        goto bad;
      }
      if (parse_term(m, tok[1], &t)) {
        fail(err, errlen, path, lineno, "term '%s': not 1 or declared names (^2 at most) joined by '*'",
             tok[1]);
        goto bad;
      }
      if (parse_double(tok[2], &t.coef)) {
        fail(err, errlen, path, lineno, "term %s: coefficient '%s' is not a finite number", tok[1], tok[2]);
        goto bad;
      }
      if (ph->nterms == QR_MEMMODEL_MAX_TERMS) {
        fail(err, errlen, path, lineno, "more than %d terms in phase %s", QR_MEMMODEL_MAX_TERMS, ph->name);
        goto bad;
      }
      ph->terms[ph->nterms++] = t;
    } else if (!strcmp(tok[0], "end")) {
      if (!in_phase || nt != 1) {
        fail(err, errlen, path, lineno, "end without a phase");
        goto bad;
      }
      in_phase = 0;
    } else {
      fail(err, errlen, path, lineno, "unknown directive '%s'", tok[0]);
      goto bad;
    }
  }
  if (ferror(f)) {
    fail(err, errlen, path, 0, "read error");
    goto bad;
  }
  if (!have_magic || !m->nparams || !m->nphases || in_phase) {
    fail(err, errlen, path, 0, "%s", !have_magic ? "empty: not a lowram memory model"
                                : !m->nparams ? "no params line"
                                : !m->nphases ? "no phase"
                                              : "last phase has no 'end' (file cut short?)");
    goto bad;
  }
  fclose(f);
  return m;
bad:
  fclose(f);
  qr_memmodel_free(m);
  return NULL;
}

int qr_memmodel_nparams(const QrMemModel *m) { return m->nparams; }
const char *qr_memmodel_param_name(const QrMemModel *m, int p) { return m->names[p]; }
double qr_memmodel_margin(const QrMemModel *m) { return m->margin; }
int qr_memmodel_nphases(const QrMemModel *m) { return m->nphases; }
const char *qr_memmodel_phase_name(const QrMemModel *m, int ph) { return m->phases[ph].name; }

int qr_memmodel_param(const QrMemModel *m, const char *name) {
  for (int p = 0; p < m->nparams; p++)
    if (!strcmp(m->names[p], name)) return p;
  return -1;
}

static int find_any(const QrMemModel *m, const char *const *names) {
  for (; *names; names++)
    for (int p = 0; p < m->nparams; p++)
      if (!strcasecmp(m->names[p], *names)) return p;
  return -1;
}

int qr_memmodel_seq_param(const QrMemModel *m) {
  static const char *const n[] = {"seq", "seq_len", "seqlen", "ctx", "n_ctx", "context",
                                  "ctx_len", "prompt", "prompt_len", "len", NULL};
  return find_any(m, n);
}

int qr_memmodel_batch_param(const QrMemModel *m) {
  static const char *const n[] = {"batch", "batch_size", "bs", "n_batch", NULL};
  return find_any(m, n);
}

double qr_memmodel_peak(const QrMemModel *m, const double *x, int *phase) {
  double best = 0;
  int which = -1;
  for (int ph = 0; ph < m->nphases; ph++) {
    double sum = 0;
    for (int k = 0; k < m->phases[ph].nterms; k++) {
      const Term *t = &m->phases[ph].terms[k];
      double v = t->coef;
      for (int p = 0; p < m->nparams; p++)
        for (int e = 0; e < t->exp[p]; e++) v *= x[p];
      sum += v;
    }
    if (which < 0 || sum > best) {
      best = sum;
      which = ph;
    }
  }
  if (phase) *phase = which;
  return best > 0 ? best : 0;
}

int qr_memmodel_largest(const QrMemModel *m, const double *x, int p, double limit, long cap,
                        long *out) {
  double xv[QR_MEMMODEL_MAX_PARAMS];
  double lim = limit * (1 - m->margin);
  if (p < 0 || p >= m->nparams || cap < 1) return 0;
  memcpy(xv, x, sizeof(double) * (size_t)m->nparams);
  xv[p] = 1;
  if (qr_memmodel_peak(m, xv, NULL) > lim) return 0;
  /* double until it no longer fits, then bisect: the first crossing wins
  ** even if a far-off value would "fit" again */
  long lo = 1, hi = 2;
  for (;;) {
    if (hi >= cap) {
      xv[p] = (double)cap;
      if (qr_memmodel_peak(m, xv, NULL) <= lim) {
        *out = cap;
        return 1;
      }
      hi = cap;
      break;
    }
    xv[p] = (double)hi;
    if (qr_memmodel_peak(m, xv, NULL) > lim) break;
    lo = hi;
    hi *= 2;
  }
  /* lo fits, hi does not */
  while (hi - lo > 1) {
    long mid = lo + (hi - lo) / 2;
    xv[p] = (double)mid;
    if (qr_memmodel_peak(m, xv, NULL) <= lim) lo = mid;
    else hi = mid;
  }
  *out = lo;
  return 1;
}

long qr_memmodel_pick_batch(const QrMemModel *m, long seq, long ubatch, double limit, long cap,
                            double *need, char *err, size_t errlen) {
  int ib = qr_memmodel_batch_param(m), is = qr_memmodel_seq_param(m);
  double x[QR_MEMMODEL_MAX_PARAMS];
  if (ib < 0) {
    snprintf(err, errlen, "the memory model has no batch parameter (params: %s...)", m->names[0]);
    return -1;
  }
  for (int p = 0; p < m->nparams; p++) {
    if (p == ib) x[p] = 1;
    else if (p == is) x[p] = (double)seq;
    else if (!strcasecmp(m->names[p], "ubatch") || !strcasecmp(m->names[p], "n_ubatch"))
      x[p] = (double)ubatch;
    else {
      snprintf(err, errlen, "the memory model depends on '%s', which qrun cannot set", m->names[p]);
      return -1;
    }
  }
  long b;
  if (!qr_memmodel_largest(m, x, ib, limit, cap, &b)) {
    if (need) *need = qr_memmodel_peak(m, x, NULL);
    return 0;
  }
  return b;
}

int qr_memmodel_parse_bytes(const char *s, double *out) {
  static const struct {
    const char *suffix;
    double mult;
  } units[] = {{"", 1},          {"b", 1},           {"k", 1024.0},        {"kib", 1024.0},
               {"kb", 1e3},      {"m", 1048576.0},   {"mib", 1048576.0},   {"mb", 1e6},
               {"g", 1073741824.0}, {"gib", 1073741824.0}, {"gb", 1e9}};
  if (!s || !*s || !(isdigit((unsigned char)*s) || *s == '.')) return -1;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || errno || !(v > 0) || !isfinite(v)) return -1;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (!strcasecmp(end, units[i].suffix)) {
      if (v * units[i].mult >= 9.2e18) return -1;
      *out = floor(v * units[i].mult + 0.5);
      return *out > 0 ? 0 : -1;
    }
  return -1;
}
