/*
** agg.c: the aggregate tables of a trace (see agg.h for what each holds).
**
** Everything comes from one pass over `allocations` in alloc_seq order.
** Frees are not read with a second cursor (that would be random row reads
** by free_seq): each block that will be freed goes into a min-heap keyed by
** free_seq, so the heap holds only the blocks live at that moment, and
** popping it interleaves the frees with the allocations in seq order.
**
** Invariants of the pass:
**  1. Events are applied in groups of equal seq; after a group, `live` is
**     exactly the live bytes at that seq (alloc_seq <= S < free_seq).
**  2. The pending heap holds every block with alloc_seq <= current seq and a
**     free_seq greater than it, and nothing else.
**  3. A marker with seq m opens its phase before the first group with seq > m
**     is applied, so the phase's start value is the live bytes at m.
**  4. Likewise an RSS sample with seq s takes the live heap + anon + file
**     bytes before the first group with seq > s (or at the end).
*/
#include "query/agg.h"

#include <assert.h>

#include "core/trace_internal.h"
#include "query/qdb.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/agg_pass.h"


int lr_aggp_dberr(Pass *p, const char *what) {
  return lr_err_set(p->err, "%s: building aggregates (%s): %s", p->path, what,
                    sqlite3_errmsg(p->db));
}

int lr_aggp_oom(Pass *p) {
  return lr_err_set(p->err, "%s: building aggregates: out of memory", p->path);
}

int lr_aggp_grow(void **v, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap * 2 : 64;
  while (n < need) n *= 2;
  void *nv = realloc(*v, n * elem);
  if (!nv) return -1;
  *v = nv;
  *cap = n;
  return 0;
}

/* ---- pending frees: binary min-heap on free_seq ---- */

static int pend_push(Pass *p, Pending e) {
  if (lr_aggp_grow((void **)&p->pend, &p->cappend, p->npend + 1, sizeof e)) return -1;
  size_t i = p->npend++;
  while (i > 0) {
    size_t up = (i - 1) / 2;
    if (p->pend[up].free_seq <= e.free_seq) break;
    p->pend[i] = p->pend[up];
    i = up;
  }
  p->pend[i] = e;
  return 0;
}

static Pending pend_pop(Pass *p) {
  Pending top = p->pend[0], last = p->pend[--p->npend];
  size_t i = 0, n = p->npend;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && p->pend[c + 1].free_seq < p->pend[c].free_seq) c++;
    if (p->pend[c].free_seq >= last.free_seq) break;
    p->pend[i] = p->pend[c];
    i = c;
  }
  if (n) p->pend[i] = last;
  return top;
}

/* ---- open-addressing maps keyed by int64 ---- */

static uint64_t mix(int64_t k) {
  uint64_t x = (uint64_t)k * 0x9E3779B97F4A7C15ull;
  return x ^ (x >> 29);
}

/* The key of record i in a table of `elem`-byte records keyed by their
** first member (StackStat, ThreadLast). */
static int64_t *key_at(void *tab, size_t i, size_t elem) {
  return (int64_t *)((char *)tab + i * elem);
}
_Static_assert(offsetof(StackStat, id) == 0 && offsetof(ThreadLast, tid) == 0,
               "map_slot needs the int64 key first");

