/*
** spool_writer.c: creates a spool, hands chunks to writers and encodes the
** records of schemas/lr_spool_format.h. See spool_writer.h for the
** invariants. Mappings go through raw syscalls so that, inside the shim,
** they never reach the shim's own mmap hooks.
*/
#include "sys_mmap.h"
#include "spool_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct LrSpool {
  int fd;                      /* atomic: above the program's range (lr_fd_move_high) */
  uint32_t chunk_size;         /* the unit: header chunk_size, a thread's first chunk */
  uint32_t max_units;          /* the largest chunk, in units */
  LrSpoolHeader *hdr;          /* MAP_SHARED, LR_SPOOL_HEADER_SIZE bytes */
  uint32_t next_chunk;         /* atomic: units handed out */
  uint32_t cut_short;          /* atomic */
  uint64_t dev, ino;           /* what fd must name (fstat) before any use */
  int reopen_lock;             /* atomic: one thread reopens at a time */
  uint32_t end_claimed;        /* atomic: the one lr_spool_end that writes the ending */
  int error;                   /* errno of the reservation or mapping that cut it short */
  uint32_t reopens;            /* times the fd was found lost and reopened */
  char path[4096];             /* absolute path for reopening ("" = never) */
};

/* The lowest fd at or above this is where the shim keeps its spool fd: far
** above what programs use (bash's own fds are 10 and 255), below the
** usual 1024 soft limit so that the kernel's fd table stays small. */
#define LR_FD_HIGH 1000

/* Moves fd above the program's range (close-on-exec); returns the new fd,
** or fd itself if no higher number is free. */
int lr_fd_move_high(int fd) {
  struct rlimit rl;
  long lim = 1024;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      rl.rlim_cur < (rlim_t)lim)
    lim = (long)rl.rlim_cur;
  long base = lim > LR_FD_HIGH + 16 ? LR_FD_HIGH : lim - 16;
  for (; base >= 16 && base > fd; base /= 2) {
    int h = fcntl(fd, F_DUPFD_CLOEXEC, (int)base);
    if (h >= 0) {
      close(fd);
      return h;
    }
    if (errno != EMFILE && errno != EINVAL) break;
  }
  return fd;
}

/* Whether fd names the spool's file right now. */
static int fd_is_spool(const LrSpool *s, int fd) {
  struct stat st;
  return fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_dev == s->dev &&
         (uint64_t)st.st_ino == s->ino;
}

static void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  return lr_sys_mmap(addr, len, prot, flags, fd, (long)off);
}

static int sys_munmap(void *addr, size_t len) { return lr_sys_munmap(addr, len); }

