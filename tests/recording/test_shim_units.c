/*
** test_shim_units.c: unit tests of the shim's pieces, linked directly:
** the record encoder (round trip through the tests' own decoder), chunk
** claiming and sealing, cut-short on a full "disk", the stack table,
** config parsing and output-name derivation.
*/
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lrtest.h"
#include "shim_config.h"
#include "spool_decode.h"
#include "spool_writer.h"
#include "stack_cache.h"
#include "stack_table.h"
#include "unwind.h"

static char *dir;

static int new_spool(const char *name, uint32_t chunk, LrSpool **s, char *path, size_t cap) {
  snprintf(path, cap, "%s/%s", dir, name);
  unlink(path);
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return -1;
  LrSpoolOpts o = {.chunk_size = chunk, .stack_depth = 64, .rss_interval_ms = 10,
                   .pid = 1234, .ppid = 1, .exec_index = 2, .start_mono_ns = 5,
                   .mem_total = 1u << 30};
  return lr_spool_create(s, fd, &o);
}

static void test_round_trip(void) {
  LrSpool *s;
  char path[512];
  CU_ASSERT_FATAL(new_spool("rt.spool", 65536, &s, path, sizeof path) == 0);
  LrSpoolWriter w;
  lr_sw_init(&w, s, 4321);
  uintptr_t ips[3] = {0x401000, 0x400ff0, 0x7fff12345678};
  CU_ASSERT(lr_sw_thread(&w, 0, 10, 4321, "main", 4) == 0);
  CU_ASSERT(lr_sw_stack(&w, 1, ips, 3) == 0);
  LrEvent e1 = {.kind = LR_EV_MALLOC, .seq = 1, .ns = 100, .addr = 0x5000, .size = 24, .stack = 1};
  LrEvent e2 = {.kind = LR_EV_POSIX_MEMALIGN, .seq = 2, .ns = 150, .addr = 0x4000,
                .size = 1000, .stack = 1, .alignment = 64};
  LrEvent e3 = {.kind = LR_EV_REALLOC, .seq = 5, .ns = 200, .addr = 0x9000, .size = 5000,
                .stack = 1, .old_addr = 0x5000, .free_seq = 4};
  LrEvent e4 = {.kind = LR_EV_MMAP, .seq = 6, .ns = 300, .addr = 0x7f0000000000ull,
                .size = 65536, .stack = 1, .prot = 1, .flags = 1, .offset = 65536,
                .path = "/tmp/w.bin", .path_len = 10};
  LrEvent e5 = {.kind = LR_EV_MREMAP, .seq = 8, .ns = 400, .addr = 0x7e0000000000ull,
                .size = 8 << 20, .stack = 1, .old_addr = 0x7f0000000000ull,
                .old_size = 1 << 20, .flags = 1, .free_seq = 7};
  LrEvent e6 = {.kind = LR_EV_MUNMAP, .seq = 9, .ns = 450, .addr = 0x7e0000000000ull,
                .size = 8 << 20};
  LrEvent e7 = {.kind = LR_EV_FREE, .seq = 10, .ns = 460, .addr = 0x9000};
  const LrEvent *all[] = {&e1, &e2, &e3, &e4, &e5, &e6, &e7};
  for (int i = 0; i < 7; i++) CU_ASSERT(lr_sw_event(&w, all[i]) == 0);
  uint8_t bid[20];
  for (int i = 0; i < 20; i++) bid[i] = (uint8_t)i;
  CU_ASSERT(lr_sw_module(&w, 10, 0x400000, 0x2000, bid, 20, "/bin/x", 6) == 0);
  CU_ASSERT(lr_sw_unmodule(&w, 11, 0x400000) == 0);
  uint64_t rss[4] = {4096 * 10, 4096 * 6, 4096 * 4, 0};
  CU_ASSERT(lr_sw_rss(&w, 11, 470, rss) == 0);
  CU_ASSERT(lr_sw_mark(&w, 12, 480, "prefill", 7) == 0);
  CU_ASSERT(lr_sw_param_int(&w, 13, 490, "seq_len", 7, -512) == 0);
  CU_ASSERT(lr_sw_param_str(&w, 14, 495, "quant", 5, "q8", 2) == 0);
  CU_ASSERT(lr_sw_argv(&w, "prog\0-x\0", 8) == 0);
  lr_sw_seal(&w);
  lr_spool_end(s, LR_END_EXIT, 3, 999);
  lr_spool_close(s);

  LrtSpool d;
  char err[256];
  CU_ASSERT_FATAL(lrt_spool_load(path, &d, err, sizeof err) == 0);
  CU_ASSERT_EQUAL(d.hdr.pid, 1234);
  CU_ASSERT_EQUAL(d.hdr.exec_index, 2);
  CU_ASSERT_EQUAL(d.hdr.flags, LR_SPOOL_ENDED);
  CU_ASSERT_EQUAL(d.hdr.end_code, 3);
  CU_ASSERT_EQUAL(d.chunks, 1);
  CU_ASSERT_EQUAL(d.sealed, 1);
  CU_ASSERT_FATAL(d.nev == 7);
  for (int i = 0; i < 7; i++) {
    CU_ASSERT_EQUAL(d.ev[i].kind, all[i]->kind);
    CU_ASSERT_EQUAL(d.ev[i].seq, all[i]->seq);
    CU_ASSERT_EQUAL(d.ev[i].ns, all[i]->ns);
    CU_ASSERT_EQUAL(d.ev[i].addr, all[i]->addr);
    CU_ASSERT_EQUAL(d.ev[i].tid, 4321);
  }
  CU_ASSERT_EQUAL(d.ev[1].alignment, 64);
  CU_ASSERT_EQUAL(d.ev[2].old_addr, 0x5000);
  CU_ASSERT_EQUAL(d.ev[2].free_seq, 4);
  CU_ASSERT_EQUAL(d.ev[3].offset, 65536);
  CU_ASSERT_STRING_EQUAL(d.ev[3].path, "/tmp/w.bin");
  CU_ASSERT_EQUAL(d.ev[4].old_size, 1 << 20);
  CU_ASSERT_EQUAL(d.ev[4].free_seq, 7);
  CU_ASSERT_EQUAL(d.ev[4].size, 8 << 20);
  CU_ASSERT_EQUAL(d.ev[5].size, 8 << 20);
  CU_ASSERT_FATAL(d.nst == 1);
  CU_ASSERT_EQUAL(d.st[0].n, 3);
  CU_ASSERT_EQUAL(d.st[0].ips[2], 0x7fff12345678);
  CU_ASSERT_FATAL(d.nmod == 2);
  CU_ASSERT_EQUAL(d.mod[0].bid_len, 20);
  CU_ASSERT_STRING_EQUAL(d.mod[0].path, "/bin/x");
  CU_ASSERT(d.mod[1].unload && d.mod[1].seq == 11);
  CU_ASSERT_FATAL(d.noth == 5);
  CU_ASSERT_STRING_EQUAL(d.oth[0].name, "main");
  CU_ASSERT_EQUAL(d.oth[1].v[0], 40960);
  CU_ASSERT_STRING_EQUAL(d.oth[2].name, "prefill");
  CU_ASSERT_EQUAL(d.oth[3].ival, -512);
  CU_ASSERT_STRING_EQUAL(d.oth[4].text, "q8");
  CU_ASSERT_EQUAL(d.argc, 2);
  CU_ASSERT_STRING_EQUAL(d.argv[1], "-x");
  lrt_spool_free(&d);
}

