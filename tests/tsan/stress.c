/*
** stress.c: the shim's shared, lock-free parts under ThreadSanitizer.
**
** A TSan-instrumented liblowram.so cannot be preloaded (tests/tsan/README
** says what happens), so this program compiles the shim's own sources
** (preload/stack_table.c, spool_writer.c) with -fsanitize=thread and drives
** them from 8 threads the way shim.c does, as an ordinary program:
**   - the stack table: every thread interns the same 1500 stacks (depth 1
**     to 40) in its own order, three times, following the shim's protocol
**     (intern; if new, write the LR_REC_STACK record, then publish), with
**     lr_stack_find racing beside it; then a 16-slot table with a 4 KiB
**     arena, where the table and the arena fill up under contention;
**   - the spool: one spool with 64 KiB chunks, a writer per thread claiming
**     chunks concurrently (one atomic add, fallocate, mmap per chunk); in
**     the middle the spool's fd is closed (as a program's closefrom would)
**     and all 8 writers race to find it lost and reopen it under the
**     reopen lock; then every thread calls lr_spool_end (the first to
**     claim the end writes it: the header holds one caller's whole ending).
** Then the results are checked: ids agree between threads and are
** distinct between stacks, every event and stack record is in the spool
** (decoded by tests/recording/spool_decode.c), one reopen.
**
** TSan (TSAN_OPTIONS=halt_on_error=1 from meson) ends the run with exit 66
** on the first race report. A canary run first (this program re-executed
** with "canary": two threads incrementing a plain int) must be reported,
** so a build or runtime where TSan silently does nothing fails the test.
**
** Not covered here: shim.c itself (the hooks, the session, fork handling:
** they define malloc, so they only run preloaded) and the stack cache
** (stack_cache.c: one per thread, never shared, nothing for TSan to see).
*/
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spool_decode.h"
#include "spool_writer.h"
#include "stack_table.h"