/* The record for `key` in an open-addressing table of *cap records of
** `elem` bytes keyed by their first member (INT64_MIN: empty slot); a new
** record is zeroed but for its key. The table doubles (from cap0, a power
** of two) before it passes half full. NULL if out of memory. */
static void *map_slot(void **tab, size_t *n, size_t *cap, size_t elem, size_t cap0,
                      int64_t key) {
  if ((*n + 1) * 2 > *cap) {
    size_t ncap = *cap ? *cap * 2 : cap0;
    void *nv = malloc(ncap * elem);
    if (!nv) return NULL;
    for (size_t i = 0; i < ncap; i++) *key_at(nv, i, elem) = INT64_MIN;
    for (size_t i = 0; i < *cap; i++) {
      int64_t k = *key_at(*tab, i, elem);
      if (k == INT64_MIN) continue;
      size_t j = mix(k) & (ncap - 1);
      while (*key_at(nv, j, elem) != INT64_MIN) j = (j + 1) & (ncap - 1);
      memcpy(key_at(nv, j, elem), key_at(*tab, i, elem), elem);
    }
    free(*tab);
    *tab = nv;
    *cap = ncap;
  }
  size_t j = mix(key) & (*cap - 1);
  while (*key_at(*tab, j, elem) != INT64_MIN && *key_at(*tab, j, elem) != key)
    j = (j + 1) & (*cap - 1);
  int64_t *rec = key_at(*tab, j, elem);
  if (*rec == INT64_MIN) {
    memset(rec, 0, elem);
    *rec = key;
    (*n)++;
  }
  return rec;
}

static StackStat *stack_stat(Pass *p, int64_t id) {
  return map_slot((void **)&p->stk, &p->nstk, &p->capstk, sizeof *p->stk, 1024, id);
}

static ThreadLast *thread_last(Pass *p, int64_t tid) {
  return map_slot((void **)&p->thr, &p->nthr, &p->capthr, sizeof *p->thr, 64, tid);
}

/* Counts the thread's previous block as temporary if it was freed before
** this allocation (the rule in agg.h). */
static int note_temporary(Pass *p, const ThreadLast *t, int64_t next_seq) {
  if (!t->has || t->free_seq < 0 || t->free_seq >= next_seq) return 0;
  StackStat *s = stack_stat(p, t->stack_id);
  if (!s) return -1;
  s->temp_calls++;
  s->temp_bytes = wadd(s->temp_bytes, t->size);
  return 0;
}

/* ---- largest allocations: min-heap of LR_AGG_LARGEST on size ---- */

static int big_less(Big a, Big b) {
  return a.size < b.size || (a.size == b.size && a.id > b.id);
}

static void big_offer(Pass *p, Big b) {
  size_t i;
  if (p->nbig < LR_AGG_LARGEST) {
    i = p->nbig++;
    while (i > 0 && big_less(b, p->big[(i - 1) / 2])) {
      p->big[i] = p->big[(i - 1) / 2];
      i = (i - 1) / 2;
    }
    p->big[i] = b;
    return;
  }
  if (!big_less(p->big[0], b)) return;
  i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= p->nbig) break;
    if (c + 1 < p->nbig && big_less(p->big[c + 1], p->big[c])) c++;
    if (!big_less(p->big[c], b)) break;
    p->big[i] = p->big[c];
    i = c;
  }
  p->big[i] = b;
}

/* ---- timeline buckets: fixed count, width doubles when time runs out ---- */

static void bucket_note(Pass *p, int64_t seq, int64_t ns) {
  if (p->bucket_w == 0) {
    p->bucket_ns0 = ns;
    p->bucket_w = 1000;
  }
  int64_t off = ns < p->bucket_ns0 ? 0 : ns - p->bucket_ns0;
  while (off / p->bucket_w >= LR_AGG_BUCKETS) {
    for (size_t i = 0; i < LR_AGG_BUCKETS / 2; i++) {
      Bucket a = p->buckets[2 * i], b = p->buckets[2 * i + 1];
      Bucket m = b.used ? b : a;
      if (a.used && b.used) {
        m.start_seq = a.start_seq;
        if (a.max_live >= b.max_live) {
          m.max_live = a.max_live;
          m.max_seq = a.max_seq;
          m.max_ns = a.max_ns;
        }
      }
      p->buckets[i] = m;
    }
    memset(&p->buckets[LR_AGG_BUCKETS / 2], 0, sizeof(Bucket) * (LR_AGG_BUCKETS / 2));
    p->bucket_w *= 2;
  }
  Bucket *b = &p->buckets[off / p->bucket_w];
  int64_t total = wadd(p->live[R_HEAP], p->live[R_ANON]);
  if (!b->used) {
    b->used = 1;
    b->start_seq = seq;
    b->max_live = INT64_MIN;
  }
  if (total > b->max_live) {
    b->max_live = total;
    b->max_seq = seq;
    b->max_ns = ns;
  }
  b->end_seq = seq;
  b->heap = p->live[R_HEAP];
  b->anon = p->live[R_ANON];
  b->file = p->live[R_FILE];
}

