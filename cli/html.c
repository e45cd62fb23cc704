/*
** html.c: `lowram html TRACE -o report.html`: the report as one
** self-contained HTML page (no network: inline CSS, JS and SVG). It shows
** live bytes and RSS over time with the markers and the peak, a flame graph
** of what was live at the peak and at other moments (a slider and the chart
** pick the moment), and the tables of the text report.
**
** The page is cli/html/page.html (compiled in as lr_html_page); this file
** fills its placeholders. The flame graph's data is embedded as JSON: the
** contributors by stack at a set of moments (the peak, each phase's peak,
** and evenly spaced points of the timeline), with frames and stacks stored
** once and referred to by index. All numbers come from the library
** (report.h, peak.h), the same ones `lowram report --json` prints.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "html.h"
#include "lowram/import.h"
#include "lowram/peak.h"
#include "lowram/report.h"
#include "lowram/text.h"
#include "lowram/trace.h"

extern const char lr_html_page[];

#define MAX_ITEMS 400  /* stacks per moment; the rest is one "smaller stacks" box */
#define MAX_MARKERS 2000
#define TICKS 240      /* timeline resolution of the chart */

static void usage(FILE *f) {
  fprintf(f,
          "usage: lowram html TRACE.db [-o FILE] [--top N] [--moments N]\n"
          "  -o FILE       write the page there (default: stdout, unless it is a terminal)\n"
          "  --top N       rows per table (default 20)\n"
          "  --moments N   evenly spaced moments the flame graph can show besides the peak\n"
          "                and each phase's peak (default 20, at most 200)\n"
          "One self-contained HTML file: live bytes and RSS over time with markers and the\n"
          "peak, a flame graph of what was live at the peak and at other moments, and the\n"
          "tables of `lowram report`. It loads nothing from the network.\n");
}

/* ---- escaping (html.h) ---- */

/* s through lr_text_escape, malloc'd; NULL when out of memory */
static char *esc_dup(const char *s) {
  size_t n = s ? strlen(s) : 0;
  char *b = malloc(4 * n + 2);
  return b ? lr_text_escape(s, b, 4 * n + 2) : NULL;
}

void lr_html_text(FILE *f, const char *s) {
  char *e = esc_dup(s);
  for (const char *p = e ? e : "?"; *p; p++) {
    switch (*p) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&#39;", f); break;
    default:
      /* line and paragraph separators: harmless here, but kept out of the
      ** file so that no raw one is anywhere in it */
      if ((unsigned char)p[0] == 0xe2 && (unsigned char)p[1] == 0x80 &&
          ((unsigned char)p[2] == 0xa8 || (unsigned char)p[2] == 0xa9)) {
        fprintf(f, "&#x%x;", (unsigned char)p[2] == 0xa8 ? 0x2028u : 0x2029u);
        p += 2;
      } else fputc(*p, f);
    }
  }
  free(e);
}

void lr_html_json(FILE *f, const char *s) {
  char *e = esc_dup(s);
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)(e ? e : "?"); *p; p++) {
    unsigned c = *p;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&') fprintf(f, "\\u%04x", c);
    else if (c == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
      fprintf(f, "\\u%04x", p[2] == 0xa8 ? 0x2028u : 0x2029u);
      p += 2;
    } else fputc((int)c, f);
  }
  fputc('"', f);
  free(e);
}

/* ---- the moments the flame graph can show ---- */

typedef struct Moment {
  char label[200]; /* from the trace in part: escaped when written */
  const char *kind; /* "peak", "phase", "time" */
  LrMoment m;
  const LrGroups *g; /* owned by the report, or &own */
  LrGroups own;
  int has_own;
} Moment;

/* an open-addressing map from a key's hash to an index + 1 */
typedef struct Map {
  size_t *slot, cap, n;
} Map;

typedef struct Page {
  LrTrace *t;
  LrReport *r;
  Moment *mo;
  size_t nmo;
  const LrStack **st; /* every stack any moment shows, in first-seen order */
  size_t nst;
  Map stmap;
  const LrFrame **fr; /* distinct frames (name, file, line, module) */
  size_t nfr;
  Map frmap;
} Page;

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

