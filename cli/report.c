/*
** cli_report.c: `lowram report`: the report model (report.h) as text for
** people (aligned columns, KiB/MiB, lines under 100 columns) or as JSON for
** scripts (--json). All numbers come from lr_report_build; this file only
** formats them and explains the gap between live bytes and RSS.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "progress.h"
#include "lowram/import.h"
#include "lowram/report.h"
#include "lowram/trace.h"
#include "lowram/units.h"

/* Rotating buffers so one printf can format several values. */
static char bb[16][32];
static unsigned bi;
static const char *B(int64_t v) { return lr_fmt_bytes(bb[bi++ % 16], 32, v); }
static const char *T(int64_t v) { return lr_fmt_ns(bb[bi++ % 16], 32, v); }

static void usage(FILE *f) {
  fprintf(f,
          "usage: lowram report TRACE.db [--top N] [--by stack|function|module|file|line]\n"
          "                      [--at SEQ|TIME|MARKER[#N]|peak] [--min-size BYTES] [--json]\n"
          "                      [--width N] [--pid PID | --process N]\n"
          "  --pid PID     the process with that pid (its image with the highest peak);\n"
          "  --process N   processes.id N; default: the process with the highest peak\n"
          "  --top N       rows per section (default 10)\n"
          "  --by KEY      group contributors, leaks and phase tops (default stack);\n"
          "                function/module/file/line use the innermost frame outside\n"
          "                allocator wrappers and the C/C++ runtime\n"
          "  --at MOMENT   what is live at a seq (123), a time (1.5s, 200ms), a marker\n"
          "                (decode, decode#3) or the peak (default)\n"
          "  --min-size B  contributors: ignore blocks smaller than B (e.g. 4k)\n"
          "  --width N     timeline rows (default 24)\n"
          "  --json        the same report as JSON\n");
}

static const char *base(const char *p) {
  const char *s = p ? strrchr(p, '/') : NULL;
  return s ? s + 1 : p ? p : "?";
}

/* "function file:line (module)", cut to fit `len`; the module's whole file
** name unless longer than 96 columns (then cut in its middle). */
static char *frame_text(const LrFrame *f, char *buf, size_t len) {
  char name[160], mod[160];
  lr_peak_frame_name(f, name, sizeof name);
  lr_peak_module_name(f->module, 96, mod, sizeof mod);
  if (f->file)
    snprintf(buf, len, "%.60s %.40s:%lld (%s)", lr_cli_esc(name), lr_cli_esc(base(f->file)),
             (long long)f->line, lr_cli_esc(mod));
  else snprintf(buf, len, "%.60s (%s)", lr_cli_esc(name), lr_cli_esc(mod));
  return buf;
}

/* The site frame and up to `callers` frames outside it, each on its own
** line indented by `indent`; then, when callers > 0 and the first frame of
** the program's own module is further out, "<- ... <-" and that frame. */
static void print_stack(const LrStack *s, int indent, int callers) {
  char line[512];
  if (!s || s->nframes == 0) {
    printf("%s\n", s && s->id >= 0 ? "[empty stack]" : "[no stack]");
    return;
  }
  printf("%s\n", frame_text(&s->frames[s->site], line, sizeof line));
  for (size_t i = s->site + 1; i < s->nframes && (int)(i - s->site) <= callers; i++)
    printf("%*s<- %s\n", indent, "", frame_text(&s->frames[i], line, sizeof line));
  if (callers > 0 && s->own > s->site + (size_t)callers && s->own < s->nframes)
    printf("%*s<- ... <- %s\n", indent, "", frame_text(&s->frames[s->own], line, sizeof line));
}

static void pct(char *buf, int64_t part, int64_t whole) {
  if (whole <= 0) snprintf(buf, 16, "-");
  else snprintf(buf, 16, "%.1f%%", 100.0 * (double)part / (double)whole);
}

