/*
** cli_import.c: `lowram import`, `lowram recover` and `lowram symbolize`.
**
** import and recover finish the trace of a spool (one a process left when
** it died, or one plain LD_PRELOAD mode left). Both are idempotent: on a
** finished trace they say so and succeed. symbolize renames the frames of
** a finished trace from unstripped copies (symbolize.h).
*/
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"
#include "lowram/import.h"
#include "lr_spool_format.h"
#include "lowram/symbolize.h"
#include "lowram/trace.h"
#include "lowram/text.h"
#include "lowram/units.h"

/* progress.h */
int lr_cli_import_progress(void *ctx, const LrImportProgress *p) {
  (void)ctx;
  static double last = -1;
  static int shown;
  if (!p) {
    if (shown) fputs("\r\033[K", stderr);
    shown = 0;
    last = -1;
    return 0;
  }
  if (last >= 0 && p->seconds - last < 0.1 && p->stage == LR_IMPORT_MERGE) return 0;
  last = p->seconds;
  char line[160];
  fprintf(stderr, "\r\033[Klowram: importing: %s", lr_import_progress_text(p, line, sizeof line));
  shown = 1;
  return 0;
}

/* The words of an argv JSON array (as the importer writes it), joined by
** spaces and escaped for a terminal. */
static void argv_words(const char *json, char *out, size_t len) {
  char raw[1024];
  size_t w = 0;
  const char *p = json;
  int in = 0, words = 0;
  for (; *p && w + 8 < sizeof raw; p++) {
    if (!in) {
      if (*p == '"') {
        in = 1;
        if (words++) raw[w++] = ' ';
      }
      continue;
    }
    if (*p == '"') {
      in = 0;
    } else if (*p == '\\' && p[1]) {
      p++;
      if (*p == 'u' && p[1] && p[2] && p[3] && p[4]) {
        char hex[5] = {p[1], p[2], p[3], p[4], 0};
        long c = strtol(hex, NULL, 16);
        raw[w++] = c > 0 && c < 0x80 ? (char)c : '?';
        p += 4;
      } else {
        raw[w++] = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
      }
    } else {
      raw[w++] = *p;
    }
  }
  raw[w] = 0;
  if (w > 60) snprintf(raw + 57, sizeof raw - 57, "...");
  lr_text_escape(raw, out, len);
}

static void end_text(const LrProcess *p, char *buf, size_t len) {
  if (p->end_code != INT64_MIN && (!strcmp(p->end_reason, "exit") ||
                                   !strcmp(p->end_reason, "_exit") ||
                                   !strcmp(p->end_reason, "signal")))
    snprintf(buf, len, "%s %lld", p->end_reason, (long long)p->end_code);
  else
    snprintf(buf, len, "%s", p->end_reason);
}

static void tree(FILE *f, const LrProcess *ps, size_t n, int64_t parent, int depth, int64_t top,
                 unsigned char *shown) {
  for (size_t i = 0; i < n; i++) {
    const LrProcess *p = &ps[i];
    if (shown[i] || p->parent_id != parent) continue;
    shown[i] = 1;
    char words[1100], peak[32], end[48];
    argv_words(p->argv, words, sizeof words);
    lr_fmt_bytes(peak, sizeof peak, p->peak);
    end_text(p, end, sizeof end);
    fprintf(f, "  %*s#%lld pid %lld%s %s: peak %s, %s%s\n", depth * 2, "", (long long)p->id,
            (long long)p->pid, p->exec_index ? " (exec'd)" : "", words, peak, end,
            p->id == top ? "  <- highest peak" : "");
    if (depth < 32) tree(f, ps, n, p->id, depth + 1, top, shown);
  }
}

