/*
** pyframes.c: see pyframes.h.
**
** Invariants:
**   1. Every Python frame row is named once, when its frame id is first
**      made (p->named remembers the tags done).
**   2. A kept stack's frames are the native stack's, in order, with the
**      Python frames inserted at one place (splice()): nothing is dropped.
*/
#include "ingest/pyframes.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"

typedef struct Code {
  uint64_t id; /* 0: empty slot */
  uint32_t first_line;
  char *function, *file;
} Code;

typedef struct Kept {
  uint64_t id, native;
  size_t at; /* its Python frames: tags[at .. at + n) */
  uint32_t n;
} Kept;

typedef struct Named {
  uint64_t tag, frame; /* tag 0: empty */
} Named;

struct LrPyf {
  Code *codes;
  size_t ncodes, cap_codes; /* open addressing on id */
  Kept *kept;
  size_t nkept, cap_kept;
  uint64_t *tags;
  size_t ntags, cap_tags;
  Named *named;
  size_t nnamed, cap_named;
  uint64_t eval_lo, eval_hi; /* hi 0: no PYEVAL record */
};

LrPyf *lr_pyf_new(void) { return calloc(1, sizeof(LrPyf)); }

void lr_pyf_free(LrPyf *p) {
  if (!p) return;
  for (size_t i = 0; i < p->cap_codes; i++) {
    free(p->codes[i].function);
    free(p->codes[i].file);
  }
  free(p->codes);
  free(p->kept);
  free(p->tags);
  free(p->named);
  free(p);
}

static Code *code_slot(Code *t, size_t cap, uint64_t id) {
  size_t j = lr_mix64(id) & (cap - 1);
  while (t[j].id && t[j].id != id) j = (j + 1) & (cap - 1);
  return &t[j];
}

static int add_code(LrPyf *p, const LrSpoolRec *r) {
  if (!r->addr) return 0;
  if ((p->ncodes + 1) * 2 > p->cap_codes) {
    size_t nc = p->cap_codes ? p->cap_codes * 2 : 1024;
    Code *t = calloc(nc, sizeof *t);
    if (!t) return -1;
    for (size_t i = 0; i < p->cap_codes; i++)
      if (p->codes[i].id) *code_slot(t, nc, p->codes[i].id) = p->codes[i];
    free(p->codes);
    p->codes = t;
    p->cap_codes = nc;
  }
  Code *c = code_slot(p->codes, p->cap_codes, r->addr);
  if (c->id) return 0; /* a fork child's copy of its parent's: the same names */
  char *fn = strndup(r->str.p ? r->str.p : "", r->str.len);
  char *file = strndup(r->str2.p ? r->str2.p : "", r->str2.len);
  if (!fn || !file) {
    free(fn);
    free(file);
    return -1;
  }
  *c = (Code){r->addr, r->size <= INT32_MAX ? (uint32_t)r->size : 0, fn, file};
  p->ncodes++;
  return 0;
}

static int keep_stack(LrPyf *p, const LrSpoolRec *r) {
  uint32_t n = r->nframes - 1;
  Kept *k = lr_grow(p->kept, &p->cap_kept, p->nkept + 1, sizeof *k);
  if (!k) return -1;
  p->kept = k;
  uint64_t *t = lr_grow(p->tags, &p->cap_tags, p->ntags + n, sizeof *t);
  if (!t) return -1;
  p->tags = t;
  /* a stray tag of another kind among the Python frames reads as line 0 of
  ** an unknown code (never as a native pc) */
  for (uint32_t i = 0; i < n; i++) {
    uint64_t f = r->frames[1 + i];
    t[p->ntags + i] = (f & LR_PYTAG_MASK) == LR_PYFRAME_TAG ? f : LR_PYFRAME_TAG;
  }
  p->kept[p->nkept++] = (Kept){r->stack, r->frames[0] & ~LR_PYTAG_MASK, p->ntags, n};
  p->ntags += n;
  return 0;
}

