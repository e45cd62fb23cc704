/*
** fixture.c: the shared test trace. One thread (tid 1) does, in seq order
** (ns = seq * 1000):
**    1 marker load
**    2 A  1000 heap  LOAD       never freed        (leak)
**    3 B  65536 anon LOAD       freed at 20
**    4 M  1 MiB file model.bin  LOAD, never unmapped
**    5 marker decode
**    6 C  500  heap  KV         freed at 7         (temporary)
**    8 D  3000 heap  KV         freed at 15        (kv_size: 3000 by default)
**    9 E  100  heap  TOK        freed at 30        (strdup called by tokenize)
**   10 F  200  heap  TMP        freed at 12
**   11 G  50   heap  TMP        freed at 13        (temporary: next alloc is 14)
**   14 H  10   heap  TOK        freed at 16        (temporary: thread 1's last)
**   17 I  40   heap  KV  tid 2  never freed        (leak)
**   18 marker decode            (the second one)
** Live heap+anon: 3 -> 66536, 8 -> 69536, 9 -> 69636, 10 -> 69836,
** 11 -> 69886 (the peak), 12 -> 69686, 13 -> 69636, 14 -> 69646,
** 15 -> 66646, 16 -> 66636, 17 -> 66676, 20 -> 1140, 30 -> 1040.
** RSS samples: seq 1 (RssFile 100 KiB, before the mapping: the baseline),
** seq 12 (+512 KiB of file pages) and seq 25 (+768 KiB): model.bin's
** residency estimate is 768 KiB of its 1 MiB.
*/
#include "fixture.h"

#include <stddef.h>

#include "tbuild.h"

int fx_write(const char *path, int id_base, int complete, int64_t kv_size) {
  sqlite3 *db = tb_create(path);
  if (!db) return -1;
  int64_t f = id_base;
  const char *app = "/opt/app/bin/app", *tok = "/opt/app/lib/libtok.so";
  const char *libc = "/lib/x86_64-linux-gnu/libc.so.6";
  tb_frame(db, f + 1, app, "main", "main.c", 50);
  tb_frame(db, f + 2, app, "load_weights", "model.c", 10);
  tb_frame(db, f + 3, app, "decode", "decode.c", 30);
  tb_frame(db, f + 4, app, "kv_alloc", "kv.c", 20);
  tb_frame(db, f + 5, libc, "strdup", NULL, -1);
  tb_frame(db, f + 6, tok, "tokenize", "tok.c", 5);
  tb_frame(db, f + 7, app, "tmp_buf", "kv.c", 40);
  int64_t s = id_base;
  tb_stack(db, s + FX_LOAD, f + 2, f + 1, (int64_t)0);
  tb_stack(db, s + FX_KV, f + 4, f + 3, f + 1, (int64_t)0);
  tb_stack(db, s + FX_TOK, f + 5, f + 6, f + 1, (int64_t)0);
  tb_stack(db, s + FX_TMP, f + 7, f + 3, f + 1, (int64_t)0);
  tb_marker(db, 1, "load");
  tb_rss(db, 1, 2000000, 500000, 102400);
  tb_alloc(db, "heap", 1000, 2, -1, 1, s + FX_LOAD);
  tb_alloc(db, "anon", 65536, 3, 20, 1, s + FX_LOAD);
  tb_map_file(db, "/data/model.bin", FX_FILE_SIZE, 4, -1, 1, s + FX_LOAD);
  tb_marker(db, 5, "decode");
  tb_alloc(db, "heap", 500, 6, 7, 1, s + FX_KV);
  tb_alloc(db, "heap", kv_size, 8, 15, 1, s + FX_KV);
  tb_alloc(db, "heap", 100, 9, 30, 1, s + FX_TOK);
  tb_alloc(db, "heap", 200, 10, 12, 1, s + FX_TMP);
  tb_alloc(db, "heap", 50, 11, 13, 1, s + FX_TMP);
  tb_rss(db, 12, 3000000, 700000, 102400 + 524288);
  tb_alloc(db, "heap", 10, 14, 16, 1, s + FX_TOK);
  tb_alloc(db, "heap", 40, 17, -1, 2, s + FX_KV);
  tb_marker(db, 18, "decode");
  tb_rss(db, 25, 2500000, 400000, 102400 + 786432);
  return tb_finish(db, path, complete);
}