static void print_groups(const LrGroups *g, int top, int64_t whole, LrBy by) {
  char p[16];
  printf("  %10s %6s %8s  %s\n", "bytes", "share", "blocks", by == LR_BY_STACK ? "stack (site <- callers)" : lr_peak_by_name(by));
  int64_t shown = 0, shown_n = 0;
  for (size_t i = 0; i < g->n && (int)i < top; i++) {
    const LrGroup *x = &g->v[i];
    pct(p, x->bytes, whole);
    printf("  %10s %6s %8lld  ", B(x->bytes), p, (long long)x->count);
    if (by == LR_BY_STACK) {
      print_stack(x->stack, 30, 2);
    } else {
      printf("%.70s\n", lr_cli_esc(x->key));
      if (x->stack && x->stack->nframes) {
        printf("%30s", "e.g. ");
        print_stack(x->stack, 30, 1);
      }
    }
    shown += x->bytes;
    shown_n += x->count;
  }
  if (g->n > (size_t)top) {
    pct(p, g->bytes - shown, whole);
    printf("  %10s %6s %8lld  (%zu more)\n", B(g->bytes - shown), p,
           (long long)(g->count - shown_n), g->n - (size_t)top);
  }
}

static void print_sites(const char *title, const LrSite *s, size_t n, int temp) {
  if (!n) return;
  printf("\n%s\n", title);
  printf("  %10s %10s %10s  %s\n", temp ? "temporary" : "calls", "bytes",
         temp ? "of calls" : "largest", "site <- callers");
  for (size_t i = 0; i < n; i++) {
    char c[32];
    if (temp) snprintf(c, sizeof c, "%lld", (long long)s[i].calls);
    printf("  %10lld %10s %10s  ", (long long)(temp ? s[i].temp_calls : s[i].calls),
           B(temp ? s[i].temp_bytes : s[i].bytes), temp ? c : B(s[i].max_size));
    print_stack(s[i].stack, 38, 2);
  }
}

static void moment_where(const LrMoment *m, char *buf, size_t len) {
  if (!m->marker[0]) {
    snprintf(buf, len, "before any marker");
    return;
  }
  char nth[32] = "";
  if (m->marker_nth > 1) snprintf(nth, sizeof nth, "#%lld", (long long)m->marker_nth);
  snprintf(buf, len, "in \"%.60s%s\" (%s after it)", lr_cli_esc(m->marker), nth,
           T(m->ns - m->marker_ns));
}

static void print_gap(const LrReport *r) {
  const LrRss *s = &r->rss_at;
  int64_t live = r->at.live.heap + r->at.live.anon;
  if (!s->found) {
    printf("  RSS: no samples in this trace\n");
    return;
  }
  int64_t away = s->ns - r->at.ns;
  printf("  RSS sample nearest: seq %lld, %s %s the moment\n", (long long)s->seq,
         T(away < 0 ? -away : away), away < 0 ? "before" : "after");
  printf("    RSS %s = anon %s + file %s + shmem %s\n", B(s->rss), B(s->anon), B(s->file),
         B(s->shmem));
  int64_t gap = s->anon - live;
  if (gap >= 0)
    printf("  RssAnon is %s above live heap+anon: allocator overhead and fragmentation,\n"
           "    freed memory the allocator kept, and untraced memory (stacks, runtime)\n",
           B(gap));
  else
    printf("  RssAnon is %s below live heap+anon: allocated but never-touched pages\n"
           "    are not resident (the peak counts what was asked for)\n", B(-gap));
  printf("  RssFile %s: file pages (program code, libraries, mapped files); traced\n"
         "    file mappings live then: %s\n", B(s->file), B(r->at.live.file));
  if (r->rss_max.found)
    printf("  highest RSS sample: %s at %s (seq %lld)\n", B(r->rss_max.rss), T(r->rss_max.ns),
           (long long)r->rss_max.seq);
}