void lr_cli_run_summary(FILE *f, const char *cmd, const char *shown, const char *trace_path,
                        const LrImportStats *s) {
  LrErr err = {{0}};
  char esc[4200];
  lr_text_escape(shown, esc, sizeof esc);
  LrTrace *t = lr_trace_open(trace_path, &err);
  LrProcess *ps = NULL;
  size_t n = 0;
  if (!t || lr_trace_processes(t, &ps, &n, &err) != 0 || n == 0) {
    fprintf(f, "lowram %s: %s: %s\n", cmd, esc, t ? "no processes" : lr_cli_esc(err.msg));
    lr_trace_close(t);
    return;
  }
  size_t top = 0;
  for (size_t i = 1; i < n; i++)
    if (ps[i].peak > ps[top].peak) top = i;
  char words[1100], peak[32], heap[32], rss[32], end[48];
  argv_words(ps[top].argv, words, sizeof words);
  lr_fmt_bytes(peak, sizeof peak, ps[top].peak);
  lr_fmt_bytes(heap, sizeof heap, ps[top].peak_heap);
  lr_fmt_bytes(rss, sizeof rss, ps[top].peak_rss);
  end_text(&ps[top], end, sizeof end);
  fprintf(f, "lowram %s: %s: %zu process%s, %llu events, %llu stacks\n", cmd, esc, n,
          n == 1 ? "" : "es", (unsigned long long)s->events, (unsigned long long)s->stacks);
  fprintf(f, "lowram %s: highest peak %s (heap + anon) in #%lld pid %lld %s: peak heap %s, "
             "peak RSS %s, ended: %s\n",
          cmd, peak, (long long)ps[top].id, (long long)ps[top].pid, words, heap,
          ps[top].peak_rss ? rss : "not sampled", end);
  if (n > 1) {
    unsigned char *seen = calloc(n, 1);
    if (seen) {
      tree(f, ps, n, 0, 0, ps[top].id, seen);
      for (size_t i = 0; i < n; i++) /* parents outside the run */
        if (!seen[i]) tree(f, ps, n, ps[i].parent_id, 0, ps[top].id, seen);
      free(seen);
    }
  }
  free(ps);
  lr_trace_close(t);
}

int lr_cli_select(const char *cmd, LrTrace *t, const char *pid, const char *process) {
  const char *v = pid ? pid : process;
  if (!v) return 0;
  char *end;
  errno = 0;
  long long n = strtoll(v, &end, 10);
  if (errno || end == v || *end || n < 1) {
    lr_cli_error(cmd, "%s wants a positive number, not '%s'", pid ? "--pid" : "--process", v);
    return 2;
  }
  LrErr err = {{0}};
  if ((pid ? lr_trace_select_pid(t, n, &err) : lr_trace_select_process(t, n, &err)) != 0) {
    lr_cli_error(cmd, "%s", err.msg);
    return 1;
  }
  return 0;
}

/* Prints the one-line summary of a finished import. */
static void summary(const char *cmd, const char *out, const LrImportStats *s) {
  char heap[32], rss[32];
  lr_fmt_bytes(heap, sizeof heap, s->peak_heap);
  lr_fmt_bytes(rss, sizeof rss, s->peak_rss);
  printf("lowram %s: %s: %llu events, %llu stacks, peak heap %s, peak RSS %s, ended: %s\n",
         cmd, out, (unsigned long long)s->events, (unsigned long long)s->stacks, heap,
         s->peak_rss ? rss : "not sampled", s->end_reason);
  if (s->chunks_corrupt || s->unmatched_frees)
    printf("lowram %s: %s: %llu corrupt chunk(s) skipped, %llu free(s) of unknown blocks\n", cmd,
           out, (unsigned long long)s->chunks_corrupt, (unsigned long long)s->unmatched_frees);
}

/* 1 if path is a finished lowram trace, 0 if not a trace at all (or
** missing), -1 if it is a trace that cannot be used (message in err). */
static int finished_trace(const char *path, LrErr *err) {
  struct stat st;
  if (stat(path, &st) != 0 || lr_import_is_spool(path)) return 0;
  LrTrace *t = lr_trace_open(path, err);
  if (!t) return -1;
  int done = lr_trace_complete(t);
  lr_trace_close(t);
  if (!done) {
    lr_err_set(err, "%s: unfinished trace from an interrupted import; remove it and import the "
                    "spool again", path);
    return -1;
  }
  return 1;
}

