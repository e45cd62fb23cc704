/*
** agg_pass.h: the state of the aggregate pass (agg.c), shared with the code
** that loads its inputs besides the rows and stores its tables (agg_store.c).
** Internal to lib/query: only those two files include it.
*/
#ifndef LR_AGG_PASS_H
#define LR_AGG_PASS_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "lowram/err.h"
#include "query/agg.h"

/* R_RESERVED: PROT_NONE anonymous address space (region 'reserved'):
** tracked, never in the peak, the largest blocks, stacks or live sets. */
enum { R_HEAP, R_ANON, R_FILE, R_RESERVED };

/* Byte sums wrap modulo 2^64 instead of overflowing: a damaged or hostile
** spool can claim sizes near 2^63, and signed overflow would be undefined
** behaviour. Real traces never come near the limit, so their sums are exact;
** a wrapped sum comes back to the exact value once the blocks are freed. */
static inline int64_t wadd(int64_t a, int64_t b) {
  return (int64_t)((uint64_t)a + (uint64_t)b);
}
static inline int64_t wsub(int64_t a, int64_t b) {
  return (int64_t)((uint64_t)a - (uint64_t)b);
}

typedef struct Pending {
  int64_t free_seq, free_ns, size;
  int region;
} Pending;

typedef struct StackStat {
  int64_t id; /* INT64_MIN: empty slot */
  int64_t calls, bytes, max_size, temp_calls, temp_bytes, leak_calls, leak_bytes;
} StackStat;

typedef struct ThreadLast {
  int64_t tid; /* INT64_MIN: empty slot */
  int has;
  int64_t stack_id, size, free_seq; /* free_seq -1: never freed */
} ThreadLast;

typedef struct Bucket {
  int used;
  int64_t start_seq, end_seq, max_live, max_seq, max_ns, heap, anon, file;
} Bucket;

typedef struct Phase {
  char *name;
  int64_t marker_id, nth, start_seq, start_ns, end_seq, end_ns;
  int64_t start_live, end_live, peak_live, peak_seq, peak_ns;
} Phase;

typedef struct Big {
  int64_t size, id;
} Big;

/* An rss_samples row of the process: its live bytes are set when the pass
** passes its seq (invariant 4) and stored as rss_samples.allocated. */
typedef struct Sample {
  int64_t rowid, seq, allocated;
} Sample;

/* Calls and bytes of one (kind, region): agg_kinds. Kinds are the dozen
** allocation calls, so a short list searched in order is enough. */
typedef struct KindStat {
  char kind[32];
  int region;
  int64_t calls, bytes;
} KindStat;
enum { MAX_KINDS = 64 };

typedef struct Pass {
  sqlite3 *db;
  const char *path;
  const char *schema;
  LrErr *err;
  Pending *pend;
  size_t npend, cappend;
  StackStat *stk;
  size_t nstk, capstk;
  ThreadLast *thr;
  size_t nthr, capthr;
  Bucket buckets[LR_AGG_BUCKETS];
  int64_t bucket_ns0, bucket_w;
  Phase *ph;
  size_t nph, capph;
  Big big[LR_AGG_LARGEST];
  size_t nbig;
  int64_t live[4];
  int64_t peak, peak_seq, peak_ns, peak_heap, peak_anon, peak_file;
  int64_t peak_reserved, reserved_peak;
  int64_t heap_peak, heap_peak_seq, file_peak, file_peak_seq;
  int64_t first_seq, last_seq, last_ns, groups, nalloc, nfree;
  sqlite3_stmt *ins_ckpt, *ins_map;
  LrAggNext next;    /* the rows, in (alloc_seq, id) order */
  void *next_ctx;
  int64_t proc;      /* > 0: the importer's process (samples are set) */
  Sample *smp;
  size_t nsmp, ismp;
  KindStat kinds[MAX_KINDS];
  size_t nkinds;
} Pass;

/* Errors: set p->err (naming the trace) and return -1. */
int lr_aggp_dberr(Pass *p, const char *what);
int lr_aggp_oom(Pass *p);
/* Grows *v to hold `need` elements of `elem` bytes; nonzero when out of memory. */
int lr_aggp_grow(void **v, size_t *cap, size_t need, size_t elem);

/* agg_store.c */
int lr_aggp_exec(Pass *p, const char *sql);
int lr_aggp_prep(Pass *p, sqlite3_stmt **st, const char *fmt);
int lr_aggp_step_done(Pass *p, sqlite3_stmt *st, const char *what);
int lr_aggp_create_tables(Pass *p);
/* rss_samples.allocated (invariant 4 of agg.c) */
int lr_aggp_load_samples(Pass *p);
void lr_aggp_samples_upto(Pass *p, int64_t seq);
int lr_aggp_store_samples(Pass *p);
void lr_aggp_kind_note(Pass *p, const char *kind, int region, int64_t size);
int lr_aggp_store_kinds(Pass *p);
/* agg_info, the last checkpoint, agg_timeline, agg_phases, agg_stacks, agg_largest */
int lr_aggp_store_main(Pass *p);

#endif
