/*
** diff.c: the comparison of two traces (diff.h). Each side becomes a list
** of (name, numbers) rows, one per stack, named by its symbolized path or
** site key; both lists are sorted by name, rows of equal name summed, and
** the two merged like a join.
*/
#include "lowram/diff.h"

#include "query/peak_sql.h"
#include "query/qdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Side {
  char *key;
  const LrStack *stack;
  int64_t peak, blocks, calls, bytes;
} Side;

static int cmp_side(const void *a, const void *b) {
  return strcmp(((const Side *)a)->key, ((const Side *)b)->key);
}

static void free_sides(Side *v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i].key);
  free(v);
}

/* The rows of one trace, sorted and with equal names merged. */
static int side(LrTrace *t, LrStacks *c, LrBy by, LrMoment *peak, int64_t *heap_peak,
                Side **out, size_t *n, LrErr *err) {
  *out = NULL;
  *n = 0;
  sqlite3 *db = lr_qdb(t, err);
  const char *path = lr_trace_path(t);
  if (!db || lr_peak_moment(t, NULL, peak, err)) return -1;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT value FROM agg_info WHERE key = 'heap_peak'", -1, &st,
                         NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) *heap_peak = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  char live[LR_PEAK_LIVE_SQL], sql[LR_PEAK_LIVE_SQL + 512];
  snprintf(sql, sizeof sql,
           "SELECT s.stack_id, s.calls, s.bytes, ifnull(p.live, 0), ifnull(p.n, 0) "
           "FROM agg_stacks s LEFT JOIN (SELECT stack_id AS sid, sum(size) AS live, "
           "count(*) AS n FROM %s GROUP BY 1) p ON p.sid = s.stack_id",
           lr_peak_live_sql(db, peak->seq, 0, live, sizeof live));
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return lr_err_set(err, "%s: %s", path, sqlite3_errmsg(db));
  size_t cap = 0;
  int ret = 0;
  char key[1024];
  while (sqlite3_step(st) == SQLITE_ROW) {
    const LrStack *s = lr_peak_stack(c, sqlite3_column_int64(st, 0), err);
    if (!s) {
      ret = -1;
      break;
    }
    if (*n == cap) {
      cap = cap ? cap * 2 : 256;
      Side *nv = realloc(*out, cap * sizeof *nv);
      if (!nv) {
        ret = lr_err_set(err, "diff: out of memory");
        break;
      }
      *out = nv;
    }
    Side *r = &(*out)[*n];
    if (by == LR_BY_STACK) r->key = lr_peak_stack_path(s);
    else r->key = strdup(lr_peak_group_key(s, by, key, sizeof key));
    if (!r->key) {
      ret = lr_err_set(err, "diff: out of memory");
      break;
    }
    r->stack = s;
    r->calls = sqlite3_column_int64(st, 1);
    r->bytes = sqlite3_column_int64(st, 2);
    r->peak = sqlite3_column_int64(st, 3);
    r->blocks = sqlite3_column_int64(st, 4);
    (*n)++;
  }
  sqlite3_finalize(st);
  if (ret) return -1;
  if (*n) qsort(*out, *n, sizeof **out, cmp_side);
  size_t w = 0;
  for (size_t i = 0; i < *n; i++) {
    Side *r = &(*out)[i];
    if (w && !strcmp((*out)[w - 1].key, r->key)) {
      Side *m = &(*out)[w - 1];
      if (r->peak > m->peak || (!m->peak && r->bytes > m->bytes)) m->stack = r->stack;
      m->peak += r->peak;
      m->blocks += r->blocks;
      m->calls += r->calls;
      m->bytes += r->bytes;
      free(r->key);
    } else {
      (*out)[w++] = *r;
    }
  }
  *n = w;
  return 0;
}

static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

static int cmp_row(const void *a, const void *b) {
  const LrDiffRow *x = a, *y = b;
  int64_t dx = abs64(x->peak_b - x->peak_a), dy = abs64(y->peak_b - y->peak_a);
  if (dx != dy) return dx > dy ? -1 : 1;
  dx = abs64(x->bytes_b - x->bytes_a);
  dy = abs64(y->bytes_b - y->bytes_a);
  if (dx != dy) return dx > dy ? -1 : 1;
  return strcmp(x->key, y->key);
}

