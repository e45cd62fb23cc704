/*
** lifetimes.c: see lifetimes.h. Heap blocks live in an open-addressing
** hash table (linear probing, backward-shift deletion), mappings in a
** sorted array (there are few), second halves of realloc/mremap in a
** min-heap on seq.
*/
#include "ingest/lifetimes.h"
#include "core/grow.h"

#include <stdlib.h>
#include <string.h>

typedef struct Blk {
  uint64_t addr, id, size, seq, ns, stack, alignment;
  uint32_t tid;
  uint8_t kind;
} Blk;

typedef struct Map {
  uint64_t start, end, req_end, id, seq, ns, stack, prot, flags, offset;
  uint32_t tid;
  int32_t file; /* index in files, -1 for none */
  uint8_t kind, region;
} Map;

typedef struct Pending {
  uint64_t seq, ns, addr, size, stack, alignment;
  uint32_t tid;
  uint8_t type;
  Map attrs; /* mremap: what the old mapping was */
} Pending;

struct LrLife {
  uint64_t page;
  LrLifeRowFn fn;
  void *ctx;
  int oom;
  Blk *heap;
  size_t heap_cap, heap_n;
  Map *maps;
  size_t nmaps, cap_maps;
  Pending *pend;
  size_t npend, cap_pend;
  char **files;
  size_t nfiles;
  uint64_t next_id;
  LrLifeStats st;
};

const char *lr_life_region_name(unsigned region) {
  static const char *const names[] = {"heap", "anon", "file", "reserved"};
  return region < 4 ? names[region] : "?";
}


/* ---- live heap blocks: open addressing, linear probing ---- */

static int heap_resize(LrLife *l, size_t cap) {
  Blk *old = l->heap;
  size_t oc = l->heap_cap;
  Blk *nb = calloc(cap, sizeof *nb);
  if (!nb) return -1;
  for (size_t i = 0; i < oc; i++) {
    if (!old[i].addr) continue;
    size_t j = lr_mix64(old[i].addr) & (cap - 1);
    while (nb[j].addr) j = (j + 1) & (cap - 1);
    nb[j] = old[i];
  }
  free(old);
  l->heap = nb;
  l->heap_cap = cap;
  return 0;
}

static Blk *heap_find(LrLife *l, uint64_t addr) {
  if (!l->heap_cap || !addr) return NULL;
  size_t m = l->heap_cap - 1;
  for (size_t j = lr_mix64(addr) & m;; j = (j + 1) & m) {
    if (l->heap[j].addr == addr) return &l->heap[j];
    if (!l->heap[j].addr) return NULL;
  }
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void heap_del(LrLife *l, Blk *b) {
  size_t m = l->heap_cap - 1, i = (size_t)(b - l->heap), j = i;
  l->heap[i].addr = 0;
  for (;;) {
    j = (j + 1) & m;
    if (!l->heap[j].addr) break;
    size_t k = lr_mix64(l->heap[j].addr) & m;
    if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
      l->heap[i] = l->heap[j];
      l->heap[j].addr = 0;
      i = j;
    }
  }
  l->heap_n--;
}

static Blk *heap_add(LrLife *l, uint64_t addr) {
  if ((l->heap_n + 1) * 4 > l->heap_cap * 3 &&
      heap_resize(l, l->heap_cap ? l->heap_cap * 2 : 1024) != 0)
    return NULL;
  size_t m = l->heap_cap - 1, j = lr_mix64(addr) & m;
  while (l->heap[j].addr) j = (j + 1) & m;
  l->heap_n++;
  l->heap[j].addr = addr;
  return &l->heap[j];
}

/* ---- rows ---- */