/* Reserves [off, off+len) on disk; -errno on failure. */
static int reserve(int fd, off_t off, off_t len) {
  if (fallocate(fd, 0, off, len) == 0) return 0;
  if (errno != EOPNOTSUPP && errno != ENOSYS) return -errno;
  static const char zeros[16384];
  while (len > 0) {
    size_t n = len < (off_t)sizeof zeros ? (size_t)len : sizeof zeros;
    ssize_t w = pwrite(fd, zeros, n, off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    off += w;
    len -= w;
  }
  return 0;
}

int lr_spool_create(LrSpool **out, int fd, const LrSpoolOpts *o) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  fd = lr_fd_move_high(fd);
  long pg = sysconf(_SC_PAGESIZE);
  if (pg <= 0) pg = 4096;
  /* the unit (a thread's first chunk) is LR_CHUNK_UNIT or a page; a
  ** chunk is 1, 2, 4... units, up to the largest asked for */
  uint32_t unit = LR_CHUNK_UNIT < (uint32_t)pg ? (uint32_t)pg : LR_CHUNK_UNIT;
  uint32_t cs = o->chunk_size < unit ? unit : o->chunk_size;
  uint32_t max_units = (cs + unit - 1) / unit;
  int r = reserve(fd, 0, LR_SPOOL_HEADER_SIZE);
  if (r) {
    close(fd);
    return r;
  }
  LrSpoolHeader *h = sys_mmap(NULL, LR_SPOOL_HEADER_SIZE, PROT_READ | PROT_WRITE,
                              MAP_SHARED, fd, 0);
  if (h == MAP_FAILED) {
    r = -errno;
    close(fd);
    return r;
  }
  LrSpool *s = sys_mmap(NULL, sizeof(LrSpool), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (s == MAP_FAILED) {
    r = -errno;
    sys_munmap(h, LR_SPOOL_HEADER_SIZE);
    close(fd);
    return r;
  }
  memset(s, 0, sizeof *s);
  s->fd = fd;
  s->dev = (uint64_t)st.st_dev;
  s->ino = (uint64_t)st.st_ino;
  if (o->path) {
    size_t pl = strlen(o->path);
    if (pl < sizeof s->path) memcpy(s->path, o->path, pl + 1);
  }
  s->chunk_size = unit;
  s->max_units = max_units;
  s->hdr = h;
  memset(h, 0, sizeof *h);
  h->version = LR_SPOOL_VERSION;
  h->header_size = LR_SPOOL_HEADER_SIZE;
  h->chunk_size = unit;
  h->pid = o->pid;
  h->ppid = o->ppid;
  h->start_realtime_ns = o->start_realtime_ns;
  h->start_mono_ns = o->start_mono_ns;
  h->page_size = (uint32_t)pg;
  h->pointer_size = (uint32_t)sizeof(void *);
#if defined(__x86_64__)
  memcpy(h->arch, "x86_64", 6);
#elif defined(__aarch64__)
  memcpy(h->arch, "aarch64", 7);
#elif defined(__arm__)
  memcpy(h->arch, "arm", 3);
#elif defined(__i386__)
  memcpy(h->arch, "i386", 4);
#elif defined(__riscv)
  memcpy(h->arch, "riscv64", 7);
#else
  memcpy(h->arch, "unknown", 7);
#endif
  h->mem_total = o->mem_total;
  h->stack_depth = o->stack_depth;
  h->rss_interval_ms = o->rss_interval_ms;
  h->unwinder = o->unwinder;
  h->exec_index = o->exec_index;
  h->minor_version = LR_SPOOL_MINOR;
  /* the magic last: a header with a magic is a complete header */
  __atomic_thread_fence(__ATOMIC_RELEASE);
  memcpy(h->magic, LR_SPOOL_MAGIC, 8);
  *out = s;
  return 0;
}

/* The spool's fd, checked to still name the spool; reopened by path (and
** moved high again) if the program closed it or put another file on its
** number. -1 if neither worked: the caller must not write. */
int lr_spool_verified_fd(LrSpool *s) {
  int fd = __atomic_load_n(&s->fd, __ATOMIC_ACQUIRE);
  if (__builtin_expect(fd_is_spool(s, fd), 1)) return fd;
  while (__atomic_exchange_n(&s->reopen_lock, 1, __ATOMIC_ACQUIRE)) sched_yield();
  fd = __atomic_load_n(&s->fd, __ATOMIC_ACQUIRE);
  if (!fd_is_spool(s, fd)) { /* not fixed by another thread meanwhile */
    /* the old number is the program's now (or nobody's): never close it */
    fd = -1;
    if (s->path[0]) {
      int n = open(s->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
      if (n >= 0 && fd_is_spool(s, n)) {
        fd = lr_fd_move_high(n);
        s->reopens++;
      } else if (n >= 0) {
        close(n); /* a different file under that name now */
      }
    }
    __atomic_store_n(&s->fd, fd, __ATOMIC_RELEASE);
  }
  __atomic_store_n(&s->reopen_lock, 0, __ATOMIC_RELEASE);
  return fd;
}

uint32_t lr_spool_reopens(const LrSpool *s) { return s->reopens; }

void lr_spool_abandon(LrSpool *s) {
  if (!s) return;
  sys_munmap(s->hdr, LR_SPOOL_HEADER_SIZE);
  int fd = __atomic_load_n(&s->fd, __ATOMIC_ACQUIRE);
  if (fd_is_spool(s, fd)) close(fd); /* else the number is not ours to close */
  sys_munmap(s, sizeof *s);
}

void lr_spool_close(LrSpool *s) { lr_spool_abandon(s); }

LrSpoolHeader *lr_spool_header(LrSpool *s) { return s->hdr; }
uint32_t lr_spool_chunk_size(const LrSpool *s) { return s->chunk_size; }
uint32_t lr_spool_chunk_max(const LrSpool *s) { return s->chunk_size * s->max_units; }

int lr_spool_error(const LrSpool *s) { return __atomic_load_n(&s->error, __ATOMIC_RELAXED); }

int lr_spool_cut_short(const LrSpool *s) {
  return __atomic_load_n(&s->cut_short, __ATOMIC_RELAXED) != 0;
}

/* Two threads can end at once (exit() in one, a fatal signal or _exit in
** another): the first to claim writes the three fields, so the header never
** holds one caller's reason with another's code. A caller that loses
** returns at once, even before the winner's fields are out (it is about to
** die, and so is the process). A signal handler interrupting the winner on
** its own thread loses too: if that signal then kills the process, the
** spool says "not ended" (killed), never a torn ending. */
void lr_spool_end(LrSpool *s, uint32_t reason, int64_t code, uint64_t ns) {
  LrSpoolHeader *h = s->hdr;
  if (__atomic_load_n(&h->flags, __ATOMIC_ACQUIRE) & LR_SPOOL_ENDED) return;
  if (__atomic_exchange_n(&s->end_claimed, 1, __ATOMIC_ACQ_REL)) return;
  h->end_reason = reason;
  h->end_code = code;
  h->end_ns = ns;
  __atomic_fetch_or(&h->flags, LR_SPOOL_ENDED, __ATOMIC_RELEASE);
}

void lr_sw_init(LrSpoolWriter *w, LrSpool *s, uint32_t tid) {
  memset(w, 0, sizeof *w);
  w->spool = s;
  w->tid = tid;
}

/* Claims a chunk of at least min_units units (more if the thread has
** earned a larger one, see lr_sw_begin_slow). */
static int claim(LrSpoolWriter *w, uint32_t min_units) {
  LrSpool *s = w->spool;
  if (__atomic_load_n(&s->cut_short, __ATOMIC_RELAXED)) return -1;
  /* never reserve or map through an fd not checked to be the spool's */
  int fd = lr_spool_verified_fd(s);
  if (fd < 0) {
    __atomic_store_n(&s->cut_short, 1, __ATOMIC_RELAXED);
    __atomic_fetch_or(&s->hdr->flags, LR_SPOOL_CUT_SHORT | LR_SPOOL_FD_LOST, __ATOMIC_RELEASE);
    return -1;
  }
  uint32_t units = w->next_units > min_units ? w->next_units : min_units;
  if (units > s->max_units) units = s->max_units;
  size_t len = (size_t)units * s->chunk_size;
  uint32_t idx = __atomic_fetch_add(&s->next_chunk, units, __ATOMIC_RELAXED);
  off_t off = (off_t)LR_SPOOL_HEADER_SIZE + (off_t)idx * s->chunk_size;
  uint8_t *c = MAP_FAILED;
  int r = reserve(fd, off, (off_t)len);
  if (r == 0) {
    c = sys_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
    r = c == MAP_FAILED ? -errno : 0;
  }
  if (c == MAP_FAILED) {
    __atomic_store_n(&s->error, -r, __ATOMIC_RELAXED);
    __atomic_store_n(&s->cut_short, 1, __ATOMIC_RELAXED);
    __atomic_fetch_or(&s->hdr->flags, LR_SPOOL_CUT_SHORT, __ATOMIC_RELEASE);
    return -1;
  }
  /* Pages are faulted in as records reach them (not prefaulted): the
  ** mapped spool counts in the target's RssFile, so keep it to what holds
  ** data. Prefaulting measured no faster here. */
  LrChunkHeader *ch = (LrChunkHeader *)c;
  ch->index = idx;
  ch->tid = w->tid;
  ch->used = 0;
  ch->flags = 0;
  ch->span = units;
  ch->sum = 0;
  __atomic_store_n(&ch->magic, LR_CHUNK_MAGIC, __ATOMIC_RELEASE);
  w->chunk = c;
  w->maplen = (uint32_t)len;
  w->used = 0;
  w->cap = (uint32_t)len - (uint32_t)sizeof(LrChunkHeader);
  /* the next chunk twice as large, up to the largest: a thread that fills
  ** chunks quickly soon claims (and maps) one per chunk_max bytes, one that
  ** makes a few events holds one unit */
  w->next_units = units * 2 < s->max_units ? units * 2 : s->max_units;
  w->prev_seq = 0;
  w->prev_ns = 0;
  w->prev_addr = 0;
  return 0;
}

uint64_t lr_sw_sum64(const void *data, size_t len) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  /* lr_sum64 with whole-word loads: the same value, several times faster */
  const uint8_t *p = data;
  uint64_t h = 0xcbf29ce484222325ull, w;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
  }
  if (i < len) {
    w = 0;
    memcpy(&w, p + i, len - i);
    h = (h ^ w) * 0x100000001b3ull;
  }
  return h;
#else
  return lr_sum64(data, len);
#endif
}

