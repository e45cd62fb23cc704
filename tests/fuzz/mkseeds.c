/*
** mkseeds.c: writes the built-in seed spools (seeds.h) into a directory,
** as the starting corpus of a libFuzzer run:
**   fuzz_mkseeds corpus/ && fuzz_import corpus/ ...
*/
#include <stdio.h>
#include <stdlib.h>

#include "seeds.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fuzz_mkseeds DIR\n");
    return 2;
  }
  for (size_t i = 0; i < fz_seed_count(); i++) {
    size_t len;
    const char *name;
    uint8_t *s = fz_seed(i, &len, &name);
    char p[4096];
    snprintf(p, sizeof p, "%s/seed-%s.spool", argv[1], name);
    FILE *f = s ? fopen(p, "wb") : NULL;
    if (!f || fwrite(s, 1, len, f) != len || fclose(f) != 0) {
      fprintf(stderr, "fuzz_mkseeds: %s: cannot write\n", p);
      return 1;
    }
    free(s);
  }
  return 0;
}
