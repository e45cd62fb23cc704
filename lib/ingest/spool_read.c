/*
** spool_read.c: see spool_read.h. The whole file is mapped read-only; every
** read goes through a Rd (a [p, end) window) whose helpers fail instead of
** reading past end, so a damaged or truncated spool can only end a chunk
** early, never make the reader touch memory outside the mapping.
*/
#include "ingest/spool_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A sample the recorder took from outside (SPOOL.md, "Outside samples"). */
typedef struct SideSample {
  uint64_t ns; /* relative to start_mono_ns */
  uint64_t v[5]; /* vm_rss, rss_anon, rss_file, rss_shmem, vm_swap */
  int64_t pss;   /* Pss, -1 when not sampled ("-", or a 6-column line) */
} SideSample;

struct LrSpool {
  const uint8_t *map;
  size_t size;
  LrSpoolHeader hdr;
  uint32_t nchunks;
  uint32_t *unit;    /* chunk i starts at unit[i] (units of chunk_size) */
  uint32_t *span;    /* and spans span[i] units (minor 2; 1 before) */
  LrSpoolStats stats;
  SideSample *side;  /* from PATH.rss, in time order */
  size_t nside, side_next;
};

struct LrSpoolCursor {
  LrSpool *sp;
  uint32_t tid;
  const uint8_t *p, *end; /* undecoded payload left */
  const uint8_t *start;   /* the chunk's payload */
  int stopped;            /* hit an invalid record: no more from this chunk */
  uint64_t prev_seq, prev_ns, prev_addr; /* invariant 5: reset per chunk */
  uint64_t frames[LR_SPOOL_MAX_FRAMES];
  LrSpoolStr *argv;
  uint32_t argv_cap;
  /* peek_seq's last answer: the record at peek_stop ends a run of STACK and
  ** ARGV records (which change no delta state), so every STACK of that run
  ** gets the same seq; scanning the run once keeps decoding linear. */
  const uint8_t *peek_stop;
  uint64_t peek_val;
};

/* Longest argv the reader accepts. */
#define MAX_ARGC 65536u

typedef struct Rd {
  const uint8_t *p, *end;
} Rd;

static int rd_uv(Rd *r, uint64_t *out) {
  uint64_t v = 0;
  for (int i = 0; i < 10; i++) {
    if (r->p >= r->end) return 0;
    uint8_t b = *r->p++;
    if (i == 9 && b > 1) return 0; /* would overflow 64 bits */
    v |= (uint64_t)(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      *out = v;
      return 1;
    }
  }
  return 0;
}

static int rd_sv(Rd *r, int64_t *out) {
  uint64_t u;
  if (!rd_uv(r, &u)) return 0;
  *out = (int64_t)((u >> 1) ^ (~(u & 1) + 1));
  return 1;
}

static int rd_str(Rd *r, LrSpoolStr *s) {
  uint64_t n;
  if (!rd_uv(r, &n) || n > LR_SPOOL_MAX_STR || n > (uint64_t)(r->end - r->p)) return 0;
  s->p = (const char *)r->p;
  s->len = (size_t)n;
  r->p += n;
  return 1;
}

int lr_spool_is_spool(const char *path) {
  /* never block on a FIFO or a device: only a regular file can be a spool */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return 0;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return 0;
  }
  char m[8];
  ssize_t n = read(fd, m, sizeof m);
  close(fd);
  return n == (ssize_t)sizeof m && !memcmp(m, LR_SPOOL_MAGIC, 8);
}

static int pow2(uint64_t v) { return v && !(v & (v - 1)); }

