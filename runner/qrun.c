/*
** qrun.c: the command line: `qrun gen`, `qrun quantize`, `qrun run`.
** Parses options strictly (every number range-checked), records the run's
** parameters and phases with the lowram annotation API, and prints tokens
** to stdout and speeds to stderr. Errors: one line "qrun: FILE: reason",
** exit status 1 (2 for usage errors).
*/
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forward.h"
#include "gen.h"
#include "lowram.h"
#include "memmodel.h"
#include "model.h"
#include "sample.h"
#include "tokenizer.h"

// --- option helpers --------------------------------------------------------

static int usage_err(const char *fmt, const char *a, const char *b) {
  fprintf(stderr, "qrun: ");
  fprintf(stderr, fmt, a, b);
  fprintf(stderr, " (see qrun --help)\n");
  return 2;
}

static int parse_long(const char *opt, const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) {
    fprintf(stderr, "qrun: --%s '%s': expected an integer in [%ld, %ld]\n", opt, s, lo, hi);
    return -1;
  }
  *out = v;
  return 0;
}

#define INT_OPT(name, var, lo, hi)                                  \
  do {                                                              \
    long v_;                                                        \
    if (parse_long(name, optarg, lo, hi, &v_)) return 2;           \
    var = (int)v_;                                                  \
  } while (0)

static const char *help_text =
    "usage:\n"
    "  qrun gen -o FILE [--dim N --layers N --heads N --kv-heads N --hidden N --vocab N\n"
    "           --max-seq N --quant f32|q8|q4 --seed S --unshared]\n"
    "  qrun quantize IN -o OUT --quant q8|q4\n"
    "  qrun run -m MODEL [-z TOKENIZER] [--seq-len N] [--prompt-len P] [--ubatch U]\n"
    "           [--batch B] [--tokens T] [--prompt TEXT | --stream] [--no-mmap]\n"
    "           [--kv f32|q8] [--scratch arena|malloc] [--threads N] [--seed S]\n"
    "           [--temp T] [-v]\n"
    "           [--max-memory BYTES --memory-model FILE]\n";

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

// --- gen and quantize ------------------------------------------------------

