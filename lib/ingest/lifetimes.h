/*
** lifetimes.h: the lifetime model of the importer. Fed the allocation and
** mapping events of a spool in sequence order, it works out when every heap
** block and every mapping (or piece of one) started and ended, and hands
** each lifetime over as one row (allocations table, schemas/README.md).
** No SQLite here: the importer writes the rows; tests could feed it too.
**
** realloc and mremap happen at two numbers: the old block stops at
** free_seq, the new one starts at seq. The caller passes such an event at
** its key (lr_life_key() = free_seq) and the second half waits inside until
** the caller runs it (lr_life_pending_seq / lr_life_run_pending) before any
** other event with a larger key.
**
** Invariants:
**   1. The heap table holds exactly the live malloc-family blocks, keyed by
**      address (address 0 is never live); a row is emitted when a block
**      ends, or by lr_life_flush for blocks still live.
**   2. Live mappings are kept sorted by start, never overlapping
**      ([start, end) page-rounded); a new mapping first ends what it covers.
**   3. heap_live is the sum of the sizes of live heap blocks.
*/
#ifndef LR_LIFETIMES_H
#define LR_LIFETIMES_H

#include <stdint.h>

#include "ingest/spool_read.h"

/* LR_REGION_RESERVED: anonymous address space that is mapped PROT_NONE
** (mmap PROT_NONE, or mprotect(PROT_NONE) of committed bytes): reserved,
** not committed, never part of the peak. mprotect that makes reserved
** bytes accessible ends that piece of the reservation and starts an 'anon'
** piece (kind mprotect) over exactly those pages, and back; MAP_FIXED over
** a reservation does the same through the mmap rules (invariant 2). A
** change of protection that keeps the region (RW to R, a file mapping's)
** makes no row: prot stays what the mapping started with. */
enum { LR_REGION_HEAP, LR_REGION_ANON, LR_REGION_FILE, LR_REGION_RESERVED };

/* The name of an LR_REGION_* ("heap", "anon", "file", "reserved"). */
const char *lr_life_region_name(unsigned region);

typedef struct LrLifeRow {
  uint64_t id;            /* in the order lifetimes started, from 1 */
  unsigned kind;          /* LrEventKind that started it */
  unsigned region;        /* LR_REGION_* */
  uint64_t address, size;
  uint64_t alloc_seq, alloc_ns;
  const char *free_kind;  /* NULL: still live at the end */
  uint64_t free_seq, free_ns;
  uint32_t tid;
  uint64_t stack;         /* 0: none */
  int has_alignment;
  uint64_t alignment;
  int is_mapping;         /* prot, flags valid */
  uint64_t prot, flags;
  const char *file;       /* file mappings: path (valid during the call) */
  uint64_t file_offset;
} LrLifeRow;

typedef void (*LrLifeRowFn)(void *ctx, const LrLifeRow *row);

typedef struct LrLifeStats {
  int64_t heap_live, peak_heap;
  uint64_t peak_heap_seq;
  uint64_t unmatched_frees;   /* free/realloc of an address not live */
  uint64_t unmatched_munmaps; /* munmap/mremap of a range with no mapping */
  uint64_t unmatched_allocs;  /* allocation at an address still live */
  uint64_t released_bytes;    /* madvise DONTNEED/FREE/REMOVE over committed anonymous
                                 mappings: the pages' bytes inside them (RSS given
                                 back; committed bytes unchanged) */
  uint64_t released_calls;    /* such madvise calls that touched one */
  uint64_t rows;
} LrLifeStats;

typedef struct LrLife LrLife;

LrLife *lr_life_new(uint64_t page_size, LrLifeRowFn fn, void *ctx);
void lr_life_free(LrLife *l);

/* The seq an event record is to be merged at (free_seq for realloc,
** reallocarray and mremap, seq otherwise). */
uint64_t lr_life_key(const LrSpoolRec *r);

/* Applies one event record (types LR_EV_*; other types are ignored).
** 0, or -1 when out of memory. */
int lr_life_event(LrLife *l, const LrSpoolRec *r);

/* 1 with *seq set if a second half is waiting, 0 if none. */
int lr_life_pending_seq(const LrLife *l, uint64_t *seq);
/* Runs the waiting second half with the smallest seq. 0, or -1 (memory). */
int lr_life_run_pending(LrLife *l);

/* Runs what is pending, then emits a row for everything still live. */
int lr_life_flush(LrLife *l);

const LrLifeStats *lr_life_stats(const LrLife *l);

#endif