/* Loads PATH.rss if it is there: one sample per line, "MONO_NS VM_RSS
** RSS_ANON RSS_FILE RSS_SHMEM VM_SWAP [PSS]" (decimal; CLOCK_MONOTONIC ns,
** bytes; PSS is "-" when it was not sampled then, and absent in files of
** recorders before it). Lines that do not parse, samples from before the
** spool's start and samples out of time order are left out; a missing or
** unreadable file is no samples. */
static void load_side(LrSpool *sp, const char *path) {
  char side[4200];
  if (snprintf(side, sizeof side, "%s.rss", path) >= (int)sizeof side) return;
  FILE *f = fopen(side, "re");
  if (!f) return;
  char line[256];
  size_t cap = 0;
  uint64_t last = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long long a[7];
    char extra;
    int at = 0, end = 0;
    if (sscanf(line, "%llu %llu %llu %llu %llu %llu %n", &a[0], &a[1], &a[2], &a[3], &a[4],
               &a[5], &at) != 6 || !at)
      continue;
    int64_t pss = -1;
    const char *rest = line + at;
    if (rest[0] == '-' && sscanf(rest + 1, " %c", &extra) != 1) {
      /* PSS not sampled at this line */
    } else if (sscanf(rest, "%llu %n", &a[6], &end) == 1 && !rest[end] && a[6] <= INT64_MAX) {
      pss = (int64_t)a[6];
    } else if (sscanf(rest, " %c", &extra) == 1) {
      continue; /* something else after the six numbers */
    }
    if (a[0] < sp->hdr.start_mono_ns) continue;
    uint64_t ns = a[0] - sp->hdr.start_mono_ns;
    if (sp->nside && ns < last) continue;
    if (sp->nside == cap) {
      size_t nc = cap ? cap * 2 : 256;
      SideSample *n = realloc(sp->side, nc * sizeof *n);
      if (!n) break;
      sp->side = n;
      cap = nc;
    }
    SideSample *x = &sp->side[sp->nside++];
    x->ns = last = ns;
    for (int i = 0; i < 5; i++) x->v[i] = a[i + 1];
    x->pss = pss;
  }
  fclose(f);
}

/* Where the chunks are: a chunk's header says how many units it spans
** (minor 2: threads start with small chunks that grow); a unit with no
** valid header (reserved, never written: the writer died, or a thread's
** claim that lost the race to the end) is a chunk of one unit the cursor
** skips. A header is trusted for its span only with its magic and its own
** unit index; the chunk's bytes are checked by the cursor as before. */
static int find_chunks(LrSpool *sp) {
  const LrSpoolHeader *h = &sp->hdr;
  uint64_t n = (sp->size - h->header_size + h->chunk_size - 1) / h->chunk_size;
  uint32_t units = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
  sp->unit = malloc((size_t)units * sizeof *sp->unit);
  sp->span = malloc((size_t)units * sizeof *sp->span);
  if (!sp->unit || !sp->span) return -1;
  uint32_t k = 0, max_span = (1u << 30) / h->chunk_size;
  for (uint32_t u = 0; u < units;) {
    uint64_t off = (uint64_t)h->header_size + (uint64_t)u * h->chunk_size;
    uint32_t span = 1;
    LrChunkHeader ch;
    if (sp->size - off >= sizeof ch) {
      memcpy(&ch, sp->map + off, sizeof ch);
      if (ch.magic == LR_CHUNK_MAGIC && ch.index == u && ch.span > 1 && ch.span <= max_span)
        span = ch.span;
    }
    sp->unit[k] = u;
    sp->span[k] = span;
    k++;
    u = span > units - u ? units : u + span;
  }
  sp->nchunks = k;
  return 0;
}

LrSpool *lr_spool_open(const char *path, LrErr *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block */
  if (fd < 0) {
    lr_err_set(err, "%s: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    lr_err_set(err, "%s: not a regular file", path);
    close(fd);
    return NULL;
  }
  if ((uint64_t)st.st_size < sizeof(LrSpoolHeader)) {
    lr_err_set(err, "%s: not a lowram spool (%lld bytes, shorter than a spool header)", path,
               (long long)st.st_size);
    close(fd);
    return NULL;
  }
  if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX) {
    lr_err_set(err, "%s: too large to map", path);
    close(fd);
    return NULL;
  }
  void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) {
    lr_err_set(err, "%s: cannot map: %s", path, strerror(errno));
    return NULL;
  }
  LrSpool *sp = calloc(1, sizeof *sp);
  if (!sp) {
    munmap(map, (size_t)st.st_size);
    lr_err_set(err, "%s: out of memory", path);
    return NULL;
  }
  sp->map = map;
  sp->size = (size_t)st.st_size;
  memcpy(&sp->hdr, map, sizeof sp->hdr);
  const LrSpoolHeader *h = &sp->hdr;
  const char *bad = NULL;
  char why[160];
  if (memcmp(h->magic, LR_SPOOL_MAGIC, 8)) bad = "not a lowram spool (bad magic)";
  else if (h->version != LR_SPOOL_VERSION) {
    snprintf(why, sizeof why, "spool format version %u, this lowram reads %u", h->version,
             LR_SPOOL_VERSION);
    bad = why;
  } else if (h->header_size < sizeof(LrSpoolHeader) || h->header_size > (1u << 20) ||
             h->header_size % 8)
    bad = "corrupt spool header (header_size)";
  else if (!pow2(h->page_size) || h->page_size < 1024 || h->page_size > (1u << 20))
    bad = "corrupt spool header (page_size)";
  else if (h->chunk_size < h->page_size || h->chunk_size % h->page_size ||
           h->chunk_size > (1u << 30))
    bad = "corrupt spool header (chunk_size)";
  else if (h->pointer_size != 4 && h->pointer_size != 8)
    bad = "corrupt spool header (pointer_size)";
  if (bad) {
    lr_err_set(err, "%s: %s", path, bad);
    lr_spool_close(sp);
    return NULL;
  }
  if (sp->size > h->header_size && find_chunks(sp) != 0) {
    lr_err_set(err, "%s: out of memory", path);
    lr_spool_close(sp);
    return NULL;
  }
  sp->stats.chunks = sp->nchunks;
  load_side(sp, path);
  return sp;
}

