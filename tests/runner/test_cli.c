/*
** test_cli.c: the qrun binary ($QRUN_BIN) end to end: bad input gives one
** clear line naming the file and a non-zero exit (never a signal); the same
** seed gives the same tokens across runs, thread counts and batch copies;
** stream mode equals one run per line; `quantize` equals `gen --quant`;
** llama2.c checkpoints and tokenizer.bin are read correctly.
*/
#include <CUnit/CUnit.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrtest.h"
#include "model.h"
#include "tokenizer.h"

static char *g_dir;
static const char *g_qrun;

static char *path_in(const char *name) { return lrt_path_in(g_dir, name); }

/* Runs qrun with args (NULL-terminated); stdout/stderr captured into
** malloc'd strings (caller frees). Returns the exit status. */
static int qrun(char **out, char **err, const char *a0, ...) {
  char *argv[40];
  int n = 0;
  argv[n++] = (char *)g_qrun;
  va_list ap;
  va_start(ap, a0);
  for (const char *a = a0; a && n < 39; a = va_arg(ap, const char *)) argv[n++] = (char *)a;
  va_end(ap);
  argv[n] = NULL;
  char *op = path_in("stdout.txt"), *ep = path_in("stderr.txt");
  int rc = lrt_run(argv, NULL, op, ep);
  size_t len;
  if (out) *out = lrt_read_file(op, &len);
  if (err) *err = lrt_read_file(ep, &len);
  return rc;
}

static int count_lines(const char *s) {
  int n = 0;
  for (; s && *s; s++) n += *s == '\n';
  return n;
}

static void gen_small(const char *name, const char *quant, const char *seed) {
  CU_ASSERT_EQUAL_FATAL(qrun(NULL, NULL, "gen", "-o", path_in(name), "--dim", "64", "--layers", "2",
                             "--heads", "4", "--kv-heads", "2", "--hidden", "192", "--vocab", "256",
                             "--max-seq", "64", "--quant", quant, "--seed", seed, "--unshared", NULL),
                        0);
}

// --- bad input -------------------------------------------------------------

/* Exit status 1 or 2 (not a signal), exactly one stderr line, naming `what`. */
static void expect_error(int rc, char *out, char *err, const char *what) {
  CU_ASSERT(rc == 1 || rc == 2);
  CU_ASSERT_EQUAL(count_lines(err), 1);
  CU_ASSERT_PTR_NOT_NULL(err ? strstr(err, what) : NULL);
  if (!err || !strstr(err, what) || count_lines(err) != 1)
    fprintf(stderr, "\n    rc %d, stderr: %s", rc, err ? err : "(none)");
  free(out);
  free(err);
}

static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i); }

static void run_bad(const char *model, const char *what, const char *extra1, const char *extra2) {
  char *out, *err;
  int rc = qrun(&out, &err, "run", "-m", model, "--tokens", "2", extra1, extra2, NULL);
  expect_error(rc, out, err, what);
}

