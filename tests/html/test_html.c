/*
** test_html.c: `lowram html`, the report as one HTML page.
**
**   test_html page      the file itself: for a recorded qrun run and for a
**                       synthetic trace with hostile names, the numbers
**                       embedded as JSON equal `lowram report --json`'s, no
**                       "</script" or "<!--" comes from the data, no control
**                       byte but \n and \t, valid UTF-8 without U+2028/9;
**                       the hostile names appear HTML- and JSON-escaped; and
**                       the timeline CSV's RSS columns.
**   test_html browser   the page in Debian's chromium (headless): its script
**                       ran to the end (body data-ok="1"), no console
**                       message, the chart's SVG and the flame graph hold the
**                       expected elements (one rectangle per call-tree node
**                       of the folded export), no injected attribute; a
**                       screenshot is taken. A missing chromium FAILS,
**                       naming the Debian package.
*/
#include <CUnit/CUnit.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lowram/text.h"
#include "lrtest.h"
#include "tbuild.h"

static char *dir;
static char out_path[512], err_path[512];
static char qrun_db[512], hostile_db[512];

/* Runs lowram with the arguments up to NULL; output to out_path, err_path. */
#define lowram(...) lrt_lowram(out_path, err_path, __VA_ARGS__)

static void show_err(void) {
  char *e = lrt_read_file(err_path, NULL);
  if (e && *e) fprintf(stderr, "stderr: %s\n", e);
  free(e);
}

/* ---- the traces ---- */

#define SCRIPT "</script><script>alert(1)</script>"
#define PWN "</SCRIPT><img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
#define OSC "\x1b]0;pwned\x07"
#define LS "line\xe2\x80\xa8sep\xe2\x80\xa9par"
#define BAD "bad\xff\xfe<!--"

/* A trace whose every name is hostile. At the peak (seq 3, 7000 bytes) the
** call tree is: all -> OSC -> {SCRIPT 4000, BAD+LS 3000}: four nodes. */
static int build_hostile(void) {
  snprintf(hostile_db, sizeof hostile_db, "%s/hostile.db", dir);
  sqlite3 *db = tb_create(hostile_db);
  if (!db) return -1;
  tb_frame(db, 1, "/lib/" PWN ".so", SCRIPT, "src/" PWN ".c", 7);
  tb_frame(db, 2, "/bin/app\x1b[2J", OSC, "app.c", 3);
  tb_frame(db, 3, "/bin/app", BAD LS, "a\"p'p&.c", 9);
  tb_stack(db, 1, (int64_t)1, (int64_t)2, (int64_t)0);
  tb_stack(db, 2, (int64_t)3, (int64_t)2, (int64_t)0);
  tb_marker(db, 1, "</script>dec\x1b[2Jode");
  tb_marker(db, 4, PWN);
  tb_alloc(db, "heap", 4000, 2, -1, 1, 1);
  tb_alloc(db, "heap", 3000, 3, 6, 1, 2);
  tb_map_file(db, "/data/\x07" SCRIPT ".bin", 8192, 4, -1, 1, 1);
  /* two samples at one event's time, so in one bucket: the highest wins,
  ** with its own anon and file */
  tb_rss(db, 3, 50000, 45000, 4096);
  tb_rss(db, 3, 100000, 20000, 8192);
  tb_meta(db, "argv", "[\"app\",\"\\u003c/script\\u003e\\u001b]0;argv\\u0007\"]");
  return tb_finish(db, hostile_db, 1);
}

