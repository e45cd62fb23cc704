/*
** spool_writer.h: the writing side of the spool (schemas/lr_spool_format.h).
**
** An LrSpool is one open spool file: its mapped header and the atomic chunk
** counter. An LrSpoolWriter is one writer's state (a thread's, or the RSS
** sampler's): the chunk it owns and its delta state. Writers never share a
** chunk, so appending takes no lock; claiming a chunk is one atomic add plus
** a reservation (fallocate) and a mapping. A writer's first chunk is one
** unit (LR_CHUNK_UNIT, 16 KiB, or a page if larger: the header's
** chunk_size), each next one twice the last up to LrSpoolOpts.chunk_size:
** a thread that makes a few events takes 16 KiB of spool and of address
** space, a busy one claims a chunk per chunk_size bytes as before.
**
** Invariants:
**   1. A chunk is reserved on disk before it is mapped, so a store to it can
**      never raise SIGBUS for lack of space. If a reservation fails the spool
**      is marked LR_SPOOL_CUT_SHORT and every later lr_sw_begin fails.
**   2. `used` in the mapped chunk header is stored (release) only after the
**      record bytes before it are complete (lr_sw_commit).
**   3. prev_seq/prev_ns/prev_addr restart at 0 with every chunk, and
**      lr_sw_begin is called before a record is encoded, so a record never
**      straddles two chunks or two delta states.
**   4. Nothing here calls malloc; the LrSpool itself lives in an anonymous
**      mapping.
**   5. The spool's fd lives above the program's range (F_DUPFD_CLOEXEC to
**      LR_FD_HIGH or the highest free number below the fd limit), and it is
**      checked (fstat: the spool's dev and inode) before every reservation
**      and mapping, and before it is closed. A program that closed it (bash
**      `exec 3>&-`, closefrom) or put its own file on that number gets its
**      file left alone: the shim reopens the spool by its absolute path, or,
**      if that names another file or nothing, marks the spool
**      CUT_SHORT | FD_LOST (through the mapped header) and stops recording.
**      The already-mapped chunks and header never need the fd.
*/
#ifndef LR_SPOOL_WRITER_H
#define LR_SPOOL_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "lr_spool_format.h"

typedef struct LrSpool LrSpool;

/* A thread's first chunk (and the header's chunk_size unit), unless the
** page is larger: 16 KiB pages on arm64 phones, 4 KiB elsewhere. */
#define LR_CHUNK_UNIT (16u << 10)

typedef struct LrSpoolOpts {
  uint32_t chunk_size;      /* the largest chunk (rounded up to units) */
  uint32_t stack_depth;
  uint32_t rss_interval_ms;
  uint32_t unwinder;        /* 0 libunwind, 1 frame pointers */
  uint64_t pid, ppid, exec_index;
  uint64_t start_mono_ns, start_realtime_ns;
  uint64_t mem_total;
  const char *path;         /* absolute path, to reopen a lost fd (NULL: never) */
} LrSpoolOpts;

/* One writer. Its fields are private to spool_writer.c; the struct is in
** the header only so that the shim can keep it in initial-exec TLS. */
typedef struct LrSpoolWriter {
  LrSpool *spool;
  uint8_t *chunk;       /* mapped chunk, NULL when none */
  uint32_t used, cap;   /* payload bytes written / available */
  uint32_t maplen;      /* bytes mapped at chunk */
  uint32_t next_units;  /* the size of the next chunk, in units (0: one) */
  uint32_t tid;
  uint32_t failed;      /* set once a chunk could not be claimed */
  uint64_t prev_seq, prev_ns;
  int64_t prev_addr;
} LrSpoolWriter;

/* Takes ownership of the open, empty, writable `fd` (closed on failure):
** moves it high (invariant 5), sizes it, maps and fills the header.
** Returns 0, or -errno. */
int lr_spool_create(LrSpool **out, int fd, const LrSpoolOpts *opts);
/* Moves fd to the lowest free number at or above 1000 (or the highest
** range below the fd limit), close-on-exec, closing the original; returns
** the new number (fd itself if none was free). */
int lr_fd_move_high(int fd);
/* The spool's fd after checking it still names the spool (reopening it by
** path if not); -1 if it is lost. */
int lr_spool_verified_fd(LrSpool *s);
/* How many times the fd was found lost and reopened. */
uint32_t lr_spool_reopens(const LrSpool *s);
/* Unmaps and closes without touching the file (a fork child's copy of its
** parent's spool). */
void lr_spool_abandon(LrSpool *s);
/* Unmaps and closes (the file stays as written). */
void lr_spool_close(LrSpool *s);
LrSpoolHeader *lr_spool_header(LrSpool *s);
/* The unit (the header's chunk_size) and the largest chunk, in bytes. */
uint32_t lr_spool_chunk_size(const LrSpool *s);
uint32_t lr_spool_chunk_max(const LrSpool *s);
/* Marks how the run ended (first caller wins); async-signal-safe. */
void lr_spool_end(LrSpool *s, uint32_t reason, int64_t code, uint64_t ns);
/* Nonzero once the spool was cut short. */
int lr_spool_cut_short(const LrSpool *s);
/* The errno of the reservation or mapping that cut it short (0: none, or
** the fd was lost). */
int lr_spool_error(const LrSpool *s);