void lr_sw_seal(LrSpoolWriter *w) {
  if (!w->chunk) return;
  LrChunkHeader *ch = (LrChunkHeader *)w->chunk;
  ch->sum = lr_sw_sum64(w->chunk + sizeof *ch, w->used);
  __atomic_fetch_or(&ch->flags, LR_CHUNK_SEALED, __ATOMIC_RELEASE);
  sys_munmap(w->chunk, w->maplen);
  w->chunk = NULL;
}

void lr_sw_drop(LrSpoolWriter *w) {
  if (w->chunk && w->spool) sys_munmap(w->chunk, w->maplen);
  w->chunk = NULL;
  w->spool = NULL;
}

uint8_t *lr_sw_begin_slow(LrSpoolWriter *w, size_t max) {
  if (w->chunk != NULL && w->cap - w->used >= max)
    return w->chunk + sizeof(LrChunkHeader) + w->used;
  if (w->failed || !w->spool) return NULL;
  LrSpool *s = w->spool;
  if (max > (size_t)s->chunk_size * s->max_units - sizeof(LrChunkHeader)) return NULL;
  lr_sw_seal(w);
  /* a record larger than the thread's next chunk gets a chunk that holds it */
  uint32_t need = (uint32_t)((max + sizeof(LrChunkHeader) + s->chunk_size - 1) / s->chunk_size);
  if (claim(w, need) != 0) {
    w->failed = 1;
    return NULL;
  }
  return w->chunk + sizeof(LrChunkHeader);
}

