/*
** test_model.c: the TUI's model (tui/model.h) without a terminal, on the
** report tests' fixture trace (tests/report/fixture.c: peak FX_PEAK at
** FX_PEAK_SEQ; at the peak, live by stack: LOAD 66536 in 2 blocks, KV 3000,
** TMP 250 in 2 blocks, TOK 100; markers load@1, decode@5, decode@18; the
** last event at seq 30; leaks 1000 + 40). Keys go through lt_model_key as
** a user's would.
*/
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "lrtest.h"
#include "model.h"
#include "tbuild.h"

static char *dir;
static char fx_path[512];

static int open_model(LtModel *m, const char *path) {
  LrTrace *t = tb_open_ro(path);
  if (!t) return -1;
  LrErr err = {{0}};
  if (lt_model_open(m, t, NULL, &err)) {
    fprintf(stderr, "lt_model_open: %s\n", err.msg);
    lt_model_free(m);
    return -1;
  }
  lt_model_set_width(m, 80);
  lt_model_set_page(m, 10);
  return 0;
}

static void keys(LtModel *m, const char *s) {
  for (; *s; s++) lt_model_key(m, (unsigned char)*s);
}

/* The row whose label starts with `prefix`, or NULL. */
static const LtRow *row_named(LtPane *p, const char *prefix) {
  for (size_t i = 0; i < p->nrows; i++)
    if (!strncmp(p->rows[i].label, prefix, strlen(prefix))) return &p->rows[i];
  return NULL;
}

static void test_escape(void) {
  char b[128];
  /* ESC, BEL, DEL, a lone 0xff, a valid é, a cut 3-byte sequence */
  const char *hostile = "a\x1b[31mb\x07\x7f\xff\xc3\xa9\xe2\x80";
  CU_ASSERT_STRING_EQUAL(lt_escape(hostile, b, sizeof b, 0),
                         "a\\x1b[31mb\\x07\\x7f\\xff\xc3\xa9\\xe2\\x80");
  CU_ASSERT_STRING_EQUAL(lt_escape(hostile, b, sizeof b, 1),
                         "a\\x1b[31mb\\x07\\x7f\\xff\\xc3\\xa9\\xe2\\x80");
  /* C1 controls, overlong NUL, a surrogate */
  CU_ASSERT_STRING_EQUAL(lt_escape("\xc2\x9b" "x\xc0\x80\xed\xa0\x80", b, sizeof b, 0),
                         "\\xc2\\x9bx\\xc0\\x80\\xed\\xa0\\x80");
  CU_ASSERT_STRING_EQUAL(lt_escape(NULL, b, sizeof b, 0), "");
  /* cut at a whole escape: never half of "\x1b" */
  CU_ASSERT_STRING_EQUAL(lt_escape("ab\x1b", b, 5, 0), "ab");
  CU_ASSERT_STRING_EQUAL(lt_escape("\xc3\xa9\xc3\xa9", b, 4, 0), "\xc3\xa9");
}

/* A trace whose names try to drive the terminal: nothing below 0x20
** reaches the rows or the detail. */
static void test_hostile_trace(void) {
  char path[600];
  snprintf(path, sizeof path, "%s/hostile.db", dir);
  sqlite3 *w = tb_create(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(w);
  tb_frame(w, 1, "/bin/\x1b]0;owned\x07", "evil\x1b[2J\xff", "e\nvil.c", 3);
  tb_frame(w, 2, "/bin/app", "main", "main.c", 1);
  tb_stack(w, 1, (int64_t)1, (int64_t)2, (int64_t)0);
  tb_marker(w, 1, "go\x1b[H");
  tb_alloc(w, "heap", 100, 2, -1, 1, 1);
  CU_ASSERT_EQUAL_FATAL(tb_finish(w, path, 1), 0);
  LtModel m;
  CU_ASSERT_EQUAL_FATAL(open_model(&m, path), 0);
  char lines[32][LT_LINE];
  for (int shape = 0; shape < LT_NSHAPES; shape++) {
    LtPane *p = lt_model_pane(&m);
    CU_ASSERT_FATAL(p->nrows >= 1);
    size_t n = lt_model_detail(&m, lines, 32);
    CU_ASSERT(n >= 2);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
      for (const unsigned char *c = (const unsigned char *)lines[i]; *c; c++)
        CU_ASSERT(*c >= 0x20 && *c != 0x7f && *c < 0x80);
      if (strstr(lines[i], "evil\\x1b[2J\\xff")) found = 1;
    }
    CU_ASSERT(found);
    for (size_t i = 0; i < p->nrows; i++) {
      char e[LT_LINE];
      lt_escape(p->rows[i].label, e, sizeof e, 0);
      CU_ASSERT_PTR_NULL(strchr(e, '\x1b'));
    }
    lt_model_key(&m, 't');
  }
  /* the marker name in the status line after `m` */
  lt_model_cursor_seq(&m, 0);
  lt_model_key(&m, 'm');
  CU_ASSERT_PTR_NOT_NULL(strstr(m.status, "go\\x1b[H"));
  CU_ASSERT_PTR_NULL(strchr(m.status, '\x1b'));
  lt_model_free(&m);
}

