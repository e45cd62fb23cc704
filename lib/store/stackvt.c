/*
** stackvt.c: the `stack_entries` virtual table (stackvt.h).
**
** A cursor walks one stack at a time from stacks.node up the parents.
** Looking up one stack (stack_id =) reads nodes with a prepared B-tree
** lookup each; scanning many stacks first loads all of stack_nodes into
** three arrays sorted by id (once per cursor, kept across xFilter calls)
** and walks there.
**
** Invariants:
**   1. A walk never runs forever: Brent's cycle check compares every node
**      with one saved node, saved again at each power of two steps, so a
**      loop in the parents is met within twice its length plus its tail.
**   2. The arrays of a loaded cursor are sorted by id, strictly (ids are
**      a primary key; checked while loading, since a damaged file can
**      break it), so a lookup is a binary search, or an index when the ids
**      are dense.
**   3. An appended stack's chain is its own (cache `own`): INSERT links a
**      new outermost node under its old root only when this table made
**      that chain; otherwise it copies the chain first, so shared nodes
**      of other stacks never change.
**   4. The node cache of a table holds rows of stack_nodes as they are:
**      it is emptied whenever this connection has changed anything
**      (sqlite3_total_changes) or another one committed (the file's data
**      version) since it was filled. Lookups of stacks share callers, so
**      most frames are found there without a B-tree lookup.
*/
#include "store/stackvt.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { COL_STACK, COL_DEPTH, COL_FRAME };
/* idxNum bits: which constraints xFilter gets, in this order */
enum { IX_EQ = 1, IX_GE = 2, IX_GT = 4, IX_LE = 8, IX_LT = 16, IX_DMAX = 32, IX_DLT = 64 };

/* The statements a cursor runs, prepared once per table (a lookup per
** stack, as report's load_stack makes, must not prepare each time): a
** cursor takes a spare from the table and gives it back when it closes. */
enum { SQ_EQ, SQ_RANGE, SQ_NODE, SQ_N };
static const char *const sq_sql[SQ_N] = {
    "SELECT id, node FROM \"%w\".stacks WHERE id = ?1",
    "SELECT id, node FROM \"%w\".stacks WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
    "SELECT parent, frame_id FROM \"%w\".stack_nodes WHERE id = ?1"};

/* Nodes read by lookups, kept by the table (invariant 4). */
typedef struct Node {
  int64_t id, parent, frame; /* id 0: empty slot */
} Node;
enum { NODE_CACHE_MAX = 1 << 20 }; /* slots: 24 MB at most, then emptied */

typedef struct Vt {
  sqlite3_vtab base;
  sqlite3 *db;
  char *schema;
  sqlite3_stmt *spare[SQ_N];
  Node *nc; /* open addressing on id, at most 3/4 full */
  size_t nc_cap, nc_n;
  int nc_changes; /* sqlite3_total_changes and the file's data version when filled */
  unsigned nc_version;
  int64_t next_node; /* 0: not known yet */
  /* the stack INSERT appended to last (invariant 3) */
  int64_t own_stack, own_node0, own_root, own_len;
  int64_t *fr; /* a chain's frames while it is copied */
  size_t fr_cap;
} Vt;

typedef struct Cur {
  sqlite3_vtab_cursor base;
  sqlite3_stmt *st[SQ_N]; /* taken from the table's spares */
  sqlite3_stmt *stk;      /* st[SQ_EQ] or st[SQ_RANGE]: the stacks to walk, (id, node) */
  sqlite3_stmt *nodeq;    /* st[SQ_NODE]: one node by id (lookups) */
  int scan;               /* walking many stacks: the arrays */
  int64_t *nid, *npar, *nfr;
  size_t nn, ncap;
  int loaded, dense;
  int64_t stack, node, parent, frame, depth, dmax;
  int eof;
  int64_t saved; /* invariant 1 */
  uint64_t power, lam;
} Cur;

static int vt_error(Vt *v, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sqlite3_free(v->base.zErrMsg);
  v->base.zErrMsg = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  return v->base.zErrMsg ? rc : SQLITE_NOMEM;
}

