/*
** rows.c: the rows each view lists, built from the model's data: tables of
** groups, sites, blocks, phases and configurations, and the call trees
** (top-down: from the outermost frame in; bottom-up: from the allocating
** frame out) made from the contributors grouped by stack. Also the detail
** of the selected row. No curses: the views draw LtPane as it is.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lowram/units.h"
#include "model.h"

/* A node of a call tree: one frame name under its caller (or callee). */
struct LtNode {
  char *name;
  LtNode *parent;
  LtNode **kids;
  size_t nkids, cap;
  int64_t bytes, count;
  const LrStack *stack; /* the heaviest stack through the node */
  size_t frame;         /* the node's frame in that stack */
  int64_t best;         /* that stack's bytes */
};

static void node_free(LtNode *n) {
  if (!n) return;
  for (size_t i = 0; i < n->nkids; i++) node_free(n->kids[i]);
  free(n->kids);
  free(n->name);
  free(n);
}

static LtNode *node_new(LtNode *parent, const char *name) {
  LtNode *n = calloc(1, sizeof *n);
  if (!n || !(n->name = strdup(name))) {
    free(n);
    return NULL;
  }
  n->parent = parent;
  if (parent) {
    if (parent->nkids == parent->cap) {
      size_t cap = parent->cap ? parent->cap * 2 : 4;
      LtNode **k = realloc(parent->kids, cap * sizeof *k);
      if (!k) {
        node_free(n);
        return NULL;
      }
      parent->kids = k;
      parent->cap = cap;
    }
    parent->kids[parent->nkids++] = n;
  }
  return n;
}

static LtNode *child(LtNode *n, const char *name) {
  for (size_t i = 0; i < n->nkids; i++)
    if (!strcmp(n->kids[i]->name, name)) return n->kids[i];
  return node_new(n, name);
}

void lt_rows_free(LtPane *p) {
  for (size_t i = 0; i < p->nrows; i++)
    if (!p->rows[i].node) free((char *)p->rows[i].label);
  free(p->rows);
  p->rows = NULL;
  p->nrows = p->cap = 0;
  node_free(p->tree);
  p->tree = NULL;
}

static LtRow *add_row(LtPane *p) {
  if (p->nrows == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 64;
    LtRow *r = realloc(p->rows, cap * sizeof *r);
    if (!r) return NULL;
    p->rows = r;
    p->cap = cap;
  }
  LtRow *r = &p->rows[p->nrows++];
  memset(r, 0, sizeof *r);
  return r;
}

/* ---- filter ---- */

static int has(const char *s, const char *f) { return s && strcasestr(s, f); }

int lt_row_matches(const LtModel *m, const char *label, const LrStack *s) {
  const char *f = m->filter;
  if (!f[0] || has(label, f)) return 1;
  for (size_t i = 0; s && i < s->nframes; i++)
    if (has(s->frames[i].function, f) || has(s->frames[i].module, f)) return 1;
  return 0;
}

/* ---- labels ---- */

static const char *base(const char *p) {
  const char *s = p ? strrchr(p, '/') : NULL;
  return s ? s + 1 : p ? p : "?";
}

/* "site file:line <- caller <- caller" (raw; the view escapes it). */
static char *stack_label(const LrStack *s) {
  char buf[512], name[200];
  size_t len = 0;
  if (!s || !s->nframes) return strdup(s && s->id >= 0 ? "[empty stack]" : "[no stack]");
  for (size_t i = s->site; i < s->nframes && i < s->site + 3 && len < sizeof buf; i++) {
    const LrFrame *f = &s->frames[i];
    lr_peak_frame_name(f, name, sizeof name);
    if (i == s->site && f->file)
      len += (size_t)snprintf(buf + len, sizeof buf - len, "%s %s:%lld", name, base(f->file),
                              (long long)f->line);
    else len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i == s->site ? "" : " <- ", name);
  }
  return strdup(buf);
}

