/* infer.c: three buffers allocated in static functions that gcc -O2 inlines
** into main (tests/symbols/test_symbols.sh asserts each one's frames by
** name and line). The line numbers below are asserted: edit with care. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile size_t scale = 1; /* keeps sizes unknown to the compiler */

static inline __attribute__((always_inline)) char *scratch(size_t n) {
  char *p = malloc(n * scale); /* line 11 */
  if (p) memset(p, 1, n);
  return p;
}

static inline __attribute__((always_inline)) char *kv_cache(size_t n) {
  char *p = malloc(n * scale); /* line 17 */
  if (p) memset(p, 2, n);
  return p;
}

static inline __attribute__((always_inline)) char *forward_token(size_t n) {
  char *s = scratch(n); /* line 23 */
  return s;
}

int main(int argc, char **argv) {
  (void)argv;
  size_t n = 4096 * (size_t)(argc + 1);
  char *a = forward_token(100000); /* line 30 */
  char *b = kv_cache(200000);      /* line 31 */
  char *c = scratch(n + 300000);   /* line 32 */
  printf("%d\n", a[7] + b[9] + c[11]);
  free(a);
  free(b);
  free(c);
  return 0;
}