static void put_blk(LrLife *l, const Blk *b, const char *fkind, uint64_t fseq, uint64_t fns) {
  LrLifeRow r = {0};
  r.id = b->id;
  r.kind = b->kind;
  r.region = LR_REGION_HEAP;
  r.address = b->addr;
  r.size = b->size;
  r.alloc_seq = b->seq;
  r.alloc_ns = b->ns;
  r.free_kind = fkind;
  r.free_seq = fseq;
  r.free_ns = fns;
  r.tid = b->tid;
  r.stack = b->stack;
  r.has_alignment = b->kind == LR_EV_POSIX_MEMALIGN || b->kind == LR_EV_ALIGNED_ALLOC ||
                    b->kind == LR_EV_MEMALIGN;
  r.alignment = b->alignment;
  l->st.rows++;
  l->fn(l->ctx, &r);
}

static void put_map(LrLife *l, const Map *m, const char *fkind, uint64_t fseq, uint64_t fns) {
  LrLifeRow r = {0};
  r.id = m->id;
  r.kind = m->kind;
  r.region = m->region;
  r.address = m->start;
  /* the requested part of the piece: page rounding adds no bytes */
  r.size = m->req_end > m->start ? (m->req_end < m->end ? m->req_end : m->end) - m->start : 0;
  r.alloc_seq = m->seq;
  r.alloc_ns = m->ns;
  r.free_kind = fkind;
  r.free_seq = fseq;
  r.free_ns = fns;
  r.tid = m->tid;
  r.stack = m->stack;
  r.is_mapping = 1;
  r.prot = m->prot;
  r.flags = m->flags;
  if (m->file >= 0) {
    r.file = l->files[m->file];
    r.file_offset = m->offset;
  }
  l->st.rows++;
  l->fn(l->ctx, &r);
}

/* ---- heap events ---- */

/* Sizes come from the spool and may be absurd (2^63 and more): the live sum
** is kept modulo 2^64, never a signed overflow, and every end subtracts
** exactly what its start added (invariant 3). */
static void live_add(LrLife *l, uint64_t delta) {
  l->st.heap_live = (int64_t)((uint64_t)l->st.heap_live + delta);
}

static void heap_start(LrLife *l, unsigned kind, uint64_t addr, uint64_t size, uint64_t seq,
                       uint64_t ns, uint32_t tid, uint64_t stack, uint64_t alignment) {
  if (!addr) return;
  Blk *old = heap_find(l, addr);
  if (old) {
    /* a free we never saw (e.g. from before the shim started): end it here */
    l->st.unmatched_allocs++;
    put_blk(l, old, "free", seq, ns);
    live_add(l, 0 - old->size);
    heap_del(l, old);
  }
  Blk *b = heap_add(l, addr);
  if (!b) {
    l->oom = 1;
    return;
  }
  *b = (Blk){addr, ++l->next_id, size, seq, ns, stack, alignment, tid, (uint8_t)kind};
  live_add(l, size);
  if (l->st.heap_live > l->st.peak_heap) {
    l->st.peak_heap = l->st.heap_live;
    l->st.peak_heap_seq = seq;
  }
}

static void heap_end(LrLife *l, uint64_t addr, uint64_t seq, uint64_t ns, const char *fkind) {
  if (!addr) return;
  Blk *b = heap_find(l, addr);
  if (!b) {
    l->st.unmatched_frees++;
    return;
  }
  put_blk(l, b, fkind, seq, ns);
  live_add(l, 0 - b->size);
  heap_del(l, b);
}

/* ---- mappings ---- */

static int32_t intern_file(LrLife *l, LrSpoolStr s) {
  for (size_t i = l->nfiles; i-- > 0;)
    if (strlen(l->files[i]) == s.len && !memcmp(l->files[i], s.p, s.len)) return (int32_t)i;
  if (l->nfiles >= INT32_MAX) return -1;
  char **f = realloc(l->files, (l->nfiles + 1) * sizeof *f);
  if (!f) return -1;
  l->files = f;
  char *c = malloc(s.len + 1);
  if (!c) return -1;
  memcpy(c, s.p, s.len);
  c[s.len] = 0;
  l->files[l->nfiles] = c;
  return (int32_t)l->nfiles++;
}

static uint64_t page_up(LrLife *l, uint64_t v) {
  uint64_t r = (v + l->page - 1) & ~(l->page - 1);
  return r < v ? UINT64_MAX & ~(l->page - 1) : r;
}