/* Reads KEY<TAB>VALUE lines (blank lines and '#' comments skipped) into
** kv pairs; -1 with *err naming the file and line on anything else. */
static int read_meta(const char *path, char ***kv, size_t *n, LrErr *err) {
  *kv = NULL;
  *n = 0;
  /* O_NONBLOCK: a FIFO must not block the open before fstat refuses it */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return lr_err_set(err, "%s: %m", path);
  struct stat st;
  FILE *f = NULL;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !(f = fdopen(fd, "r"))) {
    close(fd);
    return lr_err_set(err, "%s: not a regular file", path);
  }
  char line[8192];
  size_t cap = 0;
  int ln = 0, ret = 0;
  while (!ret && fgets(line, sizeof line, f)) {
    ln++;
    size_t len = strlen(line);
    if (len && line[len - 1] == '\n') line[--len] = '\0';
    else if (!feof(f)) {
      ret = lr_err_set(err, "%s:%d: line longer than %zu bytes", path, ln, sizeof line - 2);
      break;
    }
    if (!len || line[0] == '#') continue;
    char *tab = strchr(line, '\t');
    if (!tab) {
      ret = lr_err_set(err, "%s:%d: no TAB between key and value", path, ln);
      break;
    }
    *tab = '\0';
    char where[4200];
    snprintf(where, sizeof where, "%s:%d", path, ln);
    if (lr_import_meta_key_check(where, line, err)) {
      ret = -1;
      break;
    }
    if (*n == cap) {
      cap = cap ? 2 * cap : 32;
      char **nk = realloc(*kv, 2 * cap * sizeof *nk);
      if (!nk) {
        ret = lr_err_set(err, "%s: out of memory", path);
        break;
      }
      *kv = nk;
    }
    (*kv)[2 * *n] = strdup(line);
    (*kv)[2 * *n + 1] = strdup(tab + 1);
    (*n)++;
    if (!(*kv)[2 * *n - 2] || !(*kv)[2 * *n - 1]) ret = lr_err_set(err, "%s: out of memory", path);
  }
  fclose(f);
  return ret;
}

static void free_meta(char **kv, size_t n) {
  for (size_t i = 0; i < 2 * n; i++) free(kv[i]);
  free(kv);
}

static int do_import(const char *cmd, const char *path, const char *out_opt, const char *syms,
                     int follow, const char *meta_file) {
  LrErr err = {{0}};
  char out[4096], spool[4096];
  struct stat st;
  if (stat(path, &st) == 0 && !lr_import_is_spool(path)) {
    /* PATH is not a spool: it is a trace already, or junk */
    int r = finished_trace(path, &err);
    if (r == 1) {
      printf("lowram %s: %s is a finished trace, nothing to do\n", cmd, path);
      return 0;
    }
    lr_cli_error(cmd, "%s", r < 0 ? err.msg : "not a spool or trace");
    return 1;
  }
  if (stat(path, &st) == 0) {
    snprintf(spool, sizeof spool, "%s", path);
    if (out_opt) snprintf(out, sizeof out, "%s", out_opt);
    else if (lr_import_default_out(path, out, sizeof out) != 0) {
      lr_cli_error(cmd, "%s: path too long", path);
      return 1;
    }
  } else {
    /* the name LOWRAM_OUT gave: its spool is beside it */
    if (snprintf(spool, sizeof spool, "%s%s", path, LR_SPOOL_SUFFIX) >= (int)sizeof spool ||
        stat(spool, &st) != 0) {
      lr_cli_error(cmd, "%s: no such file, and no spool %s", path, spool);
      return 1;
    }
    snprintf(out, sizeof out, "%s", out_opt ? out_opt : path);
  }
  int r = finished_trace(out, &err);
  if (r == 1) {
    /* the trace of this very spool, or of another one: never mixed up */
    int same = lr_import_made_from(out, spool, &err);
    if (same != 1) {
      lr_cli_error(cmd, "%s", err.msg);
      return 1;
    }
    printf("lowram %s: %s is already imported, nothing to do\n", cmd, out);
    return 0;
  }
  if (r < 0) {
    lr_cli_error(cmd, "%s", err.msg);
    return 1;
  }
  char **meta = NULL;
  size_t nmeta = 0;
  if (meta_file && read_meta(meta_file, &meta, &nmeta, &err)) {
    free_meta(meta, nmeta);
    lr_cli_error(cmd, "%s", err.msg);
    return 1;
  }
  LrImportOpts opts = {.symbols_dir = syms};
  if (isatty(2)) {
    opts.progress = lr_cli_import_progress;
    opts.progress_ctx = NULL;
  }
  LrImportStats s;
  /* the spools its descendants left beside it go into the same trace */
  LrRunSpool *run = NULL;
  long nr = 1;
  if (follow) {
    nr = lr_import_gather(spool, &run, &err);
  } else if ((run = calloc(1, sizeof *run))) {
    snprintf(run->path, sizeof run->path, "%s", spool);
  } else {
    nr = lr_err_set(&err, "%s: out of memory", spool);
  }
  int rc = nr < 0 ? -1 : lr_import_run(run, (size_t)nr, out, &opts, &s, &err);
  free(run);
  if (rc == 0 && nmeta) rc = lr_import_annotate(out, (const char *const *)meta, nmeta, &err);
  free_meta(meta, nmeta);
  if (opts.progress) lr_cli_import_progress(NULL, NULL);
  if (rc != 0) {
    lr_cli_error(cmd, "%s", err.msg);
    return 1;
  }
  if (nr > 1) {
    lr_cli_run_summary(stdout, cmd, out, out, &s);
    return 0;
  }
  summary(cmd, out, &s);
  return 0;
}