static int db_error(Vt *v) {
  return vt_error(v, SQLITE_ERROR, "stack_entries: %s", sqlite3_errmsg(v->db));
}

static sqlite3_stmt *prep(Vt *v, const char *fmt) {
  char *sql = sqlite3_mprintf(fmt, v->schema);
  sqlite3_stmt *st = NULL;
  if (sql) sqlite3_prepare_v2(v->db, sql, -1, &st, NULL);
  sqlite3_free(sql);
  return st;
}

/* Statement k for cursor c, reset: its own, the table's spare, or new. */
static sqlite3_stmt *take(Vt *v, sqlite3_stmt **st, int k) {
  if (st[k]) {
    sqlite3_reset(st[k]);
  } else if (v->spare[k]) {
    st[k] = v->spare[k];
    v->spare[k] = NULL;
  } else {
    st[k] = prep(v, sq_sql[k]);
  }
  return st[k];
}

static void give_back(Vt *v, sqlite3_stmt **st) {
  for (int k = 0; k < SQ_N; k++) {
    if (!st[k]) continue;
    sqlite3_reset(st[k]);
    if (!v->spare[k])
      v->spare[k] = st[k];
    else
      sqlite3_finalize(st[k]);
    st[k] = NULL;
  }
}

/* ---- connecting ---------------------------------------------------------- */

static int vt_connect2(sqlite3 *db, const char *const *argv, sqlite3_vtab **out, char **err,
                       int create) {
  if (create) {
    char *sql = sqlite3_mprintf("CREATE TABLE IF NOT EXISTS \"%w\".stack_nodes(id INTEGER "
                                "PRIMARY KEY, parent INTEGER, frame_id INTEGER NOT NULL)",
                                argv[1]);
    int rc = sql ? sqlite3_exec(db, sql, NULL, NULL, err) : SQLITE_NOMEM;
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return rc;
  }
  int rc =
      sqlite3_declare_vtab(db, "CREATE TABLE x(stack_id INTEGER, depth INTEGER, frame_id INTEGER)");
  if (rc != SQLITE_OK) return rc;
  Vt *v = sqlite3_malloc(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->db = db;
  if (!(v->schema = sqlite3_mprintf("%s", argv[1]))) {
    sqlite3_free(v);
    return SQLITE_NOMEM;
  }
  *out = &v->base;
  return SQLITE_OK;
}

static int vt_create(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out,
                     char **err) {
  (void)aux;
  (void)argc;
  return vt_connect2(db, argv, out, err, 1);
}

static int vt_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out,
                      char **err) {
  (void)aux;
  (void)argc;
  return vt_connect2(db, argv, out, err, 0);
}

static int vt_disconnect(sqlite3_vtab *tab) {
  Vt *v = (Vt *)tab;
  for (int k = 0; k < SQ_N; k++) sqlite3_finalize(v->spare[k]);
  sqlite3_free(v->nc);
  sqlite3_free(v->schema);
  sqlite3_free(v->fr);
  sqlite3_free(v);
  return SQLITE_OK;
}

/* ---- planning ------------------------------------------------------------ */