/* Starts a writer on `s` for thread `tid` (no chunk is claimed yet). */
void lr_sw_init(LrSpoolWriter *w, LrSpool *s, uint32_t tid);
/* Room for a record of at most `max` bytes: returns where to encode it, or
** NULL if recording stopped (cut short). May seal the current chunk and
** claim a new one (resetting the delta state), so call it before encoding. */
uint8_t *lr_sw_begin_slow(LrSpoolWriter *w, size_t max);
static inline uint8_t *lr_sw_begin(LrSpoolWriter *w, size_t max) {
  if (__builtin_expect(w->chunk != NULL && w->cap - w->used >= max, 1))
    return w->chunk + sizeof(LrChunkHeader) + w->used;
  return lr_sw_begin_slow(w, max);
}
/* Publishes the record that ends at `end` (invariant 2). */
static inline void lr_sw_commit(LrSpoolWriter *w, uint8_t *end) {
  w->used = (uint32_t)(end - (w->chunk + sizeof(LrChunkHeader)));
  __atomic_store_n(&((LrChunkHeader *)w->chunk)->used, w->used, __ATOMIC_RELEASE);
}
/* lr_sum64, computed faster (same result). */
uint64_t lr_sw_sum64(const void *data, size_t len);
/* Seals and unmaps the current chunk, if any. */
void lr_sw_seal(LrSpoolWriter *w);
/* Forgets the chunk without writing to it (fork child). */
void lr_sw_drop(LrSpoolWriter *w);

/* Field encoders that update the delta state. */
static inline uint8_t *lr_sw_dseq(LrSpoolWriter *w, uint8_t *p, uint64_t seq) {
  p = lr_put_uv(p, seq - w->prev_seq);
  w->prev_seq = seq;
  return p;
}
static inline uint8_t *lr_sw_dns(LrSpoolWriter *w, uint8_t *p, uint64_t ns) {
  /* the clock is monotonic per thread, but guard against a zero-clamped start */
  uint64_t d = ns >= w->prev_ns ? ns - w->prev_ns : 0;
  w->prev_ns += d;
  return lr_put_uv(p, d);
}
static inline uint8_t *lr_sw_daddr(LrSpoolWriter *w, uint8_t *p, uint64_t addr) {
  p = lr_put_sv(p, (int64_t)(addr - (uint64_t)w->prev_addr));
  w->prev_addr = (int64_t)addr;
  return p;
}
static inline uint8_t *lr_sw_str(uint8_t *p, const char *s, size_t n) {
  if (n > LR_SPOOL_MAX_STR) n = LR_SPOOL_MAX_STR;
  p = lr_put_uv(p, n);
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)s[i];
  return p + n;
}

/* Whole records. Each returns 0, or -1 if recording stopped. `ev` holds
** what an event record carries; unused fields are ignored. */
typedef struct LrEvent {
  uint32_t kind;          /* LrEventKind */
  uint64_t seq, ns, addr, size, stack;
  uint64_t alignment;     /* memalign family */
  uint64_t old_addr, free_seq, old_size; /* realloc, mremap */
  uint64_t prot, flags, offset;          /* mmap family */
  const char *path;       /* mmap: file path or NULL */
  size_t path_len;
} LrEvent;

int lr_sw_event(LrSpoolWriter *w, const LrEvent *ev);

/* Sets what lr_sw_event reads for a malloc-family or free event (kind,
** seq, ns, addr, size, stack, alignment, path_len), and nothing else: the
** hot hooks fill an LrEvent this way instead of zeroing all 120 bytes of
** it (a `rep stos` per event). Not for realloc or the mmap family. */
static inline void lr_ev_basic(LrEvent *ev, uint32_t kind, uint64_t seq, uint64_t addr,
                               uint64_t size, uint64_t alignment) {
  ev->kind = kind;
  ev->seq = seq;
  ev->ns = 0;
  ev->addr = addr;
  ev->size = size;
  ev->stack = 0;
  ev->alignment = alignment;
  ev->path = 0;
  ev->path_len = 0;
}
int lr_sw_stack(LrSpoolWriter *w, uint64_t id, const uintptr_t *ips, uint32_t n);
int lr_sw_module(LrSpoolWriter *w, uint64_t seq, uint64_t base, uint64_t size,
                 const uint8_t *build_id, size_t build_id_len, const char *path,
                 size_t path_len);
int lr_sw_unmodule(LrSpoolWriter *w, uint64_t seq, uint64_t base);
int lr_sw_rss(LrSpoolWriter *w, uint64_t seq, uint64_t ns, const uint64_t vals[4]);
/* The same with VmSwap (vals[4]): an LR_REC_RSS_SWAP record (minor 1). */
int lr_sw_rss_swap(LrSpoolWriter *w, uint64_t seq, uint64_t ns, const uint64_t vals[5]);
int lr_sw_mark(LrSpoolWriter *w, uint64_t seq, uint64_t ns, const char *name, size_t n);
int lr_sw_param_int(LrSpoolWriter *w, uint64_t seq, uint64_t ns, const char *name,
                    size_t n, int64_t value);
int lr_sw_param_str(LrSpoolWriter *w, uint64_t seq, uint64_t ns, const char *name,
                    size_t n, const char *value, size_t vn);
/* argv as NUL-separated strings (the /proc/self/cmdline form). */
int lr_sw_argv(LrSpoolWriter *w, const char *args, size_t len);
int lr_sw_thread(LrSpoolWriter *w, uint64_t seq, uint64_t ns, uint32_t tid,
                 const char *name, size_t n);

#endif /* LR_SPOOL_WRITER_H */