/* ---- phases ---- */

static int load_markers(Pass *p) {
  sqlite3_stmt *st;
  /* phase 0: the events before the first marker, opened by the first group */
  if (lr_aggp_grow((void **)&p->ph, &p->capph, 1, sizeof(Phase))) return lr_aggp_oom(p);
  memset(&p->ph[0], 0, sizeof(Phase));
  p->ph[0].marker_id = -1;
  p->ph[0].nth = 1;
  p->ph[0].start_seq = -1;
  if (!(p->ph[0].name = strdup("(start)"))) return lr_aggp_oom(p);
  p->nph = 1;
  if (sqlite3_prepare_v2(p->db,
                         "SELECT id, seq, ns, name, row_number() OVER "
                         "(PARTITION BY name ORDER BY seq, id) FROM markers ORDER BY seq, id",
                         -1, &st, NULL) != SQLITE_OK)
    return lr_aggp_dberr(p, "markers");
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (lr_aggp_grow((void **)&p->ph, &p->capph, p->nph + 2, sizeof(Phase))) {
      sqlite3_finalize(st);
      return lr_aggp_oom(p);
    }
    Phase *ph = &p->ph[p->nph];
    memset(ph, 0, sizeof *ph);
    ph->marker_id = sqlite3_column_int64(st, 0);
    ph->start_seq = sqlite3_column_int64(st, 1);
    ph->start_ns = sqlite3_column_int64(st, 2);
    const char *name = (const char *)sqlite3_column_text(st, 3);
    ph->name = strdup(name ? name : "");
    ph->nth = sqlite3_column_int64(st, 4);
    if (!ph->name) {
      sqlite3_finalize(st);
      return lr_aggp_oom(p);
    }
    p->nph++;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : lr_aggp_dberr(p, "markers");
}

/* Phase k is [marker k, marker k+1); opened when the pass reaches it. */
static void phase_open(Pass *p, Phase *ph) {
  int64_t total = wadd(p->live[R_HEAP], p->live[R_ANON]);
  ph->start_live = ph->peak_live = ph->end_live = total;
  ph->peak_seq = ph->start_seq;
  ph->peak_ns = ph->start_ns;
  ph->end_seq = ph->start_seq;
  ph->end_ns = ph->start_ns;
}

/* ---- the pass ---- */

static int region_code(const unsigned char *r) {
  if (!r) return R_HEAP;
  if (!strcmp((const char *)r, "file")) return R_FILE;
  if (!strcmp((const char *)r, "anon")) return R_ANON;
  if (!strcmp((const char *)r, "reserved")) return R_RESERVED;
  return R_HEAP;
}

