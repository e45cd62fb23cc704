/* fuzz_util.c: see fuzz_util.h. */
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lr_spool_format.h"

int fz_memfd(const uint8_t *data, size_t size, char *path, size_t len) {
  int fd = memfd_create("lowram-fuzz", MFD_CLOEXEC);
  if (fd < 0) return -1;
  size_t done = 0;
  while (done < size) {
    ssize_t w = write(fd, data + done, size - done);
    if (w <= 0) {
      close(fd);
      return -1;
    }
    done += (size_t)w;
  }
  snprintf(path, len, "/proc/self/fd/%d", fd);
  return fd;
}

int fz_fix_sums(uint8_t *buf, size_t len) {
  LrSpoolHeader h;
  if (len < sizeof h) return 0;
  memcpy(&h, buf, sizeof h);
  if (memcmp(h.magic, LR_SPOOL_MAGIC, 8) || h.header_size < sizeof h ||
      h.chunk_size <= sizeof(LrChunkHeader))
    return 0;
  int changed = 0;
  for (uint64_t off = h.header_size; off + sizeof(LrChunkHeader) <= len; off += h.chunk_size) {
    LrChunkHeader c;
    memcpy(&c, buf + off, sizeof c);
    uint64_t cap = h.chunk_size - sizeof c;
    if (c.magic != LR_CHUNK_MAGIC || !(c.flags & LR_CHUNK_SEALED) || c.used > cap ||
        off + sizeof c + c.used > len)
      continue;
    uint64_t sum = lr_sum64(buf + off + sizeof c, c.used);
    if (sum != c.sum) {
      c.sum = sum;
      memcpy(buf + off, &c, sizeof c);
      changed = 1;
    }
  }
  return changed;
}

static char g_dir[4096];

static void rm_scratch(void) {
  if (g_dir[0]) rmdir(g_dir);
}

const char *fz_scratch(void) {
  if (g_dir[0]) return g_dir;
  const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
  if (!base || !*base) base = "/tmp";
  snprintf(g_dir, sizeof g_dir, "%s/lowram-fuzz-XXXXXX", base);
  if (!mkdtemp(g_dir)) {
    g_dir[0] = 0;
    return NULL;
  }
  atexit(rm_scratch);
  return g_dir;
}

/* Sanitizer defaults for the harnesses and replays: any UBSan finding
** stops the run (clang's default is to print and go on, which a test
** would pass), and a leak fails it. Unused without sanitizers. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }
