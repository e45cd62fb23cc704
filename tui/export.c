/*
** export.c: `e`, the current view as CSV. Contributors and leaks go
** through the library's own writer (lr_export_groups, what `lowram export`
** writes); the other views are written row by row with the library's cell
** quoting (lr_csv_text), in the order and with the filter on screen.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lowram/export.h"
#include "model.h"

static void cell_int(FILE *f, int64_t v, int last) {
  fprintf(f, "%lld%s", (long long)v, last ? "\r\n" : ",");
}

static void cell_stack(FILE *f, const LrStack *s) {
  char *path = lr_peak_stack_path(s);
  lr_csv_text(f, path ? path : "");
  free(path);
}

/* The groups of a view that pass the filter, in the order on screen. */
static int write_groups(LtModel *m, FILE *f) {
  LtPane *p = lt_model_pane(m);
  const LrGroups *src = m->view == LT_OVERVIEW ? &m->groups : &m->leaks;
  LrGroups g = {0};
  g.v = calloc(src->n ? src->n : 1, sizeof *g.v);
  if (!g.v) return -1;
  if (p->shape == LT_FLAT) {
    for (size_t i = 0; i < p->nrows; i++) g.v[g.n++] = *(const LrGroup *)p->rows[i].src;
  } else {
    /* a tree is a way of looking: its CSV is the groups under the filter */
    for (size_t i = 0; i < src->n; i++)
      if (lt_row_matches(m, src->v[i].key, src->v[i].stack)) g.v[g.n++] = src->v[i];
  }
  for (size_t i = 0; i < g.n; i++) {
    g.bytes = lt_sat_add(g.bytes, g.v[i].bytes);
    g.count = lt_sat_add(g.count, g.v[i].count);
  }
  int64_t whole =
      m->view == LT_OVERVIEW ? lt_sat_add(m->at.live.heap, m->at.live.anon) : m->leaks.bytes;
  int rc = lr_export_groups(f, &g, 1, whole);
  free(g.v); /* the keys belong to src */
  return rc;
}

int lt_model_write_csv(LtModel *m, FILE *f) {
  if (m->view == LT_OVERVIEW || m->view == LT_LEAKS) return write_groups(m, f);
  LtPane *p = lt_model_pane(m);
  if (m->view == LT_TEMPS)
    fputs("site,temporary_blocks,temporary_bytes,calls,bytes_allocated,stack\r\n", f);
  else if (m->view == LT_LARGEST)
    fputs("site,size,kind,region,alloc_seq,alloc_ns,free_seq,stack\r\n", f);
  else if (m->view == LT_PHASES)
    fputs("phase,nth,start_seq,end_seq,start_ns,end_ns,start_live,peak_live,peak_seq,"
          "end_live\r\n", f);
  else if (m->view == LT_PROCS)
    fputs("id,pid,ppid,exec_index,parent_id,depth,command,end_reason,end_code,start_ns,end_ns,"
          "peak,peak_heap,peak_rss,events\r\n", f);
  else {
    for (int i = 0; m->sg && i < lr_suggest_nparams(m->sg); i++) {
      lr_csv_text(f, lr_suggest_param_name(m->sg, i));
      fputc(',', f);
    }
    fputs("heap,rss,phase,extrapolated\r\n", f);
  }
  for (size_t i = 0; i < p->nrows; i++) {
    const LtRow *r = &p->rows[i];
    if (m->view == LT_TEMPS) {
      const LrSite *s = r->src;
      lr_csv_text(f, r->label);
      fputc(',', f);
      cell_int(f, s->temp_calls, 0);
      cell_int(f, s->temp_bytes, 0);
      cell_int(f, s->calls, 0);
      cell_int(f, s->bytes, 0);
      cell_stack(f, s->stack);
      fputs("\r\n", f);
    } else if (m->view == LT_LARGEST) {
      const LrBlock *b = r->src;
      lr_csv_text(f, r->label);
      fputc(',', f);
      cell_int(f, b->size, 0);
      lr_csv_text(f, b->kind);
      fputc(',', f);
      lr_csv_text(f, b->region);
      fputc(',', f);
      cell_int(f, b->alloc_seq, 0);
      cell_int(f, b->alloc_ns, 0);
      cell_int(f, b->free_seq, 0);
      cell_stack(f, b->stack);
      fputs("\r\n", f);
    } else if (m->view == LT_PHASES) {
      const LrPhase *ph = r->src;
      lr_csv_text(f, ph->name);
      fputc(',', f);
      int64_t v[] = {ph->nth, ph->start_seq, ph->end_seq, ph->start_ns, ph->end_ns,
                     ph->start_live, ph->peak_live, ph->peak_seq, ph->end_live};
      for (int k = 0; k < 9; k++) cell_int(f, v[k], k == 8);
    } else if (m->view == LT_PROCS) {
      const LrProcess *x = r->src;
      int64_t a[] = {x->id, x->pid, x->ppid, x->exec_index, x->parent_id, r->depth};
      for (int k = 0; k < 6; k++) cell_int(f, a[k], 0);
      lr_csv_text(f, r->label);
      fputc(',', f);
      lr_csv_text(f, x->end_reason);
      fputc(',', f);
      if (x->end_code != INT64_MIN) cell_int(f, x->end_code, 0);
      else fputc(',', f);
      int64_t b[] = {x->start_ns, x->end_ns, x->peak, x->peak_heap, x->peak_rss, x->events};
      for (int k = 0; k < 6; k++) cell_int(f, b[k], k == 5);
    } else {
      const LtConfig *c = r->src;
      for (int k = 0; k < lr_suggest_nparams(m->sg); k++) fprintf(f, "%.17g,", c->x[k]);
      fprintf(f, "%.0f,%.0f,", c->peak.heap, c->peak.rss);
      lr_csv_text(f, lr_suggest_phase_name(m->sg, c->peak.phase));
      fprintf(f, ",%d\r\n", c->peak.extrapolated);
    }
  }
  return 0;
}

int lt_model_export(LtModel *m, const char *dir, char *out, size_t len) {
  int fd = -1;
  /* the next free name: O_EXCL, so an existing file is never touched */
  for (int tries = 0; tries < 10000 && fd < 0; tries++) {
    m->export_n++;
    snprintf(out, len, "%s/lowram-%s-%d.csv", dir, lt_view_name(m->view), m->export_n);
    fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    snprintf(m->status, sizeof m->status, "export failed: %s: %s", out, strerror(errno));
    return -1;
  }
  FILE *f = fdopen(fd, "w");
  if (!f) {
    close(fd);
    snprintf(m->status, sizeof m->status, "export failed: %s", strerror(errno));
    return -1;
  }
  int rc = lt_model_write_csv(m, f);
  if (fflush(f) || ferror(f)) rc = -1;
  int err = errno;
  if (fclose(f)) rc = -1;
  char e[400];
  lt_escape(out, e, sizeof e, m->ascii);
  if (rc) {
    snprintf(m->status, sizeof m->status, "export failed: %s: %s", e, strerror(err));
    return -1;
  }
  snprintf(m->status, sizeof m->status, "wrote %s (%zu rows)", e, lt_model_pane(m)->nrows);
  return 0;
}