static int end_group(Pass *p, int64_t seq, int64_t ns, size_t *open_phase) {
  int64_t total = wadd(p->live[R_HEAP], p->live[R_ANON]);
  if (p->groups == 0) p->first_seq = seq;
  p->groups++;
  p->last_seq = seq;
  if (ns > p->last_ns) p->last_ns = ns;
  ns = p->last_ns; /* threads' clocks can disagree slightly; keep time monotonic */
  if (total > p->peak || p->groups == 1) {
    p->peak = total;
    p->peak_seq = seq;
    p->peak_ns = ns;
    p->peak_heap = p->live[R_HEAP];
    p->peak_anon = p->live[R_ANON];
    p->peak_file = p->live[R_FILE];
    p->peak_reserved = p->live[R_RESERVED];
  }
  if (p->live[R_RESERVED] > p->reserved_peak) p->reserved_peak = p->live[R_RESERVED];
  if (p->live[R_HEAP] > p->heap_peak) {
    p->heap_peak = p->live[R_HEAP];
    p->heap_peak_seq = seq;
  }
  if (p->live[R_FILE] > p->file_peak) {
    p->file_peak = p->live[R_FILE];
    p->file_peak_seq = seq;
  }
  if (*open_phase != SIZE_MAX) {
    Phase *ph = &p->ph[*open_phase];
    if (ph->start_seq == seq) ph->start_ns = ph->peak_ns = ns;
    if (total > ph->peak_live) {
      ph->peak_live = total;
      ph->peak_seq = seq;
      ph->peak_ns = ns;
    }
    ph->end_live = total;
    ph->end_seq = seq;
    ph->end_ns = ns;
  }
  bucket_note(p, seq, ns);
  if (p->groups % LR_AGG_CHECKPOINT == 0) {
    sqlite3_bind_int64(p->ins_ckpt, 1, seq);
    sqlite3_bind_int64(p->ins_ckpt, 2, ns);
    sqlite3_bind_int64(p->ins_ckpt, 3, p->live[R_HEAP]);
    sqlite3_bind_int64(p->ins_ckpt, 4, p->live[R_ANON]);
    sqlite3_bind_int64(p->ins_ckpt, 5, p->live[R_FILE]);
    if (sqlite3_step(p->ins_ckpt) != SQLITE_DONE) return lr_aggp_dberr(p, "checkpoints");
    sqlite3_reset(p->ins_ckpt);
  }
  return 0;
}

/* The rows of `allocations` in (alloc_seq, id) order, read back with SQL:
** for traces whose importer did not hand them over (lr_agg_ensure,
** lr_agg_build). */
typedef struct SqlRows {
  sqlite3_stmt *st;
} SqlRows;

static int sql_next(void *ctx, LrAggRow *r) {
  sqlite3_stmt *st = ((SqlRows *)ctx)->st;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) return 0;
  if (rc != SQLITE_ROW) return -1;
  r->id = sqlite3_column_int64(st, 0);
  r->region = region_code(sqlite3_column_text(st, 1));
  r->size = sqlite3_column_int64(st, 2);
  r->alloc_seq = sqlite3_column_int64(st, 3);
  r->alloc_ns = sqlite3_column_int64(st, 4);
  r->freed = sqlite3_column_type(st, 5) != SQLITE_NULL;
  r->free_seq = r->freed ? sqlite3_column_int64(st, 5) : -1;
  r->free_ns = sqlite3_column_int64(st, 6);
  r->tid = sqlite3_column_int64(st, 7);
  r->stack_id = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 8);
  r->file = (const char *)sqlite3_column_text(st, 9);
  r->has_offset = sqlite3_column_type(st, 10) != SQLITE_NULL;
  r->file_offset = sqlite3_column_int64(st, 10);
  r->kind = (const char *)sqlite3_column_text(st, 11);
  return 1;
}

/* One row: 1 (in *r), 0 at the end, -1 with *err set. */
static int next_row(Pass *p, LrAggRow *r) {
  int rc = p->next(p->next_ctx, r);
  if (rc < 0) lr_aggp_dberr(p, "allocations");
  return rc;
}

