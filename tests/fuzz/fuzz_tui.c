/*
** fuzz_tui.c: libFuzzer target for the TUI's model (tui/model.c, rows.c,
** export.c: everything the screen draws, without curses) over a damaged
** trace. Two traces are built once, at the first input, from synthetic
** spools: one run of three processes (a parent, a child, a grandchild) and
** one process alone, each with nested stacks, named (some hostile) frames,
** leaks, temporaries, mappings, repeated markers, RSS samples and params.
** The input damages a copy of one of them and then drives the browser:
**
**   byte 0        bit 0: which trace (0: the run, 1: the single process);
**                 bit 1: a live swap after the walk, bit 2: to the peak;
**                 bits 3-7: which process the walk selects
**   byte 1        how many edits follow (at most MAX_EDITS)
**   5 bytes each  an edit: op, table, column, row, value (see edit())
**   the rest      keys, one byte each (KEYS[b % NKEYS]), at most MAX_KEYS
**
** Edits go through SQLite on the table contents (any table the file holds,
** found by name at start: a column set to an extreme integer, a hostile or
** malformed string, NULL, another row's value; rows deleted or copied) or,
** when the op byte has its high bit set, flip a byte of the file itself
** after SQLite has written it. Then the trace is opened (lr_trace_open),
** the model built (lt_model_open, as `lowram tui` does), and every
** view walked (1-7; flat, top-down and bottom-up trees with every node
** unfolded; each sort and grouping; a search; the time cursor from end to
** end and to each marker; a process selected; the CSV of each view; a
** live swap), then the keys typed. Checked after every step (abort()):
**   - a failure to open is one line naming the file;
**   - the selection and scroll stay inside the rows; a tree's rows nest
**     (a row one deeper follows only an open row with children);
**   - the status line and every line of the detail pane are text the
**     screen may print raw: lt_escape leaves them unchanged (no control
**     character, no invalid UTF-8);
**   - the CSV of each view has as many cells in every row as in its
**     header, and no control byte but the CRLF that ends each row;
**   - the time cursor is on a chart column.
** Sanitizers catch the rest (overflow, bad reads, leaks).
*/
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "lowram/import.h"
#include "lowram/trace.h"
#include "model.h"
#include "spoolgen.h"

#define MAX_EDITS 32
#define MAX_KEYS 96
#define NBASE 2
#define MAX_TABLES 64

static const char *const base_name[NBASE] = {"run", "single"};

typedef struct Table {
  char name[64];
  char key[256]; /* "rowid", or "(a, b)" for a WITHOUT ROWID table */
  char cols[16][64];
  int ncols;
} Table;

typedef struct Base {
  uint8_t *bytes;
  size_t len;
  Table tables[MAX_TABLES];
  int ntables;
} Base;

static Base g_base[NBASE];
static int g_ready; /* 1 built, -1 failed */
static char g_db[4200];

/* A broken invariant: which one, then abort() (the fuzzer keeps the input). */
static void fail(int line, const char *what) {
  fprintf(stderr, "fuzz_tui.c:%d: invariant broken: %s\n", line, what);
  abort();
}
#define CHECK(c) ((c) ? (void)0 : fail(__LINE__, #c))

/* ---- the base traces ---- */