/* Many events roll over chunks: each chunk decodes alone (delta reset),
** full ones are sealed with a valid sum, and a typical malloc/free pair
** costs well under the 28 bytes of the naive prototype. */
static void test_chunks(void) {
  LrSpool *s;
  char path[512];
  CU_ASSERT_FATAL(new_spool("chunks.spool", 65536, &s, path, sizeof path) == 0);
  LrSpoolWriter w;
  lr_sw_init(&w, s, 7);
  const int N = 50000;
  for (int i = 1; i <= N; i++) {
    uint64_t a = 0x55550000 + (uint64_t)(i % 64) * 48;
    LrEvent m = {.kind = LR_EV_MALLOC, .seq = 2 * (uint64_t)i - 1, .ns = 120 * (uint64_t)i,
                 .addr = a, .size = 48, .stack = (uint64_t)(i % 5) + 1};
    LrEvent f = {.kind = LR_EV_FREE, .seq = 2 * (uint64_t)i, .ns = 120 * (uint64_t)i + 60,
                 .addr = a};
    CU_ASSERT_FATAL(lr_sw_event(&w, &m) == 0);
    CU_ASSERT_FATAL(lr_sw_event(&w, &f) == 0);
  }
  /* the last chunk stays unsealed, as after a SIGKILL */
  lr_spool_close(s);
  LrtSpool d;
  char err[256];
  CU_ASSERT_FATAL(lrt_spool_load(path, &d, err, sizeof err) == 0);
  CU_ASSERT_EQUAL(d.nev, 2 * (size_t)N);
  CU_ASSERT(d.chunks > 1);
  CU_ASSERT_EQUAL(d.sealed, d.chunks - 1);
  int ordered = 1;
  for (size_t i = 0; i < d.nev; i++) ordered &= d.ev[i].seq == i + 1;
  CU_ASSERT(ordered);
  double per = (double)d.payload_bytes / (double)d.nev;
  CU_ASSERT(per < 8.0);
  lrt_spool_free(&d);
}