static int record_qrun(void) {
  const char *qrun = getenv("QRUN_BIN");
  if (!qrun || !*qrun) {
    fprintf(stderr, "test_html: QRUN_BIN not set: no qrun in this build\n");
    return -1;
  }
  char model[600];
  snprintf(model, sizeof model, "%s/tiny.bin", dir);
  snprintf(qrun_db, sizeof qrun_db, "%s/qrun.db", dir);
  char devnull[] = "/dev/null";
  char *gen[] = {(char *)qrun, "gen", "-o", model, "--quant", "q8", NULL};
  if (lrt_run(gen, NULL, devnull, devnull) != 0) return -1;
  char *rec[] = {(char *)lrt_env("LOWRAM_BIN"), "record", "-o", qrun_db, "--", (char *)qrun,
                 "run", "-m", model, "--seq-len", "64", "--tokens", "16", "--threads", "1",
                 NULL};
  return lrt_run(rec, NULL, devnull, err_path) == 0 ? 0 : -1;
}

/* ---- reading the outputs ---- */

/* The integer after `key` that follows `anchor` (NULL: from the start). */
static int64_t num_after(const char *s, const char *anchor, const char *key) {
  const char *p = anchor ? strstr(s, anchor) : s;
  if (!p || !(p = strstr(p, key))) {
    fprintf(stderr, "test_html: no %s after %s\n", key, anchor ? anchor : "(start)");
    return INT64_MIN;
  }
  return strtoll(p + strlen(key), NULL, 10);
}

static size_t count(const char *s, const char *what, int nocase) {
  size_t n = 0, k = strlen(what);
  for (const char *p = s; *p; p++)
    if (!(nocase ? strncasecmp(p, what, k) : strncmp(p, what, k))) n++;
  return n;
}

/* The JSON between the data element's tags, malloc'd. */
static char *data_json(const char *html) {
  const char *a = strstr(html, "id=\"lr-data\">");
  const char *b = a ? strstr(a, "</script>") : NULL;
  if (!b) return NULL;
  a += strlen("id=\"lr-data\">");
  return strndup(a, (size_t)(b - a));
}

/* Bytes a page may hold: printable ASCII, \n, \t, valid UTF-8 that is not a
** C1 control nor U+2028/U+2029. */
static void expect_clean_bytes(const char *what, const char *s) {
  for (size_t i = 0; s[i];) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f)) {
      i++;
      continue;
    }
    char one[8] = {0};
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    memcpy(one, s + i, n);
    if (c < 0x80 || strlen(one) != n || !lr_text_is_clean(one) ||
        !strcmp(one, "\xe2\x80\xa8") || !strcmp(one, "\xe2\x80\xa9")) {
      fprintf(stderr, "%s: raw byte 0x%02x at offset %zu\n", what, c, i);
      CU_FAIL("a byte that must not be in the page");
      return;
    }
    i += n;
  }
}