int lr_pyf_take(LrPyf *p, const LrSpoolRec *r) {
  switch (r->type) {
  case LR_REC_PYCODE:
    return add_code(p, r) == 0 ? 1 : -1;
  case LR_REC_PYEVAL:
    p->eval_lo = r->addr;
    p->eval_hi = r->addr + r->size;
    return 1;
  case LR_REC_STACK:
    if (r->nframes < 2 || (r->frames[0] & LR_PYTAG_MASK) != LR_PYREF_TAG) return 0;
    return keep_stack(p, r) == 0 ? 1 : -1;
  default:
    return 0;
  }
}

/* ---- writing ---- */

typedef struct Out {
  sqlite3 *db;
  sqlite3_stmt *sel, *frame;
  const LrIdOff *off;
  const LrPyfHost *h;
  uint64_t module; /* the [python] module's id, 0 until made */
  uint64_t *ids, *ips; /* one stack's native frames */
  size_t cap_ids, cap_ips;
  uint64_t *row; /* the stack written */
  size_t cap_row;
} Out;

static Named *named_slot(Named *t, size_t cap, uint64_t tag) {
  size_t j = lr_mix64(tag) & (cap - 1);
  while (t[j].tag && t[j].tag != tag) j = (j + 1) & (cap - 1);
  return &t[j];
}

/* The frame id (with its offset) of a Python frame, named when new. */
static int64_t py_frame(LrPyf *p, Out *o, uint64_t tag) {
  if ((p->nnamed + 1) * 2 > p->cap_named) {
    size_t nc = p->cap_named ? p->cap_named * 2 : 1024;
    Named *t = calloc(nc, sizeof *t);
    if (!t) return -1;
    for (size_t i = 0; i < p->cap_named; i++)
      if (p->named[i].tag) *named_slot(t, nc, p->named[i].tag) = p->named[i];
    free(p->named);
    p->named = t;
    p->cap_named = nc;
  }
  Named *s = named_slot(p->named, p->cap_named, tag);
  if (s->tag) return (int64_t)s->frame; /* invariant 1: named already */
  assert(p->nnamed < p->cap_named);
  if (!o->module && !(o->module = o->h->module(o->h->ctx, LR_PYF_MODULE))) return -1;
  uint64_t id = o->h->frame(o->h->ctx, tag);
  if (!id) return -1;
  uint64_t code = (tag & ~LR_PYTAG_MASK) >> LR_PYLINE_BITS, line = tag & LR_PYLINE_MAX;
  const Code *c = p->cap_codes ? code_slot(p->codes, p->cap_codes, code) : NULL;
  sqlite3_stmt *st = o->frame;
  sqlite3_bind_int64(st, 1, (int64_t)id + o->off->frame);
  sqlite3_bind_int64(st, 2, (int64_t)o->module + o->off->module);
  sqlite3_bind_int64(st, 3, (int64_t)(tag & ~LR_PYTAG_MASK));
  if (c && c->id) {
    sqlite3_bind_text(st, 4, c->function, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, c->file, -1, SQLITE_STATIC);
  } else { /* its PYCODE record was lost (a cut spool) */
    sqlite3_bind_null(st, 4);
    sqlite3_bind_null(st, 5);
  }
  if (line) sqlite3_bind_int64(st, 6, (int64_t)line);
  else sqlite3_bind_null(st, 6);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc != SQLITE_DONE) return -1;
  s->tag = tag;
  s->frame = id + (uint64_t)o->off->frame;
  p->nnamed++;
  return (int64_t)s->frame;
}

/* Where the Python frames go: before the innermost native frame whose
** return address is inside the evaluator; after all without one. */
static size_t splice(const LrPyf *p, const uint64_t *ips, size_t n) {
  if (p->eval_hi)
    for (size_t i = 0; i < n; i++)
      if (ips[i] > p->eval_lo && ips[i] <= p->eval_hi) return i; /* ip - 1 inside */
  return n;
}