int lr_diff_build(LrTrace *a, LrTrace *b, LrBy by, LrDiff **out, LrErr *err) {
  *out = NULL;
  LrDiff *d = calloc(1, sizeof *d);
  Side *sa = NULL, *sb = NULL;
  size_t na = 0, nb = 0;
  if (!d) return lr_err_set(err, "diff: out of memory");
  d->stacks_a = lr_peak_stacks_new(a);
  d->stacks_b = lr_peak_stacks_new(b);
  if (!d->stacks_a || !d->stacks_b) {
    lr_err_set(err, "diff: out of memory");
    goto fail;
  }
  if (side(a, d->stacks_a, by, &d->peak_a, &d->heap_peak_a, &sa, &na, err) ||
      side(b, d->stacks_b, by, &d->peak_b, &d->heap_peak_b, &sb, &nb, err))
    goto fail;
  d->rows = calloc(na + nb + 1, sizeof *d->rows);
  if (!d->rows) {
    lr_err_set(err, "diff: out of memory");
    goto fail;
  }
  size_t i = 0, j = 0;
  while (i < na || j < nb) {
    int c = i >= na ? 1 : j >= nb ? -1 : strcmp(sa[i].key, sb[j].key);
    LrDiffRow *r = &d->rows[d->n++];
    if (c <= 0) {
      r->key = sa[i].key;
      sa[i].key = NULL;
      r->stack_a = sa[i].stack;
      r->peak_a = sa[i].peak;
      r->blocks_a = sa[i].blocks;
      r->calls_a = sa[i].calls;
      r->bytes_a = sa[i].bytes;
      i++;
    }
    if (c >= 0) {
      if (!r->key) {
        r->key = sb[j].key;
        sb[j].key = NULL;
      }
      r->stack_b = sb[j].stack;
      r->peak_b = sb[j].peak;
      r->blocks_b = sb[j].blocks;
      r->calls_b = sb[j].calls;
      r->bytes_b = sb[j].bytes;
      j++;
    }
  }
  if (d->n) qsort(d->rows, d->n, sizeof *d->rows, cmp_row);
  free_sides(sa, na);
  free_sides(sb, nb);
  *out = d;
  return 0;
fail:
  free_sides(sa, na);
  free_sides(sb, nb);
  lr_diff_free(d);
  return -1;
}

void lr_diff_free(LrDiff *d) {
  if (!d) return;
  for (size_t i = 0; i < d->n; i++) free(d->rows[i].key);
  free(d->rows);
  lr_peak_stacks_free(d->stacks_a);
  lr_peak_stacks_free(d->stacks_b);
  free(d);
}

/* ---- the process of each trace that runs the program (diff.h) ---- */

/* One JSON string at p (just after its opening quote) unescaped into out;
** returns the position after its closing quote. */
static const char *json_word(const char *p, char *out, size_t len) {
  size_t w = 0;
  for (; *p && *p != '"'; p++) {
    char c = *p;
    if (c == '\\' && p[1]) {
      c = *++p;
      if (c == 'u') { /* the importer writes \\u00XX for control bytes only */
        int k = 0;
        while (k < 4 && p[1]) p++, k++;
        c = '?';
      } else if (c == 'n') c = '\n';
      else if (c == 't') c = '\t';
    }
    if (w + 1 < len) out[w++] = c;
  }
  out[w] = 0;
  return *p ? p + 1 : p;
}

void lr_diff_argv_words(const char *json, char *out, size_t len) {
  size_t w = 0;
  if (!len) return;
  out[0] = 0;
  for (const char *p = strchr(json, '"'); p && *p && w + 1 < len;) {
    if (w) out[w++] = ' ';
    p = json_word(p + 1, out + w, len - w);
    w += strlen(out + w);
    p = strchr(p, '"');
  }
}

static void argv0_base(const char *json, char *out, size_t len) {
  char w0[512];
  const char *p = strchr(json, '"');
  w0[0] = 0;
  if (p) json_word(p + 1, w0, sizeof w0);
  const char *b = strrchr(w0, '/');
  snprintf(out, len, "%s", b ? b + 1 : w0);
}

static int word_char(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                                      (c >= 'A' && c <= 'Z') || c == '_'; }

/* 1 if word occurs in s as a whole word ("512" in "--seq 512", not in "1512"). */
static int mentions(const char *s, const char *word) {
  size_t n = strlen(word);
  for (const char *p = strstr(s, word); n && p; p = strstr(p + 1, word))
    if ((p == s || !word_char(p[-1])) && !word_char(p[n])) return 1;
  return 0;
}

typedef struct PickSide {
  LrProcess *ps;
  size_t n;
  char (*base)[128];
  unsigned char *cand; /* 1: a candidate (see diff.h) */
} PickSide;