/* Ends every live mapping part inside [start, start+len), keeping the parts
** outside as new rows that start at seq. Returns how many were touched. */
static size_t map_cut(LrLife *l, uint64_t start, uint64_t len, uint64_t seq, uint64_t ns,
                      const char *fkind) {
  uint64_t end = page_up(l, start + len < start ? UINT64_MAX : start + len);
  if (end <= start) return 0;
  Map *nm = lr_grow(l->maps, &l->cap_maps, l->nmaps + 2, sizeof(Map));
  if (!nm) {
    l->oom = 1;
    return 0;
  }
  l->maps = nm;
  size_t lo = 0, hi = l->nmaps;
  while (lo < hi) { /* first mapping ending after start */
    size_t mid = (lo + hi) / 2;
    if (l->maps[mid].end <= start) lo = mid + 1;
    else hi = mid;
  }
  size_t first = lo, last = lo;
  Map keep[2];
  size_t nkeep = 0;
  while (last < l->nmaps && l->maps[last].start < end) {
    Map *m = &l->maps[last];
    put_map(l, m, fkind, seq, ns);
    Map piece = *m;
    piece.seq = seq;
    piece.ns = ns;
    if (m->start < start) { /* only the first can stick out on the left */
      piece.end = start;
      piece.id = ++l->next_id;
      keep[nkeep++] = piece;
    }
    if (m->end > end) { /* only the last can stick out on the right */
      piece = *m;
      piece.seq = seq;
      piece.ns = ns;
      piece.start = end;
      piece.offset = m->offset + (end - m->start);
      piece.id = ++l->next_id;
      keep[nkeep++] = piece;
    }
    last++;
  }
  size_t touched = last - first;
  if (!touched) return 0;
  memmove(&l->maps[first + nkeep], &l->maps[last], (l->nmaps - last) * sizeof(Map));
  memcpy(&l->maps[first], keep, nkeep * sizeof(Map));
  l->nmaps = l->nmaps - touched + nkeep;
  return touched;
}

static void map_start(LrLife *l, Map m) {
  if (m.end <= m.start) return;
  map_cut(l, m.start, m.end - m.start, m.seq, m.ns, "mmap");
  Map *nm = lr_grow(l->maps, &l->cap_maps, l->nmaps + 3, sizeof(Map));
  if (!nm) {
    l->oom = 1;
    return;
  }
  l->maps = nm;
  size_t lo = 0, hi = l->nmaps;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (l->maps[mid].start < m.start) lo = mid + 1;
    else hi = mid;
  }
  memmove(&l->maps[lo + 1], &l->maps[lo], (l->nmaps - lo) * sizeof(Map));
  m.id = ++l->next_id;
  l->maps[lo] = m;
  l->nmaps++;
}

/* Anonymous memory mapped with no access (PROT_READ|WRITE|EXEC all clear). */
static unsigned anon_region(uint64_t prot) {
  return (prot & 7) ? LR_REGION_ANON : LR_REGION_RESERVED;
}

/* mprotect over [addr, addr+len): every anonymous piece inside whose region
** changes (reserved <-> committed) ends at seq ("mprotect") over exactly
** the pages inside, and a piece of the new region starts there; the parts
** outside stay as they were (new rows from seq, as for a partial munmap). */
static void map_protect(LrLife *l, const LrSpoolRec *r) {
  uint64_t start = r->addr & ~(l->page - 1);
  uint64_t end = page_up(l, r->addr + r->size < r->addr ? UINT64_MAX : r->addr + r->size);
  unsigned want = anon_region(r->prot);
  if (end <= start) return;
  Map *todo = NULL;
  size_t n = 0, cap = 0;
  for (size_t i = 0; i < l->nmaps; i++) {
    const Map *m = &l->maps[i];
    if (m->end <= start || m->start >= end) continue;
    if ((m->region != LR_REGION_ANON && m->region != LR_REGION_RESERVED) || m->region == want)
      continue;
    Map *t = lr_grow(todo, &cap, n + 1, sizeof *t);
    if (!t) {
      l->oom = 1;
      break;
    }
    todo = t;
    Map c = *m;
    c.start = m->start > start ? m->start : start;
    c.end = m->end < end ? m->end : end;
    c.offset = m->offset + (c.start - m->start);
    todo[n++] = c;
  }
  for (size_t i = 0; i < n && !l->oom; i++) {
    Map c = todo[i];
    map_cut(l, c.start, c.end - c.start, r->seq, r->ns, "mprotect");
    c.seq = r->seq;
    c.ns = r->ns;
    c.tid = r->tid;
    c.stack = r->stack;
    c.prot = r->prot;
    c.kind = (uint8_t)r->type;
    c.region = (uint8_t)want;
    map_start(l, c);
  }
  free(todo);
}