/* A reservation failure (here: RLIMIT_FSIZE standing in for a full disk)
** cuts the spool short; everything written before stays readable. */
static void test_cut_short(void) {
  char path[512];
  pid_t pid = fork();
  CU_ASSERT_FATAL(pid >= 0);
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {4096 + 2 * 65536, 4096 + 2 * 65536};
    setrlimit(RLIMIT_FSIZE, &rl);
    LrSpool *s;
    if (new_spool("cut.spool", 65536, &s, path, sizeof path)) _exit(10);
    LrSpoolWriter w;
    lr_sw_init(&w, s, 9);
    int i;
    for (i = 1; i < 1000000; i++) {
      LrEvent m = {.kind = LR_EV_MALLOC, .seq = (uint64_t)i, .addr = 4096 * (uint64_t)i,
                   .size = 1000, .stack = 1};
      if (lr_sw_event(&w, &m)) break;
    }
    if (!lr_spool_cut_short(s)) _exit(11);
    if (lr_sw_begin(&w, 10) != NULL) _exit(12);
    lr_spool_close(s);
    /* report how many events made it */
    snprintf(path, sizeof path, "%s/cut.count", dir);
    FILE *f = fopen(path, "w");
    if (!f) _exit(13);
    fprintf(f, "%d\n", i - 1);
    fclose(f);
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  CU_ASSERT_FATAL(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  snprintf(path, sizeof path, "%s/cut.spool", dir);
  LrtSpool d;
  char err[256];
  CU_ASSERT_FATAL(lrt_spool_load(path, &d, err, sizeof err) == 0);
  CU_ASSERT(d.hdr.flags & LR_SPOOL_CUT_SHORT);
  /* 4 KiB + 128 KiB of file: the chunks of 16, 32 and 64 KiB fit (chunks
  ** grow from one 16 KiB unit up to the 64 KiB asked for), the next 64 KiB
  ** one does not */
  CU_ASSERT_EQUAL(d.hdr.chunk_size, 16384);
  CU_ASSERT_EQUAL(d.chunks, 3);
  CU_ASSERT_EQUAL(d.units, 7);
  char cpath[512];
  snprintf(cpath, sizeof cpath, "%s/cut.count", dir);
  FILE *f = fopen(cpath, "r");
  int n = -1;
  CU_ASSERT_FATAL(f != NULL);
  CU_ASSERT(fscanf(f, "%d", &n) == 1);
  fclose(f);
  unlink(cpath);
  CU_ASSERT(n > 1000);
  CU_ASSERT_EQUAL(d.nev, (size_t)n);
  lrt_spool_free(&d);
}

/* What the decoder must do with damaged spools: a flipped byte in a sealed
** chunk fails its sum; bytes past `used` in an unsealed chunk (a record
** being written at SIGKILL) are ignored; a `used` past the chunk is refused. */
static void test_damaged(void) {
  LrSpool *s;
  char path[512], err[256];
  CU_ASSERT_FATAL(new_spool("dmg.spool", 65536, &s, path, sizeof path) == 0);
  LrSpoolWriter w;
  lr_sw_init(&w, s, 5);
  for (uint64_t i = 1; i <= 100; i++) {
    LrEvent m = {.kind = LR_EV_MALLOC, .seq = i, .addr = 0x1000 * i, .size = i, .stack = 1};
    CU_ASSERT_FATAL(lr_sw_event(&w, &m) == 0);
  }
  uint32_t used = w.used;
  lr_sw_seal(&w);
  lr_spool_close(s);
  size_t len;
  uint8_t *buf = (uint8_t *)lrt_read_file(path, &len);
  CU_ASSERT_FATAL(buf && len == 4096 + 16384); /* a thread's first chunk: one unit */
  LrtSpool d;
  CU_ASSERT(lrt_spool_parse(buf, len, &d, err, sizeof err) == 0 && d.nev == 100);
  lrt_spool_free(&d);
  LrChunkHeader *ch = (LrChunkHeader *)(buf + 4096);
  buf[4096 + 32 + 17] ^= 0x40;
  CU_ASSERT(lrt_spool_parse(buf, len, &d, err, sizeof err) != 0);
  CU_ASSERT(strstr(err, "checksum") != NULL);
  lrt_spool_free(&d);
  buf[4096 + 32 + 17] ^= 0x40;
  ch->flags = 0; /* as if killed: unsealed, and a half-written record follows */
  buf[4096 + 32 + used] = LR_EV_MMAP;
  buf[4096 + 32 + used + 1] = 0xff;
  CU_ASSERT(lrt_spool_parse(buf, len, &d, err, sizeof err) == 0 && d.nev == 100);
  lrt_spool_free(&d);
  ch->used = 65536;
  CU_ASSERT(lrt_spool_parse(buf, len, &d, err, sizeof err) != 0);
  lrt_spool_free(&d);
  CU_ASSERT(lrt_spool_parse(buf, 100, &d, err, sizeof err) != 0); /* cut inside the header */
  lrt_spool_free(&d);
  free(buf);
}

/* The writer's fast checksum is the format's lr_sum64, at every length. */
static void test_sum64(void) {
  uint8_t buf[300];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 37 + 11);
  int same = 1;
  for (size_t off = 0; off < 8; off++)
    for (size_t n = 0; n + off <= sizeof buf; n++) same &= lr_sw_sum64(buf + off, n) == lr_sum64(buf + off, n);
  CU_ASSERT(same);
  CU_ASSERT(lr_sum64(buf, 0) == 0xcbf29ce484222325ull);
}