static void test_rows_sort_group(void) {
  LtModel m;
  CU_ASSERT_EQUAL_FATAL(open_model(&m, fx_path), 0);
  CU_ASSERT_EQUAL(m.r->peak.live.heap + m.r->peak.live.anon, FX_PEAK);
  CU_ASSERT_EQUAL(m.at.seq, FX_PEAK_SEQ);
  CU_ASSERT_EQUAL(m.end_seq, 30);
  LtPane *p = lt_model_pane(&m);
  CU_ASSERT_EQUAL(p->total, FX_PEAK);
  CU_ASSERT_EQUAL_FATAL(p->nrows, 4);
  /* by bytes */
  CU_ASSERT_STRING_EQUAL(p->rows[0].label, "load_weights model.c:10 <- main");
  CU_ASSERT_EQUAL(p->rows[0].bytes, 66536);
  CU_ASSERT_EQUAL(p->rows[0].count, 2);
  CU_ASSERT_EQUAL(p->rows[1].bytes, 3000);
  CU_ASSERT_EQUAL(p->rows[2].bytes, 250);
  CU_ASSERT_EQUAL(p->rows[3].bytes, 100);
  /* the site skips the libc wrapper */
  CU_ASSERT_STRING_EQUAL(p->rows[3].label, "tokenize tok.c:5 <- main");
  /* by count: LOAD and TMP have 2 blocks, ties keep the byte order */
  keys(&m, "s");
  p = lt_model_pane(&m);
  CU_ASSERT_EQUAL(p->sort, LT_SORT_COUNT);
  CU_ASSERT_EQUAL(p->rows[0].bytes, 66536);
  CU_ASSERT_EQUAL(p->rows[1].bytes, 250);
  CU_ASSERT_EQUAL(p->rows[2].bytes, 3000);
  CU_ASSERT_EQUAL(p->rows[3].bytes, 100);
  keys(&m, "s");
  p = lt_model_pane(&m);
  CU_ASSERT_STRING_EQUAL(p->rows[0].label, "kv_alloc kv.c:20 <- decode <- main");
  CU_ASSERT_STRING_EQUAL(p->rows[1].label, "load_weights model.c:10 <- main");
  CU_ASSERT_STRING_EQUAL(p->rows[2].label, "tmp_buf kv.c:40 <- decode <- main");
  CU_ASSERT_STRING_EQUAL(p->rows[3].label, "tokenize tok.c:5 <- main");
  keys(&m, "ss"); /* order, then back to bytes */
  CU_ASSERT_EQUAL(lt_model_pane(&m)->sort, LT_SORT_BYTES);

  /* grouping: function, module, file, then stack again */
  keys(&m, "g");
  p = lt_model_pane(&m);
  CU_ASSERT_EQUAL(m.by, LR_BY_FUNCTION);
  CU_ASSERT_EQUAL_FATAL(p->nrows, 4);
  CU_ASSERT_STRING_EQUAL(p->rows[0].label, "load_weights");
  CU_ASSERT_STRING_EQUAL(p->rows[1].label, "kv_alloc");
  keys(&m, "g");
  p = lt_model_pane(&m);
  CU_ASSERT_EQUAL(m.by, LR_BY_MODULE);
  CU_ASSERT_EQUAL_FATAL(p->nrows, 2);
  CU_ASSERT_STRING_EQUAL(p->rows[0].label, "/opt/app/bin/app");
  CU_ASSERT_EQUAL(p->rows[0].bytes, FX_PEAK - 100);
  CU_ASSERT_STRING_EQUAL(p->rows[1].label, "/opt/app/lib/libtok.so");
  keys(&m, "g");
  p = lt_model_pane(&m);
  CU_ASSERT_EQUAL(m.by, LR_BY_FILE);
  CU_ASSERT_EQUAL_FATAL(p->nrows, 3);
  CU_ASSERT_STRING_EQUAL(p->rows[0].label, "model.c");
  CU_ASSERT_STRING_EQUAL(p->rows[1].label, "kv.c");
  CU_ASSERT_EQUAL(p->rows[1].bytes, 3250);
  keys(&m, "g");
  CU_ASSERT_EQUAL(m.by, LR_BY_STACK);
  CU_ASSERT_EQUAL(lt_model_pane(&m)->nrows, 4);

  /* selection and the detail: the whole stack, site marked */
  lt_model_key(&m, LT_KEY_DOWN);
  p = lt_model_pane(&m);
  CU_ASSERT_EQUAL(p->sel, 1);
  char lines[16][LT_LINE];
  size_t n = lt_model_detail(&m, lines, 16);
  CU_ASSERT_EQUAL_FATAL(n, 4);
  CU_ASSERT_PTR_NOT_NULL(strstr(lines[1], "> #0  kv_alloc kv.c:20 (app)"));
  CU_ASSERT_PTR_NOT_NULL(strstr(lines[2], "decode decode.c:30 (app)"));
  CU_ASSERT_PTR_NOT_NULL(strstr(lines[3], "main main.c:50 (app)"));
  lt_model_free(&m);
}

static int64_t kids_sum(LtPane *p, size_t i) {
  int64_t s = 0;
  for (size_t k = i + 1; k < p->nrows && p->rows[k].depth > p->rows[i].depth; k++)
    if (p->rows[k].depth == p->rows[i].depth + 1) s += p->rows[k].bytes;
  return s;
}

static void test_tree(void) {
  LtModel m;
  CU_ASSERT_EQUAL_FATAL(open_model(&m, fx_path), 0);
  keys(&m, "t");
  LtPane *p = lt_model_pane(&m);
  CU_ASSERT_EQUAL(p->shape, LT_TOPDOWN);
  /* main has three callees: closed until asked */
  CU_ASSERT_EQUAL_FATAL(p->nrows, 1);
  CU_ASSERT_STRING_EQUAL(p->rows[0].label, "main");
  CU_ASSERT_EQUAL(p->rows[0].bytes, FX_PEAK);
  CU_ASSERT(p->rows[0].kids && !p->rows[0].open);
  lt_model_key(&m, LT_KEY_RIGHT);
  p = lt_model_pane(&m);
  /* main, load_weights, decode, tokenize and its only callee strdup */
  CU_ASSERT_EQUAL_FATAL(p->nrows, 5);
  CU_ASSERT_STRING_EQUAL(p->rows[1].label, "load_weights");
  CU_ASSERT_EQUAL(p->rows[1].bytes, 66536);
  CU_ASSERT_STRING_EQUAL(p->rows[2].label, "decode");
  CU_ASSERT_EQUAL(p->rows[2].bytes, 3250);
  CU_ASSERT_STRING_EQUAL(p->rows[3].label, "tokenize");
  CU_ASSERT_STRING_EQUAL(p->rows[4].label, "strdup");
  CU_ASSERT_EQUAL(p->rows[4].depth, 2);
  CU_ASSERT_EQUAL(kids_sum(p, 0), p->rows[0].bytes);
  /* open decode: kv_alloc 3000 + tmp_buf 250 */
  lt_model_key(&m, LT_KEY_DOWN);
  lt_model_key(&m, LT_KEY_DOWN);
  lt_model_key(&m, LT_KEY_ENTER);
  p = lt_model_pane(&m);
  CU_ASSERT_EQUAL_FATAL(p->nrows, 7);
  CU_ASSERT_STRING_EQUAL(p->rows[3].label, "kv_alloc");
  CU_ASSERT_EQUAL(p->rows[3].bytes, 3000);
  CU_ASSERT_EQUAL(p->rows[4].bytes, 250);
  for (size_t i = 0; i < p->nrows; i++)
    if (p->rows[i].open) CU_ASSERT_EQUAL(kids_sum(p, i), p->rows[i].bytes);
  /* the detail marks the node's frame in its heaviest stack */
  lt_model_key(&m, LT_KEY_DOWN);
  char lines[16][LT_LINE];
  size_t n = lt_model_detail(&m, lines, 16);
  CU_ASSERT_FATAL(n >= 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(lines[0], "kv_alloc: 2.93 KiB in 1 blocks"));
  CU_ASSERT_PTR_NOT_NULL(strstr(lines[1], "> #0  kv_alloc"));
  /* left on a leaf goes to its parent, left again closes it */
  lt_model_key(&m, LT_KEY_LEFT);
  CU_ASSERT_EQUAL(lt_model_pane(&m)->sel, 2);
  lt_model_key(&m, LT_KEY_LEFT);
  CU_ASSERT_EQUAL(lt_model_pane(&m)->nrows, 5);
  /* expansion survives a cursor move (the tree is rebuilt) */
  lt_model_key(&m, ']');
  lt_model_key(&m, 'p');
  CU_ASSERT_EQUAL(lt_model_pane(&m)->nrows, 5);
  /* bottom-up: the allocating frames are the roots */
  keys(&m, "t");
  p = lt_model_pane(&m);
  CU_ASSERT_EQUAL(p->shape, LT_BOTTOMUP);
  int64_t roots = 0;
  for (size_t i = 0; i < p->nrows; i++)
    if (p->rows[i].depth == 0) roots += p->rows[i].bytes;
  CU_ASSERT_EQUAL(roots, FX_PEAK);
  CU_ASSERT_STRING_EQUAL(p->rows[0].label, "load_weights");
  CU_ASSERT_PTR_NOT_NULL(row_named(p, "strdup"));
  keys(&m, "t");
  CU_ASSERT_EQUAL(lt_model_pane(&m)->shape, LT_FLAT);
  lt_model_free(&m);
}