static int run_pass(Pass *p) {
  size_t next_marker = 1, open_phase = SIZE_MAX;
  int have = 0, more = 1, ret = 0;
  LrAggRow row;
  for (;;) {
    if (!have && more) {
      int rc = next_row(p, &row);
      if (rc < 0) return -1;
      have = rc;
      more = rc;
    }
    if (!have && p->npend == 0) break;
    int64_t aseq = row.alloc_seq;
    int64_t cur = have ? aseq : INT64_MAX;
    if (p->npend && p->pend[0].free_seq < cur) cur = p->pend[0].free_seq;
    /* invariant 3: open the phases of markers before this group */
    while (next_marker < p->nph && p->ph[next_marker].start_seq < cur) {
      open_phase = next_marker++;
      phase_open(p, &p->ph[open_phase]);
    }
    lr_aggp_samples_upto(p, cur);
    if (open_phase == SIZE_MAX) {
      open_phase = 0;
      p->ph[0].start_seq = cur;
      phase_open(p, &p->ph[0]);
    }
    int64_t ns = 0;
    while (have && row.alloc_seq == cur) {
      aseq = row.alloc_seq;
      int64_t id = row.id;
      int region = row.region;
      int64_t size = row.size;
      int64_t ans = row.alloc_ns;
      int freed = row.freed;
      int64_t fseq = freed ? row.free_seq : -1;
      int64_t fns = row.free_ns;
      int64_t tid = row.tid;
      int64_t stack = row.stack_id;
      if (ans > ns) ns = ans;
      p->live[region] = wadd(p->live[region], size);
      p->nalloc++;
      lr_aggp_kind_note(p, row.kind, region, size);
      if (freed) {
        Pending e = {fseq < aseq ? aseq : fseq, fns, size, region};
        if (pend_push(p, e)) return lr_aggp_oom(p);
      }
      if (region == R_RESERVED) goto next_row; /* address space, not memory */
      StackStat *s = stack_stat(p, stack);
      if (!s) return lr_aggp_oom(p);
      s->calls++;
      s->bytes = wadd(s->bytes, size);
      if (size > s->max_size) s->max_size = size;
      if (!freed) {
        s->leak_calls++;
        s->leak_bytes = wadd(s->leak_bytes, size);
      }
      ThreadLast *t = thread_last(p, tid);
      if (!t || note_temporary(p, t, aseq)) return lr_aggp_oom(p);
      t->has = region != R_FILE;
      t->stack_id = stack;
      t->size = size;
      t->free_seq = fseq;
      big_offer(p, (Big){size, id});
      if (region == R_FILE) {
        sqlite3_bind_int64(p->ins_map, 1, id);
        if (row.file)
          sqlite3_bind_text(p->ins_map, 2, row.file, -1, SQLITE_TRANSIENT);
        else
          sqlite3_bind_null(p->ins_map, 2);
        sqlite3_bind_int64(p->ins_map, 3, size);
        if (row.has_offset)
          sqlite3_bind_int64(p->ins_map, 4, row.file_offset);
        else
          sqlite3_bind_null(p->ins_map, 4);
        sqlite3_bind_int64(p->ins_map, 5, aseq);
        sqlite3_bind_int64(p->ins_map, 6, ans);
        if (freed) {
          sqlite3_bind_int64(p->ins_map, 7, fseq);
          sqlite3_bind_int64(p->ins_map, 8, fns);
        } else {
          sqlite3_bind_null(p->ins_map, 7);
          sqlite3_bind_null(p->ins_map, 8);
        }
        if (sqlite3_step(p->ins_map) != SQLITE_DONE) {
          ret = lr_aggp_dberr(p, "maps");
          break;
        }
        sqlite3_reset(p->ins_map);
      }
    next_row: {
      int rc = next_row(p, &row);
      if (rc < 0) return -1;
      have = rc;
      more = rc;
      /* the rows come in (alloc_seq, id) order: a group is one seq */
      assert(!have || row.alloc_seq >= aseq);
    }
    }
    if (ret) break;
    while (p->npend && p->pend[0].free_seq == cur) {
      Pending e = pend_pop(p);
      p->live[e.region] = wsub(p->live[e.region], e.size);
      p->nfree++;
      if (e.free_ns > ns) ns = e.free_ns;
    }
    if ((ret = end_group(p, cur, ns, &open_phase))) break;
  }
  if (ret) return ret;
  lr_aggp_samples_upto(p, INT64_MAX);
  /* markers after the last event open empty phases */
  while (next_marker < p->nph) {
    open_phase = next_marker++;
    phase_open(p, &p->ph[open_phase]);
  }
  /* each thread's last block: temporary if it was freed at all */
  for (size_t i = 0; i < p->capthr; i++)
    if (p->thr[i].tid != INT64_MIN && note_temporary(p, &p->thr[i], INT64_MAX)) return lr_aggp_oom(p);
  return 0;
}