/* ---- sorting ---- */

static LtSort sort_key;

static int cmp_key(int64_t ab, int64_t bb, int64_t ac, int64_t bc, const char *al,
                   const char *bl, int64_t ao, int64_t bo) {
  int c = 0;
  switch (sort_key) {
  case LT_SORT_BYTES: c = ab > bb ? -1 : ab < bb; break;
  case LT_SORT_COUNT: c = ac > bc ? -1 : ac < bc; break;
  case LT_SORT_NAME: c = strcmp(al ? al : "", bl ? bl : ""); break;
  default: break;
  }
  /* ties keep the source's order, so the list never jumps between frames */
  return c ? c : ao < bo ? -1 : ao > bo;
}

static int cmp_row(const void *a, const void *b) {
  const LtRow *x = a, *y = b;
  return cmp_key(x->bytes, y->bytes, x->count, y->count, x->label, y->label, x->order, y->order);
}

static int cmp_node(const void *a, const void *b) {
  const LtNode *x = *(LtNode *const *)a, *y = *(LtNode *const *)b;
  /* nodes have no source order; by name breaks ties */
  int c = cmp_key(x->bytes, y->bytes, x->count, y->count, x->name, y->name, 0, 0);
  return c ? c : strcmp(x->name, y->name);
}

/* ---- trees ---- */

/* Frames a tree goes down at most. Its rows, paths and freeing recurse
** once per level, and a chain of single callers unfolds by itself, so a
** crafted trace with one 300,000-frame stack overflowed the stack
** (test_regress); a recorded one is LOWRAM_DEPTH frames (64 by default, 256
** at most) plus inlined ones. node_path's chain holds exactly this many. */
#define TREE_DEPTH 512

static LtNode *build_tree(const LtModel *m, const LrGroups *g, LtShape shape) {
  LtNode *root = node_new(NULL, "");
  if (!root) return NULL;
  char name[256];
  for (size_t i = 0; i < g->n; i++) {
    const LrGroup *x = &g->v[i];
    const LrStack *s = x->stack;
    if (!lt_row_matches(m, x->key, s)) continue;
    root->bytes = lt_sat_add(root->bytes, x->bytes);
    root->count = lt_sat_add(root->count, x->count);
    LtNode *cur = root;
    size_t n = s ? s->nframes : 0;
    size_t depth = n < TREE_DEPTH ? n : TREE_DEPTH;
    if (!n) {
      cur = child(cur, "[no stack]");
      if (!cur) break;
      cur->bytes = lt_sat_add(cur->bytes, x->bytes);
      cur->count = lt_sat_add(cur->count, x->count);
      if (x->bytes > cur->best) cur->best = x->bytes, cur->stack = s, cur->frame = 0;
      continue;
    }
    for (size_t k = 0; k < depth && cur; k++) {
      size_t fi = shape == LT_TOPDOWN ? n - 1 - k : k;
      lr_peak_frame_name(&s->frames[fi], name, sizeof name);
      cur = child(cur, name);
      if (!cur) break;
      cur->bytes = lt_sat_add(cur->bytes, x->bytes);
      cur->count = lt_sat_add(cur->count, x->count);
      if (x->bytes > cur->best) cur->best = x->bytes, cur->stack = s, cur->frame = fi;
    }
  }
  return root;
}

/* The node's path of names from the root, for its expansion state. */
static void node_path(const LtNode *n, char *buf, size_t len) {
  const LtNode *chain[TREE_DEPTH];
  size_t d = 0;
  for (; n && n->parent && d < TREE_DEPTH; n = n->parent) chain[d++] = n;
  size_t o = 0;
  buf[0] = 0;
  while (d-- > 0 && o + 1 < len)
    o += (size_t)snprintf(buf + o, len - o, "\x1f%s", chain[d]->name);
}