static int vt_best(sqlite3_vtab *tab, sqlite3_index_info *info) {
  (void)tab;
  int use[7] = {-1, -1, -1, -1, -1, -1, -1}; /* constraint index per idxNum bit */
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (!c->usable) continue;
    int bit = -1;
    if (c->iColumn == COL_STACK) {
      switch (c->op) {
      case SQLITE_INDEX_CONSTRAINT_EQ:
        bit = 0;
        break;
      case SQLITE_INDEX_CONSTRAINT_GE:
        bit = 1;
        break;
      case SQLITE_INDEX_CONSTRAINT_GT:
        bit = 2;
        break;
      case SQLITE_INDEX_CONSTRAINT_LE:
        bit = 3;
        break;
      case SQLITE_INDEX_CONSTRAINT_LT:
        bit = 4;
        break;
      }
    } else if (c->iColumn == COL_DEPTH) {
      if (c->op == SQLITE_INDEX_CONSTRAINT_EQ || c->op == SQLITE_INDEX_CONSTRAINT_LE)
        bit = 5;
      else if (c->op == SQLITE_INDEX_CONSTRAINT_LT)
        bit = 6;
    }
    if (bit >= 0 && use[bit] < 0) use[bit] = i;
  }
  if (use[0] >= 0) /* one stack: the range does not narrow it further */
    use[1] = use[2] = use[3] = use[4] = -1;
  int argi = 0, idx = 0;
  for (int b = 0; b < 7; b++) {
    if (use[b] < 0) continue;
    idx |= 1 << b;
    info->aConstraintUsage[use[b]].argvIndex = ++argi;
    info->aConstraintUsage[use[b]].omit = 0; /* SQLite checks again */
  }
  info->idxNum = idx;
  if (idx & IX_EQ) {
    info->estimatedCost = 20;
    info->estimatedRows = 30;
  } else {
    double frac = (idx & (IX_GE | IX_GT)) && (idx & (IX_LE | IX_LT)) ? 0.1 : 1.0;
    info->estimatedCost = 1e6 * frac;
    info->estimatedRows = (sqlite3_int64)(1e6 * frac);
    /* a scan walks stacks in id order, each from depth 0 */
    int ok = info->nOrderBy >= 1 && info->nOrderBy <= 2;
    for (int i = 0; ok && i < info->nOrderBy; i++)
      ok = !info->aOrderBy[i].desc && info->aOrderBy[i].iColumn == (i ? COL_DEPTH : COL_STACK);
    info->orderByConsumed = ok;
  }
  return SQLITE_OK;
}

/* ---- cursors ------------------------------------------------------------- */

static int vt_open(sqlite3_vtab *tab, sqlite3_vtab_cursor **out) {
  (void)tab;
  Cur *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  c->eof = 1;
  *out = &c->base;
  return SQLITE_OK;
}

static int vt_close(sqlite3_vtab_cursor *cur) {
  Cur *c = (Cur *)cur;
  give_back((Vt *)cur->pVtab, c->st);
  sqlite3_free(c->nid);
  sqlite3_free(c->npar);
  sqlite3_free(c->nfr);
  sqlite3_free(c);
  return SQLITE_OK;
}

/* stack_nodes into the arrays (invariant 2), once per cursor. */
static int load_nodes(Vt *v, Cur *c) {
  if (c->loaded) return SQLITE_OK;
  sqlite3_stmt *st = prep(v, "SELECT id, parent, frame_id FROM \"%w\".stack_nodes ORDER BY id");
  if (!st) return db_error(v);
  int rc;
  c->nn = 0;
  c->dense = 1;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (c->nn == c->ncap) {
      size_t nc = c->ncap ? c->ncap * 2 : 4096;
      sqlite3_uint64 b = (sqlite3_uint64)nc * sizeof(int64_t);
      int64_t *a = sqlite3_realloc64(c->nid, b);
      if (a) c->nid = a;
      int64_t *p = a ? sqlite3_realloc64(c->npar, b) : NULL;
      if (p) c->npar = p;
      int64_t *f = p ? sqlite3_realloc64(c->nfr, b) : NULL;
      if (!f) return sqlite3_finalize(st), SQLITE_NOMEM;
      c->nfr = f;
      c->ncap = nc;
    }
    int64_t id = sqlite3_column_int64(st, 0);
    if (c->nn && id <= c->nid[c->nn - 1]) { /* invariant 2: a damaged b-tree breaks it */
      sqlite3_finalize(st);
      return vt_error(v, SQLITE_ERROR, "stack_entries: %s",
                      "stack_nodes is damaged (ids out of order)");
    }
    c->nid[c->nn] = id;
    c->npar[c->nn] = sqlite3_column_int64(st, 1); /* NULL reads 0: no parent */
    c->nfr[c->nn] = sqlite3_column_int64(st, 2);
    if (c->nn && id != c->nid[c->nn - 1] + 1) c->dense = 0;
    c->nn++;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return db_error(v);
  c->loaded = 1;
  return SQLITE_OK;
}