/* What every page must hold, and the embedded numbers against the report's. */
static char *check_page(const char *trace, const char *html_path) {
  CU_ASSERT_EQUAL(lowram("report", trace, "--json", NULL), 0);
  char *rep = lrt_read_file(out_path, NULL);
  CU_ASSERT_EQUAL(lowram("html", trace, "-o", html_path, NULL), 0);
  show_err();
  char *html = lrt_read_file(html_path, NULL);
  CU_ASSERT_PTR_NOT_NULL(rep);
  CU_ASSERT_PTR_NOT_NULL(html);
  if (!rep || !html) {
    free(rep);
    free(html);
    return NULL;
  }
  size_t n = 0;
  free(lrt_read_file(html_path, &n));
  CU_ASSERT_EQUAL(strlen(html), n); /* no NUL inside */
  expect_clean_bytes(html_path, html);
  /* the template has two script elements and one comment; data adds none */
  CU_ASSERT_EQUAL(count(html, "</script", 1), 2);
  CU_ASSERT_EQUAL(count(html, "<script", 1), 2);
  CU_ASSERT_EQUAL(count(html, "<!--", 0), 1);
  /* nothing to load: no source, link, import or url() (a '"' or '<' from the
  ** data is always escaped, so these can only come from the template) */
  CU_ASSERT_EQUAL(count(html, "src=\"", 1) + count(html, "href=\"", 1) +
                      count(html, "<link", 1) + count(html, "@import", 1),
                  0);
  char *js = data_json(html);
  CU_ASSERT_PTR_NOT_NULL_FATAL(js);
  CU_ASSERT_PTR_NULL(strchr(js, '<'));
  CU_ASSERT_PTR_NULL(strchr(js, '>'));
  int64_t peak = num_after(rep, "\"peak\":{", "\"live\":");
  CU_ASSERT(peak > 0);
  CU_ASSERT_EQUAL(num_after(js, "\"peak\":{", "\"live\":"), peak);
  CU_ASSERT_EQUAL(num_after(js, "\"peak\":{", "\"seq\":"), num_after(rep, "\"peak\":{", "\"seq\":"));
  int64_t cb = num_after(rep, "\"contributors\":{", "\"bytes\":");
  const char *t = strstr(rep, "\"contributors\":{");
  t = t ? strstr(t, "\"top\":[") : NULL;
  int64_t top_bytes = t ? num_after(t, "\"key\":", "\"bytes\":") : INT64_MIN;
  CU_ASSERT_EQUAL(cb, peak);
  CU_ASSERT_EQUAL(num_after(js, "\"contributors\":{", "\"bytes\":"), cb);
  CU_ASSERT_EQUAL(num_after(js, "\"contributors\":{", "\"top_bytes\":"), top_bytes);
  /* the first moment is the peak: its total and its largest stack */
  CU_ASSERT_EQUAL(num_after(js, "\"moments\":[", "\"live\":"), peak);
  CU_ASSERT_EQUAL(num_after(js, "\"moments\":[", "\"bytes\":"), cb);
  const char *items = strstr(js, "\"items\":[[");
  CU_ASSERT_PTR_NOT_NULL(items);
  if (items) {
    const char *comma = strchr(items, ',');
    CU_ASSERT_EQUAL(comma ? strtoll(comma + 1, NULL, 10) : -1, top_bytes);
  }
  CU_ASSERT_PTR_NOT_NULL(strstr(js, "\"kind\":\"peak\""));
  /* the tables of the text report */
  static const char *const tables[] = {"<table id=\"contributors\">", "<table id=\"largest\">",
                                       "<table id=\"phases\">", "<table id=\"run\">",
                                       "<svg id=\"chart\"", "<svg id=\"flame\"", NULL};
  for (int i = 0; tables[i]; i++)
    if (!strstr(html, tables[i])) {
      fprintf(stderr, "%s: no %s\n", html_path, tables[i]);
      CU_FAIL("a part of the page is missing");
    }
  free(js);
  free(rep);
  return html;
}

static void test_qrun_page(void) {
  CU_ASSERT_EQUAL_FATAL(record_qrun(), 0);
  char *html = check_page(qrun_db, lrt_path_in(dir, "qrun.html"));
  CU_ASSERT_PTR_NOT_NULL_FATAL(html);
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "qr_alloc_kv_cache"));
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "<table id=\"mapped\">"));
  free(html);
}

static void test_hostile_page(void) {
  CU_ASSERT_EQUAL_FATAL(build_hostile(), 0);
  char *html = check_page(hostile_db, lrt_path_in(dir, "hostile.html"));
  CU_ASSERT_PTR_NOT_NULL_FATAL(html);
  CU_ASSERT_PTR_NULL(strstr(html, "<img"));
  CU_ASSERT_PTR_NULL(strstr(html, "alert(1)</"));
  /* the names are there, escaped for where they land */
  static const char *const want[] = {
    "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;",          /* table cell */
    "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e", /* JSON */
    "\\\\x1b]0;pwned\\\\x07",         /* JSON: the text-escaped name, its backslashes escaped */
    "\\x1b]0;pwned\\x07",            /* HTML text */
    "line\\u2028sep\\u2029par",       /* JSON */
    "bad\\\\xff\\\\xfe\\u003c!--",   /* JSON */
    "bad\\xff\\xfe&lt;!--",          /* HTML text */
    "a&quot;p&#39;p&amp;.c",         /* HTML text */
    "\\u003c/script\\u003edec\\\\x1b[2Jode", /* marker in JSON */
    NULL};
  for (int i = 0; want[i]; i++)
    if (!strstr(html, want[i])) {
      fprintf(stderr, "hostile page: missing %s\n", want[i]);
      CU_FAIL("escaped name missing");
    }
  free(html);
}

