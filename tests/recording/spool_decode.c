/* spool_decode.c: see spool_decode.h. */
#include "spool_decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Cur {
  const uint8_t *p, *end;
  int bad;
} Cur;

static uint64_t uv(Cur *c) {
  uint64_t v = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (c->p >= c->end) {
      c->bad = 1;
      return 0;
    }
    uint8_t b = *c->p++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  c->bad = 1;
  return 0;
}

static int64_t sv(Cur *c) {
  uint64_t u = uv(c);
  return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* Invariant 6: seq never decreases within a chunk, so a delta that only
** makes sense as a wrap-around is an error. */
static uint64_t dseq(Cur *c, uint64_t *prev) {
  uint64_t d = uv(c);
  if (d > (1ull << 62)) c->bad = 1;
  return *prev += d;
}

static void str(Cur *c, char *out, size_t cap, size_t *len) {
  uint64_t n = uv(c);
  if (c->bad || n > LR_SPOOL_MAX_STR || n > (uint64_t)(c->end - c->p)) {
    c->bad = 1;
    if (cap) out[0] = 0;
    return;
  }
  size_t k = n < cap - 1 ? (size_t)n : cap - 1;
  memcpy(out, c->p, k);
  out[k] = 0;
  if (len) *len = (size_t)n;
  c->p += n;
}

#define GROW(arr, n)                                                          \
  do {                                                                        \
    if ((n) == 0 || ((n) >= 16 && ((n) & ((n) - 1)) == 0)) {                                 \
      void *q = realloc((arr), sizeof(*(arr)) * ((n) ? (n) * 2 : 16));        \
      if (!q) return -1;                                                      \
      (arr) = q;                                                              \
    }                                                                         \
  } while (0)

static int chunk(LrtSpool *s, const uint8_t *pay, uint32_t used, uint32_t tid, uint32_t idx,
                 char *err, size_t errlen) {
  Cur c = {pay, pay + used, 0};
  uint64_t pseq = 0, pns = 0, paddr = 0;
  while (c.p < c.end && !c.bad) {
    const uint8_t *start = c.p;
    unsigned type = *c.p++;
    if (type >= 1 && type < LR_EV__COUNT) {
      GROW(s->ev, s->nev);
      LrtEvent *e = &s->ev[s->nev];
      memset(e, 0, sizeof *e);
      e->kind = type;
      e->tid = tid;
      e->chunk = idx;
      e->seq = dseq(&c, &pseq);
      e->ns = pns += uv(&c);
      e->addr = paddr += (uint64_t)sv(&c);
      switch (type) {
      case LR_EV_FREE: break;
      case LR_EV_MUNMAP: e->size = uv(&c); break;
      case LR_EV_POSIX_MEMALIGN: case LR_EV_ALIGNED_ALLOC: case LR_EV_MEMALIGN:
        e->size = uv(&c); e->stack = uv(&c); e->alignment = uv(&c); break;
      case LR_EV_REALLOC: case LR_EV_REALLOCARRAY:
        e->size = uv(&c); e->stack = uv(&c);
        e->old_addr = e->addr + (uint64_t)sv(&c);
        e->free_seq = e->seq - uv(&c);
        break;
      case LR_EV_MMAP: case LR_EV_MMAP64:
        e->size = uv(&c); e->stack = uv(&c); e->prot = uv(&c); e->flags = uv(&c);
        e->offset = uv(&c);
        str(&c, e->path, sizeof e->path, NULL);
        break;
      case LR_EV_MREMAP:
        e->size = uv(&c); e->stack = uv(&c);
        e->old_addr = e->addr + (uint64_t)sv(&c);
        e->old_size = uv(&c); e->flags = uv(&c);
        e->free_seq = e->seq - uv(&c);
        break;
      case LR_EV_MPROTECT: case LR_EV_PKEY_MPROTECT:
        e->size = uv(&c); e->stack = uv(&c); e->prot = uv(&c);
        if (type == LR_EV_PKEY_MPROTECT) e->offset = uv(&c);
        break;
      case LR_EV_MADVISE: e->size = uv(&c); e->flags = uv(&c); break;
      default: e->size = uv(&c); e->stack = uv(&c); break;
      }
      if (!c.bad) s->nev++;
    } else if (type == LR_REC_STACK) {
      GROW(s->st, s->nst);
      LrtStack *st = &s->st[s->nst];
      st->id = uv(&c);
      uint64_t n = uv(&c);
      if (n > LR_SPOOL_MAX_FRAMES) c.bad = 1;
      uint64_t prev = 0;
      for (uint64_t i = 0; i < n && !c.bad; i++) st->ips[i] = (uintptr_t)(prev += (uint64_t)sv(&c));
      st->n = (uint32_t)n;
      if (!c.bad) s->nst++;
    } else if (type == LR_REC_MODULE || type == LR_REC_UNMODULE) {
      GROW(s->mod, s->nmod);
      LrtModule *m = &s->mod[s->nmod];
      memset(m, 0, sizeof *m);
      m->seq = dseq(&c, &pseq);
      m->base = uv(&c);
      if (type == LR_REC_MODULE) {
        char bid[LR_SPOOL_MAX_STR + 1];
        m->size = uv(&c);
        str(&c, bid, sizeof bid, &m->bid_len);
        str(&c, m->path, sizeof m->path, NULL);
      } else {
        m->unload = 1;
      }
      if (!c.bad) s->nmod++;
    } else if (type >= LR_REC_RSS && type <= LR_REC_RSS_SWAP && type != LR_REC_ARGV) {
      int swap = type == LR_REC_RSS_SWAP;
      if (swap) type = LR_REC_RSS; /* minor 1: the same sample, with VmSwap in v[4] */
      GROW(s->oth, s->noth);
      LrtOther *o = &s->oth[s->noth];
      memset(o, 0, sizeof *o);
      o->type = type;
      o->tid = tid;
      o->seq = dseq(&c, &pseq);
      o->ns = pns += uv(&c);
      if (type == LR_REC_RSS) {
        for (int i = 0; i < 4 + swap; i++) o->v[i] = uv(&c);
        o->has_swap = swap;
      } else if (type == LR_REC_MARK) {
        str(&c, o->name, sizeof o->name, NULL);
      } else if (type == LR_REC_PARAM) {
        str(&c, o->name, sizeof o->name, NULL);
        uint64_t t = uv(&c);
        o->v[0] = t;
        if (t == LR_PARAM_INT) o->ival = sv(&c);
        else if (t == LR_PARAM_STR) str(&c, o->text, sizeof o->text, NULL);
        else c.bad = 1;
      } else { /* THREAD */
        o->v[0] = uv(&c);
        str(&c, o->name, sizeof o->name, NULL);
      }
      if (!c.bad) s->noth++;
    } else if (type == LR_REC_ARGV) {
      uint64_t n = uv(&c);
      if (n > (uint64_t)(c.end - c.p)) c.bad = 1;
      s->argv_n = n;
      for (uint64_t i = 0; i < n && !c.bad; i++) {
        char tmp[sizeof s->argv[0]];
        str(&c, tmp, sizeof tmp, NULL);
        if (s->argc < 8) memcpy(s->argv[s->argc++], tmp, sizeof tmp);
      }
    } else {
      snprintf(err, errlen, "chunk %u: unknown record type %u at payload offset %zu", idx,
               type, (size_t)(start - pay));
      return -1;
    }
    if (c.bad) {
      snprintf(err, errlen, "chunk %u: record type %u at payload offset %zu runs past used=%u",
               idx, type, (size_t)(start - pay), used);
      return -1;
    }
  }
  return 0;
}

int lrt_spool_parse(const uint8_t *buf, size_t len, LrtSpool *s, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  if (len < sizeof(LrSpoolHeader) || memcmp(buf, LR_SPOOL_MAGIC, 8)) {
    snprintf(err, errlen, "not a spool (no magic, %zu bytes)", len);
    return -1;
  }
  memcpy(&s->hdr, buf, sizeof s->hdr);
  const LrSpoolHeader *h = &s->hdr;
  if (h->version != LR_SPOOL_VERSION || h->header_size != LR_SPOOL_HEADER_SIZE ||
      h->chunk_size < 4096 || h->chunk_size % 4096) {
    snprintf(err, errlen, "bad header (version %u, header_size %u, chunk_size %u)",
             h->version, h->header_size, h->chunk_size);
    return -1;
  }
  /* chunks span 1, 2, 4... units (minor 2); a unit without a header is
  ** one unit reserved and never written */
  size_t step;
  for (size_t off = h->header_size; off + sizeof(LrChunkHeader) <= len; off += step) {
    LrChunkHeader ch;
    memcpy(&ch, buf + off, sizeof ch);
    step = h->chunk_size;
    if (ch.magic != LR_CHUNK_MAGIC) continue;
    if (ch.index != (off - h->header_size) / h->chunk_size) {
      snprintf(err, errlen, "chunk at offset %zu says index %u", off, ch.index);
      return -1;
    }
    if (ch.span > 1) step = (size_t)ch.span * h->chunk_size;
    s->units += step / h->chunk_size;
    size_t room = len - off - sizeof ch;
    if (room > step - sizeof ch) room = step - sizeof ch;
    if (ch.used > room) {
      snprintf(err, errlen, "chunk %u: used %u beyond its %zu bytes", ch.index, ch.used, room);
      return -1;
    }
    const uint8_t *pay = buf + off + sizeof ch;
    s->chunks++;
    if (ch.flags & LR_CHUNK_SEALED) {
      if (lr_sum64(pay, ch.used) != ch.sum) {
        snprintf(err, errlen, "chunk %u: checksum mismatch", ch.index);
        return -1;
      }
      s->sealed++;
    }
    s->payload_bytes += ch.used;
    if (chunk(s, pay, ch.used, ch.tid, ch.index, err, errlen)) return -1;
  }
  return 0;
}

int lrt_spool_load(const char *path, LrtSpool *s, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  memset(s, 0, sizeof *s);
  if (!f) {
    snprintf(err, errlen, "%s: cannot open", path);
    return -1;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = n > 0 ? malloc((size_t)n) : NULL;
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    fclose(f);
    free(buf);
    snprintf(err, errlen, "%s: cannot read", path);
    return -1;
  }
  fclose(f);
  int r = lrt_spool_parse(buf, (size_t)n, s, err, errlen);
  free(buf);
  return r;
}

void lrt_spool_free(LrtSpool *s) {
  free(s->ev);
  free(s->st);
  free(s->mod);
  free(s->oth);
  memset(s, 0, sizeof *s);
}

size_t lrt_count(const LrtSpool *s, unsigned kind) {
  size_t n = 0;
  for (size_t i = 0; i < s->nev; i++) n += !kind || s->ev[i].kind == kind;
  return n;
}

const LrtStack *lrt_stack(const LrtSpool *s, uint64_t id) {
  for (size_t i = 0; i < s->nst; i++)
    if (s->st[i].id == id) return &s->st[i];
  return NULL;
}