/* A process: the stacks share their outer frames (so trees branch), and
** its blocks are leaks, temporaries, large and small, in 3 phases. */
static int write_spool(const char *path, uint32_t pid, uint32_t ppid, const char *argv0,
                       int scale) {
  Gen *g = calloc(1, sizeof *g);
  if (!g) return -1;
  gen_init(g, 4096);
  LrSpoolHeader *h = gen_header(g);
  h->pid = pid;
  h->ppid = ppid;
  h->start_realtime_ns = 1764043200000000000ull + pid * 1000ull;
  GW w;
  gw_init(&w, g, pid);
  const char *argv[] = {argv0, "--tokens", "8\x1b[2J"};
  gw_argv(&w, 3, argv);
  gw_thread(&w, 1, pid, "main");
  gw_module(&w, 2, 0x400000, 0x40000, NULL, 0, "/usr/bin/app");
  gw_module(&w, 3, 0x7f1000000000, 0x100000, NULL, 0, "/lib/lib\x1b]0;x\x07.so");
  /* outer frames first in ips[] reversed: ips[0] is the innermost */
  static const uint64_t st[6][4] = {{0x400100, 0x400200, 0x400300, 0x400400},
                                    {0x400110, 0x400200, 0x400300, 0x400400},
                                    {0x400120, 0x400210, 0x400300, 0x400400},
                                    {0x7f1000000100, 0x400220, 0x400310, 0x400400},
                                    {0x7f1000000200, 0x7f1000000100, 0x400310, 0x400400},
                                    {0x400130, 0, 0, 0}};
  for (uint32_t s = 0; s < 6; s++) gw_stack(&w, s + 1, s == 5 ? 1 : 4, st[s]);
  uint64_t seq = 4, addr = 0x100000;
  gw_mark(&w, seq++, "load");
  gw_param_int(&w, seq++, "seq_len", 64);
  gw_param_str(&w, seq++, "dtype", "int\x1b[8");
  for (int i = 0; i < 6 * scale; i++, addr += 0x1000) /* leaks */
    gw_alloc(&w, LR_EV_MALLOC, seq++, addr, 1000 + 100 * (uint64_t)i, 1 + (uint64_t)i % 3);
  gw_mmap(&w, seq++, 0x7f0000000000, 8 * 4096, 4, 3, 0x22, 0, "");
  gw_mmap(&w, seq++, 0x7f2000000000, 4 * 4096, 4, 1, 0x2, 0, "/models/m\x07.bin");
  gw_rss(&w, seq++, 1 << 20, 1 << 19, 1 << 18, 0);
  for (int ph = 0; ph < 3; ph++) {
    gw_mark(&w, seq++, ph ? "decode" : "prefill");
    for (int i = 0; i < 4 * scale; i++) { /* temporaries */
      gw_alloc(&w, LR_EV_CALLOC, seq++, 0x200000 + 64 * (uint64_t)i, 64 + (uint64_t)i, 5);
      gw_free(&w, seq++, 0x200000 + 64 * (uint64_t)i);
    }
    gw_alloc(&w, LR_EV_MALLOC, seq++, 0x300000 + 0x100000 * (uint64_t)ph, 1 << 16, 4);
    gw_realloc(&w, seq, 0x400000 + 0x100000 * (uint64_t)ph, 1 << 17, 6,
               0x300000 + 0x100000 * (uint64_t)ph, seq);
    seq++;
    gw_rss(&w, seq++, (2u + (unsigned)ph) << 20, 1 << 19, 1 << 18, 0);
  }
  gw_munmap(&w, seq++, 0x7f0000001000, 4096);
  gw_free(&w, seq++, 0x400000);
  gw_mark(&w, seq++, "done");
  gw_seal(&w);
  int rc = gen_write(g, path, SIZE_MAX);
  gen_free(g);
  free(g);
  return rc;
}

static int exec_sql(sqlite3 *db, const char *sql) {
  return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* Names for the frames (the importer cannot symbolize modules that do not
** exist), two of them hostile, and the tables and columns the edits pick
** from. */
static int prepare_base(const char *path, Base *b) {
  sqlite3 *db = NULL;
  if (sqlite3_open(path, &db) != SQLITE_OK) return sqlite3_close(db), -1;
  int rc = exec_sql(db,
                    "UPDATE frames SET function = CASE id % 7 WHEN 0 THEN 'main' "
                    "WHEN 1 THEN 'forward' WHEN 2 THEN 'evil' || char(27) || '[2J' "
                    "WHEN 3 THEN 'attn' WHEN 4 THEN 'matmul' WHEN 5 THEN 'cs' || char(194, 155) "
                    "ELSE 'load_' || id END, file = 'src/f' || (id % 3) || '.c', "
                    "line = 10 * id");
  sqlite3_stmt *q = NULL;
  if (!rc && sqlite3_prepare_v2(db,
                                "SELECT name FROM sqlite_master WHERE type = 'table' AND name "
                                "NOT LIKE 'sqlite_%' ORDER BY name",
                                -1, &q, NULL) != SQLITE_OK)
    rc = -1;
  while (!rc && sqlite3_step(q) == SQLITE_ROW && b->ntables < MAX_TABLES) {
    Table *t = &b->tables[b->ntables];
    snprintf(t->name, sizeof t->name, "%s", (const char *)sqlite3_column_text(q, 0));
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT rowid FROM \"%s\"", t->name);
    sqlite3_stmt *r = NULL;
    int has_rowid = sqlite3_prepare_v2(db, sql, -1, &r, NULL) == SQLITE_OK;
    sqlite3_finalize(r);
    snprintf(sql, sizeof sql, "SELECT name, pk FROM pragma_table_info('%s') ORDER BY cid",
             t->name);
    if (sqlite3_prepare_v2(db, sql, -1, &r, NULL) != SQLITE_OK) continue;
    size_t kl = 0;
    int nk = 0;
    while (sqlite3_step(r) == SQLITE_ROW && t->ncols < 16) {
      const char *c = (const char *)sqlite3_column_text(r, 0);
      snprintf(t->cols[t->ncols++], sizeof t->cols[0], "%s", c ? c : "?");
      if (!has_rowid && sqlite3_column_int(r, 1) > 0 && kl < sizeof t->key - 70)
        kl += (size_t)snprintf(t->key + kl, sizeof t->key - kl, "%s\"%s\"", nk++ ? ", " : "(",
                               c ? c : "?");
    }
    sqlite3_finalize(r);
    if (has_rowid) snprintf(t->key, sizeof t->key, "rowid");
    else if (nk) snprintf(t->key + kl, sizeof t->key - kl, ")");
    if (t->ncols && t->key[0]) b->ntables++;
  }
  sqlite3_finalize(q);
  if (sqlite3_close(db) != SQLITE_OK) rc = -1;
  if (rc || !b->ntables) return -1;
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  b->bytes = n > 0 ? malloc((size_t)n) : NULL;
  b->len = b->bytes && fread(b->bytes, 1, (size_t)n, f) == (size_t)n ? (size_t)n : 0;
  fclose(f);
  return b->len ? 0 : -1;
}