static int *open_slot(LtPane *p, const char *path, int create) {
  for (size_t i = 0; i < p->nopen; i++)
    if (!strcmp(p->open_paths[i], path)) return &p->open_state[i];
  if (!create) return NULL;
  char **np = realloc(p->open_paths, (p->nopen + 1) * sizeof *np);
  if (!np) return NULL;
  p->open_paths = np;
  int *ns = realloc(p->open_state, (p->nopen + 1) * sizeof *ns);
  if (!ns) return NULL;
  p->open_state = ns;
  if (!(np[p->nopen] = strdup(path))) return NULL;
  ns[p->nopen] = 0;
  return &ns[p->nopen++];
}

static int node_open(LtPane *p, const LtNode *n) {
  char path[4096];
  node_path(n, path, sizeof path);
  const int *st = open_slot(p, path, 0);
  /* until the user says otherwise, a chain of single callers stays open so
     the first screen already shows where the tree branches */
  return st ? *st : n->nkids == 1;
}

static void tree_rows(LtModel *m, LtPane *p, LtNode *n, int depth) {
  sort_key = p->sort;
  if (n->nkids > 1) qsort(n->kids, n->nkids, sizeof *n->kids, cmp_node);
  for (size_t i = 0; i < n->nkids; i++) {
    LtNode *k = n->kids[i];
    LtRow *r = add_row(p);
    if (!r) return;
    r->depth = depth;
    r->kids = k->nkids > 0;
    r->open = r->kids && node_open(p, k);
    r->label = k->name;
    r->bytes = k->bytes;
    r->count = k->count;
    r->stack = k->stack;
    r->frame = k->frame;
    r->node = k;
    if (r->open) tree_rows(m, p, k, depth + 1);
  }
}

void lt_model_expand(LtModel *m, int open) {
  LtPane *p = lt_model_pane(m);
  if (!p->nrows || !p->rows[p->sel].node) return;
  LtRow *r = &p->rows[p->sel];
  if (open && !r->kids) return;
  if (!open && !r->open) {
    /* collapsing a closed node goes up to its parent, as in ncdu */
    for (size_t i = p->sel; i-- > 0;)
      if (p->rows[i].depth < r->depth) {
        p->sel = i;
        break;
      }
    return;
  }
  char path[4096];
  node_path(r->node, path, sizeof path);
  int *st = open_slot(p, path, 1);
  if (st) *st = open;
  m->dirty = ~0u;
  lt_model_pane(m);
}

/* ---- the views ---- */

static void ensure_groups(LtModel *m, LtView v, int stacks) {
  LrErr err = {{0}};
  if (v == LT_OVERVIEW) {
    if (stacks && !m->stack_groups_ok && m->at.seq >= 0) {
      if (lr_peak_contributors(m->t, m->r->stacks, m->at.seq, LR_BY_STACK, 0, &m->stack_groups,
                               &err))
        lt_escape(err.msg, m->status, sizeof m->status, m->ascii); /* drawn as it is */
      m->stack_groups_ok = 1;
    }
    return;
  }
  /* leaks: what is live at the trace's last seq */
  if (!m->leaks_ok && m->r->run.allocs) {
    if (lr_peak_contributors(m->t, m->r->stacks, m->end_seq, m->by, 0, &m->leaks, &err))
      lt_escape(err.msg, m->status, sizeof m->status, m->ascii); /* drawn as it is */
    m->leaks_ok = 1;
  }
  if (stacks && !m->leak_stacks_ok && m->r->run.allocs) {
    if (lr_peak_contributors(m->t, m->r->stacks, m->end_seq, LR_BY_STACK, 0, &m->leak_stacks,
                             &err))
      lt_escape(err.msg, m->status, sizeof m->status, m->ascii); /* drawn as it is */
    m->leak_stacks_ok = 1;
  }
}