static void test_cursor(void) {
  LtModel m;
  CU_ASSERT_EQUAL_FATAL(open_model(&m, fx_path), 0);
  CU_ASSERT_EQUAL(m.nmarkers, 3);
  CU_ASSERT_EQUAL(lt_model_cursor_seq(&m, 2), 0);
  lt_model_key(&m, 'm');
  CU_ASSERT_EQUAL(m.at.seq, 5);
  CU_ASSERT_STRING_EQUAL(m.at.marker, "decode");
  CU_ASSERT_EQUAL(m.groups.bytes, 66536);
  lt_model_key(&m, 'm');
  CU_ASSERT_EQUAL(m.at.seq, 18);
  CU_ASSERT_EQUAL(m.at.marker_nth, 2);
  CU_ASSERT_EQUAL(m.groups.bytes, 66676);
  lt_model_key(&m, 'm'); /* no later marker: stays */
  CU_ASSERT_EQUAL(m.at.seq, 18);
  CU_ASSERT_PTR_NOT_NULL(strstr(m.status, "no later marker"));
  lt_model_key(&m, 'M');
  CU_ASSERT_EQUAL(m.at.seq, 5);
  lt_model_key(&m, 'M');
  CU_ASSERT_EQUAL(m.at.seq, 1);
  lt_model_key(&m, 'p');
  CU_ASSERT_EQUAL(m.at.seq, FX_PEAK_SEQ);
  CU_ASSERT(m.at.is_peak);
  CU_ASSERT(m.ticks[m.tick].has_peak);
  CU_ASSERT_EQUAL(m.groups.bytes, FX_PEAK);
  CU_ASSERT_EQUAL(lt_model_pane(&m)->total, FX_PEAK);
  /* home and end; right never goes back in time */
  lt_model_key(&m, LT_KEY_HOME);
  CU_ASSERT_EQUAL(m.tick, 0);
  int64_t last = m.at.seq;
  for (size_t i = 1; i < m.nticks; i++) {
    lt_model_key(&m, LT_KEY_RIGHT);
    CU_ASSERT_EQUAL(m.tick, i);
    CU_ASSERT(m.at.seq >= last);
    last = m.at.seq;
  }
  lt_model_key(&m, LT_KEY_RIGHT);
  CU_ASSERT_EQUAL(m.tick, m.nticks - 1);
  lt_model_key(&m, LT_KEY_END);
  CU_ASSERT_EQUAL(m.at.seq, 30);
  CU_ASSERT_EQUAL(m.groups.bytes, 1040);
  /* a resize keeps the moment */
  lt_model_key(&m, 'p');
  lt_model_set_width(&m, 37);
  CU_ASSERT_EQUAL(m.nticks, 37);
  CU_ASSERT(m.ticks[m.tick].has_peak);
  CU_ASSERT_EQUAL(m.at.seq, FX_PEAK_SEQ);
  lt_model_free(&m);
}