static int write_stack(LrPyf *p, Out *o, const Kept *k) {
  size_t nn = 0;
  sqlite3_bind_int64(o->sel, 1, (int64_t)k->native + o->off->stack);
  int rc;
  while ((rc = sqlite3_step(o->sel)) == SQLITE_ROW) {
    uint64_t *a = lr_grow(o->ids, &o->cap_ids, nn + 1, sizeof *a);
    if (a) o->ids = a;
    uint64_t *b = lr_grow(o->ips, &o->cap_ips, nn + 1, sizeof *b);
    if (b) o->ips = b;
    if (!a || !b) {
      sqlite3_reset(o->sel);
      return -1;
    }
    o->ids[nn] = (uint64_t)sqlite3_column_int64(o->sel, 0);
    o->ips[nn] = (uint64_t)sqlite3_column_int64(o->sel, 1);
    nn++;
  }
  sqlite3_reset(o->sel);
  if (rc != SQLITE_DONE) return -1;
  size_t at = splice(p, o->ips, nn), total = nn + k->n;
  uint64_t *row = lr_grow(o->row, &o->cap_row, total, sizeof *row);
  if (!row) return -1;
  o->row = row;
  memcpy(row, o->ids, at * sizeof *row);
  for (uint32_t i = 0; i < k->n; i++) {
    int64_t f = py_frame(p, o, p->tags[k->at + i]);
    if (f < 0) return -1;
    row[at + i] = (uint64_t)f;
  }
  memcpy(row + at + k->n, o->ids + at, (nn - at) * sizeof *row);
  /* invariant 2: the native frames, in order, around the Python ones */
  assert(at <= nn && total == nn + k->n);
  assert(!nn || ((at == 0 || row[0] == o->ids[0]) &&
                 (at == nn || row[total - 1] == o->ids[nn - 1])));
  /* the importer's trie (stackvt.h): the frame ids in row are shifted */
  return o->h->stack(o->h->ctx, (int64_t)k->id + o->off->stack, (const int64_t *)row, total);
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  return sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK ? st : NULL;
}

int lr_pyf_finish(LrPyf *p, sqlite3 *db, const LrIdOff *off, const LrPyfHost *h,
                  uint64_t *nstacks, uint64_t *max_id, const char *what, LrErr *err) {
  if (!p || !p->nkept) return 0;
  Out o = {0};
  o.db = db;
  o.off = off;
  o.h = h;
  /* ids are bound with the process's offsets added (lr_stage_import) */
  o.sel = prep(db, "SELECT e.frame_id, coalesce(m.base, 0) + f.rel_pc FROM main.stack_entries e "
                   "JOIN main.frames f ON f.id = e.frame_id LEFT JOIN main.modules m ON "
                   "m.id = f.module_id WHERE e.stack_id = ?1 ORDER BY e.depth");
  o.frame = prep(db, "UPDATE main.frames SET module_id = ?2, rel_pc = ?3, function = ?4, "
                     "file = ?5, line = ?6 WHERE id = ?1");
  int rc = -1;
  if (!o.sel || !o.frame) {
    lr_err_set(err, "%s: Python frames: %s", what, sqlite3_errmsg(db));
    goto out;
  }
  for (size_t i = 0; i < p->nkept; i++) {
    if (write_stack(p, &o, &p->kept[i]) != 0) {
      lr_err_set(err, "%s: Python frames: %s", what,
                 sqlite3_errcode(db) == SQLITE_OK ? "out of memory" : sqlite3_errmsg(db));
      goto out;
    }
    if (p->kept[i].id > *max_id) *max_id = p->kept[i].id;
    (*nstacks)++;
  }
  rc = 0;
out:
  sqlite3_finalize(o.sel);
  sqlite3_finalize(o.frame);
  free(o.ids);
  free(o.ips);
  free(o.row);
  return rc;
}