/* Empties the node cache if the file may have changed (invariant 4). */
static void cache_check(Vt *v) {
  unsigned ver = 0;
  int ch = sqlite3_total_changes(v->db);
  if (sqlite3_file_control(v->db, v->schema, SQLITE_FCNTL_DATA_VERSION, &ver) != SQLITE_OK)
    ver = v->nc_version + 1; /* cannot tell: never trust it */
  if (ch == v->nc_changes && ver == v->nc_version) return;
  if (v->nc_n) memset(v->nc, 0, v->nc_cap * sizeof *v->nc);
  v->nc_n = 0;
  v->nc_changes = ch;
  v->nc_version = ver;
}

static Node *cache_slot(Node *t, size_t cap, int64_t id) {
  size_t m = cap - 1, j = (size_t)((uint64_t)id * 0x9e3779b97f4a7c15ull >> 20) & m;
  while (t[j].id && t[j].id != id) j = (j + 1) & m;
  return &t[j];
}

static void cache_put(Vt *v, int64_t id, int64_t parent, int64_t frame) {
  if (!id) return; /* 0 marks empty slots */
  if ((v->nc_n + 1) * 4 > v->nc_cap * 3) {
    size_t nc = v->nc_cap ? v->nc_cap * 2 : 1024;
    if (nc > NODE_CACHE_MAX) { /* bounded: start again */
      memset(v->nc, 0, v->nc_cap * sizeof *v->nc);
      v->nc_n = 0;
    } else {
      Node *t = sqlite3_malloc64(nc * sizeof *t);
      if (!t) return; /* a cache only */
      memset(t, 0, nc * sizeof *t);
      for (size_t i = 0; i < v->nc_cap; i++)
        if (v->nc[i].id) *cache_slot(t, nc, v->nc[i].id) = v->nc[i];
      sqlite3_free(v->nc);
      v->nc = t;
      v->nc_cap = nc;
    }
  }
  Node *n = cache_slot(v->nc, v->nc_cap, id);
  assert(!n->id || n->id == id);
  if (!n->id) v->nc_n++;
  *n = (Node){id, parent, frame};
}

/* Loads node c->node into c->parent, c->frame; an error if it is missing. */
static int fetch(Vt *v, Cur *c) {
  int64_t id = c->node;
  if (c->scan) {
    size_t lo = 0, hi = c->nn;
    if (c->dense && c->nn) {
      uint64_t k = (uint64_t)id - (uint64_t)c->nid[0];
      lo = k < c->nn ? (size_t)k : c->nn;
    } else {
      while (lo < hi) { /* first index with nid >= id */
        size_t m = lo + (hi - lo) / 2;
        if (c->nid[m] < id)
          lo = m + 1;
        else
          hi = m;
      }
    }
    if (lo < c->nn && c->nid[lo] == id) {
      c->parent = c->npar[lo];
      c->frame = c->nfr[lo];
      return SQLITE_OK;
    }
  } else {
    if (v->nc_n) {
      const Node *n = cache_slot(v->nc, v->nc_cap, id);
      if (n->id) {
        assert(n->id == id); /* invariant 4: the row of that id */
        c->parent = n->parent;
        c->frame = n->frame;
        return SQLITE_OK;
      }
    }
    sqlite3_bind_int64(c->nodeq, 1, id);
    int rc = sqlite3_step(c->nodeq);
    if (rc == SQLITE_ROW) {
      c->parent = sqlite3_column_int64(c->nodeq, 0);
      c->frame = sqlite3_column_int64(c->nodeq, 1);
      cache_put(v, id, c->parent, c->frame);
    }
    sqlite3_reset(c->nodeq);
    if (rc == SQLITE_ROW) return SQLITE_OK;
    if (rc != SQLITE_DONE) return db_error(v);
  }
  return vt_error(v, SQLITE_ERROR,
                  "stack_entries: stack %lld: node %lld is not in stack_nodes (damaged trace)",
                  (long long)c->stack, (long long)id);
}

/* Starts the walk of stack c->stack at node n (0: no frames). */
static int start(Vt *v, Cur *c, int64_t n) {
  c->node = n;
  c->depth = 0;
  c->saved = n;
  c->power = 1;
  c->lam = 0;
  return n ? fetch(v, c) : SQLITE_OK;
}