static void print_phases(const LrReport *r, int top, LrBy by) {
  if (!r->nphases) {
    printf("\nPhases: none (the program set no markers; lowram_mark(\"prefill\") in lowram.h)\n");
    return;
  }
  printf("\nPhases (marker to marker; the highest peak is marked *)\n");
  int64_t best = -1;
  for (size_t i = 0; i < r->nphases; i++)
    if (r->phases[i].peak_live > best) best = r->phases[i].peak_live;
  if (r->nphases <= 24) {
    printf("  %-24s %10s %10s %10s %10s %10s\n", "phase", "start", "length", "at start",
           "peak", "at end");
    for (size_t i = 0; i < r->nphases; i++) {
      const LrPhase *p = &r->phases[i];
      char name[64];
      if (p->nth > 1)
        snprintf(name, sizeof name, "%.40s#%lld", lr_cli_esc(p->name), (long long)p->nth);
      else snprintf(name, sizeof name, "%.40s", lr_cli_esc(p->name));
      printf("  %-24s %10s %10s %10s %10s %10s%s\n", name, T(p->start_ns),
             T(p->end_ns - p->start_ns), B(p->start_live), B(p->peak_live), B(p->end_live),
             p->peak_live == best ? " *" : "");
    }
  } else {
    /* many phases (a marker per decode step): one row per marker name */
    printf("  %zu phases; one row per name (start and length of the first; peak: the\n"
           "  highest, with its occurrence; lowest: the lowest phase peak)\n", r->nphases);
    printf("  %-24s %10s %10s %10s %10s %10s\n", "phase", "start", "count", "lowest", "peak",
           "at end");
    for (size_t i = 0; i < r->nphases; i++) {
      const LrPhase *p = &r->phases[i];
      size_t k = 0;
      while (k < i && strcmp(r->phases[k].name, p->name)) k++;
      if (k < i) continue; /* this name has its row already */
      const LrPhase *hi = p;
      int64_t lo = p->peak_live, count = 0;
      for (size_t j = i; j < r->nphases; j++) {
        const LrPhase *q = &r->phases[j];
        if (strcmp(q->name, p->name)) continue;
        count++;
        if (q->peak_live > hi->peak_live) hi = q;
        if (q->peak_live < lo) lo = q->peak_live;
      }
      char name[64], n[24];
      if (hi->nth > 1 || count > 1)
        snprintf(name, sizeof name, "%.30s (#%lld)", lr_cli_esc(p->name), (long long)hi->nth);
      else snprintf(name, sizeof name, "%.40s", lr_cli_esc(p->name));
      snprintf(n, sizeof n, "%lld", (long long)count);
      printf("  %-24s %10s %10s %10s %10s %10s%s\n", name, T(p->start_ns), n, B(lo),
             B(hi->peak_live), B(hi->end_live), hi->peak_live == best ? " *" : "");
    }
  }
  for (size_t i = 0; i < r->nphases; i++) {
    const LrPhase *p = &r->phases[i];
    if (!p->has_top || p->peak_live <= 0) continue;
    char name[64];
    if (p->nth > 1)
      snprintf(name, sizeof name, "%.40s#%lld", lr_cli_esc(p->name), (long long)p->nth);
    else snprintf(name, sizeof name, "%.40s", lr_cli_esc(p->name));
    printf("  %s: peak %s at seq %lld (%s), made of:\n", name, B(p->peak_live),
           (long long)p->peak_seq, T(p->peak_ns));
    for (size_t k = 0; k < p->top.n && (int)k < top; k++) {
      char pc[16];
      pct(pc, p->top.v[k].bytes, p->peak_live);
      printf("    %10s %6s  ", B(p->top.v[k].bytes), pc);
      if (by == LR_BY_STACK) print_stack(p->top.v[k].stack, 24, 0);
      else printf("%.70s\n", lr_cli_esc(p->top.v[k].key));
    }
  }
}

static void print_timeline(const LrReport *r) {
  if (!r->ntimeline) return;
  int64_t scale = 1;
  for (size_t i = 0; i < r->ntimeline; i++) {
    if (r->timeline[i].max_live > scale) scale = r->timeline[i].max_live;
    if (r->timeline[i].rss > scale) scale = r->timeline[i].rss;
  }
  const int W = 40;
  printf("\nTimeline (# live heap+anon, highest per row; | RSS sample; full width %s)\n",
         B(scale));
  for (size_t i = 0; i < r->ntimeline; i++) {
    const LrTick *t = &r->timeline[i];
    char bar[64];
    int n = (int)((double)t->max_live * W / (double)scale + 0.5);
    for (int k = 0; k < W; k++) bar[k] = k < n ? '#' : ' ';
    if (t->rss >= 0) {
      int k = (int)((double)t->rss * W / (double)scale + 0.5);
      bar[k >= W ? W - 1 : k] = '|';
    }
    bar[W] = 0;
    char rss[40] = "";
    if (t->rss >= 0) snprintf(rss, sizeof rss, "rss %s", B(t->rss));
    char note[80] = "";
    if (t->has_peak && t->marker[0])
      snprintf(note, sizeof note, "<- peak [%.20s]", lr_cli_esc(t->marker));
    else if (t->has_peak) snprintf(note, sizeof note, "<- peak");
    else if (t->marker[0]) snprintf(note, sizeof note, "[%.30s]", lr_cli_esc(t->marker));
    printf("  %9s %s %9s %-14s %s\n", T(t->ns_start), bar, B(t->max_live), rss, note);
  }
}

