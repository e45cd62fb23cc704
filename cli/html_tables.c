/*
** html_tables.c: the summary and the tables of `lowram html`: the same
** sections and numbers as the text report (cli/report.c), as HTML. Every
** name from the trace goes through lr_html_text (html.h).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "lowram/units.h"

static char bb[16][32];
static unsigned bi;
static const char *B(int64_t v) { return lr_fmt_bytes(bb[bi++ % 16], 32, v); }
static const char *T(int64_t v) { return lr_fmt_ns(bb[bi++ % 16], 32, v); }

static const char *P(int64_t part, int64_t whole) {
  char *b = bb[bi++ % 16];
  if (whole <= 0) snprintf(b, 32, "-");
  else snprintf(b, 32, "%.1f%%", 100.0 * (double)part / (double)whole);
  return b;
}

static const char *base(const char *p) {
  const char *s = p ? strrchr(p, '/') : NULL;
  return s ? s + 1 : p ? p : "?";
}

/* "function" then, smaller, "file:line (module)" */
static void frame(FILE *f, const LrFrame *fr, const char *lead) {
  char name[512];
  lr_peak_frame_name(fr, name, sizeof name);
  fputs(lead, f);
  lr_html_text(f, name);
  if (fr->file) {
    fputs(" <span class=\"loc\">", f);
    lr_html_text(f, base(fr->file));
    fprintf(f, ":%lld</span>", (long long)fr->line);
  }
  if (fr->module) {
    fputs(" (", f);
    lr_html_text(f, base(fr->module));
    fputs(")", f);
  }
}

/* The site frame and up to `callers` callers, in one table cell. */
static void stack_cell(FILE *f, const LrStack *s, int callers) {
  fputs("<td class=\"s\">", f);
  if (!s || s->nframes == 0) {
    fputs(s && s->id >= 0 ? "[empty stack]" : "[no stack]", f);
  } else {
    frame(f, &s->frames[s->site], "");
    for (size_t i = s->site + 1; i < s->nframes && (int)(i - s->site) <= callers; i++) {
      fputs("<small>", f);
      frame(f, &s->frames[i], "&larr; ");
      fputs("</small>", f);
    }
  }
  fputs("</td>", f);
}

static void card(FILE *f, const char *value, const char *what) {
  fprintf(f, "<div class=\"card\"><b>%s</b><span>%s</span></div>\n", value, what);
}

static void moment_where(FILE *f, const LrMoment *m) {
  if (!m->marker[0]) {
    fputs("before any marker", f);
    return;
  }
  fputs("in &quot;", f);
  lr_html_text(f, m->marker);
  if (m->marker_nth > 1) fprintf(f, "#%lld", (long long)m->marker_nth);
  fprintf(f, "&quot; (%s after it)", T(m->ns - m->marker_ns));
}

void lr_html_summary(FILE *f, const LrReport *r) {
  const LrMoment *p = &r->peak;
  int64_t live = p->live.heap + p->live.anon;
  char buf[128];
  fputs("<section id=\"summary\"><div class=\"cards\">\n", f);
  card(f, B(live), "peak live heap + anon");
  snprintf(buf, sizeof buf, "time of the peak (seq %lld)", (long long)p->seq);
  card(f, T(p->ns), buf);
  card(f, B(r->heap_peak), "heap-only peak (massif's)");
  card(f, B(r->file_peak), "file mappings, highest");
  if (r->rss_max.found) card(f, B(r->rss_max.rss), "highest RSS sample");
  card(f, T(r->run.duration_ns), "run time");
  fprintf(f, "</div>\n<ul class=\"notes\">\n<li>Peak %s = %lld bytes (heap %s + anon mmap %s) ",
          B(live), (long long)live, B(p->live.heap), B(p->live.anon));
  moment_where(f, p);
  fprintf(f, "; file-backed mappings live then: %s (not in the peak).</li>\n", B(p->live.file));
  const LrRss *s = &r->rss_at;
  if (s->found) {
    int64_t away = s->ns - p->ns, gap = s->anon - live;
    fprintf(f, "<li>RSS sample nearest the peak (%s %s): RSS %s = anon %s + file %s + shmem %s."
            " RssAnon is %s %s live heap+anon: %s.</li>\n",
            T(away < 0 ? -away : away), away < 0 ? "before" : "after", B(s->rss), B(s->anon),
            B(s->file), B(s->shmem), B(gap < 0 ? -gap : gap), gap < 0 ? "below" : "above",
            gap < 0 ? "allocated but never-touched pages are not resident"
                    : "allocator overhead, freed memory the allocator kept, untraced memory");
  } else {
    fputs("<li>RSS: no samples in this trace.</li>\n", f);
  }
  if (r->run.cut_short)
    fputs("<li>The recording was cut short; the numbers cover the events written until "
          "then.</li>\n", f);
  fputs("</ul></section>\n", f);
}