static void free_bases(void) {
  for (int i = 0; i < NBASE; i++) free(g_base[i].bytes);
}

static int build_bases(const char *dir) {
  LrRunSpool sp[3];
  static const uint32_t pid[3] = {100, 101, 102}, ppid[3] = {1, 100, 101};
  static const char *const argv0[3] = {"./app", "wor\x1bker", "grand"};
  memset(sp, 0, sizeof sp);
  for (int i = 0; i < 3; i++) {
    snprintf(sp[i].path, sizeof sp[i].path, "%s/p%d.spool", dir, i);
    if (write_spool(sp[i].path, pid[i], ppid[i], argv0[i], i ? 1 : 2)) return -1;
    sp[i].pid = pid[i];
    sp[i].ppid = ppid[i];
    sp[i].start_realtime_ns = 1764043200000000000ull + pid[i] * 1000ull;
  }
  char path[4200];
  LrErr err;
  int rc = 0;
  for (int b = 0; b < NBASE && !rc; b++) {
    snprintf(path, sizeof path, "%s/base-%s.db", dir, base_name[b]);
    unlink(path);
    rc = b == 0 ? lr_import_run(sp, 3, path, NULL, NULL, &err)
                : lr_import(sp[0].path, path, NULL, NULL, &err);
    if (!rc) rc = prepare_base(path, &g_base[b]);
    unlink(path);
  }
  for (int i = 0; i < 3; i++) unlink(sp[i].path);
  atexit(free_bases);
  return rc;
}

/* ---- damage ---- */

static const char *const g_values[] = {
  "NULL", "0", "1", "-1", "2", "3", "7", "4096", "2147483647", "2147483648", "4294967295",
  "1099511627776", "9223372036854775807", "-9223372036854775808", "9223372036854775806",
  "-9223372036854775807", "4611686018427387904", "-4611686018427387904", "1e300", "-0.5",
  "'x'", "''", "'main'", "char(27) || '[2J'", "'a' || char(10) || 'b'", "char(7)",
  "CAST(x'fffe' AS TEXT)", "CAST(x'c29b' AS TEXT)", "CAST(x'e280' AS TEXT)",
  "printf('%.300c', 'A')", "'['", "'[\"a\",\"b' || char(27) || '\"]'", "'[\"'",
  "'[\"\\u001b\\u00ff\\ud800\\u12\"]'", "'exit'", "'signal'", "'killed'", "'_exit'", "'heap'",
  "'anon'", "'file'", "'reserved'", "'malloc'", "'mmap'", "'realloc'", "x'00ff'",
  "'%s%n%s'", "'lowram-trace'", "'(start)'", "'100'", "'-5'",
};
#define NVALUES (sizeof g_values / sizeof g_values[0])

static void run_sql(sqlite3 *db, const char *sql) {
  sqlite3_exec(db, sql, NULL, NULL, NULL); /* a refused edit is no edit */
}

