/*
** stack_table.c: see stack_table.h. Linear probing; a slot is claimed by a
** CAS on its hash and published by a release store of its id.
*/
#include "stack_table.h"

#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef struct Slot {
  uint64_t hash;   /* 0 = free; atomic */
  uint64_t id;     /* 0 = not yet published; atomic */
  uint64_t off;    /* frames at arena + off */
  uint64_t n;
} Slot;

struct LrStackTable {
  Slot *slots;
  uint64_t mask;
  uint64_t max_claims;   /* load factor cap */
  uint64_t claims;       /* atomic */
  uint64_t next_id;      /* atomic: ids handed out */
  uintptr_t *arena;
  size_t arena_words;
  size_t arena_used;     /* atomic, in words */
  size_t slots_bytes, arena_bytes;
};

static void *anon(size_t len) {
  void *p;
#if defined(SYS_mmap2) && !defined(SYS_mmap)
  p = (void *)syscall(SYS_mmap2, NULL, len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
#else
  p = (void *)syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
#endif
  return p == MAP_FAILED ? NULL : p;
}

static void unmap(void *p, size_t len) {
  if (p) syscall(SYS_munmap, p, len);
}

LrStackTable *lr_stack_table_new(unsigned log2_slots, size_t arena_bytes) {
  if (log2_slots < 4) log2_slots = 4;
  if (log2_slots > 28) log2_slots = 28;
  LrStackTable *t = anon(sizeof *t);
  if (!t) return NULL;
  t->slots_bytes = sizeof(Slot) << log2_slots;
  t->arena_bytes = arena_bytes < 4096 ? 4096 : arena_bytes;
  t->slots = anon(t->slots_bytes);
  t->arena = anon(t->arena_bytes);
  if (!t->slots || !t->arena) {
    lr_stack_table_free(t);
    return NULL;
  }
  t->mask = ((uint64_t)1 << log2_slots) - 1;
  t->max_claims = (t->mask + 1) / 4 * 3;
  t->arena_words = t->arena_bytes / sizeof(uintptr_t);
  return t;
}

void lr_stack_table_free(LrStackTable *t) {
  if (!t) return;
  unmap(t->slots, t->slots_bytes);
  unmap(t->arena, t->arena_bytes);
  unmap(t, sizeof *t);
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

uint64_t lr_stack_intern(LrStackTable *t, const uintptr_t *ips, uint32_t n,
                         int *is_new, uint32_t *slot) {
  uint64_t h = hash_ips(ips, n);
  uint64_t i = h & t->mask;
  *is_new = 0;
  for (uint64_t probe = 0; probe <= t->mask; probe++, i = (i + 1) & t->mask) {
    Slot *s = &t->slots[i];
    uint64_t sh = __atomic_load_n(&s->hash, __ATOMIC_ACQUIRE);
    if (sh == 0) {
      if (__atomic_load_n(&t->claims, __ATOMIC_RELAXED) >= t->max_claims) break;
      uint64_t zero = 0;
      if (__atomic_compare_exchange_n(&s->hash, &zero, h, 0, __ATOMIC_ACQ_REL,
                                      __ATOMIC_ACQUIRE)) {
        __atomic_fetch_add(&t->claims, 1, __ATOMIC_RELAXED);
        size_t off = __atomic_fetch_add(&t->arena_used, n, __ATOMIC_RELAXED);
        if (off + n > t->arena_words) {
          /* arena full: the slot stays an unmatchable tombstone (n = ~0) */
          s->n = ~(uint64_t)0;
          __atomic_store_n(&s->id, ~(uint64_t)0, __ATOMIC_RELEASE);
          break;
        }
        memcpy(t->arena + off, ips, (size_t)n * sizeof *ips);
        s->off = off;
        s->n = n;
        *is_new = 1;
        *slot = (uint32_t)i;
        return fresh_id(t);
      }
      sh = zero; /* someone else claimed it: compare against theirs */
    }
    if (sh != h) continue;
    uint64_t id;
    unsigned spins = 0;
    while ((id = __atomic_load_n(&s->id, __ATOMIC_ACQUIRE)) == 0)
      if (++spins > 64) sched_yield();
    if (s->n == n && !memcmp(t->arena + s->off, ips, (size_t)n * sizeof *ips))
      return id;
  }
  *is_new = 1;
  *slot = UINT32_MAX;
  return fresh_id(t);
}

uint64_t lr_stack_find(LrStackTable *t, const uintptr_t *ips, uint32_t n) {
  uint64_t h = hash_ips(ips, n);
  uint64_t i = h & t->mask;
  for (uint64_t probe = 0; probe <= t->mask; probe++, i = (i + 1) & t->mask) {
    Slot *s = &t->slots[i];
    uint64_t sh = __atomic_load_n(&s->hash, __ATOMIC_ACQUIRE);
    if (sh == 0) return 0;
    if (sh != h) continue;
    uint64_t id = __atomic_load_n(&s->id, __ATOMIC_ACQUIRE);
    if (id && s->n == n && !memcmp(t->arena + s->off, ips, (size_t)n * sizeof *ips)) return id;
  }
  return 0;
}

void lr_stack_publish(LrStackTable *t, uint32_t slot, uint64_t id) {
  if (slot == UINT32_MAX) return;
  __atomic_store_n(&t->slots[slot].id, id, __ATOMIC_RELEASE);
}

uint64_t lr_stack_count(const LrStackTable *t) {
  return __atomic_load_n(&t->next_id, __ATOMIC_RELAXED);
}
