/*
** stack_table.c: see stack_table.h. Linear probing within a level; a slot
** is claimed by a CAS on its hash and published by a release store of its
** id. Levels and arena segments are mapped on demand, each published by a
** CAS on its pointer (the loser of a race unmaps its copy): nothing is
** ever moved or unmapped while the table lives, so a pointer once read
** stays valid without a lock.
*/
#include "sys_mmap.h"
#include "stack_table.h"

#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef struct Slot {
  uint64_t hash;   /* 0 = free; atomic */
  uint64_t id;     /* 0 = not yet published; atomic */
  uint64_t frames; /* address of the frames in an arena segment */
  uint64_t n;
} Slot;

/* The first level has 2^LR_ST_FIRST slots (128 KiB), each next one twice
** as many, up to the 2^log2_slots asked for; the arena's first segment is
** LR_ST_SEG0 bytes, each next one as large as all before it. */
#define LR_ST_FIRST 12
#define LR_ST_LEVELS 16
#define LR_ST_SEG0 (256u << 10)
#define LR_ST_SEGS 40

typedef struct Level {
  Slot *slots;       /* atomic pointer; NULL until mapped */
  uint64_t claims;   /* atomic */
} Level;

struct LrStackTable {
  Level lv[LR_ST_LEVELS];
  unsigned first, nlev;  /* level k has 2^(first+k) slots, k < nlev */
  uint64_t next_id;      /* atomic: ids handed out */
  uintptr_t *seg[LR_ST_SEGS]; /* atomic pointers; NULL until mapped */
  size_t seg0_words;
  size_t arena_words;
  size_t arena_used;     /* atomic, in words */
};