/* meson compiles every source of this program with -Dsyscall=lrt_syscall:
** the shim maps and unmaps its chunks with raw syscall(SYS_mmap/munmap) so
** as never to reach its own hooks, and TSan, which does not see those,
** would keep a freed chunk's history for the next chunk mapped at the same
** address and report its first stores as racing the old chunk's seal (a
** false report). Sent to mmap()/munmap(), which TSan intercepts, the
** recycled range starts clean; every other call is the real syscall(). */
#undef syscall
long syscall(long nr, ...); /* <unistd.h> declared it under the macro's name */
long lrt_syscall(long nr, ...);
long lrt_syscall(long nr, ...) {
  va_list ap;
  va_start(ap, nr);
  long a[6];
  for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
  va_end(ap);
  if (nr == SYS_mmap) {
    void *p = mmap((void *)a[0], (size_t)a[1], (int)a[2], (int)a[3], (int)a[4], (off_t)a[5]);
    return p == MAP_FAILED ? -1 : (long)p;
  }
  if (nr == SYS_munmap) return munmap((void *)a[0], (size_t)a[1]);
  return syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LRT_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define LRT_TSAN 1
#endif

#define NTHREADS 8
#define NSTACKS 1500
#define ROUNDS 3
#define SMALL_STACKS 100

static int failures;
#define CHECK(cond, ...)                                  \
  do {                                                    \
    if (!(cond)) {                                        \
      fprintf(stderr, "tsan_stress: FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                       \
      fputc('\n', stderr);                                \
      failures++;                                         \
    }                                                     \
  } while (0)

/* Stack k: depth 1 + k % 40, frames derived from k (distinct stacks differ). */
static uint32_t make_stack(uint32_t k, uintptr_t *ips) {
  uint32_t n = 1 + k % 40;
  for (uint32_t i = 0; i < n; i++)
    ips[i] = 0x400000u + (uintptr_t)k * 0x1000u + (uintptr_t)i * 8u;
  return n;
}

static LrStackTable *big, *small;
static LrSpool *spool;
static pthread_barrier_t barrier;
static uint64_t seq_counter; /* atomic: the shim's global sequence */

typedef struct Worker {
  int index;
  pthread_t th;
  LrSpoolWriter w;
  uint64_t ids[NSTACKS];          /* id seen per stack; 0 = disagreed */
  uint64_t small_ids[SMALL_STACKS];
  uint64_t new_ids[2][NSTACKS + SMALL_STACKS]; /* ids got with is_new, per table */
  size_t n_new[2];
  uint64_t events, write_errors, find_mismatch;
} Worker;

static Worker workers[NTHREADS];

static uint64_t next_seq(void) { return __atomic_add_fetch(&seq_counter, 1, __ATOMIC_RELAXED); }

/* The shim's order: intern, and for a new stack write its record before
** publishing, so no event names a stack whose record is not written. */
static uint64_t intern(Worker *me, LrStackTable *t, uint32_t k) {
  uintptr_t ips[64];
  uint32_t n = make_stack(k, ips);
  int is_new = 0;
  uint32_t slot = 0;
  uint64_t id = lr_stack_intern(t, ips, n, &is_new, &slot);
  if (is_new) {
    if (lr_sw_stack(&me->w, id, ips, n) != 0) me->write_errors++;
    lr_stack_publish(t, slot, id);
    int b = t == small;
    me->new_ids[b][me->n_new[b]++] = id;
  }
  uint64_t f = lr_stack_find(t, ips, n);
  if (f != 0 && f != id && t == big) me->find_mismatch++;
  return id;
}

static void event(Worker *me, uint64_t stack, uint32_t k) {
  LrEvent ev = {.kind = LR_EV_MALLOC, .seq = next_seq(), .ns = me->events,
                .addr = 0x10000000u + (uint64_t)k * 64u, .size = 16u + k, .stack = stack};
  if (lr_sw_event(&me->w, &ev) == 0) me->events++;
  else me->write_errors++;
}

static void *work(void *arg) {
  Worker *me = arg;
  lr_sw_init(&me->w, spool, 1000u + (uint32_t)me->index);
  /* big table: each thread its own order (a stride coprime with NSTACKS) */
  uint32_t stride = 7u + 2u * (uint32_t)me->index * 3u; /* odd, not a multiple of 3 or 5 */
  while (NSTACKS % stride == 0 || stride % 3 == 0 || stride % 5 == 0) stride += 2;
  for (int r = 0; r < ROUNDS; r++) {
    for (uint32_t j = 0; j < NSTACKS; j++) {
      uint32_t k = (uint32_t)(((uint64_t)j * stride + (uint64_t)me->index * 97u) % NSTACKS);
      uint64_t id = intern(me, big, k);
      if (r == 0) me->ids[k] = id;
      else if (me->ids[k] != id) me->ids[k] = 0;
      event(me, id, k);
    }
    if (r == 0) {
      /* the program closes the spool's fd while every writer is stopped;
      ** each then drops its chunk, so all 8 race into claim() -> reopen */
      pthread_barrier_wait(&barrier);
      if (me->index == 0) {
        int fd = lr_spool_verified_fd(spool);
        if (fd >= 0) close(fd);
      }
      pthread_barrier_wait(&barrier);
      lr_sw_seal(&me->w);
    }
  }
  /* small table: 12 claims and 512 words of arena for 100 stacks */
  for (uint32_t k = 0; k < SMALL_STACKS; k++) {
    uint32_t kk = (k + (uint32_t)me->index * 13u) % SMALL_STACKS;
    uint64_t id = intern(me, small, kk + 7u);
    me->small_ids[kk] = id;
    event(me, id, kk);
  }
  /* all at once: the first to claim the end writes all of it (thread i
  ** ends with reason EXIT or _EXIT by parity, code i, ns 1000 + i) */
  pthread_barrier_wait(&barrier);
  lr_spool_end(spool, me->index % 2 ? LR_END__EXIT : LR_END_EXIT, me->index,
               1000 + (uint64_t)me->index);
  lr_sw_seal(&me->w);
  return NULL;
}

/* Two threads incrementing a plain int: TSan must report it. */
static int shared_counter;
static void *canary_thread(void *arg) {
  (void)arg;
  for (int i = 0; i < 1000; i++) shared_counter++;
  return NULL;
}

static int canary(void) {
  pthread_t a, b;
  pthread_create(&a, NULL, canary_thread, NULL);
  pthread_create(&b, NULL, canary_thread, NULL);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  return shared_counter == 0; /* 0: TSan did not stop us */
}

/* Runs this program with "canary"; 1 if TSan reported the race. */
static int canary_reported(const char *self, const char *dir) {
  char errpath[4200];
  snprintf(errpath, sizeof errpath, "%s/canary.err", dir);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) dup2(fd, 2);
    execl(self, self, "canary", (char *)NULL);
    _exit(127);
  }
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) != pid) return 0;
  FILE *f = fopen(errpath, "r");
  char buf[8192] = {0};
  size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f) fclose(f);
  buf[n] = 0;
  int reported = strstr(buf, "WARNING: ThreadSanitizer: data race") != NULL;
  int exited_nonzero = WIFEXITED(st) && WEXITSTATUS(st) != 0;
  if (!reported || !exited_nonzero)
    fprintf(stderr, "tsan_stress: the canary race was not reported (status %d); its stderr:\n%s\n",
            st, buf);
  return reported && exited_nonzero;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "canary")) return canary();