static void test_filter_and_views(void) {
  LtModel m;
  CU_ASSERT_EQUAL_FATAL(open_model(&m, fx_path), 0);
  keys(&m, "/tok");
  CU_ASSERT(m.editing);
  CU_ASSERT_EQUAL(lt_model_pane(&m)->nrows, 1); /* follows as one types */
  lt_model_key(&m, LT_KEY_ENTER);
  CU_ASSERT(!m.editing);
  CU_ASSERT_STRING_EQUAL(m.filter, "tok");
  LtPane *p = lt_model_pane(&m);
  CU_ASSERT_EQUAL_FATAL(p->nrows, 1);
  CU_ASSERT_EQUAL(p->rows[0].bytes, 100);
  /* a module matches too (strdup's libc) */
  lt_model_set_filter(&m, "LIBC");
  CU_ASSERT_EQUAL(lt_model_pane(&m)->nrows, 1);
  lt_model_set_filter(&m, "decode");
  CU_ASSERT_EQUAL(lt_model_pane(&m)->nrows, 2);
  keys(&m, "t");
  lt_model_key(&m, LT_KEY_RIGHT);
  p = lt_model_pane(&m);
  CU_ASSERT_EQUAL(p->rows[0].bytes, 3250); /* main holds only what matches */
  keys(&m, "tt");
  lt_model_set_filter(&m, "zzz");
  CU_ASSERT_EQUAL(lt_model_pane(&m)->nrows, 0);
  lt_model_key(&m, LT_KEY_ESC);
  CU_ASSERT_EQUAL(lt_model_pane(&m)->nrows, 4);

  /* the other views */
  keys(&m, "2");
  p = lt_model_pane(&m);
  CU_ASSERT_EQUAL(m.view, LT_LEAKS);
  CU_ASSERT_EQUAL_FATAL(p->nrows, 2);
  CU_ASSERT_EQUAL(p->rows[0].bytes, 1000);
  CU_ASSERT_EQUAL(p->rows[1].bytes, 40);
  CU_ASSERT_EQUAL(p->total, m.r->leaks.bytes);
  keys(&m, "3");
  p = lt_model_pane(&m);
  CU_ASSERT_EQUAL_FATAL(p->nrows, 3);
  CU_ASSERT_EQUAL(p->rows[0].bytes, 500);
  CU_ASSERT_EQUAL(p->rows[0].v[0], 3); /* KV: 3 calls */
  keys(&m, "4");
  p = lt_model_pane(&m);
  CU_ASSERT_EQUAL_FATAL(p->nrows, 10);
  CU_ASSERT_EQUAL(p->rows[0].bytes, FX_FILE_SIZE);
  CU_ASSERT_EQUAL(p->rows[9].bytes, 10);
  keys(&m, "5");
  p = lt_model_pane(&m);
  CU_ASSERT_EQUAL_FATAL(p->nrows, 3);
  CU_ASSERT_STRING_EQUAL(p->rows[0].label, "load");
  CU_ASSERT_STRING_EQUAL(p->rows[2].label, "decode#2");
  CU_ASSERT_EQUAL(p->rows[1].bytes, FX_PEAK);
  keys(&m, "s"); /* phases start in time order; s goes to order -> bytes */
  CU_ASSERT_STRING_EQUAL(lt_model_pane(&m)->rows[0].label, "decode");
  keys(&m, "6");
  char lines[8][LT_LINE];
  CU_ASSERT(lt_model_detail(&m, lines, 8) >= 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(lines[0], "SWEEP_DIR"));
  CU_ASSERT_EQUAL(lt_model_key(&m, 'q'), LT_QUIT);
  lt_model_free(&m);
}