static void groups(FILE *f, const char *id, const LrGroups *g, int top, int64_t whole) {
  fprintf(f, "<table id=\"%s\"><tr><th class=\"n\">bytes</th><th class=\"n\">share</th>"
          "<th class=\"n\">blocks</th><th>stack (site &larr; callers)</th></tr>\n", id);
  int64_t shown = 0, shown_n = 0;
  for (size_t i = 0; i < g->n && (int)i < top; i++) {
    const LrGroup *x = &g->v[i];
    fprintf(f, "<tr><td class=\"n\" title=\"%lld bytes\">%s</td><td class=\"n\">%s</td>"
            "<td class=\"n\">%lld</td>", (long long)x->bytes, B(x->bytes), P(x->bytes, whole),
            (long long)x->count);
    stack_cell(f, x->stack, 2);
    fputs("</tr>\n", f);
    shown += x->bytes;
    shown_n += x->count;
  }
  if (g->n > (size_t)top)
    fprintf(f, "<tr><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%lld</td>"
            "<td>(%zu more stacks)</td></tr>\n", B(g->bytes - shown), P(g->bytes - shown, whole),
            (long long)(g->count - shown_n), g->n - (size_t)top);
  fputs("</table>\n", f);
}

static void sites(FILE *f, const char *id, const char *title, const LrSite *s, size_t n,
                  int temp) {
  if (!n) return;
  fprintf(f, "<h2>%s</h2>\n<table id=\"%s\"><tr><th class=\"n\">%s</th><th class=\"n\">bytes"
          "</th><th class=\"n\">%s</th><th>site &larr; callers</th></tr>\n", title, id,
          temp ? "temporary" : "calls", temp ? "of calls" : "largest");
  for (size_t i = 0; i < n; i++) {
    fprintf(f, "<tr><td class=\"n\">%lld</td><td class=\"n\">%s</td><td class=\"n\">",
            (long long)(temp ? s[i].temp_calls : s[i].calls),
            B(temp ? s[i].temp_bytes : s[i].bytes));
    if (temp) fprintf(f, "%lld</td>", (long long)s[i].calls);
    else fprintf(f, "%s</td>", B(s[i].max_size));
    stack_cell(f, s[i].stack, 2);
    fputs("</tr>\n", f);
  }
  fputs("</table>\n", f);
}

static void phase_name(FILE *f, const LrPhase *p) {
  lr_html_text(f, p->name);
  if (p->nth > 1) fprintf(f, "#%lld", (long long)p->nth);
}

static void phases(FILE *f, const LrReport *r, int top) {
  if (!r->nphases) {
    fputs("<h2>Phases</h2>\n<p class=\"caption\">None: the program set no markers "
          "(lowram_mark(&quot;prefill&quot;) in lowram.h).</p>\n", f);
    return;
  }
  int64_t best = -1;
  for (size_t i = 0; i < r->nphases; i++)
    if (r->phases[i].peak_live > best) best = r->phases[i].peak_live;
  fprintf(f, "<h2>Phases</h2>\n<p class=\"caption\">Marker to marker; the highest peak is "
          "highlighted.%s</p>\n", r->nphases > (size_t)top * 5 ? " The first ones shown." : "");
  fputs("<table id=\"phases\"><tr><th>phase</th><th class=\"n\">start</th><th class=\"n\">"
        "length</th><th class=\"n\">at start</th><th class=\"n\">peak</th><th class=\"n\">"
        "at end</th></tr>\n", f);
  for (size_t i = 0; i < r->nphases && i < (size_t)top * 5; i++) {
    const LrPhase *p = &r->phases[i];
    fprintf(f, "<tr%s><td class=\"s\">", p->peak_live == best ? " class=\"best\"" : "");
    phase_name(f, p);
    fprintf(f, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
            "<td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n", T(p->start_ns),
            T(p->end_ns - p->start_ns), B(p->start_live), B(p->peak_live), B(p->end_live));
  }
  fputs("</table>\n", f);
  for (size_t i = 0; i < r->nphases; i++) {
    const LrPhase *p = &r->phases[i];
    if (!p->has_top || p->peak_live <= 0) continue;
    fputs("<p class=\"caption\">", f);
    phase_name(f, p);
    fprintf(f, ": peak %s at seq %lld (%s), made of:</p>\n", B(p->peak_live),
            (long long)p->peak_seq, T(p->peak_ns));
    LrGroups g = p->top;
    if (g.n > 3) g.n = 3;
    g.bytes = p->top.bytes;
    g.count = p->top.count;
    groups(f, "phase-top", &g, 3, p->peak_live);
  }
}