/* The low-memory killer's verdict, when the import was given one (meta
** kill.*, from lowram-adb's facts file): who killed the process, why, what
** it freed, and what the trace held just before. Only for the process that
** was killed (kill.pid), or when the facts name no pid. */
static void print_kill(LrTrace *t, const LrReport *r) {
  const LrRun *u = &r->run;
  char by[64], reason[512], pid[32], rss[32], swap[32], when[32], adj[32], model[128];
  if (lr_trace_meta_text(t, "kill.by", by, sizeof by) != 0 || !by[0]) return;
  if (lr_trace_meta_text(t, "kill.pid", pid, sizeof pid) == 0 && pid[0] &&
      strtoll(pid, NULL, 10) != u->pid)
    return;
  if (lr_trace_meta_text(t, "kill.reason", reason, sizeof reason) != 0) reason[0] = '\0';
  int64_t kill_ns = -1;
  if (lr_trace_meta_text(t, "kill.time_ns_since_start", when, sizeof when) == 0 && when[0])
    kill_ns = strtoll(when, NULL, 10);
  printf("\nKilled by %s", lr_cli_esc(by));
  if (kill_ns >= 0) printf(" at %s", T(kill_ns));
  printf("%s%s\n", reason[0] ? ": " : "", reason[0] ? lr_cli_esc(reason) : "");
  int have_rss = lr_trace_meta_text(t, "kill.rss_kb", rss, sizeof rss) == 0 && rss[0];
  int have_swap = lr_trace_meta_text(t, "kill.swap_kb", swap, sizeof swap) == 0 && swap[0];
  if (have_rss || have_swap) {
    printf("  it freed");
    if (have_rss) printf(" %s of RSS", B(strtoll(rss, NULL, 10) * 1024));
    if (have_swap) printf("%s %s of swap", have_rss ? " and" : "", B(strtoll(swap, NULL, 10) * 1024));
    if (lr_trace_meta_text(t, "kill.oom_score_adj", adj, sizeof adj) == 0 && adj[0])
      printf(" (oom_score_adj %s)", lr_cli_esc(adj));
    printf("\n");
  }
  /* what was live: the last event before the kill, and 100 ms earlier */
  char spec[48];
  LrMoment m, m100;
  LrErr err = {{0}};
  /* the kill comes after the last event the trace holds: clamp to the
  ** timeline's end (ns_end is one past the last event's time) */
  int64_t end = r->ntimeline ? r->timeline[r->ntimeline - 1].ns_end - 1 : 0;
  int64_t at = kill_ns >= 0 && kill_ns < end ? kill_ns : end;
  snprintf(spec, sizeof spec, "%lldns", (long long)at);
  if (r->ntimeline && lr_peak_moment(t, spec, &m, &err) == 0) {
    printf("  live in the trace then: %s (heap %s + anon mmap %s) at seq %lld, %s\n",
           B(m.live.heap + m.live.anon), B(m.live.heap), B(m.live.anon), (long long)m.seq,
           T(m.ns));
    snprintf(spec, sizeof spec, "%lldns", (long long)(m.ns > 100000000 ? m.ns - 100000000 : 0));
    if (lr_peak_moment(t, spec, &m100, &err) == 0)
      printf("  100 ms before: %s\n", B(m100.live.heap + m100.live.anon));
    LrStacks *c = lr_peak_stacks_new(t);
    LrGroups g;
    if (c && lr_peak_contributors(t, c, m.seq, LR_BY_FUNCTION, 0, &g, &err) == 0) {
      for (size_t i = 0; i < g.n && i < 3; i++)
        printf("    %10s  %s\n", B(g.v[i].bytes), lr_cli_esc(g.v[i].key));
      lr_peak_groups_free(&g);
    }
    lr_peak_stacks_free(c);
  }
  if (lr_trace_meta_text(t, "device.model", model, sizeof model) == 0 && model[0]) {
    char tot[32], avail[32];
    printf("  device: %s", lr_cli_esc(model));
    if (lr_trace_meta_text(t, "device.memtotal_kb", tot, sizeof tot) == 0 && tot[0])
      printf(", MemTotal %s", B(strtoll(tot, NULL, 10) * 1024));
    if (lr_trace_meta_text(t, "device.memavailable_kb", avail, sizeof avail) == 0 && avail[0])
      printf(", MemAvailable %s at start", B(strtoll(avail, NULL, 10) * 1024));
    printf("\n");
  }
}

