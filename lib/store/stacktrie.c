/*
** stacktrie.c: LrStackTrie (stackvt.h), the importer's side of the stack
** trie: open addressing on (parent, frame_id), the same kind of table as
** the importer's frame ids (import.c frame_id()).
**
** Invariants:
**   1. Every slot with id != 0 is a row of stack_nodes written by this
**      trie, with that parent (0: NULL) and frame_id.
**   2. The table is at most 3/4 full, so a probe always ends at an empty
**      slot.
*/
#include "store/stackvt.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"

typedef struct Slot {
  int64_t parent, frame, id; /* id 0: empty */
} Slot;

struct LrStackTrie {
  sqlite3 *db;
  sqlite3_stmt *ins, *stack;
  Slot *s;
  size_t cap, n;
  int64_t next_id;
};

static size_t hash(int64_t parent, int64_t frame) {
  return (size_t)lr_mix64((uint64_t)parent * 0x9e3779b97f4a7c15ull ^ (uint64_t)frame);
}

LrStackTrie *lr_stack_trie_new(sqlite3 *db, const char *schema, int *oom) {
  LrStackTrie *t = calloc(1, sizeof *t);
  if (!t) return *oom = 1, NULL;
  t->db = db;
  char *sql = sqlite3_mprintf("SELECT coalesce(max(id), 0) FROM \"%w\".stack_nodes", schema);
  sqlite3_stmt *st = NULL;
  int ok = sql && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
           sqlite3_step(st) == SQLITE_ROW;
  if (ok) t->next_id = sqlite3_column_int64(st, 0) + 1;
  sqlite3_finalize(st);
  sqlite3_free(sql);
  sql = ok ? sqlite3_mprintf("INSERT INTO \"%w\".stack_nodes(id, parent, frame_id) "
                             "VALUES(?1, ?2, ?3)",
                             schema)
           : NULL;
  ok = sql && sqlite3_prepare_v2(db, sql, -1, &t->ins, NULL) == SQLITE_OK;
  if (!sql && sqlite3_errcode(db) == SQLITE_OK) *oom = 1;
  sqlite3_free(sql);
  sql = ok ? sqlite3_mprintf("INSERT OR IGNORE INTO \"%w\".stacks(id, nframes, node) "
                             "VALUES(?1, ?2, ?3)",
                             schema)
           : NULL;
  ok = sql && sqlite3_prepare_v2(db, sql, -1, &t->stack, NULL) == SQLITE_OK;
  if (!sql && sqlite3_errcode(db) == SQLITE_OK) *oom = 1;
  sqlite3_free(sql);
  if (!ok || t->next_id <= 0) { /* a max(id) of INT64_MAX wraps: a damaged file */
    lr_stack_trie_free(t);
    return NULL;
  }
  return t;
}

void lr_stack_trie_free(LrStackTrie *t) {
  if (!t) return;
  sqlite3_finalize(t->ins);
  sqlite3_finalize(t->stack);
  free(t->s);
  free(t);
}

uint64_t lr_stack_trie_nodes(const LrStackTrie *t) { return t->n; }

static int grow(LrStackTrie *t) {
  size_t nc = t->cap ? t->cap * 2 : 4096;
  Slot *ns = calloc(nc, sizeof *ns);
  if (!ns) return -1;
  for (size_t i = 0; i < t->cap; i++) {
    if (!t->s[i].id) continue;
    size_t j = hash(t->s[i].parent, t->s[i].frame) & (nc - 1);
    while (ns[j].id) j = (j + 1) & (nc - 1);
    ns[j] = t->s[i];
  }
  free(t->s);
  t->s = ns;
  t->cap = nc;
  return 0;
}

/* The node (parent, frame): found, or written now. 0 on failure. */
static int64_t node(LrStackTrie *t, int64_t parent, int64_t frame, int *oom) {
  if ((t->n + 1) * 4 > t->cap * 3 && grow(t)) return *oom = 1, 0;
  assert((t->n + 1) * 4 <= t->cap * 3); /* invariant 2 */
  size_t m = t->cap - 1, j = hash(parent, frame) & m;
  for (; t->s[j].id; j = (j + 1) & m)
    if (t->s[j].parent == parent && t->s[j].frame == frame) return t->s[j].id;
  int64_t id = t->next_id;
  sqlite3_bind_int64(t->ins, 1, id);
  if (parent)
    sqlite3_bind_int64(t->ins, 2, parent);
  else
    sqlite3_bind_null(t->ins, 2);
  sqlite3_bind_int64(t->ins, 3, frame);
  int rc = sqlite3_step(t->ins);
  sqlite3_reset(t->ins);
  if (rc != SQLITE_DONE) return 0;
  t->s[j] = (Slot){parent, frame, id}; /* invariant 1: written, then remembered */
  t->n++;
  t->next_id++;
  return id;
}

int lr_stack_trie_put(LrStackTrie *t, const int64_t *frames, size_t n, int64_t *out, int *oom) {
  int64_t p = 0;
  /* the trie grows from the outermost frame: depth n-1 first */
  for (size_t i = n; i-- > 0;)
    if (!(p = node(t, p, frames[i], oom))) return -1;
  *out = p;
  return 0;
}

int lr_stack_trie_stack(LrStackTrie *t, int64_t id, const int64_t *frames, size_t n, int *oom) {
  int64_t node = 0;
  if (lr_stack_trie_put(t, frames, n, &node, oom) != 0) return -1;
  sqlite3_bind_int64(t->stack, 1, id);
  sqlite3_bind_int64(t->stack, 2, (int64_t)n);
  if (node)
    sqlite3_bind_int64(t->stack, 3, node);
  else
    sqlite3_bind_null(t->stack, 3);
  int rc = sqlite3_step(t->stack);
  sqlite3_reset(t->stack);
  if (rc != SQLITE_DONE) return -1;
  return sqlite3_changes(t->db) > 0;
}