static void *anon(size_t len) {
  void *p;
  p = lr_sys_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                  -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static void unmap(void *p, size_t len) {
  if (p) lr_sys_munmap(p, len);
}

static size_t level_bytes(const LrStackTable *t, unsigned k) {
  return sizeof(Slot) << (t->first + k);
}

/* Segment k holds words [start, end) of the arena. */
static void seg_range(const LrStackTable *t, unsigned k, size_t *start, size_t *end) {
  *start = k ? t->seg0_words << (k - 1) : 0;
  *end = t->seg0_words << k;
  if (*end > t->arena_words) *end = t->arena_words;
}

static unsigned seg_of(const LrStackTable *t, size_t off) {
  unsigned k = 0;
  while ((t->seg0_words << k) <= off) k++;
  return k;
}

/* Maps *slot (a level's slots or a segment) if it is not yet; NULL if the
** mapping failed. */
static void *map_once(void **slot, size_t len) {
  void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  if (p) return p;
  void *m = anon(len);
  if (!m) return NULL;
  void *none = NULL;
  if (__atomic_compare_exchange_n(slot, &none, m, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
    return m;
  unmap(m, len); /* another thread mapped it first */
  return none;
}

LrStackTable *lr_stack_table_new(unsigned log2_slots, size_t arena_bytes) {
  /* at most LR_ST_LEVELS levels: 2^(LR_ST_FIRST + LR_ST_LEVELS - 1) slots */
  if (log2_slots < 4) log2_slots = 4;
  if (log2_slots > LR_ST_FIRST + LR_ST_LEVELS - 1) log2_slots = LR_ST_FIRST + LR_ST_LEVELS - 1;
  LrStackTable *t = anon(sizeof *t);
  if (!t) return NULL;
  t->first = log2_slots < LR_ST_FIRST ? log2_slots : LR_ST_FIRST;
  t->nlev = log2_slots - t->first + 1;
  if (t->nlev > LR_ST_LEVELS) { /* the clamp above makes this impossible */
    unmap(t, sizeof *t);
    return NULL;
  }
  if (arena_bytes < 4096) arena_bytes = 4096;
  t->arena_words = arena_bytes / sizeof(uintptr_t);
  t->seg0_words = (arena_bytes < LR_ST_SEG0 ? arena_bytes : LR_ST_SEG0) / sizeof(uintptr_t);
  if (t->seg0_words << (LR_ST_SEGS - 1) < t->arena_words) /* cannot happen below 2^48 */
    t->arena_words = t->seg0_words << (LR_ST_SEGS - 1);
  /* the first level and segment now: a table that cannot map them is no table */
  if (!map_once((void **)&t->lv[0].slots, level_bytes(t, 0)) ||
      !map_once((void **)&t->seg[0], t->seg0_words * sizeof(uintptr_t))) {
    lr_stack_table_free(t);
    return NULL;
  }
  return t;
}

void lr_stack_table_free(LrStackTable *t) {
  if (!t) return;
  for (unsigned k = 0; k < t->nlev; k++) unmap(t->lv[k].slots, level_bytes(t, k));
  for (unsigned k = 0; k < LR_ST_SEGS; k++) {
    size_t a, b;
    seg_range(t, k, &a, &b);
    if (a >= b) break;
    unmap(t->seg[k], (b - a) * sizeof(uintptr_t));
  }
  unmap(t, sizeof *t);
}

/* Room for n frames in the arena, or NULL when it is full (or a segment
** cannot be mapped). A range that would straddle two segments is given up
** and taken again (it then lies in the next one: n is far below a segment). */
static uintptr_t *arena_take(LrStackTable *t, uint32_t n) {
  for (;;) {
    size_t off = __atomic_fetch_add(&t->arena_used, (size_t)n, __ATOMIC_RELAXED);
    if (off + n > t->arena_words || off + n < off) return NULL;
    unsigned k = seg_of(t, off);
    size_t a, b;
    seg_range(t, k, &a, &b);
    if (off + n > b) continue;
    uintptr_t *s = map_once((void **)&t->seg[k], (b - a) * sizeof(uintptr_t));
    return s ? s + (off - a) : NULL;
  }
}

/* Each frame gets its own odd multiplier, so the products are independent
** and the loop is not one long multiply chain (it was most of the lookup). */
static uint64_t hash_ips(const uintptr_t *ips, uint32_t n) {
  static const uint64_t k[8] = {
    0x9e3779b97f4a7c15ull, 0xc2b2ae3d27d4eb4full, 0x165667b19e3779f9ull,
    0xd6e8feb86659fd93ull, 0xff51afd7ed558ccdull, 0xc4ceb9fe1a85ec53ull,
    0x94d049bb133111ebull, 0xbf58476d1ce4e5b9ull};
  uint64_t a = n, b = 0;
  uint32_t i = 0;
  for (; i + 2 <= n; i += 2) {
    a += ((uint64_t)ips[i] ^ (i >> 3)) * k[i & 7];
    b += ((uint64_t)ips[i + 1] ^ (i >> 3)) * k[(i + 1) & 7];
  }
  if (i < n) a += ((uint64_t)ips[i] ^ (i >> 3)) * k[i & 7];
  uint64_t h = a ^ (b * 0x9e3779b97f4a7c15ull + (b >> 29));
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  return h ? h : 1;
}

static uint64_t fresh_id(LrStackTable *t) {
  return __atomic_add_fetch(&t->next_id, 1, __ATOMIC_RELAXED);
}

static int same(const Slot *s, const uintptr_t *ips, uint32_t n) {
  return s->n == n && (n == 0 || !memcmp((const void *)(uintptr_t)s->frames, ips,
                                         (size_t)n * sizeof *ips));
}

/* A slot handle: level in the top 4 bits, index below (UINT32_MAX: none). */
#define SLOT_HANDLE(k, i) (((uint32_t)(k) << 28) | (uint32_t)(i))

uint64_t lr_stack_intern(LrStackTable *t, const uintptr_t *ips, uint32_t n,
                         int *is_new, uint32_t *slot) {
  uint64_t h = hash_ips(ips, n);
  *is_new = 0;
  for (unsigned k = 0; k < t->nlev; k++) {
    Slot *sl = __atomic_load_n(&t->lv[k].slots, __ATOMIC_ACQUIRE);
    if (!sl) break; /* mapping it failed: no level to put the stack in */
    uint64_t mask = ((uint64_t)1 << (t->first + k)) - 1, max = (mask + 1) / 4 * 3;
    int last = k + 1 == t->nlev || !__atomic_load_n(&t->lv[k + 1].slots, __ATOMIC_ACQUIRE);
    uint64_t i = h & mask;
    for (uint64_t probe = 0; probe <= mask; probe++, i = (i + 1) & mask) {
      Slot *s = &sl[i];
      uint64_t sh = __atomic_load_n(&s->hash, __ATOMIC_ACQUIRE);
      if (sh == 0) {
        /* not in this level: insert here only into the newest level */
        if (!last || __atomic_load_n(&t->lv[k].claims, __ATOMIC_RELAXED) >= max) break;
        uint64_t zero = 0;
        if (__atomic_compare_exchange_n(&s->hash, &zero, h, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
          __atomic_fetch_add(&t->lv[k].claims, 1, __ATOMIC_RELAXED);
          uintptr_t *f = arena_take(t, n);
          if (!f) {
            /* arena full: the slot stays an unmatchable tombstone (n = ~0) */
            s->n = ~(uint64_t)0;
            __atomic_store_n(&s->id, ~(uint64_t)0, __ATOMIC_RELEASE);
            *is_new = 1;
            *slot = UINT32_MAX;
            return fresh_id(t);
          }
          if (n) memcpy(f, ips, (size_t)n * sizeof *ips);
          s->frames = (uint64_t)(uintptr_t)f;
          s->n = n;
          *is_new = 1;
          *slot = SLOT_HANDLE(k, i);
          return fresh_id(t);
        }
        sh = zero; /* someone else claimed it: compare against theirs */
      }
      if (sh != h) continue;
      uint64_t id;
      unsigned spins = 0;
      while ((id = __atomic_load_n(&s->id, __ATOMIC_ACQUIRE)) == 0)
        if (++spins > 64) sched_yield();
      if (same(s, ips, n)) return id;
    }
    /* full (or the probe ended in an empty slot of an older level): the
    ** next level, mapped now if this was the newest. Two threads may put
    ** one stack into two levels at a level change: two ids for one stack,
    ** which degrades dedup only (invariant 3). */
    if (last && k + 1 < t->nlev)
      map_once((void **)&t->lv[k + 1].slots, level_bytes(t, k + 1));
  }
  *is_new = 1;
  *slot = UINT32_MAX;
  return fresh_id(t);
}

uint64_t lr_stack_find(LrStackTable *t, const uintptr_t *ips, uint32_t n) {
  uint64_t h = hash_ips(ips, n);
  for (unsigned k = 0; k < t->nlev; k++) {
    Slot *sl = __atomic_load_n(&t->lv[k].slots, __ATOMIC_ACQUIRE);
    if (!sl) return 0;
    uint64_t mask = ((uint64_t)1 << (t->first + k)) - 1;
    uint64_t i = h & mask;
    for (uint64_t probe = 0; probe <= mask; probe++, i = (i + 1) & mask) {
      Slot *s = &sl[i];
      uint64_t sh = __atomic_load_n(&s->hash, __ATOMIC_ACQUIRE);
      if (sh == 0) break;
      if (sh != h) continue;
      uint64_t id = __atomic_load_n(&s->id, __ATOMIC_ACQUIRE);
      if (id && same(s, ips, n)) return id;
    }
  }
  return 0;
}

void lr_stack_publish(LrStackTable *t, uint32_t slot, uint64_t id) {
  if (slot == UINT32_MAX) return;
  Slot *sl = __atomic_load_n(&t->lv[slot >> 28].slots, __ATOMIC_ACQUIRE);
  __atomic_store_n(&sl[slot & ((1u << 28) - 1)].id, id, __ATOMIC_RELEASE);
}

uint64_t lr_stack_count(const LrStackTable *t) {
  return __atomic_load_n(&t->next_id, __ATOMIC_RELAXED);
}

size_t lr_stack_table_mapped(const LrStackTable *t) {
  size_t b = sizeof *t;
  for (unsigned k = 0; k < t->nlev; k++)
    if (__atomic_load_n(&t->lv[k].slots, __ATOMIC_ACQUIRE)) b += level_bytes(t, k);
  for (unsigned k = 0; k < LR_ST_SEGS; k++) {
    size_t a, e;
    seg_range(t, k, &a, &e);
    if (a >= e) break;
    if (__atomic_load_n(&t->seg[k], __ATOMIC_ACQUIRE)) b += (e - a) * sizeof(uintptr_t);
  }
  return b;
}