/* Bytes a str field of n bytes can take. */
static size_t str_max(size_t n) {
  return 10 + (n > LR_SPOOL_MAX_STR ? LR_SPOOL_MAX_STR : n);
}

int lr_sw_event(LrSpoolWriter *w, const LrEvent *ev) {
  uint8_t *p = lr_sw_begin(w, 1 + 10 * 10 + str_max(ev->path_len));
  if (!p) return -1;
  *p++ = (uint8_t)ev->kind;
  p = lr_sw_dseq(w, p, ev->seq);
  p = lr_sw_dns(w, p, ev->ns);
  p = lr_sw_daddr(w, p, ev->addr);
  switch (ev->kind) {
  case LR_EV_FREE:
    break;
  case LR_EV_MUNMAP:
    p = lr_put_uv(p, ev->size);
    break;
  case LR_EV_POSIX_MEMALIGN: case LR_EV_ALIGNED_ALLOC: case LR_EV_MEMALIGN:
    p = lr_put_uv(p, ev->size);
    p = lr_put_uv(p, ev->stack);
    p = lr_put_uv(p, ev->alignment);
    break;
  case LR_EV_REALLOC: case LR_EV_REALLOCARRAY:
    p = lr_put_uv(p, ev->size);
    p = lr_put_uv(p, ev->stack);
    p = lr_put_sv(p, (int64_t)(ev->old_addr - ev->addr));
    p = lr_put_uv(p, ev->seq - ev->free_seq);
    break;
  case LR_EV_MMAP: case LR_EV_MMAP64:
    p = lr_put_uv(p, ev->size);
    p = lr_put_uv(p, ev->stack);
    p = lr_put_uv(p, ev->prot);
    p = lr_put_uv(p, ev->flags);
    p = lr_put_uv(p, ev->offset);
    p = lr_sw_str(p, ev->path ? ev->path : "", ev->path ? ev->path_len : 0);
    break;
  case LR_EV_MPROTECT: case LR_EV_PKEY_MPROTECT:
    p = lr_put_uv(p, ev->size);
    p = lr_put_uv(p, ev->stack);
    p = lr_put_uv(p, ev->prot);
    if (ev->kind == LR_EV_PKEY_MPROTECT) p = lr_put_uv(p, ev->offset); /* the pkey */
    break;
  case LR_EV_MADVISE:
    p = lr_put_uv(p, ev->size);
    p = lr_put_uv(p, ev->flags); /* the advice */
    break;
  case LR_EV_MREMAP:
    p = lr_put_uv(p, ev->size);
    p = lr_put_uv(p, ev->stack);
    p = lr_put_sv(p, (int64_t)(ev->old_addr - ev->addr));
    p = lr_put_uv(p, ev->old_size);
    p = lr_put_uv(p, ev->flags);
    p = lr_put_uv(p, ev->seq - ev->free_seq);
    break;
  default: /* malloc calloc valloc pvalloc */
    p = lr_put_uv(p, ev->size);
    p = lr_put_uv(p, ev->stack);
    break;
  }
  lr_sw_commit(w, p);
  return 0;
}