static void print_text(LrTrace *t, const char *path, const LrReport *r, const LrReportOpts *o) {
  const LrRun *u = &r->run;
  printf("lowram report: %s\n", lr_cli_esc(path));
  printf("\nRun\n  command   %.88s\n", u->argv[0] ? lr_cli_esc(u->argv) : "?");
  printf("  pid %lld, %lld thread%s, ran %s, ended: %s", (long long)u->pid, (long long)u->threads,
         u->threads == 1 ? "" : "s", T(u->duration_ns), u->end_reason[0] ? u->end_reason : "?");
  if (u->end_code >= 0) printf(" (%lld)", (long long)u->end_code);
  printf("\n  %lld events, %lld allocations, %lld frees, %lld markers, %lld RSS samples\n",
         (long long)u->events, (long long)u->allocs, (long long)u->frees, (long long)u->markers,
         (long long)u->samples);
  if (u->cut_short)
    printf("  note: the recording was cut short; numbers cover the events written until then\n");
  print_kill(t, r);
  if (!u->allocs) {
    printf("\nNo allocations in this trace.\n");
    return;
  }
  char where[160];
  const LrMoment *p = &r->peak;
  moment_where(p, where, sizeof where);
  printf("\nPeak %s live = %lld bytes (heap %s + anon mmap %s)\n", B(p->live.heap + p->live.anon),
         (long long)(p->live.heap + p->live.anon), B(p->live.heap), B(p->live.anon));
  printf("  at %s, seq %lld, %s\n", T(p->ns), (long long)p->seq, where);
  printf("  file-backed mappings live then: %s (not in the peak; highest %s)\n",
         B(p->live.file), B(r->file_peak));
  if (r->reserved_peak > 0)
    printf("  reserved, not committed: %s (PROT_NONE address space, not in the peak; highest %s)\n",
           B(r->peak_reserved), B(r->reserved_peak));
  if (r->released_calls > 0)
    printf("  released pages: %s in %lld madvise call%s (RSS given back, still committed)\n",
           B(r->released_bytes), (long long)r->released_calls,
           r->released_calls == 1 ? "" : "s");
  printf("  heap-only peak (what massif measures): %s at seq %lld\n", B(r->heap_peak),
         (long long)r->heap_peak_seq);
  const LrMoment *a = &r->at;
  if (!a->is_peak || a->seq != p->seq) {
    moment_where(a, where, sizeof where);
    printf("\nAt %s: %s live (heap %s + anon mmap %s, %.1f%% of the peak)\n", o->at,
           B(a->live.heap + a->live.anon), B(a->live.heap), B(a->live.anon),
           p->live.heap + p->live.anon > 0
               ? 100.0 * (double)(a->live.heap + a->live.anon) /
                     (double)(p->live.heap + p->live.anon)
               : 0.0);
    printf("  at %s, seq %lld, %s; file-backed mappings live: %s\n", T(a->ns), (long long)a->seq,
           where, B(a->live.file));
  }
  print_gap(r);
  int top = o->top > 0 ? o->top : 10;
  const LrGroups *g = &r->contributors;
  printf("\nLive at %s by %s: %zu groups, %lld blocks, %s",
         a->is_peak ? "the peak" : "that moment", lr_peak_by_name(o->by), g->n,
         (long long)g->count, B(g->bytes));
  if (o->min_size > 0) printf(" (blocks >= %s)", B(o->min_size));
  printf("\n");
  print_groups(g, top, a->live.heap + a->live.anon, o->by);

  if (r->leaks.n) {
    printf("\nLeaks (heap+anon live at the end): %s in %lld blocks\n", B(r->leaks.bytes),
           (long long)r->leaks.count);
    print_groups(&r->leaks, top, r->leaks.bytes, o->by);
  } else {
    printf("\nLeaks: none (every heap block and anonymous mapping was released)\n");
  }
  if (r->temp_calls) {
    char t[128];
    snprintf(t, sizeof t, "Temporaries: %lld blocks, %s (freed by their thread before it "
             "allocated anything else)", (long long)r->temp_calls, B(r->temp_bytes));
    print_sites(t, r->temporaries, r->ntemporaries, 1);
  }
  print_sites("Hot sites by calls", r->hot_calls, r->nhot_calls, 0);
  print_sites("Hot sites by bytes allocated", r->hot_bytes, r->nhot_bytes, 0);
  if (r->nlargest) {
    printf("\nLargest allocations\n  %10s %-8s %-6s %10s %10s  %s\n", "size", "kind", "region",
           "at", "freed", "site <- callers");
    for (size_t i = 0; i < r->nlargest; i++) {
      const LrBlock *b = &r->largest[i];
      char fr[32];
      if (b->free_seq < 0) snprintf(fr, sizeof fr, "never");
      else snprintf(fr, sizeof fr, "seq %lld", (long long)b->free_seq);
      printf("  %10s %-8s %-6s %10s %10s  ", B(b->size), b->kind, b->region, T(b->alloc_ns), fr);
      print_stack(b->stack, 52, 1);
    }
  }
  print_phases(r, o->phase_top > 0 ? o->phase_top : 3, o->by);
  if (r->nmapped) {
    if (r->rss_file_baseline < 0)
      printf("\nMapped files (no RSS samples: residency unknown, shown as 0)\n");
    else
      printf("\nMapped files (resident: estimate from RssFile above %s, %s)\n",
             B(r->rss_file_baseline), r->rss_file_baseline_lowest
                                          ? "its lowest value in the run"
                                          : "its value before the first mapping");
    printf("  %10s %10s %10s %5s  %s\n", "size", "resident", "at end", "maps", "file");
    for (size_t i = 0; i < r->nmapped; i++) {
      const LrMapped *m = &r->mapped[i];
      printf("  %10s %10s %10s %5lld  %.60s\n", B(m->max_live), B(m->resident),
             B(m->live_at_end), (long long)m->mappings, lr_cli_esc(m->file));
    }
  }
  print_timeline(r);
}