/* Splits one CRLF line of simple CSV (quoted cells allowed) into cells. */
static int csv_cells(char *line, char **cells, int max) {
  int n = 0;
  char *p = line;
  while (*p && n < max) {
    if (*p == '"') {
      char *o = ++p;
      cells[n++] = o;
      while (*p && !(*p == '"' && p[1] != '"')) {
        if (*p == '"') p++;
        *o++ = *p++;
      }
      if (*p) p++;
      *o = 0;
    } else {
      cells[n++] = p;
      p += strcspn(p, ",");
    }
    if (*p == ',') *p++ = 0;
  }
  return n;
}

static void test_export(void) {
  LtModel m;
  CU_ASSERT_EQUAL_FATAL(open_model(&m, fx_path), 0);
  char out[600], out2[600];
  CU_ASSERT_EQUAL_FATAL(lt_model_export(&m, dir, out, sizeof out), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "/lowram-overview-1.csv"));
  CU_ASSERT_PTR_NOT_NULL(strstr(m.status, "lowram-overview-1.csv"));
  /* never over an existing file */
  lrt_write_file(lrt_path_in(dir, "lowram-overview-2.csv"), "mine", 4);
  CU_ASSERT_EQUAL_FATAL(lt_model_export(&m, dir, out2, sizeof out2), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out2, "/lowram-overview-3.csv"));
  size_t len;
  char *mine = lrt_read_file(lrt_path_in(dir, "lowram-overview-2.csv"), &len);
  CU_ASSERT(mine && len == 4 && !memcmp(mine, "mine", 4));
  free(mine);

  char *csv = lrt_read_file(out, &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
  int rows = 0;
  int64_t bytes = 0, blocks = 0;
  char *save = NULL;
  for (char *line = strtok_r(csv, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
    char *c[16];
    int n = csv_cells(line, c, 16);
    CU_ASSERT_EQUAL(n, 10);
    if (rows++ == 0) {
      CU_ASSERT_STRING_EQUAL(c[0], "key");
      CU_ASSERT_STRING_EQUAL(c[1], "bytes");
      CU_ASSERT_STRING_EQUAL(c[3], "blocks");
      continue;
    }
    bytes += atoll(c[1]);
    blocks += atoll(c[3]);
  }
  CU_ASSERT_EQUAL(rows, 5);
  CU_ASSERT_EQUAL(bytes, FX_PEAK);
  CU_ASSERT_EQUAL(blocks, 6);
  free(csv);

  /* a filtered view writes what it shows; phases have their own columns */
  lt_model_set_filter(&m, "decode");
  CU_ASSERT_EQUAL_FATAL(lt_model_export(&m, dir, out, sizeof out), 0);
  csv = lrt_read_file(out, &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
  CU_ASSERT_PTR_NOT_NULL(strstr(csv, ",3000,"));
  CU_ASSERT_PTR_NULL(strstr(csv, ",66536,"));
  free(csv);
  lt_model_set_filter(&m, "");
  keys(&m, "5");
  CU_ASSERT_EQUAL_FATAL(lt_model_export(&m, dir, out, sizeof out), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "/lowram-phases-"));
  csv = lrt_read_file(out, &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
  CU_ASSERT_PTR_NOT_NULL(strstr(csv, "phase,nth,start_seq"));
  CU_ASSERT_PTR_NOT_NULL(strstr(csv, "\r\ndecode,1,5,17,5000,17000,66536,69886,11,66676\r\n"));
  free(csv);
  lt_model_free(&m);
}

int main(void) {
  dir = lrt_tmpdir("tui");
  snprintf(fx_path, sizeof fx_path, "%s/fixture.db", dir);
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  if (fx_write(fx_path, 0, 1, 3000)) return 1;
  CU_pSuite s = CU_add_suite("tui model", NULL, NULL);
  CU_add_test(s, "lt_escape byte by byte", test_escape);
  CU_add_test(s, "hostile names never reach the screen raw", test_hostile_trace);
  CU_add_test(s, "rows, sort, grouping, detail", test_rows_sort_group);
  CU_add_test(s, "call trees expand and sum", test_tree);
  CU_add_test(s, "time cursor: markers, peak, home/end, resize", test_cursor);
  CU_add_test(s, "filter and the other views", test_filter_and_views);
  CU_add_test(s, "CSV written, never over a file, parsed back", test_export);
  return lrt_main();
}