int lr_sw_stack(LrSpoolWriter *w, uint64_t id, const uintptr_t *ips, uint32_t n) {
  if (n > LR_SPOOL_MAX_FRAMES) n = LR_SPOOL_MAX_FRAMES;
  uint8_t *p = lr_sw_begin(w, 1 + 20 + (size_t)n * 10);
  if (!p) return -1;
  *p++ = LR_REC_STACK;
  p = lr_put_uv(p, id);
  p = lr_put_uv(p, n);
  uint64_t prev = 0;
  for (uint32_t i = 0; i < n; i++) {
    p = lr_put_sv(p, (int64_t)((uint64_t)ips[i] - prev));
    prev = ips[i];
  }
  lr_sw_commit(w, p);
  return 0;
}

int lr_sw_module(LrSpoolWriter *w, uint64_t seq, uint64_t base, uint64_t size,
                 const uint8_t *build_id, size_t build_id_len, const char *path,
                 size_t path_len) {
  if (build_id_len > 64) build_id_len = 64;
  uint8_t *p = lr_sw_begin(w, 1 + 30 + str_max(build_id_len) + str_max(path_len));
  if (!p) return -1;
  *p++ = LR_REC_MODULE;
  p = lr_sw_dseq(w, p, seq);
  p = lr_put_uv(p, base);
  p = lr_put_uv(p, size);
  p = lr_sw_str(p, (const char *)build_id, build_id_len);
  p = lr_sw_str(p, path, path_len);
  lr_sw_commit(w, p);
  return 0;
}

int lr_sw_unmodule(LrSpoolWriter *w, uint64_t seq, uint64_t base) {
  uint8_t *p = lr_sw_begin(w, 21);
  if (!p) return -1;
  *p++ = LR_REC_UNMODULE;
  p = lr_sw_dseq(w, p, seq);
  p = lr_put_uv(p, base);
  lr_sw_commit(w, p);
  return 0;
}

int lr_sw_rss(LrSpoolWriter *w, uint64_t seq, uint64_t ns, const uint64_t v[4]) {
  uint8_t *p = lr_sw_begin(w, 61);
  if (!p) return -1;
  *p++ = LR_REC_RSS;
  p = lr_sw_dseq(w, p, seq);
  p = lr_sw_dns(w, p, ns);
  for (int i = 0; i < 4; i++) p = lr_put_uv(p, v[i]);
  lr_sw_commit(w, p);
  return 0;
}