/* The next stack with frames; eof after the last. */
static int next_stack(Vt *v, Cur *c) {
  for (;;) {
    int rc = sqlite3_step(c->stk);
    if (rc == SQLITE_DONE) {
      c->eof = 1;
      return SQLITE_OK;
    }
    if (rc != SQLITE_ROW) return db_error(v);
    if (sqlite3_column_type(c->stk, 1) == SQLITE_NULL) continue; /* no frames */
    c->stack = sqlite3_column_int64(c->stk, 0);
    int64_t n = sqlite3_column_int64(c->stk, 1);
    if (n) return start(v, c, n);
  }
}

/* One node up c's chain: *moved 0 at its end (the root, or past dmax). */
static int up(Vt *v, Cur *c, int *moved) {
  *moved = 0;
  if (!c->parent || c->depth >= c->dmax) return SQLITE_OK;
  if (c->parent == c->saved) /* invariant 1 */
    return vt_error(v, SQLITE_ERROR,
                    "stack_entries: stack %lld: its nodes loop at node %lld (damaged trace)",
                    (long long)c->stack, (long long)c->parent);
  if (++c->lam == c->power) {
    c->saved = c->parent;
    c->power *= 2;
    c->lam = 0;
  }
  c->node = c->parent;
  c->depth++;
  *moved = 1;
  return fetch(v, c);
}

static int vt_next(sqlite3_vtab_cursor *cur) {
  Cur *c = (Cur *)cur;
  Vt *v = (Vt *)cur->pVtab;
  int moved, rc = up(v, c, &moved);
  return rc != SQLITE_OK || moved ? rc : next_stack(v, c);
}

/* v's integer value into *out: 0, or 1 when v is no integer (not used). */
static int as_int(sqlite3_value *val, int64_t *out) {
  if (sqlite3_value_numeric_type(val) != SQLITE_INTEGER) return 1;
  *out = sqlite3_value_int64(val);
  return 0;
}

static int vt_filter(sqlite3_vtab_cursor *cur, int idx, const char *s, int argc,
                     sqlite3_value **argv) {
  (void)s;
  (void)argc;
  Cur *c = (Cur *)cur;
  Vt *v = (Vt *)cur->pVtab;
  int64_t eq = 0, lo = INT64_MIN, hi = INT64_MAX, x;
  int a = 0, none = 0, have_eq = 0;
  c->dmax = INT64_MAX;
  for (int b = 0; b < 7; b++) {
    if (!(idx & 1 << b)) continue;
    sqlite3_value *val = argv[a++];
    if (sqlite3_value_type(val) == SQLITE_NULL) none = 1; /* compares to nothing */
    if (as_int(val, &x)) continue;                        /* not judged here: SQLite checks it */
    switch (1 << b) {
    case IX_EQ:
      eq = x, have_eq = 1;
      break;
    case IX_GE:
      lo = x;
      break;
    case IX_GT:
      lo = x == INT64_MAX ? x : x + 1, none |= x == INT64_MAX;
      break;
    case IX_LE:
      hi = x;
      break;
    case IX_LT:
      hi = x == INT64_MIN ? x : x - 1, none |= x == INT64_MIN;
      break;
    case IX_DMAX:
      c->dmax = x;
      break;
    case IX_DLT:
      c->dmax = x - (x > INT64_MIN);
      break;
    }
  }
  c->eof = 0;
  c->scan = !have_eq;
  c->stk = take(v, c->st, have_eq ? SQ_EQ : SQ_RANGE);
  if (!c->stk) return db_error(v);
  sqlite3_bind_int64(c->stk, 1, have_eq ? eq : lo);
  if (!have_eq) sqlite3_bind_int64(c->stk, 2, hi);
  if (none || c->dmax < 0) {
    c->eof = 1;
    return SQLITE_OK;
  }
  int rc;
  if (c->scan)
    rc = load_nodes(v, c);
  else if (!(c->nodeq = take(v, c->st, SQ_NODE)))
    rc = db_error(v);
  else
    cache_check(v), rc = SQLITE_OK;
  return rc == SQLITE_OK ? next_stack(v, c) : rc;
}

