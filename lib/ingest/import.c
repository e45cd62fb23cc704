/*
** import.c: see import.h.
**
** The spool's chunks are grouped into one stream per writer (tid), each in
** file order, so each stream is ordered by seq (format invariant 6, and a
** writer claims a new chunk only after its last one is full). The streams
** are merged with a min-heap on the next record's key. realloc and mremap
** happen at two numbers (free_seq: the old block stops; seq: the new one
** starts), so they enter the merge at free_seq and their second half waits
** in a pending heap until its seq comes up: an address freed inside a
** realloc and handed to another thread is then always ended before it
** starts again.
**
** realloc and mremap are modelled in lifetimes.h; this file reads, merges,
** and writes SQLite.
**
** Invariants:
**   1. Every stream's next record (if any) is in the stream heap, keyed by
**      lr_life_key(); a pending second half runs before any record with a
**      larger key.
**   2. Frames are deduplicated on (module id, rel_pc) with the module map
**      as it was at the STACK record's position in the merge.
**   3. This file writes one process's rows straight into the run's trace
**      (stage.h): process_id is a literal of every INSERT and ids are
**      shifted by the process's offsets (Imp.off) in the statements, so
**      nothing is copied afterwards. merge.c builds the aggregates, names
**      the frames, and is the only one that puts a file under the trace's
**      name.
*/
#include "lowram/import.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "query/agg.h"
#include "core/grow.h"
#include "ingest/lifetimes.h"
#include "ingest/pyframes.h"
#include "ingest/rows.h"
#include "ingest/spool_read.h"
#include "ingest/stage.h"
#include "ingest/aggsort.h"
#include "ingest/symtrace.h"
#include "store/stackvt.h"
#include "lowram/trace.h"
#include "core/trace_internal.h"

typedef struct Stream {
  uint32_t tid;
  uint32_t *chunks, n, cap, next;
  LrSpoolCursor *cur;
  LrSpoolRec rec;
  uint64_t key;
} Stream;

typedef struct Mod {
  uint64_t base, size, id;
  int live;
} Mod;

typedef struct FrameSlot {
  uint64_t mod, rel_pc, id; /* id 0 = empty */
} FrameSlot;

typedef struct Thr {
  uint32_t tid;
  uint64_t first_seq;
  char *name;
} Thr;

typedef struct Imp {
  sqlite3 *db;
  const char *spool_path;
  LrSpool *sp;
  LrRows *rows; /* allocations rows, batched */
  LrAggSort *sorted; /* the same rows for the aggregates (aggsort.h), or NULL */
  LrStackTrie *trie; /* stack_nodes (stackvt.h) */
  int64_t *stk_fr;   /* one stack's frame ids, shifted */
  size_t stk_cap;
  sqlite3_stmt *st_frame, *st_module, *st_unmodule,
      *st_rss, *st_mark, *st_param, *st_meta;
  int failed;
  LrErr *err;
  LrLife *life;
  Stream *streams;
  size_t nstreams;
  uint32_t *sheap; /* stream indices, a min-heap on key */
  size_t nsheap;
  Mod *mods;
  size_t nmods, cap_mods;
  FrameSlot *fr;
  size_t fr_cap, fr_n;
  uint64_t *ipc; /* IPC_SIZE x (ip + 1, frame id): frame_id's last answers,
                    emptied when the modules change */
  Thr *thr;
  size_t nthr, cap_thr;
  uint32_t *thr_idx; /* open addressing on tid: slot = thr index + 1, 0 empty */
  size_t thr_icap;
  char *argv_json;
  LrPyf *py;     /* Python frames (pyframes.h) */
  int64_t proc;  /* processes.id of this spool's rows */
  LrIdOff off;   /* ids of the previous processes: this one's start past them */
  uint64_t max_stack, max_alloc;
  /* counters */
  uint64_t events, stacks, max_seq, max_ns, named;
  double agg_seconds;
  int64_t peak_rss;
  /* progress */
  const LrImportOpts *opts;
  struct timespec t0;
  uint64_t chunks_done, next_progress;
} Imp;