static void test_stack_table(void) {
  LrStackTable *t = lr_stack_table_new(10, 1 << 20);
  CU_ASSERT_FATAL(t != NULL);
  uintptr_t a[3] = {1, 2, 3}, b[3] = {1, 2, 4}, c[2] = {1, 2};
  int nw;
  uint32_t slot;
  uint64_t ia = lr_stack_intern(t, a, 3, &nw, &slot);
  CU_ASSERT(nw && ia == 1);
  lr_stack_publish(t, slot, ia);
  uint64_t ib = lr_stack_intern(t, b, 3, &nw, &slot);
  CU_ASSERT(nw && ib == 2);
  lr_stack_publish(t, slot, ib);
  uint64_t ic = lr_stack_intern(t, c, 2, &nw, &slot);
  CU_ASSERT(nw && ic == 3);
  lr_stack_publish(t, slot, ic);
  CU_ASSERT_EQUAL(lr_stack_intern(t, a, 3, &nw, &slot), 1);
  CU_ASSERT(!nw);
  CU_ASSERT_EQUAL(lr_stack_intern(t, c, 2, &nw, &slot), 3);
  CU_ASSERT(!nw);
  uint64_t ie = lr_stack_intern(t, a, 0, &nw, &slot); /* empty stack */
  CU_ASSERT(nw && ie == 4);
  lr_stack_publish(t, slot, ie);
  CU_ASSERT_EQUAL(lr_stack_intern(t, a, 0, &nw, &slot), 4);
  CU_ASSERT_EQUAL(lr_stack_count(t), 4);
  lr_stack_table_free(t);

  /* 16 slots take 12 stacks: the rest still get fresh, distinct ids */
  t = lr_stack_table_new(4, 1 << 16);
  uint64_t ids[40];
  for (uintptr_t i = 0; i < 40; i++) {
    uintptr_t s[2] = {i, i * 7};
    ids[i] = lr_stack_intern(t, s, 2, &nw, &slot);
    CU_ASSERT(nw);
    lr_stack_publish(t, slot, ids[i]);
    CU_ASSERT_EQUAL(ids[i], i + 1);
  }
  int same = 0, fresh = 0;
  for (uintptr_t i = 0; i < 40; i++) {
    uintptr_t s[2] = {i, i * 7};
    uint64_t id = lr_stack_intern(t, s, 2, &nw, &slot);
    if (!nw && id == ids[i]) same++;
    if (nw && id > 40) fresh++;
  }
  CU_ASSERT_EQUAL(same, 12);
  CU_ASSERT_EQUAL(fresh, 28);
  lr_stack_table_free(t);
}

