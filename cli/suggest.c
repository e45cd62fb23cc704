/*
** cli_suggest.c: `lowram suggest`, printing the model of suggest.h for
** people (text), spreadsheets (CSV) and scripts (JSON): the predicted peak
** of one configuration with its contributors, what fits a budget, ranked
** advice, the rule of thumb beside it, and the model file for runners.
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lowram/export.h"
#include "lowram/suggest.h"
#include "lowram/units.h"

#define MAX_LIST 64

typedef enum { FMT_TEXT, FMT_CSV, FMT_JSON } Format;

/* One predicted configuration for the CSV/JSON plan. */
typedef struct Row {
  const char *kind; /* "at", "largest_seq", "largest_batch", "rule_of_thumb" */
  double x[LR_FIT_MAX_PARAMS];
  LrSuggestPeak pk;
  int found;        /* largest_*: something fits */
  int capped;       /* largest_*: the search cap itself fits */
} Row;

static void usage(FILE *out) {
  fprintf(out,
          "usage: lowram suggest SWEEP_DIR|TRACE.db [--at NAME=V[,NAME=V...]] [--budget BYTES]\n"
          "         [--margin PCT] [--fix NAME=V]... [--top N] [--format text|csv|json]\n"
          "         [--emit FILE] [--hints FILE] [--command NAME | --process N]\n"
          "Predicts the heap + anonymous-mmap peak (and an RSS estimate) of configurations,\n"
          "with a range where the runs are noisy, what fits BYTES (minus a margin, default\n"
          "10%%), and what to change, from a sweep made by `lowram sweep` or, as estimates,\n"
          "from one trace.\n"
          "--hints FILE: your runner's flags for each advice, lines KEY=TEXT with KEY one\n"
          "  of seq batch weights_quant kv_quant mmap reuse ubatch chunk; {to}, {from} and\n"
          "  {to_format} are replaced; an optional runner=NAME line applies the file only\n"
          "  when the traced program is NAME. qrun's flags are built in.\n"
          "Each run's trace holds every process of the run; the one read is the process\n"
          "running the program in every run (its argv holds the run's parameter values;\n"
          "not the shell around it), or the one --command NAME (argv[0]'s basename) or\n"
          "--process N (processes.id, in every run) names.\n");
}

static const char *B(char *buf, double v) { return lr_fmt_bytes(buf, 32, (int64_t)llround(v)); }

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c == '\n') fputs("\\n", f);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}


static int parse_pairs(const char *spec, const LrSuggest *m, double *x, const char *opt) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s", spec);
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(tok, '=');
    if (!eq) {
      lr_cli_error("suggest", "%s '%s': expected NAME=VALUE[,NAME=VALUE...]", opt, spec);
      return -1;
    }
    *eq = 0;
    int p = lr_suggest_param_index(m, tok);
    char *end;
    double v = strtod(eq + 1, &end);
    if (p < 0) {
      char names[300] = "";
      size_t u = 0;
      for (int q = 0; q < lr_suggest_nparams(m) && u < sizeof names; q++)
        u += (size_t)snprintf(names + u, sizeof names - u, "%s%s", q ? ", " : "",
                              lr_suggest_param_name(m, q));
      lr_cli_error("suggest", "%s: '%s' is not a parameter that varies in the model (%s%s)", opt,
                   tok, u ? "parameters: " : "it has none", names);
      return -1;
    }
    if (end == eq + 1 || *end || !(v >= 1) || v > 1e9) {
      lr_cli_error("suggest", "%s: %s=%s is not a number between 1 and 1e9", opt, tok, eq + 1);
      return -1;
    }
    x[p] = v;
  }
  return 0;
}

static void config_str(const LrSuggest *m, const double *x, char *buf, size_t len) {
  size_t u = 0;
  buf[0] = 0;
  for (int p = 0; p < lr_suggest_nparams(m) && u < len; p++)
    u += (size_t)snprintf(buf + u, len - u, "%s%s=%g", p ? " " : "", lr_cli_esc(lr_suggest_param_name(m, p)),
                          x[p]);
  if (!u) snprintf(buf, len, "(as recorded)");
}

/* A coefficient in bytes for people: "16 B", "0.25 B", "13.5 KiB", "4.00 MiB". */
static const char *coef_str(char *buf, size_t len, double c) {
  double a = fabs(c);
  if (a >= 1024) {
    char t[32];
    lr_fmt_bytes(t, sizeof t, (int64_t)llround(a));
    snprintf(buf, len, "%s%s", c < 0 ? "-" : "", t);
  } else if (a == floor(a)) {
    snprintf(buf, len, "%.0f B", c);
  } else {
    snprintf(buf, len, "%.3g B", c);
  }
  return buf;
}

static const char *fit_str(const LrSuggest *m, const LrFitResult *r, char *buf, size_t len) {
  const char *names[LR_FIT_MAX_PARAMS];
  for (int p = 0; p < lr_suggest_nparams(m); p++) names[p] = lr_suggest_param_name(m, p);
  size_t u = 0;
  buf[0] = 0;
  for (int k = 0; k < r->nterms && u < len; k++) {
    char t[96], c[32];
    lr_fit_term_name(r->term[k], lr_suggest_nparams(m), names, t, sizeof t);
    coef_str(c, sizeof c, fabs(r->coef[k]));
    u += (size_t)snprintf(buf + u, len - u, "%s%s%s%s", k ? (r->coef[k] < 0 ? " - " : " + ")
                                                            : (r->coef[k] < 0 ? "-" : ""),
                          c, strcmp(t, "1") ? "*" : "", strcmp(t, "1") ? lr_cli_esc(t) : "");
  }
  if (!u) snprintf(buf, len, "0");
  return buf;
}