static void group_rows(LtModel *m, LtPane *p, const LrGroups *g) {
  for (size_t i = 0; i < g->n; i++) {
    const LrGroup *x = &g->v[i];
    if (!lt_row_matches(m, x->key, x->stack)) continue;
    LtRow *r = add_row(p);
    if (!r) return;
    r->label = m->by == LR_BY_STACK ? stack_label(x->stack) : strdup(x->key ? x->key : "?");
    r->bytes = x->bytes;
    r->count = x->count;
    r->order = (int64_t)i;
    r->stack = x->stack;
    r->frame = x->stack ? x->stack->site : 0;
    r->src = x;
  }
}

/* ---- processes ---- */

static const LtModel *proc_model;

static int proc_known(const LtModel *m, int64_t id) {
  for (size_t i = 0; i < m->nprocs; i++)
    if (m->procs[i].id == id) return 1;
  return 0;
}

static int cmp_proc(const void *a, const void *b) {
  const LrProcess *x = &proc_model->procs[*(const size_t *)a];
  const LrProcess *y = &proc_model->procs[*(const size_t *)b];
  char xa[256], ya[256];
  if (sort_key == LT_SORT_NAME) {
    lt_argv_words(x->argv, xa, sizeof xa);
    lt_argv_words(y->argv, ya, sizeof ya);
  } else {
    xa[0] = ya[0] = 0;
  }
  return cmp_key(x->peak, y->peak, x->events, y->events, xa, ya, x->id, y->id);
}

/* The children of `parent` (0: the roots), siblings by the pane's sort (the
** highest own peak first by default), each followed by its own children. */
static void proc_rows(LtModel *m, LtPane *p, int64_t parent, int depth, char *seen) {
  size_t *kids = malloc((m->nprocs + 1) * sizeof *kids), n = 0;
  if (!kids) return;
  for (size_t i = 0; i < m->nprocs; i++) {
    const LrProcess *x = &m->procs[i];
    int root = x->parent_id == 0 || x->parent_id == x->id || !proc_known(m, x->parent_id);
    if (!seen[i] && (parent == 0 ? root : x->parent_id == parent && !root)) kids[n++] = i;
  }
  for (size_t k = 0; k < n; k++) seen[kids[k]] = 1;
  sort_key = p->sort;
  proc_model = m;
  if (n > 1) qsort(kids, n, sizeof *kids, cmp_proc);
  for (size_t k = 0; k < n; k++) {
    const LrProcess *x = &m->procs[kids[k]];
    char words[600];
    lt_argv_words(x->argv, words, sizeof words);
    if (lt_row_matches(m, words, NULL)) {
      LtRow *r = add_row(p);
      if (!r) break;
      r->depth = depth;
      r->label = strdup(words);
      r->bytes = x->peak;
      r->count = x->events;
      r->order = x->id;
      r->v[0] = x->pid;
      r->v[1] = x->exec_index;
      r->v[2] =
          x->end_ns >= 0 && x->end_ns >= x->start_ns ? lt_sat_sub(x->end_ns, x->start_ns) : -1;
      r->v[3] = x->id;
      r->src = x;
    }
    if (depth < 64) proc_rows(m, p, x->id, depth + 1, seen);
  }
  free(kids);
}