/* One edit through SQLite. op % 8: 0-1 set a cell, 2 set a whole column,
** 3 add to a cell, 4 copy a cell from the next row, 5 delete a row, 6
** copy a row (into a free key if there is one), 7 negate a column. */
static void edit(sqlite3 *db, const Base *b, const uint8_t *e) {
  const Table *t = &b->tables[e[1] % b->ntables];
  const char *c = t->cols[e[2] % t->ncols];
  char where[700], sql[2048];
  snprintf(where, sizeof where,
           "%s = (SELECT %s FROM \"%s\" LIMIT 1 OFFSET %d %% max(1, (SELECT count(*) FROM "
           "\"%s\")))",
           t->key, t->key, t->name, e[3], t->name);
  const char *v = g_values[e[4] % NVALUES];
  switch (e[0] % 8) {
  case 0:
  case 1:
    snprintf(sql, sizeof sql, "UPDATE \"%s\" SET \"%s\" = %s WHERE %s", t->name, c, v, where);
    break;
  case 2: snprintf(sql, sizeof sql, "UPDATE \"%s\" SET \"%s\" = %s", t->name, c, v); break;
  case 3:
    snprintf(sql, sizeof sql, "UPDATE \"%s\" SET \"%s\" = \"%s\" + %d WHERE %s", t->name, c, c,
             (int)e[4] - 128, where);
    break;
  case 4:
    snprintf(sql, sizeof sql,
             "UPDATE \"%s\" SET \"%s\" = (SELECT \"%s\" FROM \"%s\" LIMIT 1 OFFSET %d) WHERE %s",
             t->name, c, c, t->name, e[4] % 32, where);
    break;
  case 5: snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE %s", t->name, where); break;
  case 6:
    /* the copy gets a new rowid; a WITHOUT ROWID copy only lands when its
       key column is moved out of the way first */
    snprintf(sql, sizeof sql, "CREATE TEMP TABLE cp AS SELECT * FROM \"%s\" WHERE %s", t->name,
             where);
    run_sql(db, sql);
    snprintf(sql, sizeof sql, "UPDATE temp.cp SET \"%s\" = %s", c, v);
    run_sql(db, sql);
    snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO \"%s\" SELECT * FROM temp.cp", t->name);
    run_sql(db, sql);
    snprintf(sql, sizeof sql, "DROP TABLE temp.cp");
    break;
  default: snprintf(sql, sizeof sql, "UPDATE \"%s\" SET \"%s\" = -\"%s\"", t->name, c, c); break;
  }
  run_sql(db, sql);
}

/* Writes the base, applies the edits (SQL first, then the byte flips of
** ops with the high bit set). 0, or -1 if the file could not be written. */
static int damage(const Base *b, const uint8_t *ops, size_t nops) {
  FILE *f = fopen(g_db, "wb");
  if (!f) return -1;
  int ok = fwrite(b->bytes, 1, b->len, f) == b->len;
  if (fclose(f) || !ok) return -1;
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(g_db, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    sqlite3_close(db);
    return -1;
  }
  run_sql(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF");
  for (size_t i = 0; i < nops; i++)
    if (!(ops[5 * i] & 0x80)) edit(db, b, ops + 5 * i);
  sqlite3_close(db);
  f = fopen(g_db, "r+b");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  for (size_t i = 0; i < nops && len > 0; i++) {
    const uint8_t *e = ops + 5 * i;
    if (!(e[0] & 0x80)) continue;
    /* a byte anywhere (the first pages, with the schema, twice as often) */
    unsigned long at = (unsigned long)e[1] << 16 | (unsigned long)e[2] << 8 | e[3];
    at %= (unsigned long)(e[0] & 1 ? len : len < 8192 ? len : 8192);
    fseek(f, (long)at, SEEK_SET);
    int c = fgetc(f);
    if (c == EOF) continue;
    fseek(f, (long)at, SEEK_SET);
    fputc((c ^ e[4]) ? c ^ e[4] : c ^ 0xff, f);
  }
  return fclose(f) ? -1 : 0;
}

/* ---- invariants ---- */

/* Text the screen prints as it is: lt_escape would change nothing. */
static void check_screen_text(const char *s, size_t cap) {
  CHECK(memchr(s, 0, cap));
  char e[4 * LT_LINE + 8];
  lt_escape(s, e, sizeof e, 0);
  CHECK(!strcmp(e, s));
}

static void check_msg(const LrErr *err) {
  CHECK(memchr(err->msg, 0, sizeof err->msg) && err->msg[0]);
  CHECK(!strchr(err->msg, '\n') && !strchr(err->msg, '\r')); /* one line */
  if (!strstr(err->msg, "tui-fuzz.db")) fprintf(stderr, "message: %s\n", err->msg);
  CHECK(strstr(err->msg, "tui-fuzz.db")); /* names the file */
}

static void check_pane(LtModel *m) {
  LtPane *p = lt_model_pane(m);
  CHECK(p->nrows ? p->sel < p->nrows : p->sel == 0);
  CHECK(p->top <= p->sel && (!m->page || p->sel < p->top + m->page));
  for (size_t i = 0; i < p->nrows; i++) {
    const LtRow *r = &p->rows[i];
    CHECK(r->label && r->depth >= 0 && (!r->open || r->kids));
    CHECK(!r->stack || !r->stack->nframes || r->frame < r->stack->nframes);
    CHECK(i == 0 ? r->depth == 0 : r->depth <= p->rows[i - 1].depth + 1);
    /* call trees: a deeper row only under an open one (the process tree has
       no folding: every child is shown) */
    CHECK(!r->node || !i || r->depth != p->rows[i - 1].depth + 1 || p->rows[i - 1].open);
    CHECK(!r->node || m->view == LT_OVERVIEW || m->view == LT_LEAKS);
  }
  static char lines[24][LT_LINE];
  size_t n = lt_model_detail(m, lines, 24);
  CHECK(n <= 24);
  for (size_t i = 0; i < n; i++) check_screen_text(lines[i], LT_LINE);
  check_screen_text(m->status, sizeof m->status);
  CHECK(!m->nticks || m->tick < m->nticks);
  CHECK(m->nticks <= (size_t)(m->width > 0 ? m->width : 1));
}

/* Cells in one CSV row (quoted cells may hold commas and doubled quotes). */
static long csv_cells(const char *s, size_t n) {
  long cells = 1;
  int q = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"') q = !q;
    else if (s[i] == ',' && !q) cells++;
  }
  return q ? -1 : cells;
}

