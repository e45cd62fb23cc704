/*
** spool_read.h: a bounds-checked reader of lowram spools (format v1, minors 0 to 2,
** schemas/lr_spool_format.h).
**
** The spool comes from a process that may have died at any instruction, or
** from a file someone truncated or damaged, so nothing in it is trusted:
** the header is validated, every chunk is checked against the file size,
** sealed chunks against their checksum, and every varint and length against
** the bytes that are really there. A chunk stops cleanly at its first
** incomplete or invalid record. The file is mapped read-only once; cursors
** decode one chunk each, so the importer can merge several chunks (several
** threads) in sequence order.
**
** Usage:
**   LrSpool *sp = lr_spool_open(path, &err);
**   for (uint32_t i = 0; i < lr_spool_nchunks(sp); i++) {
**     LrSpoolCursor *c = lr_spool_cursor(sp, i);   // NULL: skipped chunk
**     LrSpoolRec r;
**     while (lr_spool_next(c, &r)) ...;
**     lr_spool_cursor_free(c);
**   }
**   lr_spool_close(sp);
*/
#ifndef LR_SPOOL_READ_H
#define LR_SPOOL_READ_H

#include <stddef.h>
#include <stdint.h>

#include "lowram/err.h"
#include "lr_spool_format.h"

typedef struct LrSpool LrSpool;
typedef struct LrSpoolCursor LrSpoolCursor;

/* A string inside the mapped spool (not NUL-terminated). */
typedef struct LrSpoolStr {
  const char *p;
  size_t len;
} LrSpoolStr;

/* One decoded record. Which fields are set depends on `type` (an
** LrEventKind or an LR_REC_*); see lr_spool_format.h for the encoding.
** Pointers (str, frames, argv) stay valid until the next lr_spool_next()
** on the same cursor, or until the spool is closed for str. */
typedef struct LrSpoolRec {
  unsigned type;
  uint32_t tid;         /* the chunk's writer */
  int has_seq;          /* 0 for STACK and ARGV records, whose seq is where
                           they belong: for STACK, when the next event of the
                           chunk (the one using it) began: its seq, or its
                           free_seq for realloc and mremap */
  uint64_t seq, ns;
  uint64_t addr;        /* events: the address; MODULE/UNMODULE: base;
                           PYCODE: the code id; PYEVAL: lo */
  uint64_t size;        /* bytes, length, new_length; MODULE: size;
                           PYCODE: first line; PYEVAL: hi - lo */
  uint64_t stack;       /* stack id (events); STACK: its id */
  uint64_t alignment;   /* memalign family */
  uint64_t old_addr;    /* realloc, mremap */
  uint64_t old_size;    /* mremap: old_length */
  uint64_t free_seq;    /* realloc, mremap: when the old block stopped */
  uint64_t prot, flags, offset; /* mmap (flags also for mremap); mprotect and
                           pkey_mprotect: prot (offset: the pkey); madvise:
                           flags is the advice */
  LrSpoolStr str;       /* mmap path, MARK/PARAM/THREAD name, MODULE path,
                           PYCODE function */
  LrSpoolStr str2;      /* MODULE: build-id bytes; PARAM: text value;
                           PYCODE file */
  uint64_t param_type;  /* PARAM: LR_PARAM_INT or LR_PARAM_STR */
  int64_t param_int;
  uint64_t thread_tid;  /* THREAD: the thread named */
  uint64_t rss[4];      /* RSS: vm_rss, rss_anon, rss_file, rss_shmem */
  uint64_t vm_swap;     /* RSS: VmSwap, when has_swap */
  int has_swap;
  uint64_t pss;         /* RSS: Pss, when has_pss (outside samples only) */
  int has_pss;
  uint32_t nframes;     /* STACK */
  const uint64_t *frames;
  uint32_t argc;        /* ARGV */
  const LrSpoolStr *argv;
} LrSpoolRec;

/* Counters of what the reader saw (cumulative over all cursors). */
typedef struct LrSpoolStats {
  uint64_t chunks;           /* chunks in the file (whole or partial) */
  uint64_t chunks_read;      /* chunks whose records were decoded */
  uint64_t chunks_unused;    /* reserved but never written (bad magic) */
  uint64_t chunks_corrupt;   /* sealed with a wrong checksum, or bad header */
  uint64_t records;          /* records decoded */
  uint64_t truncated;        /* chunks that stopped at an invalid record */
} LrSpoolStats;

/* Opens and validates a spool. NULL with a one-line message naming the
** file on failure (missing, too short, bad magic/version/sizes). */
LrSpool *lr_spool_open(const char *path, LrErr *err);
void lr_spool_close(LrSpool *sp);

/* 1 if the file at path starts with the spool magic (cheap sniff). */
int lr_spool_is_spool(const char *path);

/* The validated header (fields as in the file). */
const LrSpoolHeader *lr_spool_header(const LrSpool *sp);
uint64_t lr_spool_file_size(const LrSpool *sp);
/* Chunks the file holds, the last possibly partial. */
uint32_t lr_spool_nchunks(const LrSpool *sp);
const LrSpoolStats *lr_spool_stats(const LrSpool *sp);

/* The writer tid of chunk i without decoding it: 0 if the chunk is out of
** range, unused (bad magic) or not within the file; 1 with *tid set. */
int lr_spool_chunk_tid(const LrSpool *sp, uint32_t i, uint32_t *tid);
/* A cursor over chunk i, or NULL if that chunk is unused or corrupt
** (counted in the stats) or out of memory. */
LrSpoolCursor *lr_spool_cursor(LrSpool *sp, uint32_t i);
/* Decodes the next record: 1 if *r was filled, 0 at the end of the chunk
** (whole or at the first invalid record, which is counted). */
int lr_spool_next(LrSpoolCursor *c, LrSpoolRec *r);
uint32_t lr_spool_cursor_tid(const LrSpoolCursor *c);

/* Outside samples (SPOOL.md, "Outside samples"): `lowram record` samples
** /proc/PID/status of every traced process from outside and leaves them
** beside the spool, in PATH.rss, which lr_spool_open loads. The importer
** merges them by time: before each record that has a seq, it asks for the
** samples taken before that record's ns, each given `seq` = the last seq
** it processed (the last event at or before the sample's time); after the
** last record, for the rest (before_ns UINT64_MAX). 1 with *out filled
** (an LR_REC_RSS record with has_swap), 0 when none is due. */
int lr_spool_side_next(LrSpool *sp, uint64_t before_ns, uint64_t seq, LrSpoolRec *out);
/* How many outside samples were loaded. */
size_t lr_spool_side_count(const LrSpool *sp);
void lr_spool_cursor_free(LrSpoolCursor *c);

#endif