void lt_rows_build(LtModel *m, LtView v) {
  LtPane *p = &m->pane[v];
  lt_rows_free(p);
  const LrReport *r = m->r;
  int64_t peak = lt_sat_add(r->peak.live.heap, r->peak.live.anon);
  if (v == LT_OVERVIEW || v == LT_LEAKS) {
    int tree = p->shape != LT_FLAT;
    ensure_groups(m, v, tree);
    const LrGroups *g = v == LT_OVERVIEW ? (tree ? &m->stack_groups : &m->groups)
                                         : (tree ? &m->leak_stacks : &m->leaks);
    p->total = v == LT_OVERVIEW ? lt_sat_add(m->at.live.heap, m->at.live.anon) : m->leaks.bytes;
    if (tree) {
      p->tree = build_tree(m, g, p->shape);
      if (p->tree) tree_rows(m, p, p->tree, 0);
      return;
    }
    group_rows(m, p, g);
  } else if (v == LT_TEMPS) {
    p->total = r->temp_bytes;
    for (size_t i = 0; i < r->ntemporaries; i++) {
      const LrSite *s = &r->temporaries[i];
      char *label = stack_label(s->stack);
      if (!lt_row_matches(m, label, s->stack)) {
        free(label);
        continue;
      }
      LtRow *w = add_row(p);
      if (!w) return free(label);
      w->label = label;
      w->bytes = s->temp_bytes;
      w->count = s->temp_calls;
      w->v[0] = s->calls;
      w->v[1] = s->bytes;
      w->order = (int64_t)i;
      w->stack = s->stack;
      w->frame = s->stack ? s->stack->site : 0;
      w->src = s;
    }
  } else if (v == LT_LARGEST) {
    p->total = peak;
    for (size_t i = 0; i < r->nlargest; i++) {
      const LrBlock *b = &r->largest[i];
      char *label = stack_label(b->stack);
      if (!lt_row_matches(m, label, b->stack)) {
        free(label);
        continue;
      }
      LtRow *w = add_row(p);
      if (!w) return free(label);
      w->label = label;
      w->bytes = b->size;
      w->count = 1;
      w->v[0] = b->alloc_ns;
      w->v[1] = b->alloc_seq;
      w->v[2] = b->free_seq;
      w->order = (int64_t)i;
      w->stack = b->stack;
      w->frame = b->stack ? b->stack->site : 0;
      w->src = b;
    }
  } else if (v == LT_PHASES) {
    p->total = peak;
    for (size_t i = 0; i < r->nphases; i++) {
      const LrPhase *ph = &r->phases[i];
      char name[160];
      if (ph->nth > 1) snprintf(name, sizeof name, "%s#%lld", ph->name, (long long)ph->nth);
      else snprintf(name, sizeof name, "%s", ph->name);
      if (!lt_row_matches(m, name, NULL)) continue;
      LtRow *w = add_row(p);
      if (!w) return;
      w->label = strdup(name);
      w->bytes = ph->peak_live;
      w->count = lt_sat_add(lt_sat_sub(ph->end_seq, ph->start_seq), 1);
      w->v[0] = ph->start_ns;
      w->v[1] = lt_sat_sub(ph->end_ns, ph->start_ns);
      w->v[2] = ph->start_live;
      w->v[3] = ph->end_live;
      w->order = (int64_t)i;
      w->src = ph;
    }
  } else if (v == LT_PROCS) {
    p->total = 0;
    for (size_t i = 0; i < m->nprocs; i++)
      if (m->procs[i].peak > p->total) p->total = m->procs[i].peak;
    /* the tree: roots are the processes whose parent is not in the run */
    char *seen = calloc(m->nprocs + 1, 1);
    if (!seen) return;
    proc_rows(m, p, 0, 0, seen);
    /* anything a cycle of parent ids kept out, at the top level */
    for (size_t i = 0; i < m->nprocs; i++)
      if (!seen[i]) proc_rows(m, p, m->procs[i].parent_id, 0, seen);
    free(seen);
    return; /* siblings are sorted inside the tree */
  } else {
    p->total = 0;
    for (size_t i = 0; i < m->nconfigs; i++)
      if ((int64_t)m->configs[i].peak.heap > p->total) p->total = (int64_t)m->configs[i].peak.heap;
    for (size_t i = 0; i < m->nconfigs; i++) {
      const LtConfig *c = &m->configs[i];
      if (!lt_row_matches(m, c->label, NULL)) continue;
      LtRow *w = add_row(p);
      if (!w) return;
      w->label = strdup(c->label);
      w->bytes = (int64_t)c->peak.heap;
      w->count = (int64_t)c->peak.rss;
      w->v[0] = c->peak.extrapolated;
      w->v[1] = c->peak.phase;
      w->order = (int64_t)i;
      w->src = c;
    }
  }
  sort_key = p->sort;
  if (p->nrows > 1 && p->sort != LT_SORT_ORDER) qsort(p->rows, p->nrows, sizeof *p->rows, cmp_row);
}

