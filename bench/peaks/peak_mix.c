/*
** peak_mix.c: an inference-shaped program whose live memory is known by
** construction, to compare the peaks that memory profilers report. Its
** memory, in the order it is made:
**   load_weights    the weights as one anonymous mmap (like llama.cpp's
**                   buffers that are not file-backed, or ggml's mmap'd
**                   arenas), kept to the end
**   map_model_file  optionally (--file PATH) a read-only file mapping,
**                   kept to the end: file-backed, so in no one's peak
**   alloc_kv_cache  the KV cache by malloc, kept to the end
**   then --steps times:
**     step_activations  a malloc'd temporary, freed at the end of the step
**     map_scratch       a MAP_ANONYMOUS scratch mapped and unmapped inside
**                       the step, while the activations are live
** So the true peak of live heap + anonymous mmap (requested bytes) is
**   weights + kv + activations + scratch      (--steps >= 1)
** reached in every step, first in step 0. Heap-only profilers (heaptrack,
** massif without --pages-as-heap) see kv + activations.
**
** `peak_mix --expect [options]` prints, without allocating anything,
**   PEAK HEAP ANON
** (bytes: the true peak of heap + anon, its heap part, its anon part) and
** exits. Otherwise it runs. Before the last free it uses no stdio, so the C
** runtime holds no blocks of its own at the peak.
**
** Options (sizes in bytes; an mmap size must be a multiple of the page size
** so that requested and mapped bytes are the same):
**   --weights N (default 24 MiB)  --kv N (6 MiB + 1234)
**   --act N (1 MiB + 4321)        --scratch N (2 MiB)
**   --steps N (8)                 --file PATH (none)
*/
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

typedef struct {
  size_t weights, kv, act, scratch;
  long steps;
  const char *file;
  int expect;
} Params;

static void *volatile sink;

NOINLINE static void *load_weights(size_t n) {
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  memset(p, 1, n);
  return p;
}

NOINLINE static void *map_model_file(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  struct stat st;
  void *p = MAP_FAILED;
  if (fstat(fd, &st) == 0 && st.st_size > 0) {
    *len = (size_t)st.st_size;
    p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
  }
  close(fd);
  if (p == MAP_FAILED) return NULL;
  /* touch every page, as a forward pass reading the weights would */
  volatile unsigned char sum = 0;
  for (size_t i = 0; i < *len; i += 4096) sum ^= ((const unsigned char *)p)[i];
  (void)sum;
  return p;
}

NOINLINE static void *alloc_kv_cache(size_t n) {
  void *p = malloc(n);
  if (p) memset(p, 2, n);
  return p;
}

NOINLINE static void *step_activations(size_t n) {
  void *p = malloc(n);
  if (p) memset(p, 3, n);
  return p;
}

NOINLINE static int map_scratch(size_t n) {
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -1;
  memset(p, 4, n);
  sink = p;
  return munmap(p, n);
}

/* A size option's value: digits only, no overflow, and a page multiple
** when it is an mmap length. */
static int parse_size(const char *opt, const char *s, int paged, size_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  long pg = sysconf(_SC_PAGESIZE);
  if (!*s || *s == '-' || *end || errno || v > (1ULL << 40)) {
    fprintf(stderr, "peak_mix: %s: not a size in bytes: '%s'\n", opt, s);
    return -1;
  }
  if (paged && (v == 0 || v % (unsigned long long)pg)) {
    fprintf(stderr, "peak_mix: %s: must be a positive multiple of the page size (%ld): '%s'\n",
            opt, pg, s);
    return -1;
  }
  *out = (size_t)v;
  return 0;
}

static int parse(int argc, char **argv, Params *p) {
  p->weights = 24u << 20;
  p->kv = (6u << 20) + 1234;
  p->act = (1u << 20) + 4321;
  p->scratch = 2u << 20;
  p->steps = 8;
  p->file = NULL;
  p->expect = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--expect")) {
      p->expect = 1;
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "peak_mix: unknown option or missing value: '%s'\n", a);
      return -1;
    }
    const char *v = argv[++i];
    int rc = 0;
    if (!strcmp(a, "--weights")) rc = parse_size(a, v, 1, &p->weights);
    else if (!strcmp(a, "--kv")) rc = parse_size(a, v, 0, &p->kv);
    else if (!strcmp(a, "--act")) rc = parse_size(a, v, 0, &p->act);
    else if (!strcmp(a, "--scratch")) rc = parse_size(a, v, 1, &p->scratch);
    else if (!strcmp(a, "--file")) p->file = v;
    else if (!strcmp(a, "--steps")) {
      size_t s;
      rc = parse_size(a, v, 0, &s);
      if (!rc && (s < 1 || s > 1000000)) {
        fprintf(stderr, "peak_mix: --steps: between 1 and 1000000: '%s'\n", v);
        rc = -1;
      }
      p->steps = (long)s;
    } else {
      fprintf(stderr, "peak_mix: unknown option: '%s'\n", a);
      rc = -1;
    }
    if (rc) return -1;
  }
  if (p->kv == 0 || p->act == 0) {
    fprintf(stderr, "peak_mix: --kv and --act must be positive\n");
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  Params p;
  if (parse(argc, argv, &p)) return 2;
  if (p.expect) {
    uint64_t heap = (uint64_t)p.kv + p.act, anon = (uint64_t)p.weights + p.scratch;
    printf("%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", heap + anon, heap, anon);
    return 0;
  }
  void *w = load_weights(p.weights);
  size_t flen = 0;
  void *f = NULL;
  if (p.file && !(f = map_model_file(p.file, &flen))) {
    fprintf(stderr, "peak_mix: cannot map '%s': %s\n", p.file, strerror(errno));
    return 1;
  }
  void *kv = alloc_kv_cache(p.kv);
  if (!w || !kv) return 1;
  for (long s = 0; s < p.steps; s++) {
    void *a = step_activations(p.act);
    if (!a || map_scratch(p.scratch)) return 1;
    free(a);
  }
  free(kv);
  if (f) munmap(f, flen);
  munmap(w, p.weights);
  return 0;
}