static void test_bad_input(void) {
  gen_small("good.qr", "q8", "3");
  size_t len;
  uint8_t *good = (uint8_t *)lrt_read_file(path_in("good.qr"), &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(good);
  /* Missing file. */
  run_bad(path_in("nope.qr"), "nope.qr: cannot open", NULL, NULL);
  /* Truncated to half, and to a partial header. */
  lrt_write_file(path_in("trunc.qr"), good, len / 2);
  run_bad(path_in("trunc.qr"), "trunc.qr: file is", NULL, NULL);
  lrt_write_file(path_in("short.qr"), good, 40);
  run_bad(path_in("short.qr"), "short.qr: truncated header", NULL, NULL);
  /* Empty file; a directory. */
  lrt_write_file(path_in("empty.qr"), good, 0);
  run_bad(path_in("empty.qr"), "empty.qr: too short", NULL, NULL);
  run_bad(g_dir, "not a regular file", NULL, NULL);
  /* Corrupt magic: neither format. */
  uint8_t *bad = malloc(len);
  memcpy(bad, good, len);
  memcpy(bad, "XXXX", 4);
  lrt_write_file(path_in("magic.qr"), bad, len);
  run_bad(path_in("magic.qr"), "magic.qr: bad magic", NULL, NULL);
  /* Dims that overflow int, or are out of range. */
  memcpy(bad, good, len);
  put32(bad + 8, 0xffffffffu);
  lrt_write_file(path_in("ovf.qr"), bad, len);
  run_bad(path_in("ovf.qr"), "ovf.qr: header field dim", NULL, NULL);
  memcpy(bad, good, len);
  put32(bad + 28, 1u << 22); /* vocab 4M: in range, but the file is far too small */
  put32(bad + 48, 0);
  lrt_write_file(path_in("vocab.qr"), bad, len);
  run_bad(path_in("vocab.qr"), "vocab.qr: header says", NULL, NULL);
  /* A header that is consistent but disagrees with the file size. */
  memcpy(bad, good, len);
  put32(bad + 16, 3); /* 3 layers: the stated size no longer matches */
  lrt_write_file(path_in("layers.qr"), bad, len);
  run_bad(path_in("layers.qr"), "layers.qr: header says", NULL, NULL);
  memcpy(bad, good, len);
  put32(bad + 24, 3); /* kv heads 3 do not divide heads 4 */
  lrt_write_file(path_in("kvh.qr"), bad, len);
  run_bad(path_in("kvh.qr"), "kvh.qr: dim 64, heads 4, kv heads 3", NULL, NULL);
  memcpy(bad, good, len);
  put32(bad + 4, 9);
  lrt_write_file(path_in("ver.qr"), bad, len);
  run_bad(path_in("ver.qr"), "ver.qr: format version 9", NULL, NULL);
  /* Extra trailing bytes. */
  FILE *f = fopen(path_in("long.qr"), "wb");
  fwrite(good, 1, len, f);
  fputs("junk", f);
  fclose(f);
  run_bad(path_in("long.qr"), "long.qr: file is", NULL, NULL);
  /* Options: seq-len above the model's max, batch 0, bad kv type. */
  run_bad(path_in("good.qr"), "good.qr: --seq-len 65 exceeds the model's maximum 64", "--seq-len", "65");
  run_bad(path_in("good.qr"), "--batch '0'", "--batch", "0");
  run_bad(path_in("good.qr"), "--kv 'q4'", "--kv", "q4");
  run_bad(path_in("good.qr"), "--prompt-len 70 exceeds --seq-len 64", "--prompt-len", "70");
  run_bad(path_in("good.qr"), "nope.bin: cannot open", "-z", path_in("nope.bin"));
  free(bad);
  free(good);
}

// --- determinism -----------------------------------------------------------

static char *run_out(const char *model, const char *threads, const char *batch, const char *temp) {
  char *out = NULL, *err = NULL;
  int rc = qrun(&out, &err, "run", "-m", model, "--prompt-len", "9", "--tokens", "12", "--threads",
                threads, "--batch", batch, "--temp", temp, "--seed", "77", "--ubatch", "4", NULL);
  CU_ASSERT_EQUAL(rc, 0);
  if (rc) fprintf(stderr, "\n    rc %d: %s", rc, err ? err : "");
  free(err);
  return out;
}

static void test_same_seed_same_tokens(void) {
  gen_small("det.qr", "q4", "5");
  char m[512];
  snprintf(m, sizeof m, "%s", path_in("det.qr")); /* path_in's buffers rotate */
  char *a = run_out(m, "1", "1", "0.9"), *b = run_out(m, "1", "1", "0.9");
  char *c = run_out(m, "2", "1", "0.9"), *d = run_out(m, "2", "3", "0.9");
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  CU_ASSERT_EQUAL(count_lines(a), 1);
  CU_ASSERT_STRING_EQUAL(a, b);
  CU_ASSERT_STRING_EQUAL(a, c);
  /* batch of 3 identical prompts: three copies of the single line */
  char three[4096];
  snprintf(three, sizeof three, "%s%s%s", a, a, a);
  CU_ASSERT_STRING_EQUAL(d, three);
  /* 12 ids in [0, 256) */
  int n = 0, v, off = 0, k;
  while (sscanf(a + off, "%d%n", &v, &k) == 1) { CU_ASSERT(v >= 0 && v < 256); n++; off += k; }
  CU_ASSERT_EQUAL(n, 12);
  free(a); free(b); free(c); free(d);
}

/* --stream: prompts in batches of 2 give the same lines as one run each. */
static void test_stream(void) {
  gen_small("st.qr", "q8", "6");
  const char *lines[] = {"hello", "a longer line of text", "", "x", "fifth prompt"};
  FILE *f = fopen(path_in("in.txt"), "w");
  for (int i = 0; i < 5; i++) fprintf(f, "%s\n", lines[i]);
  fclose(f);
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "'%s' run -m '%s' --stream --batch 2 --tokens 5 --seq-len 40 --scratch malloc < '%s'",
           g_qrun, path_in("st.qr"), path_in("in.txt"));
  char *argv[] = {"/bin/sh", "-c", cmd, NULL};
  CU_ASSERT_EQUAL_FATAL(lrt_run(argv, NULL, path_in("stream.out"), path_in("stream.err")), 0);
  size_t len;
  char *all = lrt_read_file(path_in("stream.out"), &len);
  CU_ASSERT_EQUAL(count_lines(all), 5);
  char *line = all;
  for (int i = 0; i < 5 && line; i++) {
    char *out = NULL;
    CU_ASSERT_EQUAL(qrun(&out, NULL, "run", "-m", path_in("st.qr"), "--prompt", lines[i], "--tokens", "5",
                         "--seq-len", "40", NULL), 0);
    char *nl = strchr(line, '\n');
    CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
    CU_ASSERT(out && strlen(out) == (size_t)(nl - line + 1) && !strncmp(out, line, (size_t)(nl - line)));
    line = nl + 1;
    free(out);
  }
  free(all);
  /* A line longer than the context is an error naming the line. */
  snprintf(cmd, sizeof cmd, "printf 'ok\\n%%050d\\n' 0 | '%s' run -m '%s' --stream --seq-len 20",
           g_qrun, path_in("st.qr"));
  char *argv2[] = {"/bin/sh", "-c", cmd, NULL};
  int rc = lrt_run(argv2, NULL, path_in("s2.out"), path_in("s2.err"));
  char *err = lrt_read_file(path_in("s2.err"), &len);
  expect_error(rc, NULL, err, "stdin line 2: 51 tokens do not fit --seq-len 20");
}