void lr_html_tables(FILE *f, const LrReport *r, int top) {
  const LrGroups *g = &r->contributors;
  int64_t live = r->peak.live.heap + r->peak.live.anon;
  fprintf(f, "<h2>Live at the peak, by stack</h2>\n<p class=\"caption\">%zu stacks, %lld "
          "blocks, %s</p>\n", g->n, (long long)g->count, B(g->bytes));
  groups(f, "contributors", g, top, live);
  if (r->leaks.n) {
    fprintf(f, "<h2>Leaks</h2>\n<p class=\"caption\">Heap and anonymous blocks live at the end:"
            " %s in %lld blocks.</p>\n", B(r->leaks.bytes), (long long)r->leaks.count);
    groups(f, "leaks", &r->leaks, top, r->leaks.bytes);
  } else {
    fputs("<h2>Leaks</h2>\n<p class=\"caption\">None: every heap block and anonymous mapping "
          "was released.</p>\n", f);
  }
  if (r->temp_calls) {
    char t[160];
    snprintf(t, sizeof t, "Temporaries: %lld blocks, %s", (long long)r->temp_calls,
             B(r->temp_bytes));
    sites(f, "temporaries", t, r->temporaries, r->ntemporaries, 1);
    fputs("<p class=\"caption\">Blocks freed by their thread before it allocated anything "
          "else.</p>\n", f);
  }
  sites(f, "hot-calls", "Hot sites by calls", r->hot_calls, r->nhot_calls, 0);
  sites(f, "hot-bytes", "Hot sites by bytes allocated", r->hot_bytes, r->nhot_bytes, 0);
  if (r->nlargest) {
    fputs("<h2>Largest allocations</h2>\n<table id=\"largest\"><tr><th class=\"n\">size</th>"
          "<th>kind</th><th>region</th><th class=\"n\">at</th><th class=\"n\">freed</th>"
          "<th>site &larr; callers</th></tr>\n", f);
    for (size_t i = 0; i < r->nlargest; i++) {
      const LrBlock *b = &r->largest[i];
      fprintf(f, "<tr><td class=\"n\">%s</td><td>", B(b->size));
      lr_html_text(f, b->kind);
      fputs("</td><td>", f);
      lr_html_text(f, b->region);
      fprintf(f, "</td><td class=\"n\">%s</td><td class=\"n\">", T(b->alloc_ns));
      if (b->free_seq < 0) fputs("never", f);
      else fprintf(f, "seq %lld", (long long)b->free_seq);
      fputs("</td>", f);
      stack_cell(f, b->stack, 1);
      fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
  }
  phases(f, r, top);
  if (r->nmapped) {
    fputs("<h2>Mapped files</h2>\n<p class=\"caption\">", f);
    if (r->rss_file_baseline < 0) fputs("No RSS samples: residency unknown, shown as 0.", f);
    else
      fprintf(f, "Resident: an estimate from RssFile above %s, %s.", B(r->rss_file_baseline),
              r->rss_file_baseline_lowest ? "its lowest value in the run"
                                          : "its value before the first mapping");
    fputs("</p>\n<table id=\"mapped\"><tr><th class=\"n\">size</th><th class=\"n\">resident</th>"
          "<th class=\"n\">at end</th><th class=\"n\">maps</th><th>file</th></tr>\n", f);
    for (size_t i = 0; i < r->nmapped; i++) {
      const LrMapped *m = &r->mapped[i];
      fprintf(f, "<tr><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
              "<td class=\"n\">%lld</td><td class=\"s\">", B(m->max_live), B(m->resident),
              B(m->live_at_end), (long long)m->mappings);
      lr_html_text(f, m->file);
      fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
  }
  const LrRun *u = &r->run;
  fputs("<h2>Run</h2>\n<table id=\"run\"><tr><th>command</th><td class=\"s\">", f);
  lr_html_text(f, u->argv[0] ? u->argv : "?");
  fprintf(f, "</td></tr>\n<tr><th>process</th><td>pid %lld, %lld thread%s, ran %s, ended: ",
          (long long)u->pid, (long long)u->threads, u->threads == 1 ? "" : "s",
          T(u->duration_ns));
  lr_html_text(f, u->end_reason[0] ? u->end_reason : "?");
  if (u->end_code >= 0) fprintf(f, " (%lld)", (long long)u->end_code);
  fprintf(f, "</td></tr>\n<tr><th>events</th><td>%lld events, %lld allocations, %lld frees, "
          "%lld markers, %lld RSS samples</td></tr>\n", (long long)u->events,
          (long long)u->allocs, (long long)u->frees, (long long)u->markers,
          (long long)u->samples);
  fputs("<tr><th>started</th><td>", f);
  lr_html_text(f, u->start_time[0] ? u->start_time : "?");
  fputs("</td></tr>\n</table>\n", f);
}