static double since(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Reports progress; a cancel from the callback fails the import. */
static void progress(Imp *im, LrImportStage stage) {
  if (!im->opts || !im->opts->progress || im->failed) return;
  LrImportProgress p = {stage, im->events, im->chunks_done, lr_spool_nchunks(im->sp),
                        since(&im->t0), 0, 0};
  if (im->opts->progress(im->opts->progress_ctx, &p)) {
    lr_err_set(im->err, "%s: import cancelled", im->spool_path);
    im->failed = 1;
  }
}

static void db_fail(Imp *im, const char *what) {
  if (!im->failed)
    lr_err_set(im->err, "%s: import failed (%s): %s", im->spool_path, what,
               sqlite3_errmsg(im->db));
  im->failed = 1;
}

static void step(Imp *im, sqlite3_stmt *st, const char *what) {
  int rc = sqlite3_step(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) db_fail(im, what);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
}


/* ---- allocations rows (lifetimes.h calls this) ---- */

static void bind_u(sqlite3_stmt *st, int i, uint64_t v) { sqlite3_bind_int64(st, i, (int64_t)v); }

static void rows_fail(Imp *im, int oom) {
  if (oom && !im->failed) {
    lr_err_set(im->err, "%s: out of memory", im->spool_path);
    im->failed = 1;
  }
  db_fail(im, "allocations");
}

static void put_row(void *ctx, const LrLifeRow *r) {
  Imp *im = ctx;
  int oom = 0;
  if (!im->rows || im->failed) return; /* the import has failed already */
  if (r->id > im->max_alloc) im->max_alloc = r->id;
  if (lr_rows_put(im->rows, r, &oom) != 0) rows_fail(im, oom);
  lr_aggsort_put(im->sorted, r, (uint64_t)im->off.alloc, (uint64_t)im->off.stack);
}

/* ---- modules, frames, stacks ---- */

static void hex(char *out, const char *b, size_t n) {
  static const char d[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = d[(unsigned char)b[i] >> 4];
    out[2 * i + 1] = d[(unsigned char)b[i] & 15];
  }
  out[2 * n] = 0;
}

/* frame_id's cache of ip -> id: a stack repeats the frames of others, and
** finding an ip's module is a walk over every module (PyTorch loads
** hundreds: that walk was 16% of its import). */
#define IPC_SIZE 65536

static void ipc_clear(Imp *im) {
  if (im->ipc) memset(im->ipc, 0, sizeof *im->ipc * 2 * IPC_SIZE);
}

static void do_module(Imp *im, const LrSpoolRec *r) {
  ipc_clear(im); /* the new module may cover ips cached as moduleless */
  Mod *nm = lr_grow(im->mods, &im->cap_mods, im->nmods + 1, sizeof *nm);
  if (!nm) {
    im->failed = 1;
    lr_err_set(im->err, "%s: out of memory", im->spool_path);
    return;
  }
  im->mods = nm;
  for (size_t i = 0; i < im->nmods; i++)
    if (nm[i].live && nm[i].base == r->addr) nm[i].live = 0; /* replaced */
  uint64_t id = im->nmods + 1;
  nm[im->nmods++] = (Mod){r->addr, r->size, id, 1};
  sqlite3_stmt *st = im->st_module;
  bind_u(st, 1, id);
  sqlite3_bind_text(st, 2, r->str.p ? r->str.p : "", (int)r->str.len, SQLITE_TRANSIENT);
  if (r->str2.len) {
    char h[2 * LR_SPOOL_MAX_STR + 1];
    hex(h, r->str2.p, r->str2.len);
    sqlite3_bind_text(st, 3, h, -1, SQLITE_TRANSIENT);
  }
  bind_u(st, 4, r->addr);
  bind_u(st, 5, r->size);
  bind_u(st, 6, r->seq);
  step(im, st, "modules");
}

static void do_unmodule(Imp *im, const LrSpoolRec *r) {
  ipc_clear(im);
  for (size_t i = im->nmods; i-- > 0;) {
    if (im->mods[i].live && im->mods[i].base == r->addr) {
      im->mods[i].live = 0;
      bind_u(im->st_unmodule, 1, r->seq);
      bind_u(im->st_unmodule, 2, im->mods[i].id);
      step(im, im->st_unmodule, "modules");
      return;
    }
  }
}

static uint64_t frame_id_slow(Imp *im, uint64_t ip);

static uint64_t frame_id(Imp *im, uint64_t ip) {
  if (!im->ipc && !(im->ipc = calloc(2 * IPC_SIZE, sizeof *im->ipc))) return frame_id_slow(im, ip);
  uint64_t *e = &im->ipc[2 * (lr_mix64(ip) & (IPC_SIZE - 1))];
  if (e[0] == ip + 1) return e[1];
  uint64_t id = frame_id_slow(im, ip);
  if (id) {
    e[0] = ip + 1;
    e[1] = id;
  }
  return id;
}

static uint64_t frame_id_slow(Imp *im, uint64_t ip) {
  uint64_t mod = 0, rel = ip;
  for (size_t i = im->nmods; i-- > 0;) {
    const Mod *m = &im->mods[i];
    if (m->live && ip >= m->base && ip - m->base < m->size) {
      mod = m->id;
      rel = ip - m->base;
      break;
    }
  }
  if ((im->fr_n + 1) * 4 > im->fr_cap * 3) {
    size_t nc = im->fr_cap ? im->fr_cap * 2 : 4096;
    FrameSlot *n = calloc(nc, sizeof *n);
    if (!n) return 0;
    for (size_t i = 0; i < im->fr_cap; i++) {
      if (!im->fr[i].id) continue;
      size_t j = lr_mix64(im->fr[i].rel_pc * 31 + im->fr[i].mod) & (nc - 1);
      while (n[j].id) j = (j + 1) & (nc - 1);
      n[j] = im->fr[i];
    }
    free(im->fr);
    im->fr = n;
    im->fr_cap = nc;
  }
  size_t msk = im->fr_cap - 1, j = lr_mix64(rel * 31 + mod) & msk;
  for (; im->fr[j].id; j = (j + 1) & msk)
    if (im->fr[j].mod == mod && im->fr[j].rel_pc == rel) return im->fr[j].id;
  uint64_t id = ++im->fr_n;
  im->fr[j] = (FrameSlot){mod, rel, id};
  bind_u(im->st_frame, 1, id);
  if (mod) bind_u(im->st_frame, 2, mod);
  bind_u(im->st_frame, 3, rel);
  step(im, im->st_frame, "frames");
  return id;
}

/* Stack id (ids shifted) with frames[0..n), innermost first, into the
** trie (stackvt.h): 1 written, 0 known already, -1 failed (*err set). */
static int put_stack(Imp *im, int64_t id, const int64_t *frames, size_t n) {
  int oom = 0, rc = lr_stack_trie_stack(im->trie, id, frames, n, &oom);
  if (rc < 0 && oom && !im->failed) {
    im->failed = 1;
    lr_err_set(im->err, "%s: out of memory", im->spool_path);
  }
  if (rc < 0) db_fail(im, "stacks");
  return rc;
}

static int py_stack(void *ctx, int64_t id, const int64_t *frames, size_t n) {
  return put_stack(ctx, id, frames, n) < 0 ? -1 : 0;
}

static void do_stack(Imp *im, const LrSpoolRec *r) {
  int64_t *f = lr_grow(im->stk_fr, &im->stk_cap, r->nframes ? r->nframes : 1, sizeof *f);
  if (!f) {
    im->failed = 1;
    lr_err_set(im->err, "%s: out of memory", im->spool_path);
    return;
  }
  im->stk_fr = f;
  for (uint32_t i = 0; i < r->nframes; i++) {
    uint64_t id = frame_id(im, r->frames[i]);
    if (!id) {
      im->failed = 1;
      lr_err_set(im->err, "%s: out of memory", im->spool_path);
      return;
    }
    f[i] = (int64_t)id + im->off.frame;
  }
  if (put_stack(im, (int64_t)r->stack + im->off.stack, f, r->nframes) != 1) return;
  im->stacks++;
  if (r->stack > im->max_stack) im->max_stack = r->stack;
}

/* ---- threads, argv ---- */

/* The index slot of tid: where it is, or the empty slot where it goes. */
static size_t thr_slot(const Imp *im, uint32_t tid) {
  size_t m = im->thr_icap - 1, j = lr_mix64(tid) & m;
  while (im->thr_idx[j] && im->thr[im->thr_idx[j] - 1].tid != tid) j = (j + 1) & m;
  return j;
}

/* A spool may name many threads (a server starting one per request): the
** lookup is hashed, not a scan of every thread seen. */
static Thr *thread(Imp *im, uint32_t tid, uint64_t seq) {
  if (im->thr_icap) {
    uint32_t k = im->thr_idx[thr_slot(im, tid)];
    if (k) {
      Thr *t = &im->thr[k - 1];
      if (seq < t->first_seq) t->first_seq = seq;
      return t;
    }
  }
  if (im->nthr >= UINT32_MAX - 1) return NULL;
  if ((im->nthr + 1) * 2 > im->thr_icap) {
    size_t nc = im->thr_icap ? im->thr_icap * 2 : 64;
    uint32_t *ni = calloc(nc, sizeof *ni);
    if (!ni) return NULL;
    free(im->thr_idx);
    im->thr_idx = ni;
    im->thr_icap = nc;
    for (size_t i = 0; i < im->nthr; i++)
      im->thr_idx[thr_slot(im, im->thr[i].tid)] = (uint32_t)i + 1;
  }
  Thr *t = lr_grow(im->thr, &im->cap_thr, im->nthr + 1, sizeof *t);
  if (!t) return NULL;
  im->thr = t;
  t[im->nthr] = (Thr){tid, seq, NULL};
  im->thr_idx[thr_slot(im, tid)] = (uint32_t)++im->nthr;
  return &t[im->nthr - 1];
}

static void json_str(char **out, size_t *len, const char *s, size_t n) {
  char *o = *out + *len;
  *o++ = '"';
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      *o++ = '\\';
      *o++ = (char)c;
    } else if (c < 0x20) {
      o += sprintf(o, "\\u%04x", c);
    } else {
      *o++ = (char)c;
    }
  }
  *o++ = '"';
  *len = (size_t)(o - *out);
}