/* ---- JSON ---- */

static void js(const char *s) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    if (*p == '"' || *p == '\\') printf("\\%c", *p);
    else if (*p < 0x20) printf("\\u%04x", *p);
    else putchar(*p);
  }
  putchar('"');
}

static void js_stack(const LrStack *s) {
  printf("{\"id\":%lld,\"site\":%zu,\"frames\":[", (long long)(s ? s->id : -1), s ? s->site : 0);
  for (size_t i = 0; s && i < s->nframes; i++) {
    const LrFrame *f = &s->frames[i];
    printf("%s{\"function\":", i ? "," : "");
    js(f->function);
    printf(",\"file\":");
    js(f->file);
    printf(",\"line\":%lld,\"module\":", (long long)f->line);
    js(f->module);
    printf(",\"rel_pc\":%lld}", (long long)f->rel_pc);
  }
  printf("]}");
}

static void js_groups(const char *name, const LrGroups *g, int top) {
  printf("\"%s\":{\"bytes\":%lld,\"blocks\":%lld,\"groups\":%zu,\"top\":[", name,
         (long long)g->bytes, (long long)g->count, g->n);
  for (size_t i = 0; i < g->n && (int)i < top; i++) {
    printf("%s{\"key\":", i ? "," : "");
    js(g->v[i].key);
    printf(",\"bytes\":%lld,\"blocks\":%lld,\"stack\":", (long long)g->v[i].bytes,
           (long long)g->v[i].count);
    js_stack(g->v[i].stack);
    printf("}");
  }
  printf("]}");
}

static void js_moment(const char *name, const LrMoment *m) {
  printf("\"%s\":{\"seq\":%lld,\"ns\":%lld,\"live\":%lld,\"heap\":%lld,\"anon\":%lld,"
         "\"file\":%lld,\"marker\":", name, (long long)m->seq, (long long)m->ns,
         (long long)(m->live.heap + m->live.anon), (long long)m->live.heap,
         (long long)m->live.anon, (long long)m->live.file);
  js(m->marker);
  printf(",\"marker_nth\":%lld}", (long long)m->marker_nth);
}

static void js_sites(const char *name, const LrSite *s, size_t n) {
  printf(",\"%s\":[", name);
  for (size_t i = 0; i < n; i++) {
    printf("%s{\"calls\":%lld,\"bytes\":%lld,\"largest\":%lld,\"temporary_calls\":%lld,"
           "\"temporary_bytes\":%lld,\"stack\":", i ? "," : "", (long long)s[i].calls,
           (long long)s[i].bytes, (long long)s[i].max_size, (long long)s[i].temp_calls,
           (long long)s[i].temp_bytes);
    js_stack(s[i].stack);
    printf("}");
  }
  printf("]");
}