/* The shim's table (2^16 slots, 64 MiB of arena) maps 128 KiB of slots and
** a 256 KiB segment at first; 30000 stacks of 40 frames (9.2 MiB of
** frames) take every level and several segments, and each is still found
** once under its first id. */
static void test_stack_table_grows(void) {
  LrStackTable *t = lr_stack_table_new(16, 64u << 20);
  CU_ASSERT_FATAL(t != NULL);
  size_t m0 = lr_stack_table_mapped(t);
  CU_ASSERT(m0 >= (128u << 10) + (256u << 10) && m0 < (400u << 10));
  enum { N = 30000, D = 40 };
  static uintptr_t s[D];
  int nw;
  uint32_t slot;
  for (uintptr_t i = 0; i < N; i++) {
    for (int d = 0; d < D; d++) s[d] = i * 977 + (uintptr_t)d;
    uint64_t id = lr_stack_intern(t, s, D, &nw, &slot);
    CU_ASSERT(nw && id == i + 1 && slot != UINT32_MAX);
    lr_stack_publish(t, slot, id);
  }
  size_t found = 0;
  for (uintptr_t i = 0; i < N; i++) {
    for (int d = 0; d < D; d++) s[d] = i * 977 + (uintptr_t)d;
    if (lr_stack_intern(t, s, D, &nw, &slot) == i + 1 && !nw &&
        lr_stack_find(t, s, D) == i + 1)
      found++;
  }
  CU_ASSERT_EQUAL(found, N);
  CU_ASSERT_EQUAL(lr_stack_count(t), N);
  /* 30000 slots fill levels 2^12..2^14 to 3/4 (21504) and go on in 2^15:
  ** 128+256+512+1024 KiB; 9.2 MiB of frames need segments up to the one
  ** ending at 16 MiB (0.25+0.25+0.5+1+2+4+8 MiB), the 32 MiB one never */
  size_t m1 = lr_stack_table_mapped(t);
  CU_ASSERT(m1 >= (1920u << 10) + (16u << 20) && m1 < (1920u << 10) + (16u << 20) + 4096);
  lr_stack_table_free(t);
}

typedef struct Racer {
  LrStackTable *t;
  uint64_t ids[50];
} Racer;

static void *race(void *arg) {
  Racer *r = arg;
  for (int round = 0; round < 200; round++)
    for (uintptr_t i = 0; i < 50; i++) {
      uintptr_t s[4] = {0x1000 + i, 0x2000, 0x3000 + i * 3, 0x4000};
      int nw;
      uint32_t slot;
      uint64_t id = lr_stack_intern(r->t, s, 4, &nw, &slot);
      if (nw) lr_stack_publish(r->t, slot, id);
      if (round == 0) r->ids[i] = id;
      else if (r->ids[i] != id) r->ids[i] = 0;
    }
  return NULL;
}