/* ---- detail ---- */

/* One detail line (vsnprintf: long names are cut on purpose). */
__attribute__((format(printf, 4, 5))) static void line_f(char (*lines)[LT_LINE], size_t *n,
                                                         size_t max, const char *fmt, ...) {
  if (*n >= max) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(lines[(*n)++], LT_LINE, fmt, ap);
  va_end(ap);
}
#define LINE(...) line_f(lines, &n, max, __VA_ARGS__)

static size_t stack_lines(const LtModel *m, const LrStack *s, size_t mark, char (*lines)[LT_LINE],
                          size_t n, size_t max) {
  char f[LT_LINE];
  if (!s || !s->nframes) {
    LINE("  %s", s && s->id >= 0 ? "[empty stack]" : "[no stack]");
    return n;
  }
  for (size_t i = 0; i < s->nframes; i++)
    LINE("%s #%-2zu %s", i == mark ? ">" : " ", i,
         lt_frame_text(&s->frames[i], f, sizeof f, m->ascii));
  return n;
}

/* The library gives advice as a kind and numbers; the words are ours,
** kept to the kind (and no runner's flags: the TUI does not know which
** program ran). `lowram suggest` prints the figures behind each one. */
static void advice_words(const LtModel *m, const LrAdvice *a, char *buf, size_t len) {
  (void)m;
  const char *w;
  switch (a->kind) {
  case LR_ADVICE_SEQ: w = "a shorter sequence (context) length"; break;
  case LR_ADVICE_BATCH: w = "a smaller batch"; break;
  case LR_ADVICE_QUANT_WEIGHTS: w = "store the weights in fewer bits"; break;
  case LR_ADVICE_QUANT_KV: w = "store the KV cache in fewer bits"; break;
  case LR_ADVICE_MMAP: w = "map the weights from their file instead of reading them"; break;
  case LR_ADVICE_REUSE: w = "reuse one buffer instead of many live temporaries"; break;
  case LR_ADVICE_UBATCH: w = "prefill in smaller chunks"; break;
  default: w = "prefill fewer tokens at a time"; break;
  }
  snprintf(buf, len, "%s", w);
}