#ifndef LRT_TSAN
  fprintf(stderr, "tsan_stress: not built with -fsanitize=thread\n");
  return 1;
#endif
  char dir[] = "/tmp/lrtsan-XXXXXX";
  if (!mkdtemp(dir)) {
    perror("tsan_stress: mkdtemp");
    return 1;
  }
  CHECK(canary_reported("/proc/self/exe", dir), "TSan did not report a deliberate race");

  char path[4200];
  snprintf(path, sizeof path, "%s/stress.spool", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
  CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
  if (fd < 0) return 1;
  LrSpoolOpts o = {.chunk_size = 65536, .stack_depth = 64, .pid = (uint64_t)getpid(),
                   .ppid = 1, .mem_total = 1u << 30, .path = path};
  int r = lr_spool_create(&spool, fd, &o);
  CHECK(r == 0, "lr_spool_create: %d", r);
  if (r) return 1;
  big = lr_stack_table_new(12, 1 << 20);
  small = lr_stack_table_new(4, 4096);
  CHECK(big && small, "lr_stack_table_new");
  if (!big || !small) return 1;
  pthread_barrier_init(&barrier, NULL, NTHREADS);

  for (int i = 0; i < NTHREADS; i++) {
    workers[i].index = i;
    pthread_create(&workers[i].th, NULL, work, &workers[i]);
  }
  for (int i = 0; i < NTHREADS; i++) pthread_join(workers[i].th, NULL);

  /* big table: one id per stack, the same in every thread and round */
  uint64_t total_events = 0;
  for (int i = 0; i < NTHREADS; i++) {
    CHECK(workers[i].write_errors == 0, "thread %d: %llu writes failed", i,
          (unsigned long long)workers[i].write_errors);
    CHECK(workers[i].find_mismatch == 0, "thread %d: lr_stack_find disagreed %llu times", i,
          (unsigned long long)workers[i].find_mismatch);
    total_events += workers[i].events;
  }
  int agree = 1;
  for (int k = 0; k < NSTACKS; k++)
    for (int i = 0; i < NTHREADS; i++) agree &= workers[i].ids[k] != 0 && workers[i].ids[k] == workers[0].ids[k];
  CHECK(agree, "threads disagree on stack ids");
  uint64_t *seen = calloc(NSTACKS * 2 + SMALL_STACKS * NTHREADS + 16, sizeof *seen);
  size_t nseen = 0;
  for (int k = 0; k < NSTACKS; k++) seen[nseen++] = workers[0].ids[k];
  for (size_t a = 0; a < nseen; a++)
    for (size_t b = a + 1; b < nseen; b++)
      if (seen[a] == seen[b]) {
        CHECK(0, "stacks %zu and %zu share id %llu", a, b, (unsigned long long)seen[a]);
        a = nseen;
        break;
      }
  /* every id of a table handed out with is_new exactly once */
  size_t total_new = 0;
  for (int tb = 0; tb < 2; tb++) {
    nseen = 0;
    for (int i = 0; i < NTHREADS; i++)
      for (size_t j = 0; j < workers[i].n_new[tb]; j++) seen[nseen++] = workers[i].new_ids[tb][j];
    for (size_t a = 0; a < nseen; a++)
      for (size_t b = a + 1; b < nseen; b++)
        if (seen[a] == seen[b]) {
          CHECK(0, "%s table: id %llu handed out as new twice", tb ? "small" : "big",
                (unsigned long long)seen[a]);
          a = nseen;
          break;
        }
    CHECK(lr_stack_count(tb ? small : big) == nseen, "%s table: count %llu, new ids %zu",
          tb ? "small" : "big", (unsigned long long)lr_stack_count(tb ? small : big), nseen);
    total_new += nseen;
  }
  nseen = total_new;
  CHECK(lr_stack_count(big) == NSTACKS, "big table: %llu ids for %d stacks",
        (unsigned long long)lr_stack_count(big), NSTACKS);
  /* a full small table still gives ids; the big one deduplicated all */
  for (int i = 0; i < NTHREADS; i++)
    for (int k = 0; k < SMALL_STACKS; k++) CHECK(workers[i].small_ids[k] != 0, "small: id 0");

  /* the spool: one reopen, every record there, sealed chunks whole */
  CHECK(lr_spool_reopens(spool) == 1, "reopens: %u", lr_spool_reopens(spool));
  CHECK(!lr_spool_cut_short(spool), "spool cut short");
  lr_spool_close(spool);
  LrtSpool s;
  char err[256] = "";
  r = lrt_spool_load(path, &s, err, sizeof err);
  CHECK(r == 0, "decoding the spool: %s", err);
  if (r == 0) {
    CHECK(s.nev == total_events, "events: %zu in the spool, %llu written", s.nev,
          (unsigned long long)total_events);
    CHECK(s.nst == nseen, "stack records: %zu, new ids %zu", s.nst, nseen);
    size_t missing = 0;
    for (size_t i = 0; i < s.nev; i++) missing += lrt_stack(&s, s.ev[i].stack) == NULL;
    CHECK(missing == 0, "%zu events name a stack with no record", missing);
    CHECK(s.chunks == s.sealed, "chunks %zu, sealed %zu", s.chunks, s.sealed);
    /* one caller's ending, whole: its reason, code and time together */
    CHECK((s.hdr.flags & LR_SPOOL_ENDED) && s.hdr.end_code >= 0 && s.hdr.end_code < NTHREADS &&
              s.hdr.end_reason == (s.hdr.end_code % 2 ? LR_END__EXIT : LR_END_EXIT) &&
              s.hdr.end_ns == 1000 + (uint64_t)s.hdr.end_code,
          "ending torn: reason %u code %lld ns %llu", (unsigned)s.hdr.end_reason,
          (long long)s.hdr.end_code, (unsigned long long)s.hdr.end_ns);
    lrt_spool_free(&s);
  }
  free(seen);
  lr_stack_table_free(big);
  lr_stack_table_free(small);
  if (!failures) {
    unlink(path);
    char cpath[4200];
    snprintf(cpath, sizeof cpath, "%s/canary.err", dir);
    unlink(cpath);
    rmdir(dir);
    printf("tsan_stress: %d threads, %d stacks x %d rounds, %llu events, %zu stack records: "
           "no race reported\n", NTHREADS, NSTACKS, ROUNDS, (unsigned long long)total_events,
           nseen);
    return 0;
  }
  fprintf(stderr, "tsan_stress: %d checks failed; files kept in %s\n", failures, dir);
  return 1;
}