static void check_csv(LtModel *m) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return;
  int rc = lt_model_write_csv(m, f);
  fclose(f);
  if (rc == 0) {
    long want = -1;
    for (size_t at = 0; at < len;) {
      const char *end = memchr(buf + at, '\n', len - at);
      /* every row ends in CRLF, and nothing else in it is a control byte */
      CHECK(end && end > buf + at && end[-1] == '\r');
      size_t n = (size_t)(end - (buf + at)) - 1;
      for (size_t i = 0; i < n; i++)
        CHECK((unsigned char)buf[at + i] >= 0x20 && buf[at + i] != 0x7f);
      long c = csv_cells(buf + at, n);
      CHECK(c > 0 && (want < 0 || c == want));
      want = c;
      at = (size_t)(end - buf) + 1;
    }
  }
  free(buf);
}

/* ---- the walk ---- */

static const int KEYS[] = {'1', '2', '3', '4', '5', '6', '7', 'P', LT_KEY_TAB, LT_KEY_BTAB,
                           LT_KEY_LEFT, LT_KEY_RIGHT, LT_KEY_SLEFT, LT_KEY_SRIGHT, LT_KEY_HOME,
                           LT_KEY_END, 'p', 'm', 'M', LT_KEY_UP, LT_KEY_DOWN, LT_KEY_PGUP,
                           LT_KEY_PGDN, 's', 'g', 't', LT_KEY_ENTER, '+', '-', '/', 'a', 'e',
                           '\x1b', LT_KEY_BACKSPACE, LT_KEY_ESC, '?', 'x', '.', '[', 'j', 'k'};
#define NKEYS (sizeof KEYS / sizeof KEYS[0])

static void key(LtModel *m, int k) {
  lt_model_key(m, k);
  check_pane(m);
}

/* Every row of the view once selected; in trees every node unfolded. */
static void walk_rows(LtModel *m) {
  for (size_t i = 0; i < 400; i++) {
    LtPane *p = lt_model_pane(m);
    if (i >= p->nrows) break;
    p->sel = i;
    check_pane(m);
    if (p->rows[i].kids && !p->rows[i].open) {
      lt_model_expand(m, 1);
      check_pane(m);
    }
  }
  lt_model_expand(m, 0);
  check_pane(m);
}

