/*
** grow.h: the two helpers behind the importer's hand-made tables
** (import.c, lifetimes.c): doubling arrays and a 64-bit hash mix for
** open addressing. Header-only and static inline, so each stays private.
*/
#ifndef LR_GROW_H
#define LR_GROW_H

#include <stdint.h>
#include <stdlib.h>

/* Makes room for `need` elements of `elem` bytes in p (capacity *cap),
** doubling from 16. Returns the possibly moved array, or NULL (p untouched)
** when memory runs out or the size would overflow. */
static inline void *lr_grow(void *p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return p;
  size_t n = *cap ? *cap : 16;
  while (n < need) {
    if (n > SIZE_MAX / 2) return NULL;
    n *= 2;
  }
  if (n > SIZE_MAX / elem) return NULL;
  void *q = realloc(p, n * elem);
  if (!q) return NULL;
  *cap = n;
  return q;
}

/* Spreads the bits of a key (addresses and ids are far from random) so
** that masking with a power of two gives evenly used slots. */
static inline uint64_t lr_mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

#endif