void lr_spool_close(LrSpool *sp) {
  if (!sp) return;
  munmap((void *)sp->map, sp->size);
  free(sp->unit);
  free(sp->span);
  free(sp->side);
  free(sp);
}

int lr_spool_side_next(LrSpool *sp, uint64_t before_ns, uint64_t seq, LrSpoolRec *out) {
  if (sp->side_next >= sp->nside || sp->side[sp->side_next].ns >= before_ns) return 0;
  const SideSample *x = &sp->side[sp->side_next++];
  memset(out, 0, sizeof *out);
  out->type = LR_REC_RSS;
  out->has_seq = 1;
  out->seq = seq;
  out->ns = x->ns;
  memcpy(out->rss, x->v, 4 * sizeof x->v[0]);
  out->vm_swap = x->v[4];
  out->has_swap = 1;
  out->pss = x->pss >= 0 ? (uint64_t)x->pss : 0;
  out->has_pss = x->pss >= 0;
  return 1;
}

size_t lr_spool_side_count(const LrSpool *sp) { return sp->nside; }

const LrSpoolHeader *lr_spool_header(const LrSpool *sp) { return &sp->hdr; }
uint64_t lr_spool_file_size(const LrSpool *sp) { return sp->size; }
uint32_t lr_spool_nchunks(const LrSpool *sp) { return sp->nchunks; }
const LrSpoolStats *lr_spool_stats(const LrSpool *sp) { return &sp->stats; }
uint32_t lr_spool_cursor_tid(const LrSpoolCursor *c) { return c->tid; }

int lr_spool_chunk_tid(const LrSpool *sp, uint32_t i, uint32_t *tid) {
  if (i >= sp->nchunks) return 0;
  uint64_t off = (uint64_t)sp->hdr.header_size + (uint64_t)sp->unit[i] * sp->hdr.chunk_size;
  if (sp->size - off < sizeof(LrChunkHeader)) return 0;
  LrChunkHeader ch;
  memcpy(&ch, sp->map + off, sizeof ch);
  if (ch.magic != LR_CHUNK_MAGIC) return 0;
  *tid = ch.tid;
  return 1;
}

LrSpoolCursor *lr_spool_cursor(LrSpool *sp, uint32_t i) {
  if (i >= sp->nchunks) return NULL;
  uint64_t off = (uint64_t)sp->hdr.header_size + (uint64_t)sp->unit[i] * sp->hdr.chunk_size;
  uint64_t avail = sp->size - off; /* off < size by construction of nchunks */
  if (avail < sizeof(LrChunkHeader)) {
    sp->stats.chunks_unused++;
    return NULL;
  }
  LrChunkHeader ch;
  memcpy(&ch, sp->map + off, sizeof ch);
  if (ch.magic != LR_CHUNK_MAGIC) {
    sp->stats.chunks_unused++;
    return NULL;
  }
  uint64_t cap = (uint64_t)sp->span[i] * sp->hdr.chunk_size - sizeof(LrChunkHeader);
  uint64_t in_file = avail - sizeof(LrChunkHeader);
  if (in_file > cap) in_file = cap;
  if (ch.index != sp->unit[i] || ch.used > cap) {
    sp->stats.chunks_corrupt++;
    return NULL;
  }
  const uint8_t *payload = sp->map + off + sizeof(LrChunkHeader);
  uint64_t len = ch.used;
  if ((ch.flags & LR_CHUNK_SEALED) && len <= in_file) {
    if (lr_sum64(payload, (size_t)len) != ch.sum) {
      sp->stats.chunks_corrupt++;
      return NULL;
    }
  }
  /* Unsealed, or the file ends inside it: read what is there, each record
  ** checked (a partial last chunk cannot be verified, only bounded). */
  if (len > in_file) len = in_file;
  LrSpoolCursor *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->sp = sp;
  c->tid = ch.tid;
  c->p = c->start = payload;
  c->end = payload + len;
  sp->stats.chunks_read++;
  return c;
}