static void print_json(const char *path, const LrReport *r, const LrReportOpts *o) {
  const LrRun *u = &r->run;
  int top = o->top > 0 ? o->top : 10;
  printf("{\"trace\":");
  js(path);
  printf(",\"complete\":%s,\"cut_short\":%s,\"run\":{\"command\":",
         u->complete ? "true" : "false", u->cut_short ? "true" : "false");
  js(u->argv);
  printf(",\"pid\":%lld,\"threads\":%lld,\"duration_ns\":%lld,\"end_reason\":", (long long)u->pid,
         (long long)u->threads, (long long)u->duration_ns);
  js(u->end_reason);
  printf(",\"end_code\":%lld,\"events\":%lld,\"allocations\":%lld,\"frees\":%lld,"
         "\"markers\":%lld},", (long long)u->end_code, (long long)u->events,
         (long long)u->allocs, (long long)u->frees, (long long)u->markers);
  js_moment("peak", &r->peak);
  printf(",");
  js_moment("at", &r->at);
  printf(",\"heap_peak\":%lld,\"heap_peak_seq\":%lld,\"file_peak\":%lld,\"by\":\"%s\",",
         (long long)r->heap_peak, (long long)r->heap_peak_seq, (long long)r->file_peak,
         lr_peak_by_name(o->by));
  printf("\"reserved_at_peak\":%lld,\"reserved_peak\":%lld,\"released_bytes\":%lld,"
         "\"released_calls\":%lld,",
         (long long)r->peak_reserved, (long long)r->reserved_peak, (long long)r->released_bytes,
         (long long)r->released_calls);
  const LrRss *s = &r->rss_at;
  if (s->found)
    printf("\"rss_at\":{\"seq\":%lld,\"ns\":%lld,\"rss\":%lld,\"anon\":%lld,\"file\":%lld,"
           "\"shmem\":%lld},", (long long)s->seq, (long long)s->ns, (long long)s->rss,
           (long long)s->anon, (long long)s->file, (long long)s->shmem);
  if (r->rss_max.found) printf("\"rss_max\":%lld,", (long long)r->rss_max.rss);
  js_groups("contributors", &r->contributors, top);
  printf(",");
  js_groups("leaks", &r->leaks, top);
  printf(",\"temporaries_total\":{\"blocks\":%lld,\"bytes\":%lld}", (long long)r->temp_calls,
         (long long)r->temp_bytes);
  js_sites("temporaries", r->temporaries, r->ntemporaries);
  js_sites("hot_by_calls", r->hot_calls, r->nhot_calls);
  js_sites("hot_by_bytes", r->hot_bytes, r->nhot_bytes);
  printf(",\"largest\":[");
  for (size_t i = 0; i < r->nlargest; i++) {
    const LrBlock *b = &r->largest[i];
    printf("%s{\"size\":%lld,\"kind\":\"%s\",\"region\":\"%s\",\"alloc_seq\":%lld,"
           "\"alloc_ns\":%lld,\"free_seq\":%lld,\"stack\":", i ? "," : "", (long long)b->size,
           b->kind, b->region, (long long)b->alloc_seq, (long long)b->alloc_ns,
           (long long)b->free_seq);
    js_stack(b->stack);
    printf("}");
  }
  printf("],\"phases\":[");
  for (size_t i = 0; i < r->nphases; i++) {
    const LrPhase *p = &r->phases[i];
    printf("%s{\"name\":", i ? "," : "");
    js(p->name);
    printf(",\"nth\":%lld,\"start_seq\":%lld,\"end_seq\":%lld,\"start_ns\":%lld,\"end_ns\":%lld,"
           "\"start_live\":%lld,\"end_live\":%lld,\"peak\":%lld,\"peak_seq\":%lld,",
           (long long)p->nth, (long long)p->start_seq, (long long)p->end_seq,
           (long long)p->start_ns, (long long)p->end_ns, (long long)p->start_live,
           (long long)p->end_live, (long long)p->peak_live, (long long)p->peak_seq);
    if (p->has_top) js_groups("at_peak", &p->top, o->phase_top > 0 ? o->phase_top : 3);
    else printf("\"at_peak\":null");
    printf("}");
  }
  printf("],\"mapped_files\":[");
  for (size_t i = 0; i < r->nmapped; i++) {
    const LrMapped *m = &r->mapped[i];
    printf("%s{\"file\":", i ? "," : "");
    js(m->file);
    printf(",\"rss_file_baseline\":%lld", (long long)r->rss_file_baseline);
    printf(",\"mappings\":%lld,\"bytes_mapped\":%lld,\"size\":%lld,\"resident\":%lld,"
           "\"at_end\":%lld}", (long long)m->mappings, (long long)m->size,
           (long long)m->max_live, (long long)m->resident, (long long)m->live_at_end);
  }
  printf("],\"timeline\":[");
  for (size_t i = 0; i < r->ntimeline; i++) {
    const LrTick *t = &r->timeline[i];
    printf("%s{\"ns\":%lld,\"max_live\":%lld,\"end_live\":%lld,\"rss\":%lld,\"peak\":%s,"
           "\"marker\":", i ? "," : "", (long long)t->ns_start, (long long)t->max_live,
           (long long)t->end_live, (long long)t->rss, t->has_peak ? "true" : "false");
    js(t->marker);
    printf("}");
  }
  printf("]}\n");
}