/* madvise that gives pages back: the bytes of committed anonymous pieces
** inside the range (RSS released; the bytes stay committed). */
static void map_release(LrLife *l, const LrSpoolRec *r) {
  uint64_t start = r->addr & ~(l->page - 1);
  uint64_t end = page_up(l, r->addr + r->size < r->addr ? UINT64_MAX : r->addr + r->size);
  uint64_t got = 0;
  for (size_t i = 0; i < l->nmaps; i++) {
    const Map *m = &l->maps[i];
    if (m->end <= start || m->start >= end || m->region != LR_REGION_ANON) continue;
    got += (m->end < end ? m->end : end) - (m->start > start ? m->start : start);
  }
  if (got) {
    l->st.released_bytes += got;
    l->st.released_calls++;
  }
}

static const Map *map_at(LrLife *l, uint64_t addr) {
  for (size_t i = 0; i < l->nmaps; i++)
    if (l->maps[i].start <= addr && addr < l->maps[i].end) return &l->maps[i];
  return NULL;
}

/* ---- pending second halves (min-heap on seq) ---- */

static void pend_push(LrLife *l, const Pending *p) {
  Pending *np = lr_grow(l->pend, &l->cap_pend, l->npend + 1, sizeof *np);
  if (!np) {
    l->oom = 1;
    return;
  }
  l->pend = np;
  size_t i = l->npend++;
  while (i && np[(i - 1) / 2].seq > p->seq) {
    np[i] = np[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  np[i] = *p;
}

static Pending pend_pop(LrLife *l) {
  Pending top = l->pend[0], last = l->pend[--l->npend];
  size_t i = 0, n = l->npend;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && l->pend[c + 1].seq < l->pend[c].seq) c++;
    if (l->pend[c].seq >= last.seq) break;
    l->pend[i] = l->pend[c];
    i = c;
  }
  if (n) l->pend[i] = last;
  return top;
}

static void do_pending(LrLife *l, const Pending *p) {
  if (p->type == LR_EV_MREMAP) {
    Map m = p->attrs;
    m.start = p->addr;
    m.end = page_up(l, p->addr + p->size);
    m.req_end = p->addr + p->size;
    m.seq = p->seq;
    m.ns = p->ns;
    m.stack = p->stack;
    m.tid = p->tid;
    m.kind = LR_EV_MREMAP;
    map_start(l, m);
  } else {
    heap_start(l, p->type, p->addr, p->size, p->seq, p->ns, p->tid, p->stack, 0);
  }
}

/* ---- the interface ---- */

LrLife *lr_life_new(uint64_t page_size, LrLifeRowFn fn, void *ctx) {
  LrLife *l = calloc(1, sizeof *l);
  if (!l) return NULL;
  l->page = page_size;
  l->fn = fn;
  l->ctx = ctx;
  return l;
}

void lr_life_free(LrLife *l) {
  if (!l) return;
  free(l->heap);
  free(l->maps);
  free(l->pend);
  for (size_t i = 0; i < l->nfiles; i++) free(l->files[i]);
  free(l->files);
  free(l);
}

