/* noseeds.c: the built-in seeds of the targets whose seeds are the files
** in corpus/<target>/ (replay -S mutates those instead). */
#include "seeds.h"

size_t fz_seed_count(void) { return 0; }
uint8_t *fz_seed(size_t i, size_t *len, const char **name) {
  (void)i;
  (void)len;
  (void)name;
  return NULL;
}