size_t lt_model_detail(LtModel *m, char (*lines)[LT_LINE], size_t max) {
  LtPane *p = lt_model_pane(m);
  size_t n = 0;
  char b1[32], b2[32], b3[32], e[LT_LINE];
  if (m->view == LT_SUGGEST && !m->sg) {
    LINE("No sweep: `lowram tui SWEEP_DIR` (a directory made by `lowram sweep`) shows");
    LINE("the predicted peak of each configuration and what to change to fit a budget.");
    return n;
  }
  if (!p->nrows) {
    LINE("%s", m->filter[0] ? "Nothing matches the filter (escape clears it)." : "Nothing here.");
    return n;
  }
  const LtRow *r = &p->rows[p->sel];
  lt_escape(r->label, e, sizeof e, m->ascii);
  if (m->view == LT_PHASES) {
    const LrPhase *ph = r->src;
    LINE("%s: seq %lld..%lld, peak %s at seq %lld (%s)", e, (long long)ph->start_seq,
         (long long)ph->end_seq, lr_fmt_bytes(b1, sizeof b1, ph->peak_live),
         (long long)ph->peak_seq, lr_fmt_ns(b2, sizeof b2, ph->peak_ns));
    if (!ph->has_top) LINE("  (contributors kept for each name's highest phase only)");
    for (size_t i = 0; ph->has_top && i < ph->top.n; i++) {
      const LrStack *s = ph->top.v[i].stack;
      char f[LT_LINE];
      LINE("  %10s  %s", lr_fmt_bytes(b1, sizeof b1, ph->top.v[i].bytes),
           s && s->nframes ? lt_frame_text(&s->frames[s->site], f, sizeof f, m->ascii)
                           : lt_escape(ph->top.v[i].key, f, sizeof f, m->ascii));
    }
    return n;
  }
  if (m->view == LT_SUGGEST) {
    const LtConfig *c = r->src;
    const char *phase = lr_suggest_phase_name(m->sg, c->peak.phase);
    char ph[160];
    LINE("%s: heap+anon %s, RSS %s, set by phase '%s'%s", e,
         lr_fmt_bytes(b1, sizeof b1, (int64_t)c->peak.heap),
         c->peak.rss < 0 ? "?" : lr_fmt_bytes(b2, sizeof b2, (int64_t)c->peak.rss),
         lt_escape(phase, ph, sizeof ph, m->ascii), c->peak.extrapolated ? " (extrapolated)" : "");
    LrAdvice adv[16];
    int na = lr_suggest_advise(m->sg, c->x, 0, adv, 16);
    for (int i = 0; i < na; i++) {
      advice_words(m, &adv[i], e, sizeof e);
      LINE("%d. saves %s%s: %s", i + 1, lr_fmt_bytes(b3, sizeof b3, (int64_t)adv[i].saved),
           adv[i].rss_only ? " of RSS" : "", e);
    }
    if (!na) LINE("no advice for this configuration");
    for (int i = 0; i < lr_suggest_nnotes(m->sg); i++)
      LINE("note: %s", lt_escape(lr_suggest_note(m->sg, i), e, sizeof e, m->ascii));
    return n;
  }
  if (m->view == LT_PROCS) {
    const LrProcess *x = r->src;
    char end[64];
    LINE("%s", e);
    LINE("pid %lld (parent pid %lld), exec image %lld; process %lld of %zu in the trace: %s",
         (long long)x->pid, (long long)x->ppid, (long long)x->exec_index, (long long)x->id,
         m->nprocs, x->id == m->proc_id ? "shown in every view" : "enter shows it in every view");
    LINE("ended: %s%s%s; own peak %s (heap %s, RSS %s), %lld events",
         lt_proc_end(m, x, end, sizeof end), r->v[2] >= 0 ? " after " : "",
         r->v[2] >= 0 ? lr_fmt_ns(b1, sizeof b1, r->v[2]) : "",
         lr_fmt_bytes(b2, sizeof b2, x->peak), lr_fmt_bytes(b3, sizeof b3, x->peak_heap),
         x->peak_rss > 0 ? lr_fmt_bytes(e, sizeof e, x->peak_rss) : "-", (long long)x->events);
    return n;
  }
  if (r->node) LINE("%s: %s in %lld blocks (the heaviest stack through it):", e,
                    lr_fmt_bytes(b1, sizeof b1, r->bytes), (long long)r->count);
  else if (m->view == LT_LARGEST)
    /* the kind is the trace's text too (a damaged one's kind was drawn raw) */
    LINE("%s block of %s, allocated at %s (seq %lld)",
         lt_escape(((const LrBlock *)r->src)->kind, b3, sizeof b3, 1),
         lr_fmt_bytes(b1, sizeof b1, r->bytes), lr_fmt_ns(b2, sizeof b2, r->v[0]),
         (long long)r->v[1]);
  else
    LINE("%s in %lld blocks%s%s", lr_fmt_bytes(b1, sizeof b1, r->bytes), (long long)r->count,
         m->by == LR_BY_STACK || m->view == LT_TEMPS ? "" : ", e.g. ",
         m->by == LR_BY_STACK || m->view == LT_TEMPS ? "" : e);
  return stack_lines(m, r->stack, r->frame, lines, n, max);
}