uint64_t lr_life_key(const LrSpoolRec *r) {
  if (r->type == LR_EV_REALLOC || r->type == LR_EV_REALLOCARRAY || r->type == LR_EV_MREMAP)
    return r->free_seq;
  return r->seq;
}

int lr_life_event(LrLife *l, const LrSpoolRec *r) {
  switch (r->type) {
  case LR_EV_MALLOC: case LR_EV_CALLOC: case LR_EV_VALLOC: case LR_EV_PVALLOC:
  case LR_EV_POSIX_MEMALIGN: case LR_EV_ALIGNED_ALLOC: case LR_EV_MEMALIGN:
    heap_start(l, r->type, r->addr, r->size, r->seq, r->ns, r->tid, r->stack, r->alignment);
    break;
  case LR_EV_FREE:
    heap_end(l, r->addr, r->seq, r->ns, "free");
    break;
  case LR_EV_REALLOC: case LR_EV_REALLOCARRAY: {
    /* old_addr 0: acted as malloc. addr 0 (size 0): acted as free. */
    if (r->old_addr) heap_end(l, r->old_addr, r->free_seq, r->ns, "realloc");
    if (r->addr) {
      Pending p = {r->seq, r->ns, r->addr, r->size, r->stack, 0, r->tid, (uint8_t)r->type,
                   {0}};
      pend_push(l, &p);
    }
    break;
  }
  case LR_EV_MMAP: case LR_EV_MMAP64: {
    Map m = {0};
    m.start = r->addr;
    m.end = page_up(l, r->addr + r->size);
    m.req_end = r->addr + r->size;
    m.seq = r->seq;
    m.ns = r->ns;
    m.stack = r->stack;
    m.prot = r->prot;
    m.flags = r->flags;
    m.offset = r->offset;
    m.tid = r->tid;
    m.kind = (uint8_t)r->type;
    m.file = r->str.len ? intern_file(l, r->str) : -1;
    m.region = r->str.len ? LR_REGION_FILE : anon_region(r->prot);
    map_start(l, m);
    break;
  }
  case LR_EV_MPROTECT: case LR_EV_PKEY_MPROTECT:
    map_protect(l, r);
    break;
  case LR_EV_MADVISE:
    map_release(l, r);
    break;
  case LR_EV_MUNMAP:
    if (!map_cut(l, r->addr, r->size, r->seq, r->ns, "munmap")) l->st.unmatched_munmaps++;
    break;
  case LR_EV_MREMAP: {
    Pending p = {r->seq, r->ns, r->addr, r->size, r->stack, 0, r->tid, LR_EV_MREMAP, {0}};
    const Map *old = map_at(l, r->old_addr);
    if (old) {
      p.attrs = *old;
      p.attrs.offset = old->offset + (r->old_addr - old->start);
    } else {
      p.attrs.file = -1;
      p.attrs.region = LR_REGION_ANON;
      l->st.unmatched_munmaps++;
    }
    map_cut(l, r->old_addr, r->old_size, r->free_seq, r->ns, "mremap");
    pend_push(l, &p);
    break;
  }
  default:
    break;
  }
  return l->oom ? -1 : 0;
}

int lr_life_pending_seq(const LrLife *l, uint64_t *seq) {
  if (!l->npend) return 0;
  *seq = l->pend[0].seq;
  return 1;
}

int lr_life_run_pending(LrLife *l) {
  if (l->npend) {
    Pending p = pend_pop(l);
    do_pending(l, &p);
  }
  return l->oom ? -1 : 0;
}

int lr_life_flush(LrLife *l) {
  while (l->npend && !l->oom) lr_life_run_pending(l);
  for (size_t i = 0; i < l->heap_cap; i++)
    if (l->heap[i].addr) put_blk(l, &l->heap[i], NULL, 0, 0);
  for (size_t i = 0; i < l->nmaps; i++) put_map(l, &l->maps[i], NULL, 0, 0);
  return l->oom ? -1 : 0;
}

const LrLifeStats *lr_life_stats(const LrLife *l) { return &l->st; }