int lr_sw_rss_swap(LrSpoolWriter *w, uint64_t seq, uint64_t ns, const uint64_t v[5]) {
  uint8_t *p = lr_sw_begin(w, 71);
  if (!p) return -1;
  *p++ = LR_REC_RSS_SWAP;
  p = lr_sw_dseq(w, p, seq);
  p = lr_sw_dns(w, p, ns);
  for (int i = 0; i < 5; i++) p = lr_put_uv(p, v[i]);
  lr_sw_commit(w, p);
  return 0;
}

int lr_sw_mark(LrSpoolWriter *w, uint64_t seq, uint64_t ns, const char *name, size_t n) {
  uint8_t *p = lr_sw_begin(w, 21 + str_max(n));
  if (!p) return -1;
  *p++ = LR_REC_MARK;
  p = lr_sw_dseq(w, p, seq);
  p = lr_sw_dns(w, p, ns);
  p = lr_sw_str(p, name, n);
  lr_sw_commit(w, p);
  return 0;
}

int lr_sw_param_int(LrSpoolWriter *w, uint64_t seq, uint64_t ns, const char *name,
                    size_t n, int64_t value) {
  uint8_t *p = lr_sw_begin(w, 41 + str_max(n));
  if (!p) return -1;
  *p++ = LR_REC_PARAM;
  p = lr_sw_dseq(w, p, seq);
  p = lr_sw_dns(w, p, ns);
  p = lr_sw_str(p, name, n);
  p = lr_put_uv(p, LR_PARAM_INT);
  p = lr_put_sv(p, value);
  lr_sw_commit(w, p);
  return 0;
}

int lr_sw_param_str(LrSpoolWriter *w, uint64_t seq, uint64_t ns, const char *name,
                    size_t n, const char *value, size_t vn) {
  uint8_t *p = lr_sw_begin(w, 31 + str_max(n) + str_max(vn));
  if (!p) return -1;
  *p++ = LR_REC_PARAM;
  p = lr_sw_dseq(w, p, seq);
  p = lr_sw_dns(w, p, ns);
  p = lr_sw_str(p, name, n);
  p = lr_put_uv(p, LR_PARAM_STR);
  p = lr_sw_str(p, value, vn);
  lr_sw_commit(w, p);
  return 0;
}

static size_t uv_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

/* The size is exact (a generous per-argument guess made thousands of empty
** arguments overflow a chunk and lose the record). Arguments that would take
** the record past half a chunk are left out, the first ones kept. */
int lr_sw_argv(LrSpoolWriter *w, const char *args, size_t len) {
  size_t room = w->spool ? lr_spool_chunk_max(w->spool) / 2 : 0;
  size_t argc = 0, need = 0, used = 0, start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && args[i] != '\0') continue;
    if (i == len && i == start) break; /* no unterminated last argument */
    size_t n = i - start > LR_SPOOL_MAX_STR ? LR_SPOOL_MAX_STR : i - start;
    size_t add = uv_size(n) + n;
    if (need + add + 11 > room) break;
    need += add;
    argc++;
    used = i < len ? i + 1 : i;
    start = i + 1;
  }
  uint8_t *p = lr_sw_begin(w, 11 + need);
  if (!p) return -1;
  *p++ = LR_REC_ARGV;
  p = lr_put_uv(p, argc);
  start = 0;
  for (size_t i = 0, k = 0; i <= used && k < argc; i++) {
    if (i == used || args[i] == '\0') {
      p = lr_sw_str(p, args + start, i - start);
      start = i + 1;
      k++;
    }
  }
  lr_sw_commit(w, p);
  return 0;
}

int lr_sw_thread(LrSpoolWriter *w, uint64_t seq, uint64_t ns, uint32_t tid,
                 const char *name, size_t n) {
  uint8_t *p = lr_sw_begin(w, 31 + str_max(n));
  if (!p) return -1;
  *p++ = LR_REC_THREAD;
  p = lr_sw_dseq(w, p, seq);
  p = lr_sw_dns(w, p, ns);
  p = lr_put_uv(p, tid);
  p = lr_sw_str(p, name, n);
  lr_sw_commit(w, p);
  return 0;
}