// --- quantize and the llama2.c format --------------------------------------

static void test_quantize_equals_gen(void) {
  gen_small("qf.qr", "f32", "8");
  gen_small("q8.qr", "q8", "8");
  gen_small("q4.qr", "q4", "8");
  CU_ASSERT_EQUAL(qrun(NULL, NULL, "quantize", path_in("qf.qr"), "-o", path_in("qq8.qr"), "--quant", "q8", NULL), 0);
  CU_ASSERT_EQUAL(qrun(NULL, NULL, "quantize", path_in("qf.qr"), "-o", path_in("qq4.qr"), "--quant", "q4", NULL), 0);
  size_t a, b;
  char *x = lrt_read_file(path_in("q8.qr"), &a), *y = lrt_read_file(path_in("qq8.qr"), &b);
  CU_ASSERT(x && y && a == b && !memcmp(x, y, a));
  free(x); free(y);
  x = lrt_read_file(path_in("q4.qr"), &a);
  y = lrt_read_file(path_in("qq4.qr"), &b);
  CU_ASSERT(x && y && a == b && !memcmp(x, y, a));
  free(x); free(y);
  char *out, *err;
  int rc = qrun(&out, &err, "quantize", path_in("q8.qr"), "-o", path_in("qqq.qr"), "--quant", "q4", NULL);
  expect_error(rc, out, err, "q8.qr: already q8");
}

/* Writes the llama2.c checkpoint of a generated f32 qrun model: same
** tensors in llama2.c's order (stacked per kind), zero rope tables. */
static void write_llama2c(const char *src, const char *dst) {
  QrModel *m;
  QrErr e;
  CU_ASSERT_EQUAL_FATAL(qr_model_open(src, 1, &m, &e), 0);
  const QrConfig *c = &m->cfg;
  FILE *f = fopen(dst, "wb");
  int32_t h[7] = {c->dim, c->hidden, c->layers, c->heads, c->kv_heads,
                  c->shared ? c->vocab : -c->vocab, c->max_seq};
  fwrite(h, 4, 7, f);
  fwrite(m->emb.data, 4, (size_t)c->vocab * c->dim, f);
#define EACH(field, n) for (int l = 0; l < c->layers; l++) fwrite(m->layer[l].field, 4, (size_t)(n), f)
  int kv = c->dim / c->heads * c->kv_heads;
  EACH(rms_att, c->dim);
  EACH(wq.data, c->dim * c->dim);
  EACH(wk.data, kv * c->dim);
  EACH(wv.data, kv * c->dim);
  EACH(wo.data, c->dim * c->dim);
  EACH(rms_ffn, c->dim);
  EACH(w1.data, c->hidden * c->dim);
  EACH(w2.data, c->dim * c->hidden);
  EACH(w3.data, c->hidden * c->dim);
#undef EACH
  fwrite(m->rms_final, 4, (size_t)c->dim, f);
  float *zero = calloc((size_t)c->max_seq * (c->dim / c->heads), 4);
  fwrite(zero, 4, (size_t)c->max_seq * (c->dim / c->heads), f);
  free(zero);
  if (!c->shared) fwrite(m->cls.data, 4, (size_t)c->vocab * c->dim, f);
  fclose(f);
  qr_model_close(m);
}