/* ---- advice in words, and runner hints ---- */
static const char *const hint_key[LR_ADVICE_KINDS] = {
    "seq", "batch", "weights_quant", "kv_quant", "mmap", "reuse", "ubatch", "chunk"};

typedef struct Hints {
  char runner[128];                 /* whose flags these are */
  char text[LR_ADVICE_KINDS][256];  /* "" = none */
} Hints;

/* qrun's own flags: used only when the trace says the program is qrun. */
static void qrun_hints(Hints *h) {
  memset(h, 0, sizeof *h);
  snprintf(h->runner, sizeof h->runner, "qrun");
  snprintf(h->text[LR_ADVICE_SEQ], sizeof h->text[0], "--seq-len {to}");
  snprintf(h->text[LR_ADVICE_BATCH], sizeof h->text[0], "--batch {to}");
  snprintf(h->text[LR_ADVICE_QUANT_WEIGHTS], sizeof h->text[0],
           "qrun quantize MODEL -o OUT --quant {to_format}");
  snprintf(h->text[LR_ADVICE_QUANT_KV], sizeof h->text[0], "--kv q8");
  snprintf(h->text[LR_ADVICE_MMAP], sizeof h->text[0], "drop --no-mmap");
  snprintf(h->text[LR_ADVICE_UBATCH], sizeof h->text[0], "--ubatch {to}");
  snprintf(h->text[LR_ADVICE_CHUNK_PREFILL], sizeof h->text[0], "--ubatch {to}");
}

/* Reads a hint file (see usage). 0, or -1 with the message printed. */
static int load_hints(const char *path, const char *program, Hints *h, int *applies) {
  FILE *f = fopen(path, "r");
  if (!f) {
    lr_cli_error("suggest", "--hints %s: %s", lr_cli_esc(path), strerror(errno));
    return -1;
  }
  Hints fh;
  memset(&fh, 0, sizeof fh);
  char line[512];
  int no = 0, rc = 0;
  while (fgets(line, sizeof line, f)) {
    no++;
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) line[--n] = 0;
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p || *p == '#') continue;
    char *eq = strchr(p, '=');
    if (!eq) {
      lr_cli_error("suggest", "%s:%d: expected KEY=TEXT", lr_cli_esc(path), no);
      rc = -1;
      break;
    }
    *eq = 0;
    char *k = p, *v = eq + 1;
    for (char *e = eq - 1; e >= k && (*e == ' ' || *e == '\t'); e--) *e = 0;
    while (*v == ' ' || *v == '\t') v++;
    if (!strcmp(k, "runner")) {
      snprintf(fh.runner, sizeof fh.runner, "%s", v);
      continue;
    }
    int which = -1;
    for (int i = 0; i < LR_ADVICE_KINDS; i++)
      if (!strcmp(k, hint_key[i])) which = i;
    if (which < 0) {
      lr_cli_error("suggest", "%s:%d: unknown key '%s' (seq, batch, weights_quant, kv_quant, "
                   "mmap, reuse, ubatch, chunk or runner)", lr_cli_esc(path), no, lr_cli_esc(k));
      rc = -1;
      break;
    }
    snprintf(fh.text[which], sizeof fh.text[0], "%s", v);
  }
  fclose(f);
  if (rc) return rc;
  *applies = !fh.runner[0] || !strcmp(fh.runner, program);
  if (!*applies) return 0;
  if (!fh.runner[0]) snprintf(fh.runner, sizeof fh.runner, "%s", program[0] ? program : "your runner");
  /* the file's keys override, the rest stay as they were */
  snprintf(h->runner, sizeof h->runner, "%s", fh.runner);
  for (int i = 0; i < LR_ADVICE_KINDS; i++)
    if (fh.text[i][0]) snprintf(h->text[i], sizeof h->text[i], "%s", fh.text[i]);
  return 0;
}

static const char *format_name(double bits) {
  return bits == 32 ? "f32" : bits == 16 ? "f16" : bits == 8.5 ? "q8" : bits == 4.5 ? "q4" : "?";
}

/* The hint for a, with {to}, {from} and {to_format} replaced, appended as
** "; with RUNNER: TEXT". */
static void put_hint(FILE *o, const Hints *h, const LrAdvice *a) {
  const char *t = h->text[a->kind];
  if (!t[0]) return;
  fprintf(o, "; with %s: ", lr_cli_esc(h->runner));
  char out[512];
  size_t u = 0;
  for (const char *p = t; *p && u + 40 < sizeof out;) {
    if (!strncmp(p, "{to}", 4)) {
      u += (size_t)snprintf(out + u, sizeof out - u, "%g", a->to);
      p += 4;
    } else if (!strncmp(p, "{from}", 6)) {
      u += (size_t)snprintf(out + u, sizeof out - u, "%g", a->from);
      p += 6;
    } else if (!strncmp(p, "{to_format}", 11)) {
      u += (size_t)snprintf(out + u, sizeof out - u, "%s", format_name(a->to_bits));
      p += 11;
    } else {
      out[u++] = *p++;
    }
  }
  out[u] = 0;
  fputs(lr_cli_esc(out), o);
}