static void do_argv(Imp *im, const LrSpoolRec *r) {
  size_t cap = 3;
  for (uint32_t i = 0; i < r->argc; i++) cap += r->argv[i].len * 6 + 3;
  char *j = malloc(cap);
  if (!j) return;
  size_t len = 0;
  j[len++] = '[';
  for (uint32_t i = 0; i < r->argc; i++) {
    if (i) j[len++] = ',';
    json_str(&j, &len, r->argv[i].p, r->argv[i].len);
  }
  j[len++] = ']';
  j[len] = 0;
  free(im->argv_json);
  im->argv_json = j;
}

/* ---- Python frames (pyframes.h) ---- */

/* 1 if the record was Python frames' (kept for the end of the import). */
static int py_take(Imp *im, const LrSpoolRec *r) {
  int t = -1;
  if (im->py || (im->py = lr_pyf_new())) t = lr_pyf_take(im->py, r);
  if (t < 0 && !im->failed) {
    im->failed = 1;
    lr_err_set(im->err, "%s: out of memory", im->spool_path);
  }
  return t != 0;
}
static uint64_t py_frame(void *ctx, uint64_t ip) { return frame_id(ctx, ip); }
static uint64_t py_module(void *ctx, const char *path) {
  Imp *im = ctx;
  LrSpoolRec r;
  memset(&r, 0, sizeof r); /* base 0, size 0: covers no pc */
  r.type = LR_REC_MODULE;
  r.str.p = path;
  r.str.len = strlen(path);
  do_module(im, &r);
  return im->failed ? 0 : im->nmods;
}

/* ---- one record ---- */