/* 1 if process j descends from (was forked or exec'd by) process id `anc`. */
static int descends(const PickSide *s, size_t j, int64_t anc) {
  int64_t id = s->ps[j].parent_id;
  for (size_t hops = 0; id && hops <= s->n; hops++) {
    if (id == anc) return 1;
    size_t k = 0;
    while (k < s->n && s->ps[k].id != id) k++;
    if (k == s->n) return 0;
    id = s->ps[k].parent_id;
  }
  return 0;
}

static void mark_candidates(PickSide *s, const char *const *words, int nwords) {
  size_t found = 0;
  for (size_t j = 0; j < s->n; j++) {
    int all = 1;
    for (int k = 0; k < nwords && all; k++)
      if (words[k][0] && !mentions(s->ps[j].argv, words[k])) all = 0;
    s->cand[j] = (unsigned char)all;
    found += (size_t)all;
  }
  int any = 0;
  for (int k = 0; k < nwords; k++) any |= words[k][0] != 0;
  if (!any) found = 0; /* no word: every process mentions "nothing" */
  if (!found) memset(s->cand, 1, s->n); /* no word tells: every process */
  /* an image that exec'd (a shell's fork before it became cat: it ended
  ** by exec, or a later image has its pid) or recorded nothing is not the
  ** program; then neither is a wrapper that passes the words down to one */
  for (size_t j = 0; j < s->n; j++) {
    if (s->cand[j] != 1) continue;
    int replaced = !strcmp(s->ps[j].end_reason, "exec") || s->ps[j].events == 0;
    for (size_t k = 0; k < s->n && !replaced; k++)
      replaced = s->ps[k].pid == s->ps[j].pid && s->ps[k].id > s->ps[j].id;
    if (replaced) s->cand[j] = 2;
  }
  for (size_t j = 0; j < s->n && found; j++) {
    if (s->cand[j] != 1) continue;
    for (size_t k = 0; k < s->n; k++)
      if (k != j && (s->cand[k] == 1 || s->cand[k] == 3) && descends(s, k, s->ps[j].id)) {
        s->cand[j] = 3; /* a wrapper: still a candidate of last resort */
        break;
      }
  }
  for (size_t j = 0; j < s->n; j++)
    if (s->cand[j] == 3) s->cand[j] = 2;
}

/* The best process of side s running `base` (-1 if none): a leaf
** candidate first, then any candidate, then any process; within a rank,
** the same argv as `like`, then the highest peak. */
static long best_of(const PickSide *s, const char *base, const char *like) {
  for (int rank = 1; rank <= 3; rank++) {
    long best = -1;
    for (size_t j = 0; j < s->n; j++) {
      int ok = rank == 3 || s->cand[j] == rank;
      if (!ok || strcmp(s->base[j], base) != 0) continue;
      if (best < 0) {
        best = (long)j;
        continue;
      }
      int same_j = like && !strcmp(s->ps[j].argv, like);
      int same_b = like && !strcmp(s->ps[best].argv, like);
      if (same_j != same_b ? same_j : s->ps[j].peak > s->ps[best].peak) best = (long)j;
    }
    if (best >= 0) return best;
  }
  return -1;
}