/* Four threads interning the same 50 stacks agree on 50 ids. */
/* A table asked for more slots than its levels hold is clamped: 2^28
** slots made 17 levels of 16 (lv[16] read past the array, here as mapped
** bytes that were never mapped). Beyond 2^27 it maps what 2^27 maps. */
static void test_stack_table_clamp(void) {
  LrStackTable *a = lr_stack_table_new(27, 1 << 20), *b = lr_stack_table_new(28, 1 << 20);
  LrStackTable *c = lr_stack_table_new(40, 1 << 20);
  CU_ASSERT_FATAL(a && b && c);
  /* the header, the first level (2^12 32-byte slots), the first segment */
  size_t want = lr_stack_table_mapped(a);
  CU_ASSERT(want > (128u << 10) + (256u << 10) && want < (128u << 10) + (256u << 10) + 4096);
  CU_ASSERT_EQUAL(lr_stack_table_mapped(b), want);
  CU_ASSERT_EQUAL(lr_stack_table_mapped(c), want);
  lr_stack_table_free(a);
  lr_stack_table_free(b);
  lr_stack_table_free(c);
}

static void test_stack_table_threads(void) {
  LrStackTable *t = lr_stack_table_new(12, 1 << 20);
  Racer r[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    r[i].t = t;
    pthread_create(&th[i], NULL, race, &r[i]);
  }
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  CU_ASSERT_EQUAL(lr_stack_count(t), 50);
  int agree = 1;
  for (int i = 0; i < 50; i++)
    for (int k = 1; k < 4; k++) agree &= r[k].ids[i] == r[0].ids[i] && r[0].ids[i] != 0;
  CU_ASSERT(agree);
  lr_stack_table_free(t);
}

static const char *const *test_env_tab;
static const char *tab_get(const char *name, void *ctx) {
  (void)ctx;
  for (const char *const *p = test_env_tab; *p; p += 2)
    if (!strcmp(p[0], name)) return p[1];
  return NULL;
}

static void test_config(void) {
  LrShimConfig c;
  char err[128];
  const char *none[] = {NULL};
  test_env_tab = none;
  lr_config_parse(&c, tab_get, NULL, LR_UNWIND_LIBUNWIND, 0, err, sizeof err);
  CU_ASSERT_EQUAL(c.depth, 64);
  CU_ASSERT_EQUAL(c.rss_interval_ms, 10);
  CU_ASSERT_EQUAL(c.rss_thread, 0); /* no thread in the target by default */
  CU_ASSERT_EQUAL(c.stack_cache, 1);
  CU_ASSERT_EQUAL(c.stats, 0);
  CU_ASSERT_EQUAL(c.unwinder, LR_UNWIND_LIBUNWIND);
  CU_ASSERT_EQUAL(c.chunk_size, 256 * 1024);
  CU_ASSERT_STRING_EQUAL(c.out_template, "lowram-%p.db");
  CU_ASSERT_EQUAL(err[0], 0);

  const char *good[] = {"LOWRAM_DEPTH", "12", "LOWRAM_RSS_INTERVAL", "0", "LOWRAM_UNWIND",
                        "fp", "LOWRAM_OUT", "/x/run.db", "LOWRAM_CHUNK_KB", "256",
                        "LOWRAM_RSS_THREAD", "1", "LOWRAM_STACK_CACHE", "0",
                        "LOWRAM_STATS", "1", NULL};
  test_env_tab = good;
  lr_config_parse(&c, tab_get, NULL, LR_UNWIND_LIBUNWIND, 0, err, sizeof err);
  CU_ASSERT_EQUAL(c.depth, 12);
  CU_ASSERT_EQUAL(c.rss_interval_ms, 0);
  CU_ASSERT_EQUAL(c.rss_thread, 1);
  CU_ASSERT_EQUAL(c.stack_cache, 0);
  CU_ASSERT_EQUAL(c.stats, 1);
  CU_ASSERT_EQUAL(c.unwinder, LR_UNWIND_FP);
  CU_ASSERT_EQUAL(c.chunk_size, 256 * 1024);
  CU_ASSERT_STRING_EQUAL(c.out_template, "/x/run.db");
  CU_ASSERT_EQUAL(err[0], 0);

  const char *bad[] = {"LOWRAM_DEPTH", "300", "LOWRAM_RSS_INTERVAL", "1O", NULL};
  test_env_tab = bad;
  lr_config_parse(&c, tab_get, NULL, LR_UNWIND_LIBUNWIND, 0, err, sizeof err);
  CU_ASSERT_EQUAL(c.depth, 64);
  CU_ASSERT_EQUAL(c.rss_interval_ms, 10);
  CU_ASSERT_STRING_EQUAL(err, "lowram: ignoring LOWRAM_DEPTH: not a number in the allowed range");

  const char *lu[] = {"LOWRAM_UNWIND", "libunwind", NULL};
  test_env_tab = lu;
  lr_config_parse(&c, tab_get, NULL, LR_UNWIND_FP, 1, err, sizeof err);
  CU_ASSERT_EQUAL(c.unwinder, LR_UNWIND_FP);
  CU_ASSERT(strstr(err, "LOWRAM_UNWIND") != NULL);
}