int lr_cli_report(int argc, char **argv) {
  LrReportOpts o = {0};
  o.by = LR_BY_STACK;
  const char *path = NULL, *sel_pid = NULL, *sel_proc = NULL;
  int json = 0, width = 24;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(a, "--json")) {
      json = 1;
      continue;
    }
    if (a[0] == '-' && a[1] == '-') {
      const char *eq = strchr(a, '=');
      static const char *const takes[] = {"--top", "--by", "--at", "--min-size", "--width",
                                          "--pid", "--process"};
      int known = 0;
      for (size_t k = 0; k < 7; k++) {
        size_t n = strlen(takes[k]);
        if (!strncmp(a, takes[k], n) && (a[n] == 0 || a[n] == '=')) known = 1;
      }
      if (!known) {
        lr_cli_error("report", "unknown option '%s' (see lowram report --help)", a);
        return 2;
      }
      if (eq) v = eq + 1;
      else if (i + 1 < argc) v = argv[++i];
      else {
        lr_cli_error("report", "option %s needs a value", a);
        return 2;
      }
      char *end;
      if (!strncmp(a, "--pid", 5) || !strncmp(a, "--process", 9)) {
        *(a[3] == 'i' ? &sel_pid : &sel_proc) = v;
      } else if (!strncmp(a, "--top", 5) || !strncmp(a, "--width", 7)) {
        long n = strtol(v, &end, 10);
        if (*end || n < 1 || n > 100000) {
          lr_cli_error("report", "%s wants a positive count, not '%s'", a, v);
          return 2;
        }
        if (a[2] == 't') o.top = (int)n;
        else width = (int)n;
      } else if (!strncmp(a, "--by", 4)) {
        if (lr_peak_parse_by(v, &o.by)) {
          lr_cli_error("report", "--by wants stack, function, module, file or line, not '%s'", v);
          return 2;
        }
      } else if (!strncmp(a, "--at", 4)) {
        o.at = v;
      } else {
        uint64_t b;
        if (lr_parse_bytes(v, &b) || b > INT64_MAX) {
          lr_cli_error("report", "--min-size wants a size like 4096 or 64k, not '%s'", v);
          return 2;
        }
        o.min_size = (int64_t)b;
      }
      continue;
    }
    if (path) {
      lr_cli_error("report", "one trace at a time ('%s' and '%s')", path, a);
      return 2;
    }
    path = a;
  }
  if (!path) {
    usage(stderr);
    return 2;
  }
  o.timeline_width = width;
  LrErr err = {{0}};
  LrTrace *t = lr_import_open(path, NULL, &err);
  if (!t) {
    lr_cli_error("report", "%s", err.msg);
    return 1;
  }
  int sel = lr_cli_select("report", t, sel_pid, sel_proc);
  if (sel) {
    lr_trace_close(t);
    return sel;
  }
  const char *tp = lr_trace_path(t);
  if (!lr_trace_complete(t))
    fprintf(json ? stderr : stdout,
            "note: %s is unfinished (its process or import stopped early); `lowram recover %s`"
            " completes it. Reporting what it holds.\n", lr_cli_esc(tp), lr_cli_esc(tp));
  LrReport *r = NULL;
  if (lr_report_build(t, &o, &r, &err)) {
    lr_cli_trace_error("report", tp, err.msg);
    lr_trace_close(t);
    return 1;
  }
  if (json) print_json(tp, r, &o);
  else print_text(t, tp, r, &o);
  lr_report_free(r);
  lr_trace_close(t);
  return fflush(stdout) == 0 ? 0 : 1;
}