static void walk(LtModel *m, unsigned pick) {
  lt_model_set_width(m, 60);
  lt_model_set_page(m, 8);
  check_pane(m);
  for (int v = 0; v < LT_NVIEWS; v++) {
    lt_model_set_view(m, (LtView)v);
    check_pane(m);
    check_csv(m);
    int trees = v == LT_OVERVIEW || v == LT_LEAKS ? LT_NSHAPES : 1;
    for (int s = 0; s < trees; s++) {
      walk_rows(m);
      check_csv(m);
      lt_model_cycle_shape(m);
      check_pane(m);
    }
    for (int s = 0; s < LT_NSORTS; s++) {
      lt_model_cycle_sort(m);
      check_pane(m);
      check_csv(m);
    }
    if (v == LT_OVERVIEW || v == LT_LEAKS)
      for (int g = 0; g < 4; g++) {
        lt_model_cycle_by(m);
        check_pane(m);
        check_csv(m);
      }
    /* search: part of the first row's label, then a hostile string */
    LtPane *p = lt_model_pane(m);
    char f[8] = "";
    if (p->nrows) snprintf(f, sizeof f, "%s", p->rows[0].label + strlen(p->rows[0].label) / 2);
    lt_model_set_filter(m, f);
    check_pane(m);
    check_csv(m);
    lt_model_set_filter(m, "\x1b[2J\xff");
    check_pane(m);
    lt_model_set_filter(m, "");
  }
  lt_model_set_view(m, LT_OVERVIEW);
  for (size_t i = 0; i < m->nticks; i += 7) {
    lt_model_cursor_tick(m, i);
    check_pane(m);
  }
  lt_model_cursor_step(m, 1000);
  lt_model_cursor_step(m, -1000);
  check_pane(m);
  for (size_t i = 0; i <= m->nmarkers; i++) lt_model_next_marker(m, 1);
  check_pane(m);
  for (size_t i = 0; i <= m->nmarkers; i++) lt_model_next_marker(m, -1);
  check_pane(m);
  lt_model_to_peak(m);
  check_pane(m);
  char out[4400];
  if (lt_model_export(m, fz_scratch(), out, sizeof out) == 0) unlink(out);
  check_pane(m);
  /* one process of the run (the input picks which) shown in every view */
  if (m->nprocs) {
    lt_model_select_process(m, m->procs[pick % m->nprocs].id);
    lt_model_set_view(m, LT_PROCS);
    check_pane(m);
    check_csv(m);
    lt_model_set_view(m, LT_OVERVIEW);
    check_pane(m);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_ready) {
    const char *dir = fz_scratch();
    g_ready = dir && build_bases(dir) == 0 ? 1 : -1;
    if (dir) snprintf(g_db, sizeof g_db, "%s/tui-fuzz.db", dir);
  }
  CHECK(g_ready > 0); /* the bases are built from known spools: never fails */
  if (size < 2) return 0;
  const Base *b = &g_base[data[0] % NBASE];
  size_t nops = data[1] % (MAX_EDITS + 1);
  if (nops > (size - 2) / 5) nops = (size - 2) / 5;
  const uint8_t *keys = data + 2 + 5 * nops;
  size_t nkeys = size - 2 - 5 * nops;
  if (nkeys > MAX_KEYS) nkeys = MAX_KEYS;
  if (damage(b, data + 2, nops)) return 0;
  LrErr err = {{0}};
  LrTrace *t = lr_trace_open(g_db, &err);
  if (!t) {
    check_msg(&err);
    unlink(g_db);
    return 0;
  }
  LtModel m;
  if (lt_model_open(&m, t, NULL, &err)) {
    check_msg(&err);
    if (m.t) lt_model_free(&m);
    else lr_trace_close(t);
    unlink(g_db);
    return 0;
  }
  walk(&m, data[0] >> 3);
  /* live mode (every other input): the same file imported again replaces
     the trace, the cursor at the newest moment or at the peak */
  LrTrace *t2 = data[0] & 2 ? lr_trace_open(g_db, &err) : NULL;
  if (t2 && lt_model_swap(&m, t2, data[0] & 4, &err)) {
    check_msg(&err);
    lr_trace_close(t2);
  }
  check_pane(&m);
  for (size_t i = 0; i < nkeys; i++) {
    int k = KEYS[keys[i] % NKEYS];
    if (k == 'e') { /* `e` writes into the current directory: the scratch one instead */
      char out[4400];
      if (lt_model_export(&m, fz_scratch(), out, sizeof out) == 0) unlink(out);
      check_pane(&m);
    } else if (k != 'q') {
      key(&m, k);
    }
  }
  lt_model_free(&m);
  unlink(g_db);
  return 0;
}