static void test_names(void) {
  char out[64];
  CU_ASSERT(lr_config_expand(out, sizeof out, "lowram-%p.db", 4321) == 0);
  CU_ASSERT_STRING_EQUAL(out, "lowram-4321.db");
  CU_ASSERT(lr_config_expand(out, sizeof out, "a%%b-%p", 7) == 0);
  CU_ASSERT_STRING_EQUAL(out, "a%b-7");
  CU_ASSERT(lr_config_expand(out, sizeof out, "bad%x", 7) == -1);
  CU_ASSERT(lr_config_expand(out, 8, "toolong-%p", 123456) == -1);

  CU_ASSERT(lr_config_candidate(out, sizeof out, "/t/run.db", 55, 0) == 0);
  CU_ASSERT_STRING_EQUAL(out, "/t/run.db");
  CU_ASSERT(lr_config_candidate(out, sizeof out, "/t/run.db", 55, 1) == 0);
  CU_ASSERT_STRING_EQUAL(out, "/t/run.55.db");
  CU_ASSERT(lr_config_candidate(out, sizeof out, "/t/run.db", 55, 3) == 0);
  CU_ASSERT_STRING_EQUAL(out, "/t/run.55.2.db");
  CU_ASSERT(lr_config_candidate(out, sizeof out, "trace", 9, 1) == 0);
  CU_ASSERT_STRING_EQUAL(out, "trace.9");
  CU_ASSERT(lr_config_candidate(out, sizeof out, "trace", 9, 2) == 0);
  CU_ASSERT_STRING_EQUAL(out, "trace.9.1");
  CU_ASSERT(lr_config_candidate(out, 12, "/t/run.db", 123456, 1) == -1);

  char env[128], prev[64];
  CU_ASSERT(lr_config_exec_env(env, sizeof env, 77, 2, "/t/run.db.spool") == 0);
  CU_ASSERT_STRING_EQUAL(env, "LOWRAM_EXEC_INDEX=77:2:/t/run.db.spool");
  const char *val = env + strlen(LR_EXEC_ENV) + 1;
  CU_ASSERT_EQUAL(lr_config_exec_index(val, 77, prev, sizeof prev), 3);
  CU_ASSERT_STRING_EQUAL(prev, "/t/run.db.spool");
  CU_ASSERT_EQUAL(lr_config_exec_index(val, 78, prev, sizeof prev), 0);
  CU_ASSERT_STRING_EQUAL(prev, "");
  CU_ASSERT_EQUAL(lr_config_exec_index("77:x:/a", 77, prev, sizeof prev), 0);
  CU_ASSERT_EQUAL(lr_config_exec_index(NULL, 77, prev, sizeof prev), 0);
}

/* The frame-pointer walker sees this test's own call chain. */
__attribute__((noinline)) static int walk_here(uintptr_t *ips, int max) {
  uintptr_t lo, hi;
  lr_unwind_fp_bounds(&lo, &hi);
  int n = lr_unwind_fp(ips, max, lo, hi, NULL);
  __asm__ volatile("" ::: "memory");
  return n;
}

static void test_unwind(void) {
  uintptr_t ips[64];
  int n = walk_here(ips, 64);
  CU_ASSERT(n >= 2);
  CU_ASSERT(lr_unwind_available(LR_UNWIND_FP));
  if (lr_unwind_available(LR_UNWIND_LIBUNWIND)) {
    uintptr_t u[64];
    int m = lr_unwind_libunwind(u, 64);
    CU_ASSERT(m >= 3);
  }
}