static int cmp_name(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The error: the trace and its commands, sorted (ids follow exec order,
** which varies from run to run). */
static int pick_fail(const PickSide *s, LrTrace *t, const char *base, LrErr *err) {
  char list[300] = "";
  size_t u = 0, nn = 0;
  const char **names = calloc(s->n, sizeof *names);
  if (!names) return lr_err_set(err, "out of memory");
  for (size_t j = 0; j < s->n; j++) {
    int seen = 0;
    for (size_t k = 0; k < nn; k++) seen |= !strcmp(names[k], s->base[j]);
    if (!seen) names[nn++] = s->base[j];
  }
  qsort(names, nn, sizeof *names, cmp_name);
  for (size_t k = 0; k < nn && u + 40 < sizeof list; k++)
    u += (size_t)snprintf(list + u, sizeof list - u, "%s%.32s", u ? ", " : "", names[k]);
  free(names);
  return lr_err_set(err, "%s: no process runs %s (its processes: %s)", lr_trace_path(t), base, list);
}

/* The words of each trace's command (its first process's argv: the run's
** command, which meta.argv is not when it names the default process) that
** no other trace's command has: what differs between the runs (a swept
** value) is named by the program's own argv. DIFF_WORDS per trace. */
#define DIFF_WORDS 8
static void differing_words(const PickSide *side, int n, char (*w)[64]) {
  char (*cmd)[1024] = calloc((size_t)n, sizeof *cmd);
  if (!cmd) return;
  for (int i = 0; i < n; i++)
    if (side[i].n) lr_diff_argv_words(side[i].ps[0].argv, cmd[i], sizeof cmd[i]);
  for (int i = 0; i < n; i++) {
    int k = 0;
    for (const char *p = cmd[i]; *p && k < DIFF_WORDS;) {
      while (*p && !word_char(*p)) p++;
      size_t len = 0;
      while (word_char(p[len])) len++;
      if (!len) break;
      char tok[64];
      snprintf(tok, sizeof tok, "%.*s", (int)(len < 63 ? len : 63), p);
      p += len;
      int elsewhere = 0;
      for (int j = 0; j < n && !elsewhere; j++)
        if (j != i && mentions(cmd[j], tok)) elsewhere = 1;
      if (!elsewhere) snprintf(w[i * DIFF_WORDS + k++], 64, "%s", tok);
    }
  }
  free(cmd);
}

int lr_diff_pick(LrTrace *const *t, int n, const char *const *words, int nwords,
                 const char *command, LrPick *out, LrErr *err) {
  PickSide *side = calloc((size_t)(n > 0 ? n : 1), sizeof *side);
  int rc = side ? 0 : lr_err_set(err, "out of memory");
  char (*own)[64] = NULL;
  const char **ownp = NULL;
  for (int i = 0; i < n && !rc; i++) {
    memset(&out[i], 0, sizeof out[i]);
    PickSide *s = &side[i];
    rc = lr_trace_processes(t[i], &s->ps, &s->n, err);
    if (rc || !s->n) continue;
    s->base = calloc(s->n, sizeof *s->base);
    s->cand = calloc(s->n, 1);
    if (!s->base || !s->cand) {
      rc = lr_err_set(err, "out of memory");
      break;
    }
    for (size_t j = 0; j < s->n; j++) argv0_base(s->ps[j].argv, s->base[j], sizeof s->base[j]);
  }
  if (!rc && !words && n > 1) { /* none given: what differs between the commands */
    own = calloc((size_t)n * DIFF_WORDS, sizeof *own);
    ownp = calloc((size_t)n * DIFF_WORDS, sizeof *ownp);
    if (!own || !ownp) rc = lr_err_set(err, "out of memory");
    if (!rc) {
      differing_words(side, n, own);
      for (size_t k = 0; k < (size_t)n * DIFF_WORDS; k++) ownp[k] = own[k];
      words = ownp;
      nwords = DIFF_WORDS;
    }
  }
  for (int i = 0; i < n && !rc; i++)
    if (side[i].n)
      mark_candidates(&side[i], words ? words + (size_t)i * (size_t)nwords : NULL,
                      words ? nwords : 0);
  char base[128] = "";
  if (!rc && command) snprintf(base, sizeof base, "%s", command);
  /* the command: among the first trace's candidates, the one every trace
  ** runs whose peaks add up highest; failing that, its highest peak */
  int first = 0;
  while (first < n && !side[first].n) first++;
  if (!rc && !command && first < n) {
    const PickSide *f = &side[first];
    double top = -1;
    long fallback = -1;
    for (size_t j = 0; j < f->n; j++) {
      if (f->cand[j] != 1) continue;
      if (fallback < 0 || f->ps[j].peak > f->ps[fallback].peak) fallback = (long)j;
      double sum = 0;
      int everywhere = 1;
      for (int i = first; i < n && everywhere; i++) {
        if (!side[i].n) continue;
        long b = best_of(&side[i], f->base[j], NULL);
        if (b < 0 || side[i].cand[b] != 1) everywhere = 0;
        else sum += (double)side[i].ps[b].peak;
      }
      if (everywhere && sum > top) {
        top = sum;
        snprintf(base, sizeof base, "%s", f->base[j]);
      }
    }
    if (!base[0] && fallback >= 0) snprintf(base, sizeof base, "%s", f->base[fallback]);
  }
  const char *like = NULL;
  for (int i = 0; i < n && !rc; i++) {
    const PickSide *s = &side[i];
    if (!s->n) continue;
    long b = best_of(s, base, like);
    if (b < 0) {
      rc = pick_fail(s, t[i], base, err);
      break;
    }
    if (!like) like = s->ps[b].argv;
    LrPick *o = &out[i];
    o->id = s->ps[b].id;
    o->pid = s->ps[b].pid;
    o->peak = s->ps[b].peak;
    o->nprocs = (int)s->n;
    snprintf(o->command, sizeof o->command, "%s", base);
    snprintf(o->argv, sizeof o->argv, "%s", s->ps[b].argv);
  }
  for (int i = 0; side && i < n; i++) {
    free(side[i].ps);
    free(side[i].base);
    free(side[i].cand);
  }
  free(side);
  free(own);
  free(ownp);
  return rc ? -1 : 0;
}