static void test_llama2c(void) {
  gen_small("l2.qr", "f32", "9");
  write_llama2c(path_in("l2.qr"), path_in("l2.bin"));
  char *a = NULL, *b = NULL;
  CU_ASSERT_EQUAL(qrun(&a, NULL, "run", "-m", path_in("l2.qr"), "--tokens", "10", "--no-mmap", NULL), 0);
  CU_ASSERT_EQUAL(qrun(&b, NULL, "run", "-m", path_in("l2.bin"), "--tokens", "10", NULL), 0);
  CU_ASSERT(a && b && !strcmp(a, b) && count_lines(a) == 1);
  free(a); free(b);
  /* quantize reads llama2.c checkpoints too */
  CU_ASSERT_EQUAL(qrun(NULL, NULL, "quantize", path_in("l2.bin"), "-o", path_in("l2q8.qr"), "--quant", "q8", NULL), 0);
  gen_small("l2g8.qr", "q8", "9");
  size_t x, y;
  char *p = lrt_read_file(path_in("l2q8.qr"), &x), *q = lrt_read_file(path_in("l2g8.qr"), &y);
  CU_ASSERT(p && q && x == y && !memcmp(p, q, x));
  free(p); free(q);
  /* A truncated checkpoint is refused with its size. */
  size_t len;
  char *all = lrt_read_file(path_in("l2.bin"), &len);
  lrt_write_file(path_in("l2cut.bin"), all, len - 4);
  free(all);
  run_bad(path_in("l2cut.bin"), "l2cut.bin: llama2.c checkpoint header needs", NULL, NULL);
}

/* tokenizer.bin: a 9-piece vocabulary where "ab" and " ab" merge. */
static void test_tokenizer(void) {
  const char *pieces[] = {"<unk>", "<s>", "</s>", " ", "a", "b", "ab", " ab", "<0x0A>"};
  float scores[] = {0, 0, 0, 0, 0, 0, 1.0f, 2.0f, 0};
  FILE *f = fopen(path_in("tok.bin"), "wb");
  int32_t maxlen = 6;
  fwrite(&maxlen, 4, 1, f);
  for (int i = 0; i < 9; i++) {
    int32_t l = (int32_t)strlen(pieces[i]);
    fwrite(&scores[i], 4, 1, f);
    fwrite(&l, 4, 1, f);
    fwrite(pieces[i], 1, (size_t)l, f);
  }
  fclose(f);
  QrTokenizer *t;
  QrErr e;
  CU_ASSERT_EQUAL_FATAL(qr_tokenizer_open(path_in("tok.bin"), 9, &t, &e), 0);
  int ids[16];
  int n = qr_tokenizer_encode(t, "ab", ids);
  CU_ASSERT_EQUAL(n, 2);
  CU_ASSERT_EQUAL(ids[0], 1);
  CU_ASSERT_EQUAL(ids[1], 7);
  n = qr_tokenizer_encode(t, "ba", ids); /* [<s>, " ", b, a]: no merge applies */
  CU_ASSERT_EQUAL(n, 4);
  CU_ASSERT_EQUAL(ids[2], 5);
  char buf[2];
  CU_ASSERT_STRING_EQUAL(qr_tokenizer_piece(t, 1, 7, buf), "ab");
  CU_ASSERT_STRING_EQUAL(qr_tokenizer_piece(t, 6, 7, buf), " ab");
  CU_ASSERT_STRING_EQUAL(qr_tokenizer_piece(t, 6, 8, buf), "\n");
  qr_tokenizer_free(t);
  /* More vocabulary than the file holds: refused, naming the file. */
  CU_ASSERT_EQUAL(qr_tokenizer_open(path_in("tok.bin"), 10, &t, &e), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "tok.bin: truncated at token 9"));
}

int main(void) {
  g_dir = lrt_tmpdir("runner-cli");
  g_qrun = lrt_env("QRUN_BIN");
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("runner_cli", NULL, NULL);
  CU_add_test(s, "bad input: one line, non-zero exit", test_bad_input);
  CU_add_test(s, "same seed, same tokens (runs, threads, batch)", test_same_seed_same_tokens);
  CU_add_test(s, "stream mode = one run per line", test_stream);
  CU_add_test(s, "quantize = gen --quant", test_quantize_equals_gen);
  CU_add_test(s, "llama2.c checkpoint", test_llama2c);
  CU_add_test(s, "tokenizer.bin", test_tokenizer);
  return lrt_main();
}