/* lr_sc_lookup on a made-up stack: a hit only while every checked slot
** holds its value and, for an entry that needs it, r0 matches; entries of
** other keys in the same set are never read. */
static void test_stack_cache_lookup(void) {
#ifdef LR_HAVE_STACK_CACHE
  LrStackCache *c = lr_sc_new();
  CU_ASSERT_FATAL(c != NULL);
  uintptr_t stk[32];
  for (int i = 0; i < 32; i++) stk[i] = 0x1000 + (uintptr_t)i;
  uintptr_t slot0 = (uintptr_t)&stk[0], ra0 = 0x401234;
  LrScSet *set = &c->set[lr_sc_hash(ra0, slot0) & (LR_SC_SETS - 1)];
  LrScEntry *e = &c->e[set - c->set][3];
  e->id = 77;
  e->n = 2;
  e->off[0] = 8 * 5;
  e->val[0] = stk[5];
  e->off[1] = 8 * 20;
  e->val[1] = stk[20];
  set->ra0[3] = ra0;
  set->slot0[3] = slot0;
  CU_ASSERT_EQUAL(lr_sc_lookup(c, ra0, slot0, 0), 77);
  CU_ASSERT_EQUAL(lr_sc_lookup(c, ra0 + 1, slot0, 0), 0);  /* other key */
  CU_ASSERT_EQUAL(lr_sc_lookup(c, ra0, slot0 + 8, 0), 0);
  stk[20] = 0xbad; /* a caller changed under the cached site */
  CU_ASSERT_EQUAL(lr_sc_lookup(c, ra0, slot0, 0), 0);
  stk[20] = 0x1000 + 20;
  e->need_r0 = 1;
  e->r0 = 0x7ffe0000;
  CU_ASSERT_EQUAL(lr_sc_lookup(c, ra0, slot0, 0x7ffe0010), 0); /* another rbp */
  CU_ASSERT_EQUAL(lr_sc_lookup(c, ra0, slot0, 0x7ffe0000), 77);
  /* a second entry of the same key (another caller) is found too */
  LrScEntry *f = &c->e[set - c->set][6];
  *f = *e;
  f->id = 78;
  f->val[1] = 0xbad;
  set->ra0[6] = ra0;
  set->slot0[6] = slot0;
  stk[20] = 0xbad;
  CU_ASSERT_EQUAL(lr_sc_lookup(c, ra0, slot0, 0x7ffe0000), 78);
  lr_sc_free(c);
  uint32_t seen[LR_SC_SEEN] = {0};
  CU_ASSERT_EQUAL(lr_sc_seen(seen, ra0, slot0), LR_SC_FIRST);
  CU_ASSERT_EQUAL(lr_sc_seen(seen, ra0, slot0), LR_SC_FILL);
  lr_sc_refuse(seen, ra0, slot0);
  CU_ASSERT_EQUAL(lr_sc_seen(seen, ra0, slot0), LR_SC_SKIP);
  CU_ASSERT_EQUAL(lr_sc_seen(seen, ra0, slot0), LR_SC_SKIP);
#endif
}

int main(void) {
  dir = lrt_tmpdir("shim-units");
  CU_initialize_registry();
  CU_pSuite s = CU_add_suite("shim_units", NULL, NULL);
  CU_add_test(s, "encoder round trip", test_round_trip);
  CU_add_test(s, "chunks roll, seal, stay small", test_chunks);
  CU_add_test(s, "cut short on a full disk", test_cut_short);
  CU_add_test(s, "fast checksum equals lr_sum64", test_sum64);
  CU_add_test(s, "damaged spools", test_damaged);
  CU_add_test(s, "stack table dedup and overflow", test_stack_table);
  CU_add_test(s, "stack table under threads", test_stack_table_threads);
  CU_add_test(s, "stack table grows on demand", test_stack_table_grows);
  CU_add_test(s, "stack table: levels clamped", test_stack_table_clamp);
  CU_add_test(s, "config parsing", test_config);
  CU_add_test(s, "output names", test_names);
  CU_add_test(s, "unwinders", test_unwind);
  CU_add_test(s, "stack cache lookup", test_stack_cache_lookup);
  return lrt_main();
}