static int import_like(const char *cmd, int argc, char **argv, int allow_out) {
  static const struct option longs[] = {
    {"output", required_argument, 0, 'o'},
    {"symbols", required_argument, 0, 's'},
    {"follow", no_argument, 0, 'f'},
    {"no-follow", no_argument, 0, 'n'},
    {"meta-file", required_argument, 0, 'm'},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
  };
  const char *out = NULL, *syms = NULL, *meta = NULL;
  int c, follow = -1;
  optind = 1;
  while ((c = getopt_long(argc, argv, allow_out ? "o:h" : "h", longs, NULL)) != -1) {
    switch (c) {
    case 'o':
      if (!allow_out) goto usage;
      out = optarg;
      break;
    case 's': syms = optarg; break;
    case 'f': follow = 1; break;
    case 'n': follow = 0; break;
    case 'm': meta = optarg; break;
    case 'h':
      printf("usage: lowram %s PATH%s [--symbols DIR] [--follow|--no-follow]\n"
             "  PATH is a spool, or the trace name LOWRAM_OUT gave (its spool is PATH%s);\n"
             "  the spools its descendants left beside it (PATH.PID.db.spool...) go into\n"
             "  the same trace (--follow), unless -o names the trace of that one spool\n"
             "  (or --no-follow)\n"
             "  --meta-file F  KEY<TAB>VALUE lines stored in the trace's meta table (the\n"
             "                 device facts and kill lines lowram-adb collects)\n",
             cmd, allow_out ? " [-o OUT.db]" : "", LR_SPOOL_SUFFIX);
      return 0;
    default: goto usage;
    }
  }
  if (optind + 1 != argc) goto usage;
  /* -o names one trace for one spool; without it the run is gathered */
  return do_import(cmd, argv[optind], out, syms, follow >= 0 ? follow : out == NULL, meta);
usage:
  fprintf(stderr, "usage: lowram %s PATH%s [--symbols DIR] [--follow|--no-follow]\n", cmd,
          allow_out ? " [-o OUT.db]" : "");
  return 2;
}

int lr_cli_import(int argc, char **argv) { return import_like("import", argc, argv, 1); }

int lr_cli_recover(int argc, char **argv) { return import_like("recover", argc, argv, 0); }

int lr_cli_symbolize(int argc, char **argv) {
  static const struct option longs[] = {
    {"symbols", required_argument, 0, 's'},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
  };
  const char *syms = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "s:h", longs, NULL)) != -1) {
    if (c == 's') syms = optarg;
    else if (c == 'h') {
      printf("usage: lowram symbolize TRACE.db --symbols DIR\n"
             "  names frames from unstripped copies in DIR matched by build-id\n"
             "  (DIR/.build-id/xx/yyyy.debug, or DIR/any/path/<module file name>)\n");
      return 0;
    } else {
      goto usage;
    }
  }
  if (optind + 1 != argc || !syms) goto usage;
  LrErr err = {{0}};
  LrSymStats st;
  if (lr_sym_file(argv[optind], syms, &st, &err) != 0) {
    lr_cli_error("symbolize", "%s", err.msg);
    return 1;
  }
  printf("lowram symbolize: %s: %llu of %llu modules matched; %llu frames named, %llu with "
         "file:line\n",
         argv[optind], (unsigned long long)st.modules_matched, (unsigned long long)st.modules,
         (unsigned long long)st.frames_named, (unsigned long long)st.frames_lines);
  return 0;
usage:
  fprintf(stderr, "usage: lowram symbolize TRACE.db --symbols DIR\n");
  return 2;
}