static uint64_t hash_str(uint64_t h, const char *s) {
  return hash_bytes(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

static int frame_eq(const LrFrame *a, const LrFrame *b) {
  char x[512], y[512];
#define SEQ(p, q) ((p) == (q) || ((p) && (q) && !strcmp((p), (q))))
  return a->line == b->line && SEQ(a->file, b->file) && SEQ(a->module, b->module) &&
         !strcmp(lr_peak_frame_name(a, x, sizeof x), lr_peak_frame_name(b, y, sizeof y));
#undef SEQ
}

static uint64_t frame_hash(const LrFrame *f) {
  char name[512];
  uint64_t h = hash_str(14695981039346656037ull, lr_peak_frame_name(f, name, sizeof name));
  h = hash_str(h, f->file);
  h = hash_str(h, f->module);
  return hash_bytes(h, &f->line, sizeof f->line);
}

static int map_grow(Map *m) {
  if ((m->n + 1) * 2 <= m->cap) return 0;
  size_t cap = m->cap ? m->cap * 2 : 1024;
  size_t *s = calloc(cap, sizeof *s);
  if (!s) return -1;
  free(m->slot); /* rehashed by the caller's rebuild below */
  m->slot = s;
  m->cap = cap;
  return 1;
}

/* index of stack s in p->st, added when new; -1 when out of memory */
static long stack_index(Page *p, const LrStack *s) {
  uintptr_t key = (uintptr_t)s;
  int g = map_grow(&p->stmap);
  if (g < 0) return -1;
  if (g > 0)
    for (size_t i = 0; i < p->nst; i++) {
      size_t h = (size_t)hash_bytes(14695981039346656037ull, &p->st[i], sizeof p->st[i]);
      while (p->stmap.slot[h & (p->stmap.cap - 1)]) h++;
      p->stmap.slot[h & (p->stmap.cap - 1)] = i + 1;
    }
  size_t h = (size_t)hash_bytes(14695981039346656037ull, &key, sizeof key);
  for (;; h++) {
    size_t v = p->stmap.slot[h & (p->stmap.cap - 1)];
    if (!v) break;
    if (p->st[v - 1] == s) return (long)(v - 1);
  }
  if (p->nst % 256 == 0) {
    const LrStack **n = realloc(p->st, (p->nst + 256) * sizeof *n);
    if (!n) return -1;
    p->st = n;
  }
  p->st[p->nst] = s;
  p->stmap.slot[h & (p->stmap.cap - 1)] = ++p->nst;
  p->stmap.n++;
  return (long)(p->nst - 1);
}

static long frame_index(Page *p, const LrFrame *f) {
  int g = map_grow(&p->frmap);
  if (g < 0) return -1;
  if (g > 0)
    for (size_t i = 0; i < p->nfr; i++) {
      size_t h = (size_t)frame_hash(p->fr[i]);
      while (p->frmap.slot[h & (p->frmap.cap - 1)]) h++;
      p->frmap.slot[h & (p->frmap.cap - 1)] = i + 1;
    }
  size_t h = (size_t)frame_hash(f);
  for (;; h++) {
    size_t v = p->frmap.slot[h & (p->frmap.cap - 1)];
    if (!v) break;
    if (frame_eq(p->fr[v - 1], f)) return (long)(v - 1);
  }
  if (p->nfr % 256 == 0) {
    const LrFrame **n = realloc(p->fr, (p->nfr + 256) * sizeof *n);
    if (!n) return -1;
    p->fr = n;
  }
  p->fr[p->nfr] = f;
  p->frmap.slot[h & (p->frmap.cap - 1)] = ++p->nfr;
  p->frmap.n++;
  return (long)(p->nfr - 1);
}

static int have_seq(const Page *p, int64_t seq) {
  for (size_t i = 0; i < p->nmo; i++)
    if (p->mo[i].m.seq == seq) return 1;
  return 0;
}

static int collect(Page *p, int nmoments, LrErr *err) {
  LrReport *r = p->r;
  size_t cap = 2 + r->nphases + (size_t)nmoments;
  if (!(p->mo = calloc(cap, sizeof *p->mo))) return lr_err_set(err, "out of memory");
  if (!r->run.allocs) return 0;
  Moment *m = &p->mo[p->nmo++];
  m->kind = "peak";
  m->m = r->peak;
  m->g = &r->contributors;
  if (r->peak.marker[0]) snprintf(m->label, sizeof m->label, "peak (in %.150s)", r->peak.marker);
  else snprintf(m->label, sizeof m->label, "peak");
  /* each marker name's highest phase: its contributors are in the report */
  for (size_t i = 0; i < r->nphases; i++) {
    const LrPhase *ph = &r->phases[i];
    if (!ph->has_top || ph->peak_live <= 0 || have_seq(p, ph->peak_seq)) continue;
    m = &p->mo[p->nmo];
    if (lr_peak_moment_at_seq(p->t, ph->peak_seq, &m->m, err)) return -1;
    m->kind = "phase";
    m->g = &ph->top;
    if (ph->nth > 1) snprintf(m->label, sizeof m->label, "%.150s#%lld peak", ph->name,
                              (long long)ph->nth);
    else snprintf(m->label, sizeof m->label, "%.150s peak", ph->name);
    p->nmo++;
  }
  /* evenly spaced points of the timeline, and its end: what is live at each */
  if (r->ntimeline) {
    int64_t t0 = r->timeline[0].ns_start, t1 = r->timeline[r->ntimeline - 1].ns_end;
    for (int k = 0; k <= nmoments; k++) {
      char spec[48];
      int64_t ns = k == nmoments ? t1 : t0 + (int64_t)((double)(t1 - t0) * (k + 0.5) / nmoments);
      snprintf(spec, sizeof spec, "%lldns", (long long)ns);
      m = &p->mo[p->nmo];
      LrErr e2 = {{0}};
      /* before the first event or after the last: nothing to show there */
      if (lr_peak_moment(p->t, spec, &m->m, &e2) || have_seq(p, m->m.seq)) continue;
      if (lr_peak_contributors(p->t, r->stacks, m->m.seq, LR_BY_STACK, 0, &m->own, err))
        return -1;
      m->has_own = 1;
      m->g = &m->own;
      m->kind = "time";
      if (k == nmoments) snprintf(m->label, sizeof m->label, "end");
      else snprintf(m->label, sizeof m->label, "moment %d of %d", k + 1, nmoments);
      p->nmo++;
    }
  }
  for (size_t i = 0; i < p->nmo; i++)
    for (size_t k = 0; k < p->mo[i].g->n && k < MAX_ITEMS; k++)
      if (stack_index(p, p->mo[i].g->v[k].stack) < 0) return lr_err_set(err, "out of memory");
  for (size_t i = 0; i < p->nst; i++)
    for (size_t k = 0; k < p->st[i]->nframes; k++)
      if (frame_index(p, &p->st[i]->frames[k]) < 0) return lr_err_set(err, "out of memory");
  return 0;
}

static void page_free(Page *p) {
  for (size_t i = 0; i < p->nmo; i++)
    if (p->mo[i].has_own) lr_peak_groups_free(&p->mo[i].own);
  free(p->mo);
  free(p->st);
  free(p->fr);
  free(p->stmap.slot);
  free(p->frmap.slot);
}

/* ---- the JSON the page's script reads ---- */

static long find_stack(const Page *p, const LrStack *s) {
  size_t h = (size_t)hash_bytes(14695981039346656037ull, &s, sizeof s);
  for (;; h++) {
    size_t v = p->stmap.slot[h & (p->stmap.cap - 1)];
    if (!v) return -1;
    if (p->st[v - 1] == s) return (long)(v - 1);
  }
}

static long find_frame(const Page *p, const LrFrame *f) {
  size_t h = (size_t)frame_hash(f);
  for (;; h++) {
    size_t v = p->frmap.slot[h & (p->frmap.cap - 1)];
    if (!v) return -1;
    if (frame_eq(p->fr[v - 1], f)) return (long)(v - 1);
  }
}

static void write_data(FILE *f, const Page *p) {
  const LrReport *r = p->r;
  const LrMoment *pk = &r->peak;
  fputs("{\"version\":1,\"trace\":", f);
  lr_html_json(f, lr_trace_path(p->t));
  fputs(",\"command\":", f);
  lr_html_json(f, r->run.argv);
  int64_t t0 = r->ntimeline ? r->timeline[0].ns_start : 0;
  int64_t t1 = r->ntimeline ? r->timeline[r->ntimeline - 1].ns_end : 1;
  fprintf(f, ",\n\"t0\":%lld,\"t1\":%lld,\n\"peak\":{\"seq\":%lld,\"ns\":%lld,\"live\":%lld,"
          "\"heap\":%lld,\"anon\":%lld,\"file\":%lld},\n", (long long)t0, (long long)t1,
          (long long)pk->seq, (long long)pk->ns, (long long)(pk->live.heap + pk->live.anon),
          (long long)pk->live.heap, (long long)pk->live.anon, (long long)pk->live.file);
  const LrGroups *g = &r->contributors;
  fprintf(f, "\"contributors\":{\"bytes\":%lld,\"blocks\":%lld,\"stacks\":%zu,"
          "\"top_bytes\":%lld},\n\"ticks\":[", (long long)g->bytes, (long long)g->count, g->n,
          (long long)(g->n ? g->v[0].bytes : 0));
  for (size_t i = 0; i < r->ntimeline; i++) {
    const LrTick *k = &r->timeline[i];
    fprintf(f, "%s[%lld,%lld,%lld,%lld,%lld]", i ? "," : "", (long long)k->ns_start,
            (long long)k->ns_end, (long long)(k->max_live < 0 ? 0 : k->max_live),
            (long long)k->end_live, (long long)k->rss);
  }
  fputs("],\n\"markers\":[", f);
  /* every phase after the first marker starts at one */
  size_t first = r->nphases > (size_t)r->run.markers ? r->nphases - (size_t)r->run.markers : 0;
  for (size_t i = first, n = 0; i < r->nphases && n < MAX_MARKERS; i++, n++) {
    fprintf(f, "%s[%lld,", n ? "," : "", (long long)r->phases[i].start_ns);
    lr_html_json(f, r->phases[i].name);
    fputs("]", f);
  }
  fputs("],\n\"frames\":[", f);
  for (size_t i = 0; i < p->nfr; i++) {
    const LrFrame *fr = p->fr[i];
    char name[512];
    fputs(i ? ",\n[" : "\n[", f);
    lr_html_json(f, lr_peak_frame_name(fr, name, sizeof name));
    fputs(",", f);
    lr_html_json(f, fr->file ? fr->file : "");
    fprintf(f, ",%lld,", (long long)(fr->file ? fr->line : 0));
    lr_html_json(f, fr->module ? fr->module : "");
    fputs("]", f);
  }
  /* a stack's frames outer to inner, as a flame graph draws them */
  fputs("],\n\"stacks\":[", f);
  for (size_t i = 0; i < p->nst; i++) {
    const LrStack *s = p->st[i];
    fputs(i ? ",\n[" : "\n[", f);
    for (size_t k = s->nframes; k-- > 0;)
      fprintf(f, "%ld%s", find_frame(p, &s->frames[k]), k ? "," : "");
    fputs("]", f);
  }
  fputs("],\n\"moments\":[", f);
  for (size_t i = 0; i < p->nmo; i++) {
    const Moment *m = &p->mo[i];
    const LrGroups *mg = m->g;
    int64_t ob = 0, on = 0;
    size_t os = 0;
    for (size_t k = MAX_ITEMS; k < mg->n; k++, os++) {
      ob += mg->v[k].bytes;
      on += mg->v[k].count;
    }
    fprintf(f, "%s{\"label\":", i ? ",\n" : "\n");
    lr_html_json(f, m->label);
    fprintf(f, ",\"kind\":\"%s\",\"seq\":%lld,\"ns\":%lld,\"live\":%lld,\"heap\":%lld,"
            "\"anon\":%lld,\"bytes\":%lld,\"blocks\":%lld,\"other\":%lld,\"other_blocks\":%lld,"
            "\"other_stacks\":%zu,\"items\":[", m->kind, (long long)m->m.seq, (long long)m->m.ns,
            (long long)(m->m.live.heap + m->m.live.anon), (long long)m->m.live.heap,
            (long long)m->m.live.anon, (long long)mg->bytes, (long long)mg->count,
            (long long)ob, (long long)on, os);
    for (size_t k = 0; k < mg->n && k < MAX_ITEMS; k++)
      fprintf(f, "%s[%ld,%lld,%lld]", k ? "," : "", find_stack(p, mg->v[k].stack),
              (long long)mg->v[k].bytes, (long long)mg->v[k].count);
    fputs("]}", f);
  }
  fputs("]}", f);
}

/* ---- the page ---- */

static void write_page(FILE *f, const Page *p, int top) {
  const char *s = lr_html_page;
  for (;;) {
    const char *at = strstr(s, "@@");
    const char *end = at ? strstr(at + 2, "@@") : NULL;
    if (!at || !end) {
      fputs(s, f);
      return;
    }
    fwrite(s, 1, (size_t)(at - s), f);
    size_t n = (size_t)(end - at - 2);
    if (n == 5 && !strncmp(at + 2, "TITLE", 5)) {
      lr_html_text(f, lr_trace_path(p->t));
      if (p->r->run.argv[0]) {
        fputs(" &mdash; ", f);
        lr_html_text(f, p->r->run.argv);
      }
    } else if (n == 7 && !strncmp(at + 2, "SUMMARY", 7)) {
      lr_html_summary(f, p->r);
    } else if (n == 6 && !strncmp(at + 2, "TABLES", 6)) {
      lr_html_tables(f, p->r, top);
    } else if (n == 4 && !strncmp(at + 2, "DATA", 4)) {
      write_data(f, p);
    } else {
      fwrite(at, 1, (size_t)(end + 2 - at), f); /* not a placeholder */
    }
    s = end + 2;
  }
}

static int same_file(const char *a, const char *b) {
  struct stat x, y;
  return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

int lr_cli_html(int argc, char **argv) {
  const char *path = NULL, *out = NULL;
  int top = 20, nmoments = 20;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(a, "-o") || !strcmp(a, "--top") || !strcmp(a, "--moments")) {
      if (i + 1 >= argc) {
        lr_cli_error("html", "option %s needs a value", a);
        return 2;
      }
      const char *v = argv[++i];
      if (a[1] == 'o') {
        out = v;
        continue;
      }
      char *e;
      long n = strtol(v, &e, 10);
      if (*e || n < (a[2] == 't' ? 1 : 0) || n > (a[2] == 't' ? 100000 : 200)) {
        lr_cli_error("html", "%s wants a count (%s), not '%s'", a,
                     a[2] == 't' ? "1 or more" : "0 to 200", v);
        return 2;
      }
      if (a[2] == 't') top = (int)n;
      else nmoments = (int)n;
      continue;
    }
    if (a[0] == '-' && a[1]) {
      lr_cli_error("html", "unknown option '%s' (see lowram html --help)", a);
      return 2;
    }
    if (path) {
      lr_cli_error("html", "one trace at a time ('%s' and '%s')", path, a);
      return 2;
    }
    path = a;
  }
  if (!path) {
    usage(stderr);
    return 2;
  }
  if (!out && isatty(STDOUT_FILENO)) {
    lr_cli_error("html", "give -o FILE (the page is not for a terminal)");
    return 2;
  }
  LrErr err = {{0}};
  LrTrace *t = lr_import_open(path, NULL, &err);
  if (!t) {
    lr_cli_error("html", "%s", err.msg);
    return 1;
  }
  const char *tp = lr_trace_path(t);
  if (out && same_file(out, tp)) {
    lr_cli_error("html", "%s: -o would overwrite the trace itself", out);
    lr_trace_close(t);
    return 2;
  }
  if (!lr_trace_complete(t))
    fprintf(stderr, "note: %s is unfinished; `lowram recover %s` completes it. Showing what it"
            " holds.\n", lr_cli_esc(tp), lr_cli_esc(tp));
  LrReportOpts o = {0};
  o.by = LR_BY_STACK;
  o.top = top;
  o.timeline_width = TICKS;
  o.phase_detail = 12;
  Page p = {0};
  p.t = t;
  int ret = 1;
  FILE *f = NULL;
  if (lr_report_build(t, &o, &p.r, &err) || collect(&p, nmoments, &err)) goto fail;
  /* everything is computed before -o creates anything */
  if (out && !(f = fopen(out, "w"))) {
    lr_err_set(&err, "%s: cannot write: %m", out);
    goto fail;
  }
  if (!f) f = stdout;
  write_page(f, &p, top);
  if (fflush(f) != 0 || ferror(f)) lr_err_set(&err, "%s: write failed: %m", out ? out : "stdout");
  else ret = 0;
fail:
  if (f && f != stdout && fclose(f) != 0 && !ret) {
    lr_err_set(&err, "%s: write failed: %m", out);
    ret = 1;
  }
  if (ret && out && strstr(err.msg, out)) lr_cli_error("html", "%s", err.msg);
  else if (ret) lr_cli_trace_error("html", tp, err.msg);
  page_free(&p);
  lr_report_free(p.r);
  lr_trace_close(t);
  return ret;
}