/* One advice in words, whole (malloc'd). */
static char *advice_text(const LrSuggest *m, const LrAdvice *a, const Hints *h) {
  char *buf = NULL;
  size_t len = 0;
  FILE *o = open_memstream(&buf, &len);
  if (!o) return NULL;
  char b1[32], b2[32], b3[32], b4[32];
  const char *pn = a->param >= 0 ? lr_cli_esc(lr_suggest_param_name(m, a->param)) : "";
  const char *phase = a->phase >= 0 ? lr_cli_esc(lr_suggest_phase_name(m, a->phase)) : "?";
  double pct = a->peak_before > 0 ? 100 * a->bytes / a->peak_before : 0;
  switch (a->kind) {
  case LR_ADVICE_SEQ:
    fprintf(o, "shorten the sequence: sites growing with %s hold %s (%.0f%% of the '%s' peak", pn,
            B(b1, a->bytes), pct, phase);
    if (a->detail[0] > 0) fprintf(o, "; KV cache %s", B(b2, a->detail[0]));
    if (a->detail[1] > 0) fprintf(o, "; quadratic in %s %s", pn, B(b2, a->detail[1]));
    fprintf(o, "); %s %g -> %g saves %s (peak %s -> %s)", pn, a->from, a->to, B(b1, a->saved),
            B(b3, a->peak_before), B(b4, a->peak_after));
    break;
  case LR_ADVICE_BATCH:
    fprintf(o, "lower the batch: sites growing with %s hold %s (%.0f%% of the peak); %s %g -> %g "
               "saves %s (peak %s -> %s)", pn, B(b1, a->bytes), pct, pn, a->from, a->to,
            B(b2, a->saved), B(b3, a->peak_before), B(b4, a->peak_after));
    break;
  case LR_ADVICE_QUANT_WEIGHTS: {
    int recorded = (a->evidence & LR_EVIDENCE_RECORDED_TYPE) != 0;
    fprintf(o, "quantize the weights %s -> %s%s: the weights (", format_name(a->from_bits),
            format_name(a->to_bits), recorded ? "" : " (if they are f32)");
    if (a->evidence & LR_EVIDENCE_FILE_MAPPING)
      fprintf(o, "mapped from %s", lr_cli_esc(lr_suggest_mapped_file(m, a->phase)));
    else
      fprintf(o, "%s", a->site >= 0 ? lr_cli_esc(lr_suggest_site_key(m, a->site)) : "?");
    if (a->evidence & LR_EVIDENCE_ANNOTATION) fprintf(o, ", format recorded by the program");
    fprintf(o, ") hold %s; %.1f bits per weight instead of %.1f saves %s%s", B(b1, a->bytes),
            a->to_bits, a->from_bits, B(b2, a->saved), a->rss_only ? " of RSS" : "");
    if (a->alt_saved > 0) fprintf(o, " (q4: %s)", B(b3, a->alt_saved));
    break;
  }
  case LR_ADVICE_QUANT_KV:
    fprintf(o, "quantize the KV cache %s -> q8%s: the cache (sites growing per token%s, held to "
               "the end) holds %s at the '%s' peak; %.1f bits instead of %.0f saves %s",
            format_name(a->from_bits), (a->evidence & LR_EVIDENCE_RECORDED_TYPE) ? "" : " (if it is f32)",
            (a->evidence & LR_EVIDENCE_PER_BATCH) ? " and per batch" : "", B(b1, a->bytes), phase,
            a->to_bits, a->from_bits, B(b2, a->saved));
    break;
  case LR_ADVICE_MMAP:
    fprintf(o, "map the weights from their file instead of reading them: %s holds %s of anonymous "
               "memory at the peak; as file-backed pages the kernel can drop and re-read them "
               "instead of killing the process",
            a->site >= 0 ? lr_cli_esc(lr_suggest_site_key(m, a->site)) : "?", B(b1, a->bytes));
    break;
  case LR_ADVICE_REUSE:
    fprintf(o, "reuse temporaries: %s allocates and frees %lld buffers over run %d, %lld of them "
               "live at the '%s' peak (%s predicted here); one reused buffer of %s saves %s",
            lr_cli_esc(lr_suggest_site_key(m, a->site)), (long long)a->allocs, a->run + 1,
            (long long)a->live_blocks, phase, B(b1, a->bytes), B(b2, (double)a->max_block),
            B(b3, a->saved));
    break;
  case LR_ADVICE_UBATCH:
    fprintf(o, "prefill in smaller chunks: %s %g -> %g (%s) saves %s (peak %s -> %s); ", pn, a->from,
            a->to, (a->evidence & LR_EVIDENCE_FITS_BUDGET) ? "the largest chunk that fits the budget"
                                                           : "a quarter of the chunk",
            B(b1, a->saved), B(b2, a->peak_before), B(b3, a->peak_after));
    if (a->evidence & LR_EVIDENCE_MEASURED_COST)
      fprintf(o, "measured cost: prefill took %s with %s %g and %s with %s %g (runs %d and %d)",
              lr_fmt_ns(b1, sizeof b1, (int64_t)a->cost_ns[0]), pn, a->cost_at[0],
              lr_fmt_ns(b2, sizeof b2, (int64_t)a->cost_ns[1]), pn, a->cost_at[1],
              a->cost_run[0] + 1, a->cost_run[1] + 1);
    else
      fprintf(o, "the prefill time it costs was not measured (no 'prefill' phase, or one chunk size)");
    break;
  case LR_ADVICE_CHUNK_PREFILL:
    fprintf(o, "prefill in chunks: bytes quadratic in %s hold %s, %.0f%% of the '%s' peak; chunks of "
               "%g tokens (%s) keep them to %s, saving %s; smaller chunks cost prefill speed (not "
               "measured: sweep a chunk parameter to measure it)",
            pn, B(b1, a->bytes), pct, phase, a->to,
            (a->evidence & LR_EVIDENCE_FITS_BUDGET) ? "the largest chunk that fits the budget"
                                                     : "a quarter of the prompt per chunk",
            B(b2, a->bytes - a->saved), B(b3, a->saved));
    break;
  case LR_ADVICE_KINDS: break;
  }
  put_hint(o, h, a);
  fclose(o);
  return buf;
}