static int build(sqlite3 *db, const char *path, const char *schema, int64_t proc, LrAggNext next,
                 void *next_ctx, LrErr *err) {
  Pass p;
  SqlRows sql = {NULL};
  memset(&p, 0, sizeof p);
  p.db = db;
  p.path = path ? path : "(trace)";
  p.schema = schema;
  p.err = err;
  p.peak = 0;
  p.proc = proc;
  int ret = -1;
  if (lr_aggp_exec(&p, "SAVEPOINT lr_agg")) return -1;
  if (lr_aggp_create_tables(&p)) goto out;
  if (lr_aggp_prep(&p, &p.ins_ckpt, "INSERT OR REPLACE INTO %s.agg_checkpoints VALUES(?1,?2,?3,?4,?5)"))
    goto out;
  if (lr_aggp_prep(&p, &p.ins_map, "INSERT INTO %s.agg_maps VALUES(?1,?2,?3,?4,?5,?6,?7,?8)")) goto out;
  if (proc > 0 && lr_aggp_exec(&p, "CREATE TABLE IF NOT EXISTS main.agg_kinds(process_id INTEGER NOT "
                           "NULL, kind TEXT, region TEXT, calls INTEGER, bytes INTEGER, "
                           "PRIMARY KEY(process_id, kind, region)) WITHOUT ROWID"))
    goto out;
  if (load_markers(&p) || lr_aggp_load_samples(&p)) goto out;
  if (!next) {
    if (sqlite3_prepare_v2(db,
                           "SELECT id, region, size, alloc_seq, alloc_ns, free_seq, free_ns, "
                           "thread_id, stack_id, file, file_offset, kind FROM allocations "
                           "ORDER BY alloc_seq, id",
                           -1, &sql.st, NULL) != SQLITE_OK) {
      lr_aggp_dberr(&p, "allocations");
      goto out;
    }
    next = sql_next;
    next_ctx = &sql;
  }
  p.next = next;
  p.next_ctx = next_ctx;
  if (run_pass(&p)) goto out;
  if (lr_aggp_store_main(&p) || lr_aggp_store_samples(&p) || lr_aggp_store_kinds(&p)) goto out;
  ret = 0;
out:
  sqlite3_finalize(sql.st);
  sqlite3_finalize(p.ins_ckpt);
  sqlite3_finalize(p.ins_map);
  if (ret) {
    sqlite3_exec(db, "ROLLBACK TO lr_agg", NULL, NULL, NULL);
  }
  sqlite3_exec(db, "RELEASE lr_agg", NULL, NULL, NULL);

  free(p.pend);
  free(p.stk);
  free(p.thr);
  free(p.smp);
  for (size_t i = 0; i < p.nph; i++) free(p.ph[i].name);
  free(p.ph);
  return ret;
}

int lr_agg_build(sqlite3 *db, const char *trace_path, LrErr *err) {
  return build(db, trace_path, "main", 0, NULL, NULL, err);
}

int lr_agg_build_temp(sqlite3 *db, const char *trace_path, int64_t proc, LrErr *err) {
  return build(db, trace_path, "temp", proc, NULL, NULL, err);
}

int lr_agg_build_rows(sqlite3 *db, const char *trace_path, int64_t proc, LrAggNext next,
                      void *ctx, LrErr *err) {
  return build(db, trace_path, "temp", proc, next, ctx, err);
}

sqlite3 *lr_qdb(LrTrace *t, LrErr *err) {
  assert(lr_trace_check(t));
  if (!t->agg_ready) {
    if (lr_agg_ensure(t->db, t->path, err)) return NULL;
    t->agg_ready = 1;
  }
  return t->db;
}

int lr_agg_ensure(sqlite3 *db, const char *trace_path, LrErr *err) {
  sqlite3_stmt *st;
  int ok = 0;
  if (sqlite3_prepare_v2(db, "SELECT value FROM agg_info WHERE key = 'version'", -1, &st,
                         NULL) == SQLITE_OK) {
    ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == LR_AGG_VERSION;
    sqlite3_finalize(st);
  }
  if (ok) return 0;
  return build(db, trace_path, "temp", 0, NULL, NULL, err);
}