/* The timeline CSV: the RSS columns at the end, the highest sample of a
** bucket with its own anon and file, empty cells where no sample fell. */
static void test_timeline_rss(void) {
  if (!hostile_db[0]) CU_ASSERT_EQUAL_FATAL(build_hostile(), 0);
  CU_ASSERT_EQUAL_FATAL(lowram("export", hostile_db, "--what", "timeline", NULL), 0);
  char *o = lrt_read_file(out_path, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  CU_ASSERT_EQUAL(strncmp(o, "ns_start,ns_end,first_seq,last_seq,max_live,max_live_seq,"
                          "heap_at_end,anon_at_end,file_at_end,rss,rss_anon,rss_file\r\n",
                          strlen("ns_start,ns_end,first_seq,last_seq,max_live,max_live_seq,"
                                 "heap_at_end,anon_at_end,file_at_end,rss,rss_anon,rss_file\r\n")),
                  0);
  int rows = 0, with = 0, found = 0;
  for (char *line = strstr(o, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
    char *l = line + 2, *e = strstr(l, "\r\n");
    size_t len = e ? (size_t)(e - l) : strlen(l);
    char row[512];
    snprintf(row, sizeof row, "%.*s", (int)len, l);
    rows++;
    int commas = 0;
    for (char *c = row; *c; c++) commas += *c == ',';
    CU_ASSERT_EQUAL(commas, 11);
    if (strstr(row, ",,,") && row[strlen(row) - 1] == ',') continue; /* no sample */
    with++;
    if (strstr(row, ",100000,20000,8192")) found++;
  }
  CU_ASSERT(rows >= 2);
  CU_ASSERT_EQUAL(with, 1);
  CU_ASSERT_EQUAL(found, 1);
  CU_ASSERT_PTR_NULL(strstr(o, ",50000,45000,4096")); /* lower sample of the same bucket */
  free(o);
}

/* ---- the browser ---- */

static const char *chromium(void) {
  static char found[512];
  const char *path = getenv("PATH");
  char *copy = strdup(path ? path : "/usr/bin:/bin");
  for (char *d = strtok(copy, ":"); d; d = strtok(NULL, ":")) {
    snprintf(found, sizeof found, "%s/chromium", d);
    if (access(found, X_OK) == 0) {
      free(copy);
      return found;
    }
  }
  free(copy);
  return NULL;
}

/* Runs chromium headless on file://html_path + frag with `mode`
** ("--dump-dom" or "--screenshot=PATH"); stdout to out_path, stderr (its
** log, console messages included) to err_path. */
static int browse(const char *html_path, const char *frag, const char *mode) {
  char url[1200], profile[600];
  snprintf(url, sizeof url, "file://%s%s", html_path, frag);
  snprintf(profile, sizeof profile, "%s/profile", dir);
  mkdir(profile, 0700);
  char udd[700];
  snprintf(udd, sizeof udd, "--user-data-dir=%s", profile);
  char *argv[] = {"timeout", "120", (char *)chromium(), "--headless", "--no-sandbox",
                  "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", udd, "--enable-logging=stderr", "--v=0",
                  "--window-size=1280,900", "--virtual-time-budget=5000", (char *)mode, url,
                  NULL};
  return lrt_run(argv, NULL, out_path, err_path);
}

/* The dumped DOM after the scripts ran; checks what every page must show. */
static char *dom(const char *html_path, const char *frag) {
  CU_ASSERT_EQUAL(browse(html_path, frag, "--dump-dom"), 0);
  char *d = lrt_read_file(out_path, NULL), *log = lrt_read_file(err_path, NULL);
  CU_ASSERT_PTR_NOT_NULL(d);
  if (log && (strstr(log, "CONSOLE") || strstr(log, "Uncaught"))) {
    fprintf(stderr, "chromium log of %s:\n%s\n", html_path, log);
    CU_FAIL("the page wrote to the console");
  }
  free(log);
  if (!d) return NULL;
  const char *body = strstr(d, "<body");
  const char *gt = body ? strchr(body, '>') : NULL;
  char tag[512] = "";
  if (gt) snprintf(tag, sizeof tag, "%.*s", (int)(gt - body), body);
  if (!strstr(tag, "data-ok=\"1\"")) {
    fprintf(stderr, "%s: body is %s\n", html_path, tag);
    CU_FAIL("the page's script did not complete");
  }
  CU_ASSERT_PTR_NULL(strstr(tag, " data-pwned=")); /* an attribute, not text */
  CU_ASSERT_PTR_NOT_NULL(strstr(d, "class=\"live-line\""));
  CU_ASSERT_EQUAL(count(d, "class=\"cursor\"", 0), 1);
  CU_ASSERT_EQUAL(count(d, "<g class=\"peak\"", 0), 1);
  /* the flame graph: as many rectangles as it says it drew */
  const char *fl = strstr(d, "<svg id=\"flame\"");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fl);
  int64_t drawn = num_after(fl, NULL, "data-drawn=\"");
  int64_t labels = num_after(fl, NULL, "data-labels=\"");
  CU_ASSERT(drawn >= 1);
  CU_ASSERT_EQUAL((int64_t)count(fl, "<rect class=\"fg\"", 0), drawn);
  CU_ASSERT_EQUAL((int64_t)count(fl, "<text class=\"fl\"", 0), labels);
  return d;
}

static int have_chromium(void) {
  if (chromium()) return 1;
  fprintf(stderr, "test_html: chromium is not installed: install the Debian package "
          "chromium (./run.sh deps does)\n");
  CU_FAIL("chromium (Debian package chromium) is missing");
  return 0;
}

static void test_browser_hostile(void) {
  if (!have_chromium()) return;
  CU_ASSERT_EQUAL_FATAL(build_hostile(), 0);
  const char *page = lrt_path_in(dir, "hostile.html");
  CU_ASSERT_EQUAL_FATAL(lowram("html", hostile_db, "-o", page, NULL), 0);
  char *d = dom(page, "");
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  const char *fl = strstr(d, "<svg id=\"flame\"");
  CU_ASSERT_EQUAL(num_after(fl, NULL, "data-nodes=\""), 4);
  CU_ASSERT_EQUAL(num_after(fl, NULL, "data-drawn=\""), 4);
  CU_ASSERT_EQUAL(num_after(fl, NULL, "data-labels=\""), 4);
  /* both markers drawn, one of them clamped to the chart's start */
  CU_ASSERT_EQUAL(count(d, "<g class=\"marker\"", 0), 2);
  /* the names are text in the DOM, never elements */
  CU_ASSERT_PTR_NULL(strstr(d, "<img"));
  CU_ASSERT_PTR_NOT_NULL(strstr(d, "\\x1b]0;pwned\\x07"));
  free(d);
}

/* What a user does, done by a script the test adds after the page's own:
** hover the largest leaf (the tooltip), click it (zoom: its caller chain
** and itself), reset, and move the slider to the last moment. */
static const char ui_script[] =
  "<script>(function () {\n"
  "  var b = document.body;\n"
  "  function n() { return document.querySelectorAll('#flame rect.fg').length; }\n"
  "  function ev(t) { return new MouseEvent(t, {bubbles: true, clientX: 60, clientY: 60}); }\n"
  "  try {\n"
  "    var r = document.querySelectorAll('#flame rect.fg');\n"
  "    r[2].dispatchEvent(ev('mousemove'));\n"
  "    var tip = document.getElementById('tip');\n"
  "    b.setAttribute('data-tip', tip.hidden ? 'hidden' : tip.textContent);\n"
  "    r[2].dispatchEvent(ev('click'));\n"
  "    b.setAttribute('data-zoomed', n());\n"
  "    document.getElementById('reset').click();\n"
  "    b.setAttribute('data-reset', n());\n"
  "    var s = document.getElementById('slider');\n"
  "    s.value = s.max;\n"
  "    s.dispatchEvent(new Event('input'));\n"
  "    b.setAttribute('data-slid', document.getElementById('flame').getAttribute('data-moment'));\n"
  "    b.setAttribute('data-ui', 'done');\n"
  "  } catch (e) { b.setAttribute('data-ui', 'error ' + e); }\n"
  "})();</script>\n";

static void test_browser_ui(void) {
  if (!have_chromium()) return;
  if (!hostile_db[0]) CU_ASSERT_EQUAL_FATAL(build_hostile(), 0);
  const char *page = lrt_path_in(dir, "hostile.html"), *ui = lrt_path_in(dir, "ui.html");
  CU_ASSERT_EQUAL_FATAL(lowram("html", hostile_db, "-o", page, NULL), 0);
  char *html = lrt_read_file(page, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(html);
  char *end = strstr(html, "</body>");
  CU_ASSERT_PTR_NOT_NULL_FATAL(end);
  FILE *f = fopen(ui, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fwrite(html, 1, (size_t)(end - html), f);
  fputs(ui_script, f);
  fputs(end, f);
  fclose(f);
  free(html);
  char *d = dom(ui, "");
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  const char *body = strstr(d, "<body");
  char tag[4096] = "";
  const char *gt = body ? strstr(body, "\">\n") : NULL;
  if (gt) snprintf(tag, sizeof tag, "%.*s", (int)(gt - body), body);
  if (!strstr(tag, "data-ui=\"done")) {
    fprintf(stderr, "ui: body is %s\n", tag);
    CU_FAIL("the user's steps failed");
  }
  CU_ASSERT_PTR_NOT_NULL(strstr(tag, "(4000 bytes) in 1 block"));
  CU_ASSERT_PTR_NOT_NULL(strstr(tag, "57.1% of live at this moment"));
  CU_ASSERT_PTR_NOT_NULL(strstr(tag, "data-zoomed=\"3\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(tag, "data-reset=\"4\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(tag, "data-slid=\""));
  CU_ASSERT_PTR_NULL(strstr(tag, "data-slid=\"0\"")); /* the peak is moment 0 */
  free(d);
}

/* A trace without allocations: the page says so, and its script completes. */
static void test_browser_empty(void) {
  if (!have_chromium()) return;
  const char *db = lrt_path_in(dir, "empty.db"), *page = lrt_path_in(dir, "empty.html");
  sqlite3 *s = tb_create(db);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL_FATAL(tb_finish(s, db, 1), 0);
  CU_ASSERT_EQUAL_FATAL(lowram("html", db, "-o", page, NULL), 0);
  CU_ASSERT_EQUAL(browse(page, "", "--dump-dom"), 0);
  char *d = lrt_read_file(out_path, NULL), *log = lrt_read_file(err_path, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  CU_ASSERT_PTR_NOT_NULL(strstr(d, "<body data-ok=\"1\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(d, "<div id=\"flame-box\">No allocations in this trace."));
  CU_ASSERT(!log || !strstr(log, "CONSOLE"));
  free(d);
  free(log);
}

/* One rectangle per node of the call tree the folded export describes. */
static long folded_nodes(void) {
  CU_ASSERT_EQUAL(lowram("export", qrun_db, "--what", "contributors", "--format", "folded",
                         NULL), 0);
  char *o = lrt_read_file(out_path, NULL);
  if (!o) return -1;
  char **pre = NULL;
  size_t n = 0, cap = 0;
  for (char *line = strtok(o, "\n"); line; line = strtok(NULL, "\n")) {
    char *sp = strrchr(line, ' ');
    if (sp) *sp = 0;
    for (char *p = line;; p++)
      if (*p == ';' || !*p) {
        if (n == cap) pre = realloc(pre, (cap = cap * 2 + 64) * sizeof *pre);
        pre[n++] = strndup(line, (size_t)(p - line));
        if (!*p) break;
      }
  }
  long distinct = 0;
  for (size_t i = 0; i < n; i++) {
    int seen = 0;
    for (size_t k = 0; k < i && !seen; k++) seen = !strcmp(pre[i], pre[k]);
    distinct += !seen;
  }
  for (size_t i = 0; i < n; i++) free(pre[i]);
  free(pre);
  free(o);
  return distinct + 1; /* and the root */
}

static void test_browser_qrun(void) {
  if (!have_chromium()) return;
  if (!qrun_db[0]) CU_ASSERT_EQUAL_FATAL(record_qrun(), 0);
  const char *page = lrt_path_in(dir, "qrun.html");
  CU_ASSERT_EQUAL_FATAL(lowram("html", qrun_db, "-o", page, NULL), 0);
  long nodes = folded_nodes();
  char *d = dom(page, "");
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  const char *fl = strstr(d, "<svg id=\"flame\"");
  CU_ASSERT_EQUAL(num_after(fl, NULL, "data-nodes=\""), nodes);
  CU_ASSERT_EQUAL(num_after(fl, NULL, "data-moment=\""), 0);
  /* qrun marks load, prefill and decode */
  CU_ASSERT_EQUAL(count(d, "<g class=\"marker\"", 0), 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(d, ">qr_alloc_kv_cache</text>"));
  /* a tick on the chart per embedded moment (moments at one seq are one) */
  char *html = lrt_read_file(page, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(html);
  size_t moments = count(d, "<rect class=\"moment-tick\"", 0);
  CU_ASSERT_EQUAL(moments, count(html, "{\"label\":", 0));
  CU_ASSERT(moments >= 4);
  free(html);
  free(d);
  /* another moment, picked by the address (#moment=N) */
  d = dom(page, "#moment=2");
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  CU_ASSERT_EQUAL(num_after(strstr(d, "<svg id=\"flame\""), NULL, "data-moment=\""), 2);
  free(d);
  /* a picture, to look at (LRTEST_KEEP=1 keeps it) */
  char shot[700], arg[720];
  snprintf(shot, sizeof shot, "%s/qrun.png", dir);
  snprintf(arg, sizeof arg, "--screenshot=%s", shot);
  CU_ASSERT_EQUAL(browse(page, "", arg), 0);
  struct stat st;
  CU_ASSERT_EQUAL(stat(shot, &st), 0);
  CU_ASSERT(st.st_size > 20000);
  fprintf(stderr, "test_html: screenshot %s (%lld bytes)\n", shot, (long long)st.st_size);
}

int main(int argc, char **argv) {
  const char *which = argc > 1 ? argv[1] : "page";
  CU_initialize_registry();
  dir = lrt_tmpdir("html");
  snprintf(out_path, sizeof out_path, "%s/out.txt", dir);
  snprintf(err_path, sizeof err_path, "%s/err.txt", dir);
  if (!strcmp(which, "browser")) {
    CU_pSuite s = CU_add_suite("html in chromium", NULL, NULL);
    CU_add_test(s, "hostile names: script completes, nothing injected", test_browser_hostile);
    CU_add_test(s, "hover, zoom, reset, slider", test_browser_ui);
    CU_add_test(s, "no allocations: said, no error", test_browser_empty);
    CU_add_test(s, "qrun: chart, flame graph, moments, screenshot", test_browser_qrun);
  } else {
    CU_pSuite s = CU_add_suite("html page", NULL, NULL);
    CU_add_test(s, "qrun: numbers as report --json, clean bytes", test_qrun_page);
    CU_add_test(s, "hostile names: escaped, never markup", test_hostile_page);
    CU_add_test(s, "timeline CSV: RSS columns", test_timeline_rss);
  }
  return lrt_main();
}