static const char *advice_kind_name(LrAdviceKind k) {
  static const char *const n[LR_ADVICE_KINDS] = {"seq", "batch", "quant_weights", "quant_kv",
                                                 "mmap", "reuse", "ubatch", "chunk_prefill"};
  return k < LR_ADVICE_KINDS ? n[k] : "?";
}

typedef struct Contrib {
  int site;
  double bytes;
} Contrib;

static int by_bytes(const void *a, const void *b) {
  double x = ((const Contrib *)a)->bytes, y = ((const Contrib *)b)->bytes;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* One line: which process of each run's trace was read, when a run had
** more than one (a shell around the program, a pipe, a pyenv wrapper). */
static void print_process(const LrSuggest *m) {
  int n = lr_suggest_nruns(m), many = 0, same = 1;
  for (int r = 0; r < n; r++) {
    const LrPick *p = lr_suggest_pick(m, r);
    many |= p->nprocs > 1;
    same &= p->id == lr_suggest_pick(m, 0)->id && p->nprocs == lr_suggest_pick(m, 0)->nprocs;
  }
  if (!many) return;
  const LrPick *p0 = lr_suggest_pick(m, 0);
  char words[200];
  lr_diff_argv_words(p0->argv, words, sizeof words);
  const char *args = strchr(words, ' '); /* argv[0] shown by its basename */
  if (args && strlen(args) > 48) snprintf(words + (args - words) + 45, 4, "...");
  printf("  process read: %s (run 1: %s%s)", lr_cli_esc(p0->command), lr_cli_esc(p0->command),
         args ? lr_cli_esc(args) : "");
  if (same) printf(", #%lld of %d processes in every run\n", (long long)p0->id, p0->nprocs);
  else {
    printf(", #id/processes by run:");
    for (int r = 0; r < n && r < 16; r++)
      printf(" %lld/%d", (long long)lr_suggest_pick(m, r)->id, lr_suggest_pick(m, r)->nprocs);
    printf("%s\n", n > 16 ? " ..." : "");
  }
}

int lr_cli_suggest(int argc, char **argv) {
  const char *path = NULL, *at = NULL, *emit = NULL, *budget_s = NULL, *hints_path = NULL;
  const char *command = NULL;
  long long process = 0;
  double margin = 10;
  int top = 10;
  Format fmt = FMT_TEXT;
  LrSuggestFix fix[8];
  int nfix = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int has = i + 1 < argc;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--at") && has) {
      at = argv[++i];
    } else if (!strcmp(a, "--budget") && has) {
      budget_s = argv[++i];
    } else if (!strcmp(a, "--emit") && has) {
      emit = argv[++i];
    } else if (!strcmp(a, "--hints") && has) {
      hints_path = argv[++i];
    } else if (!strcmp(a, "--command") && has && argv[i + 1][0]) {
      command = argv[++i];
    } else if (!strcmp(a, "--process") && has) {
      char *end;
      process = strtoll(argv[++i], &end, 10);
      if (end == argv[i] || *end || process < 1) {
        lr_cli_error("suggest", "--process wants a positive number, not '%s'", argv[i]);
        return 2;
      }
    } else if (!strcmp(a, "--margin") && has) {
      char *end;
      margin = strtod(argv[++i], &end);
      if (end == argv[i] || (*end && strcmp(end, "%")) || !(margin >= 0 && margin < 100)) {
        lr_cli_error("suggest", "--margin '%s': a percentage from 0 to 99", argv[i]);
        return 2;
      }
    } else if (!strcmp(a, "--top") && has) {
      top = atoi(argv[++i]);
      if (top < 1 || top > 1000) {
        lr_cli_error("suggest", "--top '%s': a count from 1 to 1000", argv[i]);
        return 2;
      }
    } else if (!strcmp(a, "--format") && has) {
      const char *f = argv[++i];
      if (!strcmp(f, "text")) fmt = FMT_TEXT;
      else if (!strcmp(f, "csv")) fmt = FMT_CSV;
      else if (!strcmp(f, "json")) fmt = FMT_JSON;
      else {
        lr_cli_error("suggest", "--format '%s': text, csv or json", f);
        return 2;
      }
    } else if (!strcmp(a, "--fix") && has) {
      const char *spec = argv[++i], *eq = strchr(spec, '=');
      if (!eq || eq == spec || !eq[1] || nfix == 8 || (size_t)(eq - spec) >= sizeof fix[0].name) {
        lr_cli_error("suggest", "--fix '%s': expected NAME=VALUE (at most 8)", spec);
        return 2;
      }
      snprintf(fix[nfix].name, sizeof fix[nfix].name, "%.*s", (int)(eq - spec), spec);
      snprintf(fix[nfix].value, sizeof fix[nfix].value, "%s", eq + 1);
      nfix++;
    } else if (a[0] == '-' && a[1]) {
      lr_cli_error("suggest", "unknown or incomplete option '%s'", a);
      usage(stderr);
      return 2;
    } else if (!path) {
      path = a;
    } else {
      lr_cli_error("suggest", "one sweep directory or trace, got '%s' and '%s'", path, a);
      return 2;
    }
  }
  if (!path) {
    usage(stderr);
    return 2;
  }
  uint64_t budget = 0;
  if (budget_s && (lr_parse_bytes(budget_s, &budget) || budget == 0)) {
    lr_cli_error("suggest", "--budget '%s': expected a size such as 512MiB or 1.5GiB", budget_s);
    return 2;
  }
  LrErr err;
  if (command && process) {
    lr_cli_error("suggest", "--command and --process name the process twice; give one");
    return 2;
  }
  LrSuggest *m = lr_suggest_load_process(path, fix, nfix, command, process, &err);
  if (!m) {
    lr_cli_error("suggest", "%s", err.msg);
    return 1;
  }
  /* runner flags only for the runner the trace names, or from a hint file */
  Hints hints;
  memset(&hints, 0, sizeof hints);
  if (!strcmp(lr_suggest_program(m), "qrun")) qrun_hints(&hints);
  int hints_apply = 1;
  if (hints_path && load_hints(hints_path, lr_suggest_program(m), &hints, &hints_apply)) {
    lr_suggest_free(m);
    return 2;
  }
  if (!hints_apply)
    fprintf(stderr, "lowram suggest: note: %s names another runner; its hints are not used for %s\n",
            lr_cli_esc(hints_path), lr_cli_esc(lr_suggest_program(m)));
  int np = lr_suggest_nparams(m), rc = 0;
  double x[LR_FIT_MAX_PARAMS] = {0};
  for (int p = 0; p < np; p++) x[p] = lr_suggest_param_max(m, p);
  if (lr_suggest_is_estimate(m)) {
    /* the recorded point itself */
    for (int p = 0; p < np; p++) x[p] = lr_suggest_param_min(m, p);
  }
  if (at && parse_pairs(at, m, x, "--at")) {
    lr_suggest_free(m);
    return 2;
  }
  char cfg[256], b1[32], b2[32], b3[32], fbuf[256];
  LrSuggestPeak pk;
  lr_suggest_predict(m, x, &pk);
  Row rows[2 * MAX_LIST + 4];
  int nrows = 0;
  rows[nrows] = (Row){.kind = "at", .pk = pk, .found = 1};
  memcpy(rows[nrows++].x, x, sizeof x);
  double limit = budget ? (double)budget * (1 - margin / 100) : 0;
  int is = -1, ib = -1;
  for (int p = 0; p < np; p++) {
    if (lr_suggest_param_role(m, p) == LR_ROLE_SEQ && is < 0) is = p;
    if (lr_suggest_param_role(m, p) == LR_ROLE_BATCH && ib < 0) ib = p;
  }
  double seqs[MAX_LIST], batches[MAX_LIST];
  int nseq = 0, nbatch = 0;
  if (is >= 0) nseq = lr_suggest_param_values(m, is, seqs, MAX_LIST);
  if (ib >= 0) nbatch = lr_suggest_param_values(m, ib, batches, MAX_LIST);
  int nothing_fits = 0;
  double min_heap = 0; /* with a budget: the heap predicted at seq 1, batch 1 */
  double constant = lr_suggest_constant_part(m, x);
  if (budget) {
    double xmin[LR_FIT_MAX_PARAMS];
    memcpy(xmin, x, sizeof xmin);
    if (is >= 0) xmin[is] = 1;
    if (ib >= 0) xmin[ib] = 1;
    LrSuggestPeak pmin;
    lr_suggest_predict(m, xmin, &pmin);
    min_heap = pmin.heap;
    nothing_fits = min_heap > limit;
    /* largest seq for each batch, largest batch for each seq */
    for (int pass = 0; pass < 2 && !nothing_fits; pass++) {
      int vary = pass == 0 ? is : ib, other = pass == 0 ? ib : is;
      if (vary < 0) continue;
      double *list = pass == 0 ? batches : seqs;
      int nlist = other < 0 ? 1 : pass == 0 ? nbatch : nseq;
      for (int i = 0; i < nlist && nrows < 2 * MAX_LIST + 2; i++) {
        Row *r = &rows[nrows++];
        memset(r, 0, sizeof *r);
        r->kind = pass == 0 ? "largest_seq" : "largest_batch";
        memcpy(r->x, x, sizeof x);
        if (other >= 0) r->x[other] = list[i];
        double cap = pass == 0 ? 1048576 : 65536, v = 0;
        r->found = lr_suggest_largest(m, r->x, vary, limit, cap, &v);
        r->capped = r->found && v >= cap;
        r->x[vary] = r->found ? v : 1;
        lr_suggest_predict(m, r->x, &r->pk);
      }
    }
  }
  LrRuleOfThumb rot;
  int have_rot = budget && lr_suggest_rule_of_thumb(m, x, (double)budget, &rot) == 0;
  if (have_rot) {
    Row *r = &rows[nrows++];
    memset(r, 0, sizeof *r);
    r->kind = "rule_of_thumb";
    memcpy(r->x, x, sizeof x);
    r->x[ib] = rot.batch;
    r->pk = rot.predicted;
    r->found = rot.batch >= 1;
  }
  LrAdvice adv[32];
  int nadv = lr_suggest_advise(m, x, limit, adv, 32);
  char *advtext[32];
  for (int i = 0; i < nadv; i++) advtext[i] = advice_text(m, &adv[i], &hints);

  /* contributors at x, largest first */
  int nsites = lr_suggest_nsites(m);
  Contrib *con = calloc((size_t)nsites + 1, sizeof *con);
  int ncon = 0;
  for (int s = 0; s < nsites && con && pk.phase >= 0; s++) {
    double v = lr_suggest_site_at(m, pk.phase, s, x);
    if (v > 0) con[ncon++] = (Contrib){s, v};
  }
  if (con) qsort(con, (size_t)ncon, sizeof *con, by_bytes);
  const char *est = lr_suggest_is_estimate(m) ? " (estimate)" : "";

  if (fmt == FMT_TEXT) {
    printf("%s: %s%s, %d run%s; parameters:", lr_cli_esc(path),
           lr_suggest_program(m)[0] ? lr_cli_esc(lr_suggest_program(m)) : "?",
           lr_suggest_is_estimate(m) ? " (single trace: estimates)" : "", lr_suggest_nruns(m),
           lr_suggest_nruns(m) == 1 ? "" : "s");
    for (int p = 0; p < np; p++) {
      double v[MAX_LIST];
      int n = lr_suggest_param_values(m, p, v, MAX_LIST);
      printf(" %s=", lr_cli_esc(lr_suggest_param_name(m, p)));
      for (int i = 0; i < n; i++) printf("%s%g", i ? "," : "", v[i]);
    }
    printf("%s\n", np ? "" : " none");
    print_process(m);
    for (int i = 0; i < lr_suggest_nnotes(m); i++) printf("  note: %s\n", lr_cli_esc(lr_suggest_note(m, i)));
    config_str(m, x, cfg, sizeof cfg);
    printf("\nPredicted peak at %s%s%s:\n", cfg, pk.extrapolated ? " (extrapolated beyond the sweep)" : "", est);
    printf("  heap + anon   %10s   set by phase '%s'\n", B(b1, pk.heap),
           pk.phase >= 0 ? lr_cli_esc(lr_suggest_phase_name(m, pk.phase)) : "?");
    if (pk.high > pk.low)
      printf("  range         %10s .. %s   (noisy sites: the error seen on runs left out)\n",
             B(b1, pk.low), B(b2, pk.high));
    if (pk.rss >= 0) printf("  RSS estimate  %10s   (%s)\n", B(b1, pk.rss),
                            !strcmp(lr_suggest_rss_method(m), "fitted") ? "peak VmRSS of the runs, fitted the same way"
                            : lr_suggest_is_estimate(m) ? "predicted heap x the trace's RSS/heap ratio"
                                                        : "predicted heap + median RSS-heap gap of the runs");
    if (pk.file > 0) printf("  file-mapped   %10s   (mapped files at that moment, apart from the heap)\n", B(b1, pk.file));
    printf("  phase peaks:");
    for (int ph = 0, shown = 0; ph < lr_suggest_nphases(m); ph++) {
      /* a phase with several moments shows its highest */
      int first = 1;
      for (int q = 0; q < ph; q++) first &= strcmp(lr_cli_esc(lr_suggest_phase_name(m, q)), lr_cli_esc(lr_suggest_phase_name(m, ph))) != 0;
      if (!first) continue;
      double best = 0;
      for (int q = ph; q < lr_suggest_nphases(m); q++) {
        if (strcmp(lr_cli_esc(lr_suggest_phase_name(m, q)), lr_cli_esc(lr_suggest_phase_name(m, ph)))) continue;
        double sum = 0;
        for (int s = 0; s < nsites; s++) sum += lr_suggest_site_at(m, q, s, x);
        if (sum > best) best = sum;
      }
      if (best > 0) printf("%s %s %s", shown++ ? "," : "", lr_cli_esc(lr_suggest_phase_name(m, ph)), B(b1, best));
    }
    printf("\n  contributors at the '%s' peak:\n", pk.phase >= 0 ? lr_cli_esc(lr_suggest_phase_name(m, pk.phase)) : "?");
    printf("    %10s %5s  %-22s %-34s %s\n", "bytes", "share", "class", "fit (bytes)", "site");
    for (int i = 0; i < ncon && i < top; i++) {
      const LrFitResult *r = lr_suggest_fit(m, pk.phase, con[i].site);
      double band = lr_suggest_site_band(m, pk.phase, con[i].site, x);
      char fit[300];
      fit_str(m, r, fbuf, sizeof fbuf);
      if (band > 0) snprintf(fit, sizeof fit, "%s +/- %s", fbuf, B(b2, band));
      else snprintf(fit, sizeof fit, "%s", fbuf);
      printf("    %10s %4.0f%%  %-22s %-34s %s\n", B(b1, con[i].bytes),
             pk.heap > 0 ? 100 * con[i].bytes / pk.heap : 0,
             lr_suggest_site_arena(m, con[i].site) != LR_ARENA_NONE ? "allocator arena"
                                                                    : lr_fit_class_name(r->cls),
             fit, lr_cli_esc(lr_suggest_site_key(m, con[i].site)));
    }
    if (ncon > top) printf("    ... %d more sites (--top)\n", ncon - top);
    if (budget) {
      printf("\nBudget %s, safety margin %.0f%% (%s) -> plan for at most %s%s:\n", B(b1, (double)budget),
             margin, B(b2, (double)budget - limit), B(b3, limit), est);
      config_str(m, x, cfg, sizeof cfg);
      printf("  %s: predicted %s %s\n", cfg, B(b1, pk.heap),
             pk.heap <= limit ? "fits" : "does NOT fit");
      if (nothing_fits)
        printf("  nothing fits: the constant part alone (weights, tables) is %s and the smallest "
               "configuration predicts %s, above %s\n", B(b1, constant), B(b2, min_heap), B(b3, limit));
      for (int i = 1; i < nrows; i++) {
        Row *r = &rows[i];
        if (strncmp(r->kind, "largest", 7)) continue;
        int vary = !strcmp(r->kind, "largest_seq") ? is : ib;
        size_t u = 0;
        cfg[0] = 0;
        for (int p = 0; p < np && u < sizeof cfg; p++)
          if (p != vary)
            u += (size_t)snprintf(cfg + u, sizeof cfg - u, "%s=%g ", lr_cli_esc(lr_suggest_param_name(m, p)), r->x[p]);
        if (!r->found)
          printf("  %slargest %s: nothing fits\n", cfg, lr_cli_esc(lr_suggest_param_name(m, vary)));
        else
          printf("  %slargest %s %g%s%s: peak %s, %s to spare\n", cfg, lr_cli_esc(lr_suggest_param_name(m, vary)),
                 r->x[vary], r->capped ? " (search cap)" : "",
                 r->x[vary] > lr_suggest_param_max(m, vary) ? " (extrapolated)" : "", B(b1, r->pk.heap),
                 B(b2, (double)budget - r->pk.heap));
      }
      if (have_rot) {
        printf("\nRule of thumb (0.4 x budget / (3 x one input), the safe_batch_size recipe):\n"
               "  one input = %s=%g token ids x 4 B = %s -> batch %g", lr_cli_esc(lr_suggest_param_name(m, is)), x[is],
               B(b1, rot.input_bytes), rot.batch);
        if (rot.batch >= 1)
          printf("; predicted peak %s: %s\n", B(b2, rot.predicted.heap),
                 rot.predicted.heap <= (double)budget ? "fits" : "does NOT fit the budget");
        else
          printf(": no batch at all\n");
      }
    }
    if (nadv) {
      config_str(m, x, cfg, sizeof cfg);
      printf("\nAdvice at %s, most bytes saved first%s:\n", cfg, est);
      for (int i = 0; i < nadv; i++)
        printf("  %d. saves %s%s: %s\n", i + 1, B(b1, adv[i].saved), adv[i].rss_only ? " of RSS" : "",
               advtext[i] ? advtext[i] : "?");
    }
  } else if (fmt == FMT_CSV) {
    printf("kind");
    for (int p = 0; p < np; p++) {
      putchar(',');
      lr_csv_text(stdout, lr_suggest_param_name(m, p));
    }
    printf(",predicted_heap,predicted_low,predicted_high,predicted_rss,phase,budget,margin_bytes,fits,"
           "saved,estimate,detail\n");
    for (int i = 0; i < nrows; i++) {
      Row *r = &rows[i];
      printf("%s", r->kind);
      for (int p = 0; p < np; p++) printf(",%.17g", r->x[p]);
      printf(",%.0f,%.0f,%.0f,%.0f,", r->pk.heap, r->pk.low, r->pk.high, r->pk.rss);
      lr_csv_text(stdout, r->pk.phase >= 0 ? lr_suggest_phase_name(m, r->pk.phase) : "");
      printf(",%llu,%.0f,%d,,%d,%s\n", (unsigned long long)budget,
             budget ? (double)budget - r->pk.heap : 0,
             budget ? r->found && r->pk.heap <= limit : 1, lr_suggest_is_estimate(m),
             r->capped ? "search cap" : r->found ? "" : "nothing fits");
    }
    for (int i = 0; i < nadv; i++) {
      printf("advice");
      for (int p = 0; p < np; p++) printf(",%.17g", x[p]);
      printf(",,,,,,%llu,,,%.0f,%d,", (unsigned long long)budget, adv[i].saved, lr_suggest_is_estimate(m));
      lr_csv_text(stdout, advtext[i] ? advtext[i] : "");
      printf("\n");
    }
  } else {
    printf("{\"source\":");
    json_str(stdout, path);
    printf(",\"program\":");
    json_str(stdout, lr_suggest_program(m));
    printf(",\"estimate\":%s,\"runs\":%d,\"params\":[", lr_suggest_is_estimate(m) ? "true" : "false",
           lr_suggest_nruns(m));
    for (int p = 0; p < np; p++) {
      printf("%s", p ? "," : "");
      json_str(stdout, lr_suggest_param_name(m, p));
    }
    printf("],\"notes\":[");
    for (int i = 0; i < lr_suggest_nnotes(m); i++) {
      printf("%s", i ? "," : "");
      json_str(stdout, lr_suggest_note(m, i));
    }
    printf("],\"budget\":%llu,\"margin_pct\":%g,\"limit\":%.0f,\"nothing_fits\":%s,\"constant\":%.0f,\"plan\":[",
           (unsigned long long)budget, margin, limit, nothing_fits ? "true" : "false", constant);
    for (int i = 0; i < nrows; i++) {
      Row *r = &rows[i];
      printf("%s{\"kind\":\"%s\",\"config\":{", i ? "," : "", r->kind);
      for (int p = 0; p < np; p++) {
        printf("%s", p ? "," : "");
        json_str(stdout, lr_suggest_param_name(m, p));
        printf(":%.17g", r->x[p]);
      }
      printf("},\"predicted_heap\":%.0f,\"predicted_low\":%.0f,\"predicted_high\":%.0f,"
             "\"predicted_rss\":%.0f,\"phase\":", r->pk.heap, r->pk.low, r->pk.high, r->pk.rss);
      json_str(stdout, r->pk.phase >= 0 ? lr_suggest_phase_name(m, r->pk.phase) : "");
      printf(",\"extrapolated\":%s,\"found\":%s,\"capped\":%s", r->pk.extrapolated ? "true" : "false",
             r->found ? "true" : "false", r->capped ? "true" : "false");
      if (budget)
        printf(",\"fits\":%s,\"margin_bytes\":%.0f", r->found && r->pk.heap <= limit ? "true" : "false",
               (double)budget - r->pk.heap);
      printf("}");
    }
    printf("],\"contributors\":[");
    for (int i = 0; i < ncon && i < top; i++) {
      const LrFitResult *r = lr_suggest_fit(m, pk.phase, con[i].site);
      printf("%s{\"site\":", i ? "," : "");
      json_str(stdout, lr_suggest_site_key(m, con[i].site));
      printf(",\"bytes\":%.0f,\"band\":%.0f,\"class\":\"%s\",\"arena\":%s,\"noisy\":%s,"
             "\"validated\":%s,\"fit\":", con[i].bytes, lr_suggest_site_band(m, pk.phase, con[i].site, x),
             lr_fit_class_name(r->cls),
             lr_suggest_site_arena(m, con[i].site) != LR_ARENA_NONE ? "true" : "false",
             r->noisy ? "true" : "false", r->validated ? "true" : "false");
      json_str(stdout, fit_str(m, r, fbuf, sizeof fbuf));
      printf(",\"terms\":[");
      const char *names[LR_FIT_MAX_PARAMS];
      for (int p = 0; p < np; p++) names[p] = lr_suggest_param_name(m, p);
      for (int k = 0; k < r->nterms; k++) {
        char t[96];
        printf("%s{\"term\":", k ? "," : "");
        json_str(stdout, lr_fit_term_name(r->term[k], np, names, t, sizeof t));
        printf(",\"bytes\":%.17g}", r->coef[k]);
      }
      printf("]}");
    }
    printf("],\"advice\":[");
    for (int i = 0; i < nadv; i++) {
      const LrAdvice *a = &adv[i];
      printf("%s{\"kind\":\"%s\",\"saved\":%.0f,\"rss_only\":%s,\"evidence\":%u,\"param\":", i ? "," : "",
             advice_kind_name(a->kind), a->saved, a->rss_only ? "true" : "false", a->evidence);
      if (a->param >= 0) json_str(stdout, lr_suggest_param_name(m, a->param));
      else printf("null");
      printf(",\"from\":%.17g,\"to\":%.17g,\"bytes\":%.0f,\"from_bits\":%g,\"to_bits\":%g,\"text\":",
             a->from, a->to, a->bytes, a->from_bits, a->to_bits);
      json_str(stdout, advtext[i] ? advtext[i] : "");
      printf("}");
    }
    printf("]}\n");
  }
  if (emit) {
    if (lr_suggest_emit(m, emit, margin, &err)) {
      lr_cli_error("suggest", "%s", err.msg);
      rc = 1;
    } else if (fmt == FMT_TEXT) {
      printf("\nModel written to %s (read by qrun --memory-model)\n", emit);
    }
  }
  free(con);
  for (int i = 0; i < nadv; i++) free(advtext[i]);
  lr_suggest_free(m);
  return rc;
}
