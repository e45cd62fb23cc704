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
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "live.h"
#include "lowram/import.h"
#include "lrtest.h"
#include "model.h"
#include "spoolgen.h"
#include "tbuild.h"

static char *dir;
static char fx_path[512];

static int open_model(LtModel *m, const char *path) {
  /* a trace of the importer's through the public door (the default process
     selected); the report fixtures as built */
  LrErr e0 = {{0}};
  LrTrace *t = strstr(path, "procs") ? lr_trace_open(path, &e0) : tb_open_ro(path);
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

/* ---- processes: a run of four, from synthetic spools ----
** sh (pid 500): 3 x 1000 B; small (501, child of 500): 2 x 5000;
** big (502, child of 500): 4 x 25000; gr<ESC>and (503, child of 502): 7 B.
** The default process is big (highest peak); the tree is sh, big, grand,
** small (siblings by own peak). */
typedef struct ProcSpec {
  uint32_t pid, ppid;
  const char *argv0;
  int n;
  uint64_t size;
} ProcSpec;

static const ProcSpec procs4[] = {
  {500, 77, "sh", 3, 1000},
  {501, 500, "small", 2, 5000},
  {502, 500, "big", 4, 25000},
  {503, 502, "gr\x1b[2Jand", 1, 7},
};

/* Writes the spool of p at path (ended, or still running when !ended). */
static int write_spool(const ProcSpec *p, const char *path, int ended, int upto) {
  Gen g;
  gen_init(&g, 4096);
  LrSpoolHeader *h = gen_header(&g);
  h->pid = p->pid;
  h->ppid = p->ppid;
  h->start_realtime_ns = 1764043200000000000ull + p->pid * 1000ull;
  if (!ended) h->flags = 0, h->end_reason = 0;
  GW w;
  gw_init(&w, &g, p->pid);
  const char *argv[] = {p->argv0, "arg"};
  gw_argv(&w, 2, argv);
  uint64_t ips[] = {0x401000 + p->pid};
  gw_stack(&w, 1, 1, ips);
  for (int i = 0; i < p->n && i < upto; i++)
    gw_alloc(&w, LR_EV_MALLOC, (uint64_t)i + 1, 0x10000 + 0x10000 * (uint64_t)i, p->size, 1);
  int rc = gen_write(&g, path, SIZE_MAX);
  gen_free(&g);
  return rc;
}

static int make_run(const char *db) {
  LrRunSpool sp[4];
  memset(sp, 0, sizeof sp);
  for (int i = 0; i < 4; i++) {
    snprintf(sp[i].path, sizeof sp[i].path, "%s.%d.spool", db, i);
    if (write_spool(&procs4[i], sp[i].path, 1, 100)) return -1;
    sp[i].pid = procs4[i].pid;
    sp[i].ppid = procs4[i].ppid;
    sp[i].start_realtime_ns = 1764043200000000000ull + procs4[i].pid * 1000ull;
  }
  LrErr err = {{0}};
  unlink(db);
  if (lr_import_run(sp, 4, db, NULL, NULL, &err)) {
    fprintf(stderr, "lr_import_run: %s\n", err.msg);
    return -1;
  }
  return 0;
}

static int64_t rows_bytes(LtPane *p) {
  int64_t b = 0;
  for (size_t i = 0; i < p->nrows; i++) b += p->rows[i].bytes;
  return b;
}

static void test_processes(void) {
  char db[600];
  snprintf(db, sizeof db, "%s/procs.db", dir);
  CU_ASSERT_EQUAL_FATAL(make_run(db), 0);
  LtModel m;
  CU_ASSERT_EQUAL_FATAL(open_model(&m, db), 0);
  /* the default: the highest peak */
  CU_ASSERT_EQUAL(m.nprocs, 4);
  CU_ASSERT_EQUAL(m.r->run.pid, 502);
  CU_ASSERT_EQUAL(m.r->peak.live.heap, 100000);
  CU_ASSERT_EQUAL(rows_bytes(lt_model_pane(&m)), 100000);
  /* the view: 7 and P; the tree, siblings by own peak */
  keys(&m, "7");
  CU_ASSERT_EQUAL(m.view, LT_PROCS);
  keys(&m, "1P");
  CU_ASSERT_EQUAL_FATAL(m.view, LT_PROCS);
  LtPane *p = lt_model_pane(&m);
  CU_ASSERT_EQUAL_FATAL(p->nrows, 4);
  static const struct { int64_t pid; int depth; int64_t peak; const char *label; } want[] = {
    {500, 0, 3000, "sh arg"}, {502, 1, 100000, "big arg"}, {503, 2, 7, "gr\x1b[2Jand arg"},
    {501, 1, 10000, "small arg"}};
  for (size_t i = 0; i < 4; i++) {
    CU_ASSERT_EQUAL(p->rows[i].v[0], want[i].pid);
    CU_ASSERT_EQUAL(p->rows[i].depth, want[i].depth);
    CU_ASSERT_EQUAL(p->rows[i].bytes, want[i].peak);
    CU_ASSERT_STRING_EQUAL(p->rows[i].label, want[i].label);
    CU_ASSERT_EQUAL(p->rows[i].v[1], 0); /* exec index */
  }
  /* the command is escaped in the detail */
  keys(&m, "jj");
  char lines[16][LT_LINE];
  size_t n = lt_model_detail(&m, lines, 16);
  CU_ASSERT(n >= 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(lines[0], "gr\\x1b[2Jand arg"));
  for (size_t i = 0; i < n; i++) CU_ASSERT_PTR_NULL(strchr(lines[i], '\x1b'));
  CU_ASSERT_PTR_NOT_NULL(strstr(lines[2], "exit 0"));
  /* enter on small: every view shows pid 501, the cursor at its peak */
  keys(&m, "j");
  lt_model_key(&m, LT_KEY_ENTER);
  CU_ASSERT_EQUAL(m.r->run.pid, 501);
  CU_ASSERT_EQUAL(lr_trace_process(m.t), m.proc_id);
  CU_ASSERT_EQUAL(m.r->peak.live.heap + m.r->peak.live.anon, 10000);
  CU_ASSERT_TRUE(m.at.is_peak);
  CU_ASSERT_PTR_NOT_NULL(strstr(m.status, "pid 501"));
  /* the processes view kept its selection (small) and marks it shown */
  p = lt_model_pane(&m);
  CU_ASSERT_STRING_EQUAL(p->rows[p->sel].label, "small arg");
  CU_ASSERT_EQUAL(p->rows[p->sel].v[3], m.proc_id);
  keys(&m, "1");
  p = lt_model_pane(&m);
  CU_ASSERT_EQUAL_FATAL(p->nrows, 1);
  CU_ASSERT_EQUAL(p->rows[0].bytes, 10000);
  CU_ASSERT_EQUAL(p->rows[0].count, 2);
  CU_ASSERT_EQUAL(p->total, 10000);
  keys(&m, "4"); /* largest blocks: small's */
  p = lt_model_pane(&m);
  CU_ASSERT_EQUAL_FATAL(p->nrows, 2);
  CU_ASSERT_EQUAL(p->rows[0].bytes, 5000);
  keys(&m, "2"); /* leaks: small never frees */
  CU_ASSERT_EQUAL(rows_bytes(lt_model_pane(&m)), 10000);
  /* sort by name changes the sibling order: small before big */
  keys(&m, "7ss");
  p = lt_model_pane(&m);
  CU_ASSERT_EQUAL(p->sort, LT_SORT_NAME);
  CU_ASSERT_EQUAL(p->rows[1].v[0], 502);
  CU_ASSERT_EQUAL(p->rows[3].v[0], 501);
  keys(&m, "ss");
  /* CSV of the processes */
  char out[700];
  CU_ASSERT_EQUAL_FATAL(lt_model_export(&m, dir, out, sizeof out), 0);
  char *csv = lrt_read_file(out, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
  CU_ASSERT_PTR_NOT_NULL(strstr(csv, "id,pid,ppid,exec_index"));
  CU_ASSERT_PTR_NOT_NULL(strstr(csv, ",502,500,0,"));
  CU_ASSERT_PTR_NOT_NULL(strstr(csv, ",100000,"));
  free(csv);
  /* a swap onto a newer trace of the same run keeps the chosen process */
  char db2[700];
  snprintf(db2, sizeof db2, "%s/procs2.db", dir);
  CU_ASSERT_EQUAL_FATAL(make_run(db2), 0);
  LrErr err = {{0}};
  LrTrace *t2 = lr_trace_open(db2, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t2);
  keys(&m, "1");
  CU_ASSERT_EQUAL_FATAL(lt_model_swap(&m, t2, 0, &err), 0);
  CU_ASSERT_EQUAL(m.r->run.pid, 501);
  CU_ASSERT_EQUAL(m.view, LT_OVERVIEW);
  CU_ASSERT_EQUAL(rows_bytes(lt_model_pane(&m)), 10000);
  lt_model_free(&m);
}

/* The live source: a run whose spools grow between polls; a temporary
** trace per change, never under the run's name; ended once every spool
** says so; the model follows the newest moment. */
static void test_live(void) {
  char ldir[600], spool[700], child[700];
  snprintf(ldir, sizeof ldir, "%s/live", dir);
  mkdir(ldir, 0755);
  snprintf(spool, sizeof spool, "%s/run.db.spool", ldir);
  snprintf(child, sizeof child, "%s/run.502.db.spool", ldir);
  ProcSpec root = procs4[0], kid = procs4[2];
  root.pid = (uint32_t)getpid(); /* alive: a spool that has not ended is running */
  root.ppid = 1;
  kid.ppid = root.pid;
  CU_ASSERT_EQUAL_FATAL(write_spool(&root, spool, 0, 1), 0);
  LtLive lv;
  memset(&lv, 0, sizeof lv);
  LrErr err = {{0}};
  CU_ASSERT_EQUAL_FATAL(lt_live_init(&lv, &err), 0);
  snprintf(lv.spool, sizeof lv.spool, "%s", spool);
  LrTrace *t = NULL;
  CU_ASSERT_EQUAL_FATAL(lt_live_poll(&lv, 0, &t, &err), 1);
  CU_ASSERT_EQUAL(lv.events, 1);
  CU_ASSERT_FALSE(lv.ended);
  CU_ASSERT_PTR_NOT_NULL(strstr(lr_trace_path(t), lv.tmpdir));
  LtModel m;
  CU_ASSERT_EQUAL_FATAL(lt_model_open(&m, t, NULL, &err), 0);
  m.live = m.follow = 1;
  lt_model_set_width(&m, 80);
  lt_model_set_page(&m, 10);
  char end[32];
  CU_ASSERT_STRING_EQUAL(lt_proc_end(&m, &m.procs[0], end, sizeof end), "running");
  /* nothing changed, less than a second: nothing new */
  CU_ASSERT_EQUAL(lt_live_poll(&lv, 0, &t, &err), 0);
  /* the run grows: the root allocates more, a child appears */
  CU_ASSERT_EQUAL_FATAL(write_spool(&root, spool, 0, 3), 0);
  CU_ASSERT_EQUAL_FATAL(write_spool(&kid, child, 0, 2), 0);
  CU_ASSERT_EQUAL_FATAL(lt_live_poll(&lv, 1, &t, &err), 1);
  CU_ASSERT_EQUAL(lv.events, 5);
  CU_ASSERT_EQUAL(lv.nspools, 2);
  keys(&m, "1");
  CU_ASSERT_EQUAL_FATAL(lt_model_swap(&m, t, 0, &err), 0);
  CU_ASSERT_EQUAL(m.nprocs, 2);
  CU_ASSERT_EQUAL(m.r->run.pid, 502); /* the default follows the highest peak */
  CU_ASSERT_EQUAL(m.at.seq, m.end_seq); /* followed to the newest moment */
  CU_ASSERT_EQUAL(m.at.live.heap, 50000);
  /* the user moves the cursor: it stays there through the next swap */
  lt_model_key(&m, LT_KEY_HOME);
  CU_ASSERT_FALSE(m.follow);
  int64_t held = m.at.seq;
  CU_ASSERT_EQUAL_FATAL(write_spool(&kid, child, 1, 4), 0);
  CU_ASSERT_EQUAL_FATAL(lt_live_poll(&lv, 1, &t, &err), 1);
  CU_ASSERT_FALSE(lv.ended); /* the root has not ended and is alive */
  CU_ASSERT_EQUAL_FATAL(lt_model_swap(&m, t, 0, &err), 0);
  CU_ASSERT_EQUAL(m.at.seq, held);
  CU_ASSERT_EQUAL(m.r->peak.live.heap, 100000);
  lt_model_key(&m, LT_KEY_END);
  CU_ASSERT_TRUE(m.follow);
  /* both spools ended: the run is over */
  CU_ASSERT_EQUAL_FATAL(write_spool(&root, spool, 1, 3), 0);
  CU_ASSERT_EQUAL_FATAL(lt_live_poll(&lv, 1, &t, &err), 1);
  CU_ASSERT_TRUE(lv.ended);
  CU_ASSERT_EQUAL_FATAL(lt_model_swap(&m, t, 0, &err), 0);
  /* never under the run's own name; the temporaries go with the source */
  CU_ASSERT_EQUAL(access(spool, F_OK), 0);
  char runname[700];
  snprintf(runname, sizeof runname, "%s/run.db", ldir);
  CU_ASSERT_EQUAL(access(runname, F_OK), -1);
  char tmpdir[4096];
  snprintf(tmpdir, sizeof tmpdir, "%s", lv.tmpdir);
  lt_live_free(&lv);
  CU_ASSERT_EQUAL(access(tmpdir, F_OK), -1);
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
  CU_add_test(s, "processes: tree, order, selection switches every view", test_processes);
  CU_add_test(s, "live: temporaries follow a growing run", test_live);
  return lrt_main();
}