void lr_spool_cursor_free(LrSpoolCursor *c) {
  if (!c) return;
  /* The chunk is read: its pages leave this process's RSS, so the import's
  ** memory does not grow with the spool (a 10M-event spool is 56 MB). The
  ** mapping is private and read-only: a page touched again (a record kept
  ** past its chunk) is read back from the file, unchanged. */
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t a = ((uintptr_t)c->start + page - 1) & ~(page - 1), b = (uintptr_t)c->end & ~(page - 1);
  if (page > 1 && b > a) madvise((void *)a, b - a, MADV_DONTNEED);
  free(c->argv);
  free(c);
}

/* dseq, and dns when with_ns: both update the cursor's delta state. */
static int rd_seq_ns(LrSpoolCursor *c, Rd *r, LrSpoolRec *o, int with_ns) {
  uint64_t d;
  if (!rd_uv(r, &d)) return 0;
  c->prev_seq += d;
  o->seq = c->prev_seq;
  o->has_seq = 1;
  if (with_ns) {
    if (!rd_uv(r, &d)) return 0;
    c->prev_ns += d;
    o->ns = c->prev_ns;
  } else {
    o->ns = c->prev_ns;
  }
  return 1;
}

static int rd_addr(LrSpoolCursor *c, Rd *r, LrSpoolRec *o) {
  int64_t d;
  if (!rd_sv(r, &d)) return 0;
  c->prev_addr += (uint64_t)d;
  o->addr = c->prev_addr;
  return 1;
}

/* The part of the seq before this record, for realloc/mremap free_seq. */
static int rd_free_seq(Rd *r, LrSpoolRec *o) {
  uint64_t d;
  if (!rd_uv(r, &d) || d > o->seq) return 0;
  o->free_seq = o->seq - d;
  return 1;
}

/* When the first record after r->p that carries a seq began (skipping
** STACK and ARGV records; free_seq for realloc and mremap), or prev_seq if
** there is none. A STACK record's own position says little (at the start
** of a chunk seq restarts at 0), but the event that uses it comes next.
** Never reads past r->end. */
static uint64_t peek_scan(const LrSpoolCursor *c, Rd *rr) {
  Rd r = *rr;
  uint64_t v, n;
  int64_t sv;
  LrSpoolStr str;
  while (r.p < r.end) {
    rr->p = r.p; /* where the record that decides the answer starts */
    unsigned t = *r.p++;
    if (t == LR_REC_STACK) {
      if (!rd_uv(&r, &v) || !rd_uv(&r, &n) || n > LR_SPOOL_MAX_FRAMES) break;
      for (uint64_t i = 0; i < n; i++)
        if (!rd_sv(&r, &sv)) return c->prev_seq;
    } else if (t == LR_REC_ARGV) {
      if (!rd_uv(&r, &n) || n > MAX_ARGC) break;
      for (uint64_t i = 0; i < n; i++)
        if (!rd_str(&r, &str)) return c->prev_seq;
    } else if (t == LR_EV_REALLOC || t == LR_EV_REALLOCARRAY || t == LR_EV_MREMAP) {
      /* began at free_seq: dseq dns daddr size stack sv(old) [old_len flags] d */
      uint64_t d, seq;
      if (!rd_uv(&r, &d)) break;
      seq = c->prev_seq + d;
      int extra = t == LR_EV_MREMAP ? 2 : 0;
      if (!rd_uv(&r, &v) || !rd_sv(&r, &sv) || !rd_uv(&r, &v) || !rd_uv(&r, &v) ||
          !rd_sv(&r, &sv))
        break;
      for (int i = 0; i < extra; i++)
        if (!rd_uv(&r, &v)) return seq;
      return rd_uv(&r, &d) && d <= seq ? seq - d : seq;
    } else if (t == LR_REC_PYCODE || t == LR_REC_PYEVAL) { /* minor 2, no seq */
      if (!rd_uv(&r, &v) || !rd_uv(&r, &n)) break;
      if (t == LR_REC_PYCODE && (!rd_str(&r, &str) || !rd_str(&r, &str))) break;
    } else if ((t >= 1 && t < LR_EV__COUNT) || (t > LR_REC_STACK && t <= LR_REC_RSS_SWAP)) {
      return rd_uv(&r, &v) ? c->prev_seq + v : c->prev_seq;
    } else {
      break;
    }
  }
  rr->p = r.p;
  return c->prev_seq;
}

