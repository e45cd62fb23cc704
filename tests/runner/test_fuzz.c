/*
** test_fuzz.c: seeded mutations of a model file and a tokenizer file are
** either refused with a message naming the file or run without crashing.
** In-process on purpose: any out-of-bounds read that crashes kills this
** test. 400 header mutations (random bytes, and u32 fields set to edge
** values) and 200 tokenizer mutations, deterministic from fixed seeds.
*/
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "gen.h"
#include "lrtest.h"
#include "model.h"
#include "sample.h"
#include "tokenizer.h"

static char *g_dir;

/* Opens `path`; when it loads, runs a 4-token prompt and 2 decode steps. */
static int try_model(const char *path, int use_mmap, int *opened) {
  QrModel *m;
  QrErr e;
  if (qr_model_open(path, use_mmap, &m, &e)) {
    *opened = 0;
    return strstr(e.msg, path) != NULL; /* the message names the file */
  }
  *opened = 1;
  QrShape s = {.batch = 1, .seq_len = m->cfg.max_seq < 8 ? m->cfg.max_seq : 8,
               .prompt_len = 1, .kv_quant = QR_F32, .arena = 1};
  QrRun *r;
  if (qr_run_new(m, &s, NULL, &r, &e) == 0) {
    int p[1] = {0}, lens[1] = {1};
    const int *pp[1] = {p};
    if (qr_run_prefill(r, pp, lens, &e) == 0) {
      int t = qr_argmax(qr_run_logits(r, 0), m->cfg.vocab);
      for (int i = 0; i < 2 && qr_run_decode(r, &t, &e) == 0; i++)
        t = qr_argmax(qr_run_logits(r, 0), m->cfg.vocab);
    }
    qr_run_free(r);
  }
  qr_model_close(m);
  return 1;
}

static void test_model_mutations(void) {
  char src[512], dst[512];
  snprintf(src, sizeof src, "%s/base.qr", g_dir);
  snprintf(dst, sizeof dst, "%s/mut.qr", g_dir);
  QrConfig c = {.dim = 64, .hidden = 96, .layers = 1, .heads = 2, .kv_heads = 1, .vocab = 64,
                .max_seq = 16, .quant = QR_Q4, .group = QR_GROUP, .shared = 1};
  QrErr e;
  CU_ASSERT_EQUAL_FATAL(qr_gen_model(src, &c, 3, &e), 0);
  size_t len;
  uint8_t *base = (uint8_t *)lrt_read_file(src, &len), *buf = malloc(len + 64);
  CU_ASSERT_PTR_NOT_NULL_FATAL(base);
  QrRng g;
  qr_rng_seed(&g, 99);
  static const uint32_t edges[] = {0, 1, 2, 31, 32, 33, 0x7fffffffu, 0x80000000u, 0xffffffffu,
                                   1u << 16, 1u << 20, 1u << 22};
  int refused = 0, opened_n = 0, named = 0;
  for (int i = 0; i < 400; i++) {
    memcpy(buf, base, len);
    size_t n = len;
    switch (i % 4) {
    case 0: buf[qr_rng_next(&g) % 64] = (uint8_t)qr_rng_next(&g); break;
    case 1: {
      uint32_t v = edges[qr_rng_next(&g) % (sizeof edges / sizeof *edges)];
      memcpy(buf + 4 + 4 * (qr_rng_next(&g) % 11), &v, 4);
      break;
    }
    case 2: n = (size_t)(qr_rng_next(&g) % (len + 1)); break;          /* truncation */
    default: buf[64 + qr_rng_next(&g) % (len - 64)] ^= 0xff; break;    /* tensor data */
    }
    lrt_write_file(dst, buf, n);
    int opened;
    named += try_model(dst, i & 1, &opened);
    opened_n += opened;
    refused += !opened;
  }
  printf("\n    400 mutations: %d refused (all naming the file: %s), %d ran ", refused,
         named == 400 ? "yes" : "NO", opened_n);
  CU_ASSERT_EQUAL(named, 400);
  CU_ASSERT(refused > 150); /* header and truncation cases are almost all refused */
  CU_ASSERT(opened_n >= 100); /* tensor-data flips still load and run */
  free(base);
  free(buf);
}

static void test_tokenizer_mutations(void) {
  /* A 300-entry vocabulary: specials, the 256 byte pieces, some merges. */
  char path[512], dst[512];
  snprintf(path, sizeof path, "%s/tok.bin", g_dir);
  snprintf(dst, sizeof dst, "%s/tokmut.bin", g_dir);
  FILE *f = fopen(path, "wb");
  int32_t maxlen = 8;
  fwrite(&maxlen, 4, 1, f);
  for (int i = 0; i < 300; i++) {
    char piece[16];
    if (i < 3) snprintf(piece, sizeof piece, "%s", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>");
    else if (i < 259) snprintf(piece, sizeof piece, "<0x%02X>", i - 3);
    else snprintf(piece, sizeof piece, "%c%c", 'a' + (i % 26), 'a' + (i / 26 % 26));
    float score = (float)(i % 7);
    int32_t l = (int32_t)strlen(piece);
    fwrite(&score, 4, 1, f);
    fwrite(&l, 4, 1, f);
    fwrite(piece, 1, (size_t)l, f);
  }
  fclose(f);
  size_t len;
  uint8_t *base = (uint8_t *)lrt_read_file(path, &len), *buf = malloc(len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(base);
  QrRng g;
  qr_rng_seed(&g, 7);
  int ok = 0, named = 0;
  for (int i = 0; i < 200; i++) {
    memcpy(buf, base, len);
    size_t n = len;
    if (i % 3 == 0) n = (size_t)(qr_rng_next(&g) % (len + 1));
    else buf[qr_rng_next(&g) % len] = (uint8_t)qr_rng_next(&g);
    lrt_write_file(dst, buf, n);
    QrTokenizer *t;
    QrErr e;
    if (qr_tokenizer_open(dst, 300, &t, &e)) {
      named += strstr(e.msg, dst) != NULL;
      continue;
    }
    named++;
    ok++;
    int ids[64];
    int k = qr_tokenizer_encode(t, "hello world \xe2\x82\xac\x01", ids);
    char b2[2];
    for (int j = 0; j < k; j++) CU_ASSERT(ids[j] >= 0 && ids[j] < 300 &&
                                          qr_tokenizer_piece(t, 1, ids[j], b2) != NULL);
    qr_tokenizer_free(t);
  }
  CU_ASSERT_EQUAL(named, 200);
  CU_ASSERT(ok > 50);
  free(base);
  free(buf);
}

int main(void) {
  g_dir = lrt_tmpdir("runner-fuzz");
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("runner_fuzz", NULL, NULL);
  CU_add_test(s, "model file mutations", test_model_mutations);
  CU_add_test(s, "tokenizer file mutations", test_tokenizer_mutations);
  return lrt_main();
}