static void process(Imp *im, const LrSpoolRec *r) {
  /* samples the recorder took from outside before this record's time: at
  ** the seq of the last event before them (spool_read.h) */
  LrSpoolRec side;
  while (r->has_seq && r->type != LR_REC_RSS &&
         lr_spool_side_next(im->sp, r->ns, im->max_seq, &side))
    process(im, &side);
  if (r->has_seq && r->seq > im->max_seq) im->max_seq = r->seq;
  if (r->ns > im->max_ns) im->max_ns = r->ns;
  if (r->type < LR_EV__COUNT) {
    im->events++;
    if (lr_life_event(im->life, r) != 0 && !im->failed) {
      lr_err_set(im->err, "%s: out of memory", im->spool_path);
      im->failed = 1;
    }
    return;
  }
  switch (r->type) {
  case LR_REC_STACK:
    if (!py_take(im, r)) do_stack(im, r);
    break;
  case LR_REC_PYCODE:
  case LR_REC_PYEVAL:
    py_take(im, r);
    break;
  case LR_REC_MODULE:
    do_module(im, r);
    break;
  case LR_REC_UNMODULE:
    do_unmodule(im, r);
    break;
  case LR_REC_RSS: {
    sqlite3_stmt *st = im->st_rss;
    bind_u(st, 1, r->seq);
    bind_u(st, 2, r->ns);
    for (int i = 0; i < 4; i++) bind_u(st, 3 + i, r->rss[i]);
    if (r->has_swap) bind_u(st, 7, r->vm_swap); /* VmSwap: minor-1 spools, outside samples */
    else sqlite3_bind_null(st, 7);
    if (r->has_pss) bind_u(st, 8, r->pss); /* Pss: outside samples, every 10th or fewer */
    else sqlite3_bind_null(st, 8);
    step(im, st, "rss_samples");
    if ((int64_t)r->rss[0] > im->peak_rss) im->peak_rss = (int64_t)r->rss[0];
    break;
  }
  case LR_REC_MARK:
    bind_u(im->st_mark, 1, r->seq);
    bind_u(im->st_mark, 2, r->ns);
    sqlite3_bind_int64(im->st_mark, 3, r->tid);
    sqlite3_bind_text(im->st_mark, 4, r->str.p ? r->str.p : "", (int)r->str.len,
                      SQLITE_TRANSIENT);
    step(im, im->st_mark, "markers");
    break;
  case LR_REC_PARAM:
    bind_u(im->st_param, 1, r->seq);
    bind_u(im->st_param, 2, r->ns);
    sqlite3_bind_text(im->st_param, 3, r->str.p ? r->str.p : "", (int)r->str.len,
                      SQLITE_TRANSIENT);
    if (r->param_type == LR_PARAM_INT) sqlite3_bind_int64(im->st_param, 4, r->param_int);
    else sqlite3_bind_text(im->st_param, 5, r->str2.p ? r->str2.p : "", (int)r->str2.len,
                           SQLITE_TRANSIENT);
    step(im, im->st_param, "params");
    break;
  case LR_REC_ARGV:
    do_argv(im, r);
    break;
  case LR_REC_THREAD: {
    Thr *t = thread(im, (uint32_t)r->thread_tid, r->seq);
    if (t) {
      free(t->name);
      t->name = strndup(r->str.p ? r->str.p : "", r->str.len);
    }
    break;
  }
  }
}

/* ---- merging the streams ---- */

static int stream_fill(Imp *im, Stream *s) {
  for (;;) {
    if (s->cur && lr_spool_next(s->cur, &s->rec)) {
      s->key = lr_life_key(&s->rec);
      return 1;
    }
    if (s->cur) im->chunks_done++;
    lr_spool_cursor_free(s->cur);
    s->cur = NULL;
    if (s->next >= s->n) return 0;
    s->cur = lr_spool_cursor(im->sp, s->chunks[s->next++]);
  }
}

static int s_less(Imp *im, uint32_t a, uint32_t b) {
  uint64_t ka = im->streams[a].key, kb = im->streams[b].key;
  return ka < kb || (ka == kb && a < b);
}

static void s_down(Imp *im, size_t i) {
  size_t n = im->nsheap;
  uint32_t *h = im->sheap;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) return;
    if (c + 1 < n && s_less(im, h[c + 1], h[c])) c++;
    if (!s_less(im, h[c], h[i])) return;
    uint32_t t = h[c];
    h[c] = h[i];
    h[i] = t;
    i = c;
  }
}

static int build_streams(Imp *im) {
  uint32_t n = lr_spool_nchunks(im->sp);
  size_t cap = 0, last = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t tid;
    if (!lr_spool_chunk_tid(im->sp, i, &tid)) {
      lr_spool_cursor_free(lr_spool_cursor(im->sp, i)); /* counts it as unused */
      im->chunks_done++;
      continue;
    }
    size_t k = last < im->nstreams && im->streams[last].tid == tid ? last : im->nstreams;
    if (k == im->nstreams)
      for (size_t j = 0; j < im->nstreams; j++)
        if (im->streams[j].tid == tid) k = j;
    if (k == im->nstreams) {
      Stream *ns = lr_grow(im->streams, &cap, im->nstreams + 1, sizeof *ns);
      if (!ns) return -1;
      im->streams = ns;
      memset(&ns[k], 0, sizeof ns[k]);
      ns[k].tid = tid;
      im->nstreams++;
    }
    Stream *s = &im->streams[k];
    size_t scap = s->cap;
    uint32_t *c = lr_grow(s->chunks, &scap, s->n + 1, sizeof *c);
    if (!c) return -1;
    s->chunks = c;
    s->cap = (uint32_t)scap;
    c[s->n++] = i;
    last = k;
  }
  im->sheap = malloc((im->nstreams + 1) * sizeof *im->sheap);
  if (!im->sheap) return -1;
  for (size_t k = 0; k < im->nstreams; k++)
    if (stream_fill(im, &im->streams[k])) im->sheap[im->nsheap++] = (uint32_t)k;
  for (size_t i = im->nsheap / 2 + 1; i-- > 0;) s_down(im, i);
  return 0;
}