static int vt_eof(sqlite3_vtab_cursor *cur) { return ((Cur *)cur)->eof; }

static int vt_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  Cur *c = (Cur *)cur;
  sqlite3_result_int64(ctx, col == COL_STACK ? c->stack : col == COL_DEPTH ? c->depth : c->frame);
  return SQLITE_OK;
}

static int vt_rowid(sqlite3_vtab_cursor *cur, sqlite_int64 *rowid) {
  Cur *c = (Cur *)cur;
  *rowid = (sqlite_int64)(((uint64_t)c->stack << 20) + (uint64_t)c->depth);
  return SQLITE_OK;
}

/* ---- INSERT: appending a frame (invariant 3) ------------------------------ */

static int run1(Vt *v, const char *fmt, int n, int64_t a, int64_t b, int64_t c3) {
  sqlite3_stmt *st = prep(v, fmt);
  if (!st) return db_error(v);
  sqlite3_bind_int64(st, 1, a);
  if (n > 1) sqlite3_bind_int64(st, 2, b);
  if (n > 2) sqlite3_bind_int64(st, 3, c3);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : db_error(v);
}

/* A new node (parent 0: NULL): its id in *id. */
static int new_node(Vt *v, int64_t parent, int64_t frame, int64_t *id) {
  if (!v->next_node) {
    sqlite3_stmt *st = prep(v, "SELECT coalesce(max(id), 0) + 1 FROM \"%w\".stack_nodes");
    if (!st || sqlite3_step(st) != SQLITE_ROW) return sqlite3_finalize(st), db_error(v);
    v->next_node = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (v->next_node <= 0) return vt_error(v, SQLITE_FULL, "stack_nodes: %s", "no ids left");
  }
  *id = v->next_node;
  int rc =
      parent ? run1(v, "INSERT INTO \"%w\".stack_nodes(id, parent, frame_id) VALUES(?1, ?2, ?3)", 3,
                    *id, parent, frame)
             : run1(v, "INSERT INTO \"%w\".stack_nodes(id, parent, frame_id) VALUES(?1, NULL, ?2)",
                    2, *id, frame, 0);
  if (rc == SQLITE_OK) v->next_node++;
  return rc;
}

/* The frames of stack s from node n into v->fr; *len, *root set. */
static int read_chain(Vt *v, int64_t s, int64_t n, int64_t *len, int64_t *root) {
  Cur c;
  memset(&c, 0, sizeof c);
  c.stack = s;
  c.dmax = INT64_MAX;
  if (!(c.nodeq = take(v, c.st, SQ_NODE))) return db_error(v);
  cache_check(v);
  int rc = start(v, &c, n);
  *len = 0;
  while (rc == SQLITE_OK && n) {
    if ((size_t)*len == v->fr_cap) {
      size_t nc = v->fr_cap ? v->fr_cap * 2 : 64;
      int64_t *f = sqlite3_realloc64(v->fr, nc * sizeof *f);
      if (!f) {
        rc = SQLITE_NOMEM;
        break;
      }
      v->fr = f;
      v->fr_cap = nc;
    }
    v->fr[(*len)++] = c.frame;
    *root = c.node;
    int moved = 0;
    rc = up(v, &c, &moved);
    if (!moved) break;
  }
  give_back(v, c.st);
  return rc;
}

