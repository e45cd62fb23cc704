/*
** replay.c: runs a harness without libFuzzer, so any compiler can check
** the corpus: the built-in seeds (seeds.h), a fixed number of seeded
** mutations of each (bit flips, byte runs, cuts, duplicated spans: the
** same everywhere, so a failure replays), and every file in the
** directories or files given. A crash, sanitizer report or abort() in the
** harness fails the test; otherwise it prints how many inputs it ran.
** With -S the files given are seeds as well: each also runs with MUTATIONS
** seeded mutations (for the targets whose seeds are files, not built in).
**
**   fuzz_replay_spool [-m MUTATIONS] [-S] [DIR|FILE]...
*/
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"
#include "seeds.h"

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void) { /* xorshift64 */
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}

/* A mutated copy of buf; mutations aim at the header and chunk headers as
** often as at payload bytes, since those steer the reader most. */
static uint8_t *mutate(const uint8_t *buf, size_t len, size_t *out_len) {
  size_t cap = len + 64;
  uint8_t *m = malloc(cap);
  if (!m) return NULL;
  memcpy(m, buf, len);
  size_t n = len;
  int k = 1 + (int)(rnd() % 4);
  for (int i = 0; i < k && n; i++) {
    size_t at;
    switch (rnd() % 6) {
    case 0: at = rnd() % (n < 160 ? n : 160); break;   /* spool header */
    case 1: at = (4096 + rnd() % 32) % n; break;        /* first chunk header */
    default: at = rnd() % n; break;
    }
    switch (rnd() % 5) {
    case 0: m[at] ^= (uint8_t)(1u << (rnd() % 8)); break;
    case 1: m[at] = (uint8_t)rnd(); break;
    case 2: { /* a run of 0xff or 0x00: long varints, huge lengths */
      uint8_t v = rnd() & 1 ? 0xff : 0;
      for (size_t j = at; j < n && j < at + 1 + rnd() % 12; j++) m[j] = v;
      break;
    }
    case 3: n = at; break; /* cut */
    case 4: { /* copy a span over another */
      size_t from = rnd() % n, span = 1 + rnd() % 32;
      if (from + span <= n && at + span <= n) memmove(m + at, m + from, span);
      break;
    }
    }
  }
  *out_len = n;
  return m;
}

static long g_file_mutations; /* -S: mutations of every file run */

/* The harness on buf, then on g_file_mutations mutations of it; how many
** inputs that was. */
static long run_buf(const uint8_t *buf, size_t len) {
  LLVMFuzzerTestOneInput(buf ? buf : (const uint8_t *)"", len);
  long ran = 1;
  for (long k = 0; k < g_file_mutations && len; k++) {
    size_t ml;
    uint8_t *m = mutate(buf, len, &ml);
    if (!m) break;
    LLVMFuzzerTestOneInput(m, ml);
    free(m);
    ran++;
  }
  return ran;
}

static long run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "%s: cannot open\n", path);
    return -1;
  }
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      cap = cap ? 2 * cap : 65536;
      uint8_t *nb = realloc(buf, cap);
      if (!nb) break;
      buf = nb;
    }
    size_t r = fread(buf + len, 1, cap - len, f);
    if (!r) break;
    len += r;
  }
  fclose(f);
  long ran = run_buf(buf, len);
  free(buf);
  return ran;
}

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file in dir, in name order (so runs are repeatable). */
static long run_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return run_file(dir);
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      char **nn = realloc(names, cap * sizeof *nn);
      if (!nn) break;
      names = nn;
    }
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  if (n) qsort(names, n, sizeof *names, cmp);
  long ran = 0;
  for (size_t i = 0; i < n; i++) {
    char p[8192];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, names[i] ? names[i] : "");
    long r;
    if (names[i] && stat(p, &st) == 0 && S_ISREG(st.st_mode) && (r = run_file(p)) > 0) ran += r;
    free(names[i]);
  }
  free(names);
  return ran;
}

int main(int argc, char **argv) {
  long mutations = 100, ran = 0;
  int first = 1;
  if (argc > 2 && !strcmp(argv[1], "-m")) {
    mutations = atol(argv[2]);
    first = 3;
  }
  if (argc > first && !strcmp(argv[first], "-S")) {
    g_file_mutations = mutations;
    first++;
  }
  for (size_t i = 0; i < fz_seed_count(); i++) {
    size_t len;
    uint8_t *s = fz_seed(i, &len, NULL);
    if (!s) {
      fprintf(stderr, "seed %zu: out of memory\n", i);
      return 1;
    }
    LLVMFuzzerTestOneInput(s, len);
    ran++;
    for (long k = 0; k < mutations; k++) {
      size_t ml;
      uint8_t *m = mutate(s, len, &ml);
      if (!m) return 1;
      LLVMFuzzerTestOneInput(m, ml);
      free(m);
      ran++;
    }
    free(s);
  }
  for (int i = first; i < argc; i++) {
    long r = run_dir(argv[i]);
    if (r < 0) return 1;
    ran += r;
  }
  printf("replayed %ld inputs\n", ran);
  return 0;
}