static void merge(Imp *im) {
  uint8_t *seen = calloc(im->nstreams + 1, 1);
  while (!im->failed) {
    Stream *s = im->nsheap ? &im->streams[im->sheap[0]] : NULL;
    uint64_t pseq;
    if (lr_life_pending_seq(im->life, &pseq) && (!s || pseq <= s->key)) {
      if (lr_life_run_pending(im->life) != 0) {
        lr_err_set(im->err, "%s: out of memory", im->spool_path);
        im->failed = 1;
      }
      continue;
    }
    if (!s) break;
    if (seen && !seen[im->sheap[0]] && s->rec.has_seq) {
      seen[im->sheap[0]] = 1;
      thread(im, s->tid, s->rec.seq);
    }
    process(im, &s->rec);
    if (im->events >= im->next_progress) {
      progress(im, LR_IMPORT_MERGE);
      im->next_progress = im->events + LR_IMPORT_PROGRESS_EVENTS;
    }
    if (stream_fill(im, s)) {
      s_down(im, 0);
    } else {
      im->sheap[0] = im->sheap[--im->nsheap];
      s_down(im, 0);
    }
  }
  free(seen);
}

/* ---- the database ---- */

static int exec(Imp *im, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(im->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    if (!im->failed)
      lr_err_set(im->err, "%s: import failed: %s", im->spool_path, msg ? msg : "?");
    im->failed = 1;
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

static sqlite3_stmt *prep(Imp *im, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(im->db, sql, -1, &st, NULL) != SQLITE_OK) db_fail(im, "prepare");
  return st;
}

static void meta_int(Imp *im, const char *key, int64_t v) {
  sqlite3_bind_text(im->st_meta, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_int64(im->st_meta, 2, v);
  step(im, im->st_meta, "meta");
}

static void meta_text(Imp *im, const char *key, const char *v) {
  sqlite3_bind_text(im->st_meta, 1, key, -1, SQLITE_STATIC);
  if (v) sqlite3_bind_text(im->st_meta, 2, v, -1, SQLITE_TRANSIENT);
  step(im, im->st_meta, "meta");
}

static const char *end_reason(const LrSpoolHeader *h, int killed_by) {
  if (!(h->flags & LR_SPOOL_ENDED) && killed_by > 0) return "signal";
  if (h->flags & LR_SPOOL_ENDED) {
    switch (h->end_reason) {
    case LR_END_EXIT: return "exit";
    case LR_END_SIGNAL: return "signal";
    case LR_END__EXIT: return "_exit";
    case LR_END_EXEC: return "exec";
    default: break;
    }
  }
  return (h->flags & LR_SPOOL_CUT_SHORT) ? "cut_short" : "killed";
}

static void write_meta(Imp *im, const char *spool_path, int killed_by) {
  const LrSpoolHeader *h = lr_spool_header(im->sp);
  const LrSpoolStats *ss = lr_spool_stats(im->sp);
  meta_text(im, "argv", im->argv_json ? im->argv_json : "[]");
  meta_int(im, "pid", (int64_t)h->pid);
  meta_int(im, "ppid", (int64_t)h->ppid);
  meta_int(im, "exec_index", (int64_t)h->exec_index);
  char arch[sizeof h->arch + 1];
  memcpy(arch, h->arch, sizeof h->arch);
  arch[sizeof h->arch] = 0;
  meta_text(im, "arch", arch);
  meta_int(im, "page_size", h->page_size);
  meta_int(im, "pointer_size", h->pointer_size);
  meta_int(im, "mem_total", (int64_t)h->mem_total);
  time_t secs = (time_t)(h->start_realtime_ns / 1000000000u);
  struct tm tm;
  char iso[64] = "";
  if (gmtime_r(&secs, &tm)) {
    size_t n = strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(iso + n, sizeof iso - n, ".%03uZ",
             (unsigned)(h->start_realtime_ns % 1000000000u / 1000000u));
  }
  meta_text(im, "start_time", iso);
  meta_int(im, "start_realtime_ns", (int64_t)h->start_realtime_ns);
  meta_int(im, "stack_depth", h->stack_depth);
  meta_text(im, "unwinder", h->unwinder == 1 ? "fp" : "libunwind");
  meta_int(im, "rss_interval_ms", h->rss_interval_ms);
  meta_text(im, "end_reason", end_reason(h, killed_by));
  if (h->flags & LR_SPOOL_ENDED) {
    meta_int(im, "end_code", h->end_code);
    meta_int(im, "end_ns", (int64_t)h->end_ns);
  } else if (killed_by > 0) {
    /* the shim could not say (SIGKILL, SIGTERM...), its parent saw it */
    meta_int(im, "end_code", killed_by);
    meta_int(im, "end_ns", (int64_t)im->max_ns);
  } else {
    meta_text(im, "end_code", NULL);
    meta_int(im, "end_ns", (int64_t)im->max_ns);
  }
  meta_int(im, "cut_short", (h->flags & LR_SPOOL_CUT_SHORT) ? 1 : 0);
  meta_int(im, "events", (int64_t)im->events);
  meta_int(im, "last_seq", (int64_t)im->max_seq);
  char real[PATH_MAX];
  meta_text(im, "spool_path", realpath(spool_path, real) ? real : spool_path);
  meta_int(im, "spool_bytes", (int64_t)lr_spool_file_size(im->sp));
  meta_int(im, "spool_chunks", (int64_t)ss->chunks);
  meta_int(im, "spool_chunks_unused", (int64_t)ss->chunks_unused);
  meta_int(im, "spool_chunks_corrupt", (int64_t)ss->chunks_corrupt);
  meta_int(im, "spool_chunks_truncated", (int64_t)ss->truncated);
  meta_int(im, "spool_records", (int64_t)ss->records);
  const LrLifeStats *ls = lr_life_stats(im->life);
  meta_int(im, "unmatched_frees", (int64_t)ls->unmatched_frees);
  meta_int(im, "unmatched_munmaps", (int64_t)ls->unmatched_munmaps);
  meta_int(im, "unmatched_allocs", (int64_t)ls->unmatched_allocs);
  meta_int(im, "released_bytes", (int64_t)ls->released_bytes);
  meta_int(im, "released_calls", (int64_t)ls->released_calls);
  meta_int(im, "peak_heap", ls->peak_heap);
  meta_int(im, "peak_heap_seq", (int64_t)ls->peak_heap_seq);
  meta_int(im, "peak_rss", im->peak_rss);
}

/* Rows for everything still live at the end, then the threads. */
static void flush(Imp *im) {
  if (lr_life_flush(im->life) != 0 && !im->failed) {
    lr_err_set(im->err, "%s: out of memory", im->spool_path);
    im->failed = 1;
  }
  if (im->rows && !im->failed && lr_rows_flush(im->rows) != 0) rows_fail(im, 0);
  char *sql = sqlite3_mprintf("INSERT OR REPLACE INTO main.threads(tid, name, first_seq, "
                              "process_id) VALUES(?,?,?,%lld)", (long long)im->proc);
  sqlite3_stmt *st = sql ? prep(im, sql) : NULL;
  sqlite3_free(sql);
  for (size_t i = 0; st && i < im->nthr; i++) {
    sqlite3_bind_int64(st, 1, im->thr[i].tid);
    if (im->thr[i].name) sqlite3_bind_text(st, 2, im->thr[i].name, -1, SQLITE_STATIC);
    bind_u(st, 3, im->thr[i].first_seq);
    step(im, st, "threads");
  }
  sqlite3_finalize(st);
}

static void imp_free(Imp *im) {
  lr_rows_free(im->rows);
  lr_pyf_free(im->py);
  lr_stack_trie_free(im->trie);
  free(im->stk_fr);
  sqlite3_stmt *sts[] = {im->st_frame, im->st_module,
                         im->st_unmodule, im->st_rss, im->st_mark, im->st_param, im->st_meta};
  for (size_t i = 0; i < sizeof sts / sizeof sts[0]; i++) sqlite3_finalize(sts[i]);
  for (size_t i = 0; i < im->nstreams; i++) {
    lr_spool_cursor_free(im->streams[i].cur);
    free(im->streams[i].chunks);
  }
  free(im->streams);
  free(im->sheap);
  lr_life_free(im->life);
  free(im->mods);
  free(im->fr);
  free(im->ipc);
  for (size_t i = 0; i < im->nthr; i++) free(im->thr[i].name);
  free(im->thr);
  free(im->thr_idx);
  free(im->argv_json);
}

/* A statement of this process: %P in sql is its process_id, %A %S %F %M
** the id offsets of allocations, stacks, frames and modules. */
static sqlite3_stmt *prep_proc(Imp *im, const char *sql) {
  char buf[1024];
  size_t k = 0;
  for (const char *c = sql; *c && k + 24 < sizeof buf; c++) {
    int64_t v;
    if (c[0] != '%' || !c[1]) {
      buf[k++] = *c;
      continue;
    }
    switch (*++c) {
    case 'P': v = im->proc; break;
    case 'A': v = im->off.alloc; break;
    case 'S': v = im->off.stack; break;
    case 'F': v = im->off.frame; break;
    default: v = im->off.module; break;
    }
    k += (size_t)snprintf(buf + k, sizeof buf - k, "%lld", (long long)v);
  }
  buf[k] = 0;
  return prep(im, buf);
}

static int run(Imp *im, const char *spool_path, const LrImportOpts *opts) {
  if (exec(im, "BEGIN")) return -1;
  int oom = 0;
  if (!(im->rows = lr_rows_new(im->db, im->proc, im->off.alloc, im->off.stack, &oom)))
    rows_fail(im, oom);
  if (!im->failed && !(im->trie = lr_stack_trie_new(im->db, "main", &oom))) {
    if (oom) lr_err_set(im->err, "%s: out of memory", spool_path), im->failed = 1;
    db_fail(im, "stack_nodes");
  }
  im->st_frame = prep_proc(im, "INSERT INTO main.frames(id, module_id, rel_pc) "
                               "VALUES(?1 + %F,?2 + %M,?3)");
  im->st_module = prep_proc(im, "INSERT INTO main.modules(id, path, build_id, base, size, "
                                "load_seq) VALUES(?1 + %M,?2,?3,?4,?5,?6)");
  im->st_unmodule = prep_proc(im, "UPDATE main.modules SET unload_seq = ?1 WHERE id = ?2 + %M");
  im->st_rss = prep_proc(im, "INSERT INTO main.rss_samples(seq, ns, rss, anon, file, shmem, "
                             "swap, pss, process_id) VALUES(?,?,?,?,?,?,?,?,%P)");
  /* markers' ids: the next rowid, past every previous process's */
  im->st_mark = prep_proc(im, "INSERT INTO main.markers(seq, ns, thread_id, name, process_id) "
                              "VALUES(?,?,?,?,%P)");
  im->st_param = prep_proc(im, "INSERT INTO main.params(seq, ns, name, value_int, value_text, "
                               "process_id) VALUES(?,?,?,?,?,%P)");
  im->st_meta = prep_proc(im, "INSERT OR REPLACE INTO main.process_meta(process_id, key, value) "
                              "VALUES(%P,?,?)");
  if (im->failed) return -1;
  if (build_streams(im) != 0) return lr_err_set(im->err, "%s: out of memory", spool_path);
  merge(im);
  for (LrSpoolRec side; lr_spool_side_next(im->sp, UINT64_MAX, im->max_seq, &side);)
    process(im, &side); /* outside samples after the last record */
  LrPyfHost ph = {im, py_frame, py_module, py_stack}; /* every native stack is in now */
  if (!im->failed && lr_pyf_finish(im->py, im->db, &im->off, &ph, &im->stacks, &im->max_stack,
                                   spool_path, im->err) != 0)
    im->failed = 1;
  flush(im);
  write_meta(im, spool_path, opts ? opts->killed_by : 0);
  if (im->failed) return -1;
  if (exec(im, "COMMIT")) return -1;
  return im->failed ? -1 : 0;
}

int lr_stage_import(sqlite3 *db, int64_t proc, const LrIdOff *off, LrIdOff *last,
                    const char *spool_path, const char *out_path, const LrImportOpts *opts,
                    LrImportStats *stats, LrAggSort *sorted, LrErr *err) {
  (void)out_path;
  LrSpool *sp = lr_spool_open(spool_path, err);
  if (!sp) return -1;
  Imp im;
  memset(&im, 0, sizeof im);
  im.db = db;
  im.proc = proc;
  im.off = *off;
  im.spool_path = spool_path;
  im.sp = sp;
  im.err = err;
  im.opts = opts;
  im.sorted = sorted;
  clock_gettime(CLOCK_MONOTONIC, &im.t0);
  im.life = lr_life_new(lr_spool_header(sp)->page_size, put_row, &im);
  int rc = -1;
  if (!im.life)
    lr_err_set(err, "%s: out of memory", spool_path);
  else
    rc = run(&im, spool_path, opts);
  if (rc != 0) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  if (last) {
    *last = *off;
    last->alloc += (int64_t)im.max_alloc;
    last->stack += (int64_t)im.max_stack;
    last->frame += (int64_t)im.fr_n;
    last->module += (int64_t)im.nmods;
    last->marker = off->marker;
    sqlite3_stmt *st = NULL;
    if (rc == 0 && sqlite3_prepare_v2(db, "SELECT max(id) FROM main.markers", -1, &st, NULL) ==
                       SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_type(st, 0) != SQLITE_NULL)
      last->marker = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  if (stats) {
    const LrSpoolStats *ss = lr_spool_stats(sp);
    memset(stats, 0, sizeof *stats);
    stats->events = im.events;
    stats->records = ss->records;
    stats->stacks = im.stacks;
    stats->frames = im.fr_n;
    stats->modules = im.nmods;
    stats->allocations = im.life ? lr_life_stats(im.life)->rows : 0;
    stats->chunks = ss->chunks;
    stats->chunks_corrupt = ss->chunks_corrupt;
    stats->chunks_truncated = ss->truncated;
    if (im.life) {
      const LrLifeStats *ls = lr_life_stats(im.life);
      stats->unmatched_frees = ls->unmatched_frees;
      stats->peak_heap = ls->peak_heap;
      stats->peak_heap_seq = ls->peak_heap_seq;
    }
    stats->peak_rss = im.peak_rss;
    snprintf(stats->end_reason, sizeof stats->end_reason, "%s",
             end_reason(lr_spool_header(sp), opts ? opts->killed_by : 0));
  }
  /* the stages in their order, each once: this process's indexes grew with
  ** its rows; frames are named and the other indexes built at the end of
  ** the run (merge.c), the aggregates next */
  if (rc == 0) progress(&im, LR_IMPORT_INDEX);
  if (rc == 0) progress(&im, LR_IMPORT_SYMBOLS);
  if (rc == 0) progress(&im, LR_IMPORT_AGGREGATES);
  if (im.failed) rc = -1;
  imp_free(&im);
  lr_spool_close(sp);
  return rc;
}

int lr_import_default_out(const char *spool_path, char *buf, size_t len) {
  size_t n = strlen(spool_path), sl = strlen(LR_SPOOL_SUFFIX);
  int w;
  if (n > sl && !strcmp(spool_path + n - sl, LR_SPOOL_SUFFIX))
    w = snprintf(buf, len, "%.*s", (int)(n - sl), spool_path);
  else
    w = snprintf(buf, len, "%s.db", spool_path);
  return w < 0 || (size_t)w >= len ? -1 : 0;
}

int lr_import_is_spool(const char *path) { return lr_spool_is_spool(path); }

int lr_import_made_from(const char *trace_path, const char *spool_path, LrErr *err) {
  LrSpool *sp = lr_spool_open(spool_path, err);
  if (!sp) return -1;
  LrTrace *t = lr_trace_open(trace_path, err);
  if (!t) {
    lr_spool_close(sp);
    return -1;
  }
  const LrSpoolHeader *h = lr_spool_header(sp);
  sqlite3_stmt *st = NULL;
  int same = 0;
  long long pid = -1, ex = -1, n = 0;
  char when[64] = "?";
  /* any process of the run: the spool may be a child's or an exec'd image's */
  if (sqlite3_prepare_v2(lr_trace_db(t),
                         "SELECT (SELECT count(*) FROM main.processes WHERE pid = ?1 AND "
                         "exec_index = ?2 AND start_realtime_ns = ?3), pid, exec_index, "
                         "(SELECT count(*) FROM main.processes), "
                         "strftime('%Y-%m-%dT%H:%M:%fZ', start_realtime_ns / 1e9, 'unixepoch') "
                         "FROM main.processes ORDER BY id LIMIT 1",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, (int64_t)h->pid);
    sqlite3_bind_int64(st, 2, (int64_t)h->exec_index);
    sqlite3_bind_int64(st, 3, (int64_t)h->start_realtime_ns);
    if (sqlite3_step(st) == SQLITE_ROW) {
      same = sqlite3_column_int64(st, 0) > 0;
      pid = sqlite3_column_int64(st, 1);
      ex = sqlite3_column_int64(st, 2);
      n = sqlite3_column_int64(st, 3);
      snprintf(when, sizeof when, "%s", (const char *)sqlite3_column_text(st, 4));
    }
  }
  sqlite3_finalize(st);
  if (!same)
    lr_err_set(err, "%s: holds the trace of another process (pid %lld, image %lld, started %s%s), "
                    "not of %s (pid %llu, image %llu)",
               trace_path, pid, ex, when, n > 1 ? ", and its children" : "", spool_path,
               (unsigned long long)h->pid, (unsigned long long)h->exec_index);
  lr_trace_close(t);
  lr_spool_close(sp);
  return same;
}

static const char *const stage_names[] = {"merging", "indexing", "naming frames",
                                          "aggregates"};

char *lr_import_progress_text(const LrImportProgress *p, char *buf, size_t len) {
  if (!len) return buf;
  const char *stage = (unsigned)p->stage < sizeof stage_names / sizeof stage_names[0]
                          ? stage_names[p->stage] : "importing";
  char ev[32], rate[32], left[48] = "";
  double e = (double)p->events, r = p->seconds > 0 ? e / p->seconds : 0;
  if (e >= 1e6) snprintf(ev, sizeof ev, "%.2fM", e / 1e6);
  else if (e >= 1e3) snprintf(ev, sizeof ev, "%.1fk", e / 1e3);
  else snprintf(ev, sizeof ev, "%.0f", e);
  if (r >= 1e6) snprintf(rate, sizeof rate, "%.2fM/s", r / 1e6);
  else if (r >= 1e3) snprintf(rate, sizeof rate, "%.0fk/s", r / 1e3);
  else snprintf(rate, sizeof rate, "%.0f/s", r);
  if (p->stage == LR_IMPORT_MERGE && p->chunks_done > 0 && p->chunks >= p->chunks_done &&
      p->seconds > 0.2) {
    double t = p->seconds * (double)(p->chunks - p->chunks_done) / (double)p->chunks_done;
    snprintf(left, sizeof left, ", %.0f s left", t + 0.5);
  }
  char who[48] = "";
  if (p->processes > 1)
    snprintf(who, sizeof who, "process %u of %u, ", (unsigned)p->process, (unsigned)p->processes);
  snprintf(buf, len, "%s%s: %s events, %s, %.1f s%s", who, stage, ev, rate, p->seconds, left);
  return buf;
}

LrTrace *lr_import_open(const char *path, const LrImportOpts *opts, LrErr *err) {
  struct stat st;
  if (stat(path, &st) != 0) {
    if (errno != ENOENT) {
      lr_err_set(err, "%s: %s", path, strerror(errno));
      return NULL;
    }
    /* run.db missing but run.db.spool there: the plain-mode case */
    size_t n = strlen(path) + sizeof LR_SPOOL_SUFFIX;
    char *spool = malloc(n);
    if (!spool) {
      lr_err_set(err, "%s: out of memory", path);
      return NULL;
    }
    snprintf(spool, n, "%s%s", path, LR_SPOOL_SUFFIX);
    if (stat(spool, &st) != 0) {
      lr_err_set(err, "%s: no such file (and no spool %s)", path, spool);
      free(spool);
      return NULL;
    }
    LrRunSpool *run = NULL;
    long nr = lr_import_gather(spool, &run, err);
    int rc = nr < 0 ? -1 : lr_import_run(run, (size_t)nr, path, opts, NULL, err);
    free(run);
    free(spool);
    return rc == 0 ? lr_trace_open(path, err) : NULL;
  }
  if (S_ISREG(st.st_mode) && lr_spool_is_spool(path)) {
    char out[4096];
    if (lr_import_default_out(path, out, sizeof out) != 0) {
      lr_err_set(err, "%s: path too long", path);
      return NULL;
    }
    if (stat(out, &st) == 0) { /* imported before, if it is this spool's */
      if (lr_import_made_from(out, path, err) != 1) return NULL;
      return lr_trace_open(out, err);
    }
    LrRunSpool *run = NULL;
    long nr = lr_import_gather(path, &run, err);
    int rc = nr < 0 ? -1 : lr_import_run(run, (size_t)nr, out, opts, NULL, err);
    free(run);
    return rc == 0 ? lr_trace_open(out, err) : NULL;
  }
  return lr_trace_open(path, err);
}