/* INSERT (stack_id, depth, frame_id): depth must be the stack's next. */
static int append(Vt *v, int64_t s, int64_t d, int64_t f) {
  sqlite3_stmt *st = prep(v, "SELECT node FROM \"%w\".stacks WHERE id = ?1");
  if (!st) return db_error(v);
  sqlite3_bind_int64(st, 1, s);
  int rc = sqlite3_step(st);
  int64_t node0 = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE)
    return vt_error(v, SQLITE_CONSTRAINT,
                    "stack_entries: stack %lld is not in stacks (insert its stacks row first)",
                    (long long)s);
  if (rc != SQLITE_ROW) return db_error(v);
  int own = node0 && v->own_stack == s && v->own_node0 == node0; /* invariant 3 */
  int64_t len = 0, root = 0;
  if (own) {
    len = v->own_len;
    root = v->own_root;
  } else if ((rc = read_chain(v, s, node0, &len, &root)) != SQLITE_OK) {
    return rc;
  }
  if (d < len)
    return vt_error(v, SQLITE_CONSTRAINT,
                    "UNIQUE constraint failed: stack_entries.stack_id, stack_entries.depth "
                    "(stack %lld, depth %lld)",
                    (long long)s, (long long)d);
  if (d > len)
    return vt_error(v, SQLITE_CONSTRAINT,
                    "stack_entries: stack %lld has %lld frames: depth %lld cannot come next "
                    "(insert a stack's depths in order from 0)",
                    (long long)s, (long long)len, (long long)d);
  int64_t outer;
  if ((rc = new_node(v, 0, f, &outer)) != SQLITE_OK) return rc;
  if (len && own) {
    rc = run1(v, "UPDATE \"%w\".stack_nodes SET parent = ?2 WHERE id = ?1", 2, root, outer, 0);
  } else {
    /* a chain of its own: the old frames again, under the new outermost */
    int64_t p = outer;
    for (int64_t i = len; rc == SQLITE_OK && i-- > 0;) rc = new_node(v, p, v->fr[i], &p);
    node0 = p;
    if (rc == SQLITE_OK)
      rc = run1(v, "UPDATE \"%w\".stacks SET node = ?2 WHERE id = ?1", 2, s, node0, 0);
  }
  if (rc != SQLITE_OK) {
    v->own_stack = 0;
    return rc;
  }
  v->own_stack = s;
  v->own_node0 = node0;
  v->own_root = outer;
  v->own_len = len + 1;
  return SQLITE_OK;
}

static int vt_update(sqlite3_vtab *tab, int argc, sqlite3_value **argv, sqlite_int64 *rowid) {
  Vt *v = (Vt *)tab;
  if (argc == 1 || sqlite3_value_type(argv[0]) != SQLITE_NULL)
    return vt_error(v, SQLITE_READONLY,
                    "stack_entries: rows can only be inserted (a stack's frames, depth 0 first)");
  static const char *const col[] = {"stack_id", "depth", "frame_id"};
  int64_t x[3];
  for (int i = 0; i < 3; i++)
    if (as_int(argv[2 + i], &x[i]))
      return vt_error(v, SQLITE_CONSTRAINT, "stack_entries.%s must be an integer", col[i]);
  int rc = append(v, x[0], x[1], x[2]);
  *rowid = (sqlite_int64)(((uint64_t)x[0] << 20) + (uint64_t)x[1]);
  return rc;
}

static int vt_begin(sqlite3_vtab *tab) {
  ((Vt *)tab)->next_node = 0; /* other connections may have written */
  return SQLITE_OK;
}

static int vt_rollback(sqlite3_vtab *tab) {
  Vt *v = (Vt *)tab;
  v->next_node = 0;
  v->own_stack = 0; /* the chain may be gone */
  return SQLITE_OK;
}

static int vt_ok(sqlite3_vtab *tab) {
  (void)tab;
  return SQLITE_OK;
}

static const sqlite3_module module = {
    .iVersion = 1,
    .xCreate = vt_create,
    .xConnect = vt_connect,
    .xBestIndex = vt_best,
    .xDisconnect = vt_disconnect,
    .xDestroy = vt_disconnect,
    .xOpen = vt_open,
    .xClose = vt_close,
    .xFilter = vt_filter,
    .xNext = vt_next,
    .xEof = vt_eof,
    .xColumn = vt_column,
    .xRowid = vt_rowid,
    .xUpdate = vt_update,
    .xBegin = vt_begin,
    .xSync = vt_ok,
    .xCommit = vt_ok,
    .xRollback = vt_rollback,
};

int lr_stackvt_register(sqlite3 *db) {
  return sqlite3_create_module_v2(db, "lowram_stack_entries", &module, NULL, NULL);
}