static uint64_t peek_seq(LrSpoolCursor *c, Rd r) {
  /* r.p is past this STACK record; inside the last scanned run the
  ** answer is the same (prev_seq has not moved since) */
  if (c->peek_stop && r.p <= c->peek_stop) return c->peek_val;
  c->peek_val = peek_scan(c, &r);
  c->peek_stop = r.p;
  return c->peek_val;
}

static int decode(LrSpoolCursor *c, Rd *r, LrSpoolRec *o) {
  int64_t sv;
  uint64_t n;
  switch (o->type) {
  case LR_EV_MALLOC: case LR_EV_CALLOC: case LR_EV_VALLOC: case LR_EV_PVALLOC:
    return rd_seq_ns(c, r, o, 1) && rd_addr(c, r, o) && rd_uv(r, &o->size) &&
           rd_uv(r, &o->stack);
  case LR_EV_POSIX_MEMALIGN: case LR_EV_ALIGNED_ALLOC: case LR_EV_MEMALIGN:
    return rd_seq_ns(c, r, o, 1) && rd_addr(c, r, o) && rd_uv(r, &o->size) &&
           rd_uv(r, &o->stack) && rd_uv(r, &o->alignment);
  case LR_EV_REALLOC: case LR_EV_REALLOCARRAY:
    if (!(rd_seq_ns(c, r, o, 1) && rd_addr(c, r, o) && rd_uv(r, &o->size) &&
          rd_uv(r, &o->stack) && rd_sv(r, &sv)))
      return 0;
    o->old_addr = o->addr + (uint64_t)sv;
    return rd_free_seq(r, o);
  case LR_EV_FREE:
    return rd_seq_ns(c, r, o, 1) && rd_addr(c, r, o);
  case LR_EV_MMAP: case LR_EV_MMAP64:
    return rd_seq_ns(c, r, o, 1) && rd_addr(c, r, o) && rd_uv(r, &o->size) &&
           rd_uv(r, &o->stack) && rd_uv(r, &o->prot) && rd_uv(r, &o->flags) &&
           rd_uv(r, &o->offset) && rd_str(r, &o->str);
  case LR_EV_MUNMAP:
    return rd_seq_ns(c, r, o, 1) && rd_addr(c, r, o) && rd_uv(r, &o->size);
  case LR_EV_MREMAP:
    if (!(rd_seq_ns(c, r, o, 1) && rd_addr(c, r, o) && rd_uv(r, &o->size) &&
          rd_uv(r, &o->stack) && rd_sv(r, &sv)))
      return 0;
    o->old_addr = o->addr + (uint64_t)sv;
    return rd_uv(r, &o->old_size) && rd_uv(r, &o->flags) && rd_free_seq(r, o);
  case LR_EV_MPROTECT: case LR_EV_PKEY_MPROTECT: /* minor 1 */
    return rd_seq_ns(c, r, o, 1) && rd_addr(c, r, o) && rd_uv(r, &o->size) &&
           rd_uv(r, &o->stack) && rd_uv(r, &o->prot) &&
           (o->type != LR_EV_PKEY_MPROTECT || rd_uv(r, &o->offset));
  case LR_EV_MADVISE: /* minor 1 */
    return rd_seq_ns(c, r, o, 1) && rd_addr(c, r, o) && rd_uv(r, &o->size) &&
           rd_uv(r, &o->flags);
  case LR_REC_STACK: {
    if (!rd_uv(r, &o->stack) || !rd_uv(r, &n) || n > LR_SPOOL_MAX_FRAMES) return 0;
    uint64_t ip = 0;
    for (uint64_t i = 0; i < n; i++) {
      if (!rd_sv(r, &sv)) return 0;
      ip += (uint64_t)sv;
      c->frames[i] = ip;
    }
    o->nframes = (uint32_t)n;
    o->frames = c->frames;
    o->seq = peek_seq(c, *r);
    o->ns = c->prev_ns;
    return 1;
  }
  case LR_REC_MODULE:
    return rd_seq_ns(c, r, o, 0) && rd_uv(r, &o->addr) && rd_uv(r, &o->size) &&
           rd_str(r, &o->str2) && rd_str(r, &o->str);
  case LR_REC_UNMODULE:
    return rd_seq_ns(c, r, o, 0) && rd_uv(r, &o->addr);
  case LR_REC_RSS:
    return rd_seq_ns(c, r, o, 1) && rd_uv(r, &o->rss[0]) && rd_uv(r, &o->rss[1]) &&
           rd_uv(r, &o->rss[2]) && rd_uv(r, &o->rss[3]);
  case LR_REC_RSS_SWAP: /* minor 1: read as an RSS record with has_swap */
    o->type = LR_REC_RSS;
    o->has_swap = 1;
    return rd_seq_ns(c, r, o, 1) && rd_uv(r, &o->rss[0]) && rd_uv(r, &o->rss[1]) &&
           rd_uv(r, &o->rss[2]) && rd_uv(r, &o->rss[3]) && rd_uv(r, &o->vm_swap);
  case LR_REC_MARK:
    return rd_seq_ns(c, r, o, 1) && rd_str(r, &o->str);
  case LR_REC_PARAM:
    if (!(rd_seq_ns(c, r, o, 1) && rd_str(r, &o->str) && rd_uv(r, &o->param_type)))
      return 0;
    if (o->param_type == LR_PARAM_INT) return rd_sv(r, &o->param_int);
    if (o->param_type == LR_PARAM_STR) return rd_str(r, &o->str2);
    return 0;
  case LR_REC_ARGV:
    if (!rd_uv(r, &n) || n > MAX_ARGC) return 0;
    /* each entry takes at least one byte: a cheap bound before allocating */
    if (n > (uint64_t)(r->end - r->p)) return 0;
    if (n > c->argv_cap) {
      LrSpoolStr *a = realloc(c->argv, (size_t)n * sizeof *a);
      if (!a) return 0;
      c->argv = a;
      c->argv_cap = (uint32_t)n;
    }
    for (uint64_t i = 0; i < n; i++)
      if (!rd_str(r, &c->argv[i])) return 0;
    o->argc = (uint32_t)n;
    o->argv = c->argv;
    o->seq = c->prev_seq;
    o->ns = c->prev_ns;
    return 1;
  case LR_REC_THREAD:
    return rd_seq_ns(c, r, o, 1) && rd_uv(r, &o->thread_tid) && rd_str(r, &o->str);
  case LR_REC_PYCODE: /* minor 2: addr = code id, size = first line, str/str2 = names */
  case LR_REC_PYEVAL: /* minor 2: [addr, addr + size) */
    if (!rd_uv(r, &o->addr) || !rd_uv(r, &o->size)) return 0;
    if (o->type == LR_REC_PYCODE && !(rd_str(r, &o->str) && rd_str(r, &o->str2))) return 0;
    if (o->type == LR_REC_PYEVAL) {
      if (o->size < o->addr) return 0;
      o->size -= o->addr;
    }
    o->seq = peek_seq(c, *r);
    o->ns = c->prev_ns;
    return 1;
  default:
    return 0;
  }
}

int lr_spool_next(LrSpoolCursor *c, LrSpoolRec *o) {
  if (c->stopped || c->p >= c->end) return 0;
  memset(o, 0, sizeof *o);
  Rd r = {c->p, c->end};
  o->type = *r.p++;
  o->tid = c->tid;
  if (!decode(c, &r, o)) {
    /* Invariant 3 says `used` covers whole records only, so this is damage
    ** or a partial last chunk: stop here, keep what came before. */
    c->stopped = 1;
    c->sp->stats.truncated++;
    return 0;
  }
  c->p = r.p;
  c->sp->stats.records++;
  return 1;
}