static int cmd_gen(int argc, char **argv) {
  QrConfig c = {.dim = 64, .layers = 2, .heads = 4, .kv_heads = 0, .hidden = 0, .vocab = 256,
                .max_seq = 256, .quant = QR_F32, .group = QR_GROUP, .shared = 1};
  long seed = 1;
  const char *out = NULL;
  enum { O_DIM = 256, O_LAYERS, O_HEADS, O_KVH, O_HID, O_VOCAB, O_MAXSEQ, O_QUANT, O_SEED, O_UNSH };
  static const struct option opts[] = {
      {"dim", 1, 0, O_DIM}, {"layers", 1, 0, O_LAYERS}, {"heads", 1, 0, O_HEADS},
      {"kv-heads", 1, 0, O_KVH}, {"hidden", 1, 0, O_HID}, {"vocab", 1, 0, O_VOCAB},
      {"max-seq", 1, 0, O_MAXSEQ}, {"quant", 1, 0, O_QUANT}, {"seed", 1, 0, O_SEED},
      {"unshared", 0, 0, O_UNSH}, {"output", 1, 0, 'o'}, {0, 0, 0, 0}};
  int o;
  while ((o = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
    switch (o) {
    case 'o': out = optarg; break;
    case O_DIM: INT_OPT("dim", c.dim, 2, 1 << 16); break;
    case O_LAYERS: INT_OPT("layers", c.layers, 1, 4096); break;
    case O_HEADS: INT_OPT("heads", c.heads, 1, 1 << 16); break;
    case O_KVH: INT_OPT("kv-heads", c.kv_heads, 1, 1 << 16); break;
    case O_HID: INT_OPT("hidden", c.hidden, 1, 1 << 18); break;
    case O_VOCAB: INT_OPT("vocab", c.vocab, 1, 1 << 22); break;
    case O_MAXSEQ: INT_OPT("max-seq", c.max_seq, 1, 1 << 20); break;
    case O_SEED: { long v; if (parse_long("seed", optarg, 0, LONG_MAX, &v)) return 2; seed = v; break; }
    case O_UNSH: c.shared = 0; break;
    case O_QUANT:
      if ((c.quant = qr_quant_parse(optarg)) < 0) return usage_err("--quant '%s': expected f32, q8 or q4%s", optarg, "");
      break;
    default: return usage_err("gen: bad option%s%s", "", "");
    }
  }
  if (!out) return usage_err("gen: missing -o FILE%s%s", "", "");
  if (!c.kv_heads) c.kv_heads = c.heads;
  if (!c.hidden) c.hidden = (8 * c.dim / 3 + QR_GROUP - 1) / QR_GROUP * QR_GROUP;
  QrErr e;
  if (qr_gen_model(out, &c, (uint64_t)seed, &e)) { fprintf(stderr, "qrun: %s\n", e.msg); return 1; }
  return 0;
}

static int cmd_quantize(int argc, char **argv) {
  const char *out = NULL;
  int quant = -1;
  static const struct option opts[] = {{"quant", 1, 0, 'q'}, {"output", 1, 0, 'o'}, {0, 0, 0, 0}};
  int o;
  while ((o = getopt_long(argc, argv, "o:q:", opts, NULL)) != -1) {
    if (o == 'o') out = optarg;
    else if (o == 'q') {
      quant = qr_quant_parse(optarg);
      if (quant != QR_Q8 && quant != QR_Q4) return usage_err("--quant '%s': expected q8 or q4%s", optarg, "");
    } else return usage_err("quantize: bad option%s%s", "", "");
  }
  if (optind + 1 != argc || !out || quant < 0)
    return usage_err("quantize: usage: qrun quantize IN -o OUT --quant q8|q4%s%s", "", "");
  QrErr e;
  if (qr_quantize_model(argv[optind], out, quant, &e)) { fprintf(stderr, "qrun: %s\n", e.msg); return 1; }
  return 0;
}

// --- run -------------------------------------------------------------------

/* Peak and current resident memory split into anonymous and file-backed
** pages (-v): what --no-mmap changes. */
static void print_memory(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return;
  char line[256];
  long hwm = -1, anon = -1, file = -1;
  while (fgets(line, sizeof line, f)) {
    sscanf(line, "VmHWM: %ld", &hwm);
    sscanf(line, "RssAnon: %ld", &anon);
    sscanf(line, "RssFile: %ld", &file);
  }
  fclose(f);
  fprintf(stderr, "qrun: memory: peak RSS %ld KiB, now anon %ld KiB + file %ld KiB\n", hwm, anon, file);
}

/* Weight bytes one decode step reads: every matrix once, but the embedding
** only one row unless it is also the classifier. */
static size_t weights_per_token(const QrModel *m) {
  size_t emb = (size_t)m->emb.rows * qr_row_bytes(m->emb.quant, (size_t)m->emb.cols);
  return m->size - (m->cfg.shared ? 0 : emb) + qr_row_bytes(m->emb.quant, (size_t)m->emb.cols);
}

typedef struct RunOpts {
  const char *model;    /* -m */
  const char *tok_path; /* -z, NULL: one token per byte */
  const char *prompt;   /* --prompt, NULL: synthetic or --stream */
  int seq_len;          /* KV positions per sequence (0: the model's max) */
  int prompt_len;       /* synthetic prompt length */
  int ubatch;           /* prefill chunk (0: whole prompt) */
  int batch;            /* sequences per batch */
  int tokens;           /* tokens generated per sequence */
  int threads;          /* pool size */
  int kv;               /* QR_F32 or QR_Q8 cache */
  int arena;            /* 1: --scratch arena, 0: malloc */
  int mmap;             /* 0: --no-mmap */
  int stream;           /* prompts from stdin */
  int verbose;          /* -v: sizes and memory to stderr */
  long seed;            /* synthetic prompt and sampling */
  float temp;           /* 0: greedy */
  double max_memory;        /* --max-memory: bytes, 0 if not given */
  const char *memory_model; /* --memory-model: lowram suggest --emit FILE */
  int batch_set;            /* --batch was given: it caps the model's pick */
} RunOpts;

typedef struct Ctx {
  const RunOpts *o;
  QrModel *m;
  QrTokenizer *tok;           /* NULL without -z */
  QrPool *pool;
  double t_prefill, t_decode; /* seconds, summed over batches */
  long n_prefill, n_decode;   /* tokens, summed over batches */
} Ctx;

/* The most prompts the next stream batch takes (at most `avail`, the
** --batch limit). The one place a memory-aware policy (--max-memory) will
** plug in. */
static int stream_pick_batch(const Ctx *x, int avail) {
  return avail < x->o->batch ? avail : x->o->batch;
}

static int *encode(const Ctx *x, const char *text, int *n) {
  int *ids = malloc((strlen(text) + 3) * sizeof *ids);
  if (!ids) return NULL;
  *n = x->tok ? qr_tokenizer_encode(x->tok, text, ids) : qr_bytes_encode(text, x->m->cfg.vocab, ids);
  return ids;
}

static void print_seq(const Ctx *x, const int *prompt, int plen, const int *out, int n) {
  if (!x->tok) {
    for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", out[i]);
    printf("\n");
    return;
  }
  char buf[2];
  int prev = prompt[0];
  for (int i = 1; i < plen; i++) { fputs(qr_tokenizer_piece(x->tok, prev, prompt[i], buf), stdout); prev = prompt[i]; }
  for (int i = 0; i < n; i++) { fputs(qr_tokenizer_piece(x->tok, prev, out[i], buf), stdout); prev = out[i]; }
  printf("\n");
}

/* Runs one batch of B prompts: prefill, then decode; prints one line per
** sequence. All per-batch memory is freed before returning. */
static int run_batch(Ctx *x, int B, int *const *prompts, const int *lens) {
  const RunOpts *o = x->o;
  const QrConfig *c = &x->m->cfg;
  int P = 0;
  for (int b = 0; b < B; b++) P = lens[b] > P ? lens[b] : P;
  QrShape s = {B, o->seq_len, P, o->ubatch, o->kv, o->arena};
  QrErr e = {{0}};
  if (P > o->seq_len) {
    fprintf(stderr, "qrun: %s: prompt of %d tokens does not fit --seq-len %d\n", x->m->path, P, o->seq_len);
    return 1;
  }
  int T = o->tokens;
  if (T > o->seq_len - P + 1) T = o->seq_len - P + 1; /* the cache holds P + T - 1 */
  lowram_param("prompt_len", P);
  lowram_param("ubatch", qr_shape_ubatch(&s));
  QrRun *r;
  lowram_mark("prefill");
  if (qr_run_new(x->m, &s, x->pool, &r, &e)) { fprintf(stderr, "qrun: %s\n", e.msg); return 1; }
  if (o->verbose) {
    QrSizes z;
    qr_sizes(c, &s, &z);
    fprintf(stderr, "qrun: bytes: weights %zu weights_per_token %zu kv_cache %zu logits %zu prefill_acts %zu "
            "prefill_scores %zu decode_acts %zu decode_scores %zu scratch %zu arena %zu\n",
            qr_model_weight_bytes(x->m), weights_per_token(x->m), z.kv_cache, z.logits, z.prefill_acts, z.prefill_scores,
            z.decode_acts, z.decode_scores, z.scratch, z.arena);
  }
  int *out = calloc((size_t)B * (size_t)T + 1, sizeof *out);
  QrRng *rng = calloc((size_t)B, sizeof *rng);
  int rc = (!out || !rng) ? 1 : 0;
  double t0 = now_s();
  if (!rc && qr_run_prefill(r, (const int *const *)prompts, lens, &e)) rc = 1;
  x->t_prefill += now_s() - t0;
  for (int b = 0; b < B; b++) x->n_prefill += lens[b];
  if (!rc) {
    for (int b = 0; b < B; b++) {
      qr_rng_seed(&rng[b], (uint64_t)o->seed); /* same seed per sequence: copies agree */
      out[(size_t)b * T] = qr_sample(qr_run_logits(r, b), c->vocab, o->temp, &rng[b]);
    }
    lowram_mark("decode");
    t0 = now_s();
    int *step = malloc((size_t)B * sizeof *step);
    if (!step) rc = 1;
    for (int t = 1; !rc && t < T; t++) {
      for (int b = 0; b < B; b++) step[b] = out[(size_t)b * T + t - 1];
      if (qr_run_decode(r, step, &e)) { rc = 1; break; }
      for (int b = 0; b < B; b++)
        out[(size_t)b * T + t] = qr_sample(qr_run_logits(r, b), c->vocab, o->temp, &rng[b]);
    }
    free(step);
    qr_run_decode_end(r);
    x->t_decode += now_s() - t0;
    x->n_decode += (long)B * (T - 1);
  }
  if (rc && e.msg[0]) fprintf(stderr, "qrun: %s\n", e.msg);
  else if (rc) fprintf(stderr, "qrun: %s: out of memory\n", x->m->path);
  for (int b = 0; !rc && b < B; b++) print_seq(x, prompts[b], lens[b], out + (size_t)b * T, T);
  fflush(stdout);
  free(out);
  free(rng);
  qr_run_free(r);
  return rc;
}

static int run_single(Ctx *x) {
  const RunOpts *o = x->o;
  int n = 0, *ids;
  if (o->prompt) {
    ids = encode(x, o->prompt, &n);
  } else {
    /* Synthetic prompt: BOS then seeded pseudo-random ids. */
    n = o->prompt_len;
    ids = malloc((size_t)n * sizeof *ids);
    QrRng g;
    qr_rng_seed(&g, (uint64_t)o->seed ^ 0x5eedull);
    for (int i = 0; ids && i < n; i++)
      ids[i] = i == 0 ? QR_BOS % x->m->cfg.vocab : (int)(qr_rng_next(&g) % (uint64_t)x->m->cfg.vocab);
  }
  int **prompts = calloc((size_t)o->batch, sizeof *prompts);
  int *lens = calloc((size_t)o->batch, sizeof *lens);
  int rc = 1;
  if (ids && prompts && lens) {
    for (int b = 0; b < o->batch; b++) { prompts[b] = ids; lens[b] = n; }
    rc = run_batch(x, o->batch, prompts, lens);
  }
  free(prompts);
  free(lens);
  free(ids);
  return rc;
}

static int run_stream(Ctx *x) {
  const RunOpts *o = x->o;
  int **prompts = calloc((size_t)o->batch, sizeof *prompts);
  int *lens = calloc((size_t)o->batch, sizeof *lens);
  char *line = NULL;
  size_t cap = 0;
  long lineno = 0, nbatch = 0;
  int rc = (prompts && lens) ? 0 : 1, eof = 0;
  while (!rc && !eof) {
    int want = stream_pick_batch(x, o->batch), B = 0;
    while (B < want) {
      ssize_t got = getline(&line, &cap, stdin);
      if (got < 0) { eof = 1; break; }
      lineno++;
      if (got > 0 && line[got - 1] == '\n') line[--got] = 0;
      prompts[B] = encode(x, line, &lens[B]);
      if (!prompts[B]) { rc = 1; break; }
      if (lens[B] > o->seq_len) {
        fprintf(stderr, "qrun: stdin line %ld: %d tokens do not fit --seq-len %d\n", lineno,
                lens[B], o->seq_len);
        free(prompts[B]);
        rc = 1;
        break;
      }
      B++;
    }
    if (!rc && B > 0) {
      char mark[32];
      snprintf(mark, sizeof mark, "batch %ld", ++nbatch);
      lowram_mark(mark);
      lowram_param("batch", B);
      rc = run_batch(x, B, prompts, lens);
    }
    for (int b = 0; b < B; b++) { free(prompts[b]); prompts[b] = NULL; }
  }
  free(line);
  free(prompts);
  free(lens);
  return rc;
}

/* --max-memory with --memory-model: the largest batch that the model made
** by `lowram suggest --emit` predicts to fit (runner/memmodel.h). */
static int pick_memory_batch(RunOpts *o) {
  char err[600];
  QrMemModel *mm = qr_memmodel_load(o->memory_model, err, sizeof err);
  if (!mm) {
    fprintf(stderr, "qrun: %s\n", err);
    return 1;
  }
  double need = 0;
  long b = qr_memmodel_pick_batch(mm, o->seq_len, o->ubatch ? o->ubatch : o->seq_len,
                                  o->max_memory, o->batch_set ? o->batch : 65536, &need, err,
                                  sizeof err);
  double margin = qr_memmodel_margin(mm);
  qr_memmodel_free(mm);
  if (b < 0) {
    fprintf(stderr, "qrun: %s: %s\n", o->memory_model, err);
    return 1;
  }
  if (b == 0) {
    fprintf(stderr, "qrun: --max-memory %.0f: %s predicts %.0f bytes at batch 1 and seq-len %d, "
            "above the limit less its %.0f%% margin; nothing fits\n",
            o->max_memory, o->memory_model, need, o->seq_len, margin * 100);
    return 1;
  }
  fprintf(stderr, "qrun: --max-memory %.0f: batch %ld (largest that %s predicts to fit, %.0f%% "
          "margin)\n", o->max_memory, b, o->memory_model, margin * 100);
  o->batch = (int)b;
  return 0;
}

static int cmd_run(int argc, char **argv) {
  RunOpts o = {.prompt_len = 8, .batch = 1, .tokens = 16, .threads = 1, .kv = QR_F32, .arena = 1,
               .mmap = 1, .seed = 42};
  enum { O_SEQ = 256, O_PLEN, O_UB, O_BATCH, O_TOK, O_PROMPT, O_STREAM, O_NOMMAP, O_KV, O_SCR,
         O_THR, O_SEED, O_TEMP, O_MAXMEM, O_MMODEL };
  static const struct option opts[] = {
      {"model", 1, 0, 'm'}, {"tokenizer", 1, 0, 'z'}, {"seq-len", 1, 0, O_SEQ},
      {"prompt-len", 1, 0, O_PLEN}, {"ubatch", 1, 0, O_UB}, {"batch", 1, 0, O_BATCH},
      {"tokens", 1, 0, O_TOK}, {"prompt", 1, 0, O_PROMPT}, {"stream", 0, 0, O_STREAM},
      {"no-mmap", 0, 0, O_NOMMAP}, {"kv", 1, 0, O_KV}, {"scratch", 1, 0, O_SCR},
      {"threads", 1, 0, O_THR}, {"seed", 1, 0, O_SEED}, {"temp", 1, 0, O_TEMP},
      {"verbose", 0, 0, 'v'}, {"max-memory", 1, 0, O_MAXMEM}, {"memory-model", 1, 0, O_MMODEL},
      {0, 0, 0, 0}};
  int opt;
  while ((opt = getopt_long(argc, argv, "m:z:v", opts, NULL)) != -1) {
    switch (opt) {
    case 'm': o.model = optarg; break;
    case 'z': o.tok_path = optarg; break;
    case 'v': o.verbose = 1; break;
    case O_SEQ: INT_OPT("seq-len", o.seq_len, 1, 1 << 20); break;
    case O_PLEN: INT_OPT("prompt-len", o.prompt_len, 1, 1 << 20); break;
    case O_UB: INT_OPT("ubatch", o.ubatch, 1, 1 << 20); break;
    case O_BATCH: INT_OPT("batch", o.batch, 1, 65536); o.batch_set = 1; break;
    case O_MAXMEM:
      if (qr_memmodel_parse_bytes(optarg, &o.max_memory))
        return usage_err("--max-memory '%s': expected a size such as 512MiB%s", optarg, "");
      break;
    case O_MMODEL: o.memory_model = optarg; break;
    case O_TOK: INT_OPT("tokens", o.tokens, 1, 1 << 20); break;
    case O_THR: INT_OPT("threads", o.threads, 1, 256); break;
    case O_PROMPT: o.prompt = optarg; break;
    case O_STREAM: o.stream = 1; break;
    case O_NOMMAP: o.mmap = 0; break;
    case O_SEED: if (parse_long("seed", optarg, 0, LONG_MAX, &o.seed)) return 2; break;
    case O_TEMP: {
      char *end;
      o.temp = strtof(optarg, &end);
      if (end == optarg || *end || !(o.temp >= 0 && o.temp <= 100))
        return usage_err("--temp '%s': expected a number in [0, 100]%s", optarg, "");
      break;
    }
    case O_KV:
      o.kv = qr_quant_parse(optarg);
      if (o.kv != QR_F32 && o.kv != QR_Q8) return usage_err("--kv '%s': expected f32 or q8%s", optarg, "");
      break;
    case O_SCR:
      if (!strcmp(optarg, "arena")) o.arena = 1;
      else if (!strcmp(optarg, "malloc")) o.arena = 0;
      else return usage_err("--scratch '%s': expected arena or malloc%s", optarg, "");
      break;
    default: return usage_err("run: bad option%s%s", "", "");
    }
  }
  if (!o.model) return usage_err("run: missing -m MODEL%s%s", "", "");
  if (optind != argc) return usage_err("run: unexpected argument '%s'%s", argv[optind], "");
  if (o.prompt && o.stream) return usage_err("run: --prompt and --stream exclude each other%s%s", "", "");

  Ctx x = {.o = &o};
  QrErr e;
  lowram_mark("load");
  if (qr_model_open(o.model, o.mmap, &x.m, &e)) { fprintf(stderr, "qrun: %s\n", e.msg); return 1; }
  const QrConfig *c = &x.m->cfg;
  int rc = 0;
  if (!o.seq_len) o.seq_len = c->max_seq;
  if (o.seq_len > c->max_seq) {
    fprintf(stderr, "qrun: %s: --seq-len %d exceeds the model's maximum %d\n", o.model, o.seq_len, c->max_seq);
    rc = 1;
  } else if (!o.prompt && !o.stream && o.prompt_len > o.seq_len) {
    fprintf(stderr, "qrun: %s: --prompt-len %d exceeds --seq-len %d\n", o.model, o.prompt_len, o.seq_len);
    rc = 1;
  } else if (o.kv == QR_Q8 && qr_kv_dim(c) % QR_GROUP) {
    fprintf(stderr, "qrun: %s: --kv q8 needs kv_dim (%d) to be a multiple of %d\n", o.model, qr_kv_dim(c), QR_GROUP);
    rc = 1;
  }
  if (!rc && o.tok_path && qr_tokenizer_open(o.tok_path, c->vocab, &x.tok, &e)) {
    fprintf(stderr, "qrun: %s\n", e.msg);
    rc = 1;
  }
  if (!rc && !(x.pool = qr_pool_new(o.threads))) {
    fprintf(stderr, "qrun: cannot start %d threads\n", o.threads);
    rc = 1;
  }
  if (!rc && (o.max_memory > 0) != (o.memory_model != NULL)) {
    fprintf(stderr, "qrun: --max-memory and --memory-model go together\n");
    rc = 2;
  }
  if (!rc && o.memory_model) rc = pick_memory_batch(&o);
  if (!rc) {
    lowram_param("seq_len", o.seq_len);
    lowram_param("batch", o.batch);
    lowram_param("dim", c->dim);
    lowram_param("hidden", c->hidden);
    lowram_param("layers", c->layers);
    lowram_param("heads", c->heads);
    lowram_param("kv_heads", c->kv_heads);
    lowram_param("vocab", c->vocab);
    lowram_param("tokens", o.tokens);
    lowram_param("threads", o.threads);
    lowram_param("mmap", o.mmap);
    lowram_param_str("quant", qr_quant_name(c->quant));
    lowram_param_str("kv", qr_quant_name(o.kv));
    lowram_param_str("scratch", o.arena ? "arena" : "malloc");
    rc = o.stream ? run_stream(&x) : run_single(&x);
  }
  if (!rc && o.verbose) print_memory();
  if (!rc) {
    fprintf(stderr, "qrun: prefill %ld tokens in %.3f s (%.1f tok/s); decode %ld tokens in %.3f s "
            "(%.1f tok/s); %s kernels, %d threads\n",
            x.n_prefill, x.t_prefill, x.t_prefill > 0 ? x.n_prefill / x.t_prefill : 0.0,
            x.n_decode, x.t_decode, x.t_decode > 0 ? x.n_decode / x.t_decode : 0.0,
            qr_kernel_name(), o.threads);
  }
  qr_pool_free(x.pool);
  qr_tokenizer_free(x.tok);
  qr_model_close(x.m);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    fputs(help_text, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!strcmp(argv[1], "gen")) return cmd_gen(argc - 1, argv + 1);
  if (!strcmp(argv[1], "quantize")) return cmd_quantize(argc - 1, argv + 1);
  if (!strcmp(argv[1], "run")) return cmd_run(argc - 1, argv + 1);
  fprintf(stderr, "qrun: unknown command '%s'\n%s", argv[1], help_text);
  return 2;
}
