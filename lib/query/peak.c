/*
** peak.c: live bytes at any seq, moment parsing, readable stacks and the
** grouping of live blocks into contributors (peak.h).
**
** Live bytes at S come from the nearest agg_checkpoints row at or before S
** plus the allocations and frees between it and S: at most
** LR_AGG_CHECKPOINT events through the seq indexes, whatever the trace size.
** Contributors are one GROUP BY stack_id over the blocks live at S; stacks
** are then named from the small frames tables and regrouped in memory.
*/
#include "lowram/peak.h"

#include "core/trace_internal.h"
#include "query/agg.h"
#include "query/peak_sql.h"
#include "query/qdb.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sqlerr(sqlite3 *db, const char *path, LrErr *err) {
  return lr_err_set(err, "%s: %s", path ? path : "(trace)", sqlite3_errmsg(db));
}

/* Sizes come from the trace, which may be damaged or crafted: sums stop at
** the int64 limits instead of overflowing. */
static int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  if (!__builtin_add_overflow(a, b, &r)) return r;
  return b > 0 ? INT64_MAX : INT64_MIN;
}

static const char *const by_names[] = {"stack", "function", "module", "file", "line"};

int lr_peak_parse_by(const char *s, LrBy *out) {
  for (int i = 0; i < 5; i++)
    if (s && !strcmp(s, by_names[i])) {
      *out = (LrBy)i;
      return 0;
    }
  return -1;
}

const char *lr_peak_by_name(LrBy by) {
  return (unsigned)by < 5 ? by_names[by] : "?";
}

/* One integer answer of a query with up to three int64 parameters; 1 if a
** non-NULL value came back, 0 if none, -1 on error. */
static int q_int(sqlite3 *db, const char *sql, int64_t a, int64_t b, int64_t c, int64_t *out) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
  int np = sqlite3_bind_parameter_count(st);
  if (np >= 1) sqlite3_bind_int64(st, 1, a);
  if (np >= 2) sqlite3_bind_int64(st, 2, b);
  if (np >= 3) sqlite3_bind_int64(st, 3, c);
  int rc = sqlite3_step(st), got = 0;
  if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
    *out = sqlite3_column_int64(st, 0);
    got = 1;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? got : -1;
}

static int info(sqlite3 *db, const char *key, int64_t *out) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT value FROM agg_info WHERE key = ?1", -1, &st, NULL) !=
      SQLITE_OK)
    return -1;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  int ok = sqlite3_step(st) == SQLITE_ROW;
  if (ok) *out = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return ok ? 0 : -1;
}

static int live_at(sqlite3 *db, int64_t seq, LrLive *out, LrErr *err) {
  sqlite3_stmt *st;
  int64_t ck = -1;
  memset(out, 0, sizeof *out);
  if (sqlite3_prepare_v2(db,
                         "SELECT seq, heap, anon, file FROM agg_checkpoints WHERE seq <= ?1 "
                         "ORDER BY seq DESC LIMIT 1",
                         -1, &st, NULL) != SQLITE_OK)
    return sqlerr(db, NULL, err);
  sqlite3_bind_int64(st, 1, seq);
  if (sqlite3_step(st) == SQLITE_ROW) {
    ck = sqlite3_column_int64(st, 0);
    out->heap = sqlite3_column_int64(st, 1);
    out->anon = sqlite3_column_int64(st, 2);
    out->file = sqlite3_column_int64(st, 3);
  }
  sqlite3_finalize(st);
  static const char *const sql[2] = {
    "SELECT region, sum(size) FROM allocations WHERE alloc_seq > ?1 AND alloc_seq <= ?2 "
    "GROUP BY region",
    "SELECT region, -sum(size) FROM allocations WHERE free_seq > ?1 AND free_seq <= ?2 "
    "GROUP BY region"};
  for (int k = 0; k < 2; k++) {
    if (sqlite3_prepare_v2(db, sql[k], -1, &st, NULL) != SQLITE_OK) return sqlerr(db, NULL, err);
    sqlite3_bind_int64(st, 1, ck);
    sqlite3_bind_int64(st, 2, seq);
    while (sqlite3_step(st) == SQLITE_ROW) {
      const char *r = (const char *)sqlite3_column_text(st, 0);
      int64_t v = sqlite3_column_int64(st, 1);
      if (r && !strcmp(r, "file")) out->file += v;
      else if (r && !strcmp(r, "anon")) out->anon += v;
      else if (r && !strcmp(r, "reserved")) continue; /* address space, not memory */
      else out->heap += v;
    }
    sqlite3_finalize(st);
  }
  return 0;
}

/* Time of the last event at or before seq. */
static int seq_ns(sqlite3 *db, int64_t seq, int64_t *ns) {
  int64_t ck = -1, v;
  *ns = 0;
  if (q_int(db, "SELECT seq FROM agg_checkpoints WHERE seq <= ?1 ORDER BY seq DESC LIMIT 1",
            seq, 0, 0, &ck) < 0 ||
      q_int(db, "SELECT ns FROM agg_checkpoints WHERE seq = ?1", ck, 0, 0, ns) < 0)
    return -1;
  static const char *const sql[] = {
    "SELECT max(alloc_ns) FROM allocations WHERE alloc_seq > ?1 AND alloc_seq <= ?2",
    "SELECT max(free_ns) FROM allocations WHERE free_seq > ?1 AND free_seq <= ?2",
    "SELECT max(ns) FROM markers WHERE seq > ?1 AND seq <= ?2"};
  for (int k = 0; k < 3; k++) {
    int r = q_int(db, sql[k], ck, seq, 0, &v);
    if (r < 0) return -1;
    if (r && v > *ns) *ns = v;
  }
  return 0;
}

/* The last event seq whose time is <= ns; 0 if there is one. */
static int ns_seq(sqlite3 *db, int64_t ns, int64_t *seq) {
  int64_t lo = -1, hi = INT64_MAX, v;
  if (q_int(db, "SELECT max(seq) FROM agg_checkpoints WHERE ns <= ?1", ns, 0, 0, &lo) < 0 ||
      q_int(db, "SELECT min(seq) FROM agg_checkpoints WHERE ns > ?1", ns, 0, 0, &hi) < 0)
    return -1;
  *seq = lo;
  static const char *const sql[] = {
    "SELECT max(alloc_seq) FROM allocations WHERE alloc_seq > ?1 AND alloc_seq < ?2 "
    "AND alloc_ns <= ?3",
    "SELECT max(free_seq) FROM allocations WHERE free_seq > ?1 AND free_seq < ?2 "
    "AND free_ns <= ?3",
    "SELECT max(seq) FROM markers WHERE seq > ?1 AND seq < ?2 AND ns <= ?3"};
  for (int k = 0; k < 3; k++) {
    int r = q_int(db, sql[k], lo, hi, ns, &v);
    if (r < 0) return -1;
    if (r && v > *seq) *seq = v;
  }
  return 0;
}

static int moment_at_seq(sqlite3 *db, const char *path, int64_t seq, LrMoment *out,
                         LrErr *err) {
  memset(out, 0, sizeof *out);
  out->seq = seq;
  int64_t peak_seq = -2;
  info(db, "peak_seq", &peak_seq);
  int64_t groups = 0;
  info(db, "groups", &groups);
  out->is_peak = groups > 0 && seq == peak_seq;
  if (live_at(db, seq, &out->live, err)) return -1;
  if (seq_ns(db, seq, &out->ns)) return sqlerr(db, path, err);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT name, seq, ns, (SELECT count(*) FROM markers m2 WHERE "
                         "m2.name = m.name AND (m2.seq < m.seq OR (m2.seq = m.seq AND "
                         "m2.id <= m.id))) FROM markers m WHERE seq <= ?1 "
                         "ORDER BY seq DESC, id DESC LIMIT 1",
                         -1, &st, NULL) != SQLITE_OK)
    return sqlerr(db, path, err);
  sqlite3_bind_int64(st, 1, seq);
  if (sqlite3_step(st) == SQLITE_ROW) {
    const char *n = (const char *)sqlite3_column_text(st, 0);
    snprintf(out->marker, sizeof out->marker, "%s", n ? n : "");
    out->marker_seq = sqlite3_column_int64(st, 1);
    out->marker_ns = sqlite3_column_int64(st, 2);
    out->marker_nth = sqlite3_column_int64(st, 3);
  }
  sqlite3_finalize(st);
  return 0;
}

/* "1.5s" -> ns; 0 if s is a time, -1 otherwise. */
static int parse_time(const char *s, int64_t *ns) {
  static const struct { const char *u; double mult; } units[] = {
    {"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"min", 60e9}};
  if (!isdigit((unsigned char)*s) && *s != '.') return -1;
  errno = 0;
  char *end;
  double v = strtod(s, &end);
  if (end == s || errno || !(v >= 0)) return -1;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (!strcmp(end, units[i].u)) {
      double r = v * units[i].mult;
      if (r > 9.2e18) return -1;
      *ns = (int64_t)llround(r);
      return 0;
    }
  return -1;
}

static int all_digits(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!isdigit((unsigned char)*s)) return 0;
  return 1;
}

static int find_marker(sqlite3 *db, const char *path, const char *spec, int64_t *seq,
                       LrErr *err) {
  char name[256];
  snprintf(name, sizeof name, "%s", spec);
  int64_t nth = 1;
  char *hash = strrchr(name, '#');
  if (hash && all_digits(hash + 1)) {
    nth = strtoll(hash + 1, NULL, 10);
    *hash = 0;
    if (nth < 1) return lr_err_set(err, "%s: marker '%s': occurrences count from #1", path, spec);
  }
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT seq, (SELECT count(*) FROM markers WHERE name = ?1) "
                         "FROM markers WHERE name = ?1 ORDER BY seq, id LIMIT 1 OFFSET ?2",
                         -1, &st, NULL) != SQLITE_OK)
    return sqlerr(db, path, err);
  sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, nth - 1);
  int found = sqlite3_step(st) == SQLITE_ROW;
  if (found) *seq = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (found) return 0;
  int64_t count = 0;
  q_int(db, "SELECT count(*) FROM markers", 0, 0, 0, &count);
  char have[160] = "";
  if (sqlite3_prepare_v2(db, "SELECT name, count(*) FROM markers GROUP BY name ORDER BY min(seq)",
                         -1, &st, NULL) == SQLITE_OK) {
    size_t len = 0;
    while (sqlite3_step(st) == SQLITE_ROW && len + 40 < sizeof have) {
      const char *n = (const char *)sqlite3_column_text(st, 0);
      len += (size_t)snprintf(have + len, sizeof have - len, "%s%.24s x%lld", len ? ", " : "",
                              n ? n : "", (long long)sqlite3_column_int64(st, 1));
    }
    sqlite3_finalize(st);
  }
  if (!count)
    return lr_err_set(err, "%s: no moment '%s': not a seq, time or peak, and the trace has "
                      "no markers", path, spec);
  return lr_err_set(err, "%s: no marker '%s' (markers: %s)", path, spec, have);
}

static int moment(sqlite3 *db, const char *path, const char *spec, LrMoment *out,
                  LrErr *err) {
  int64_t seq, last = -1, last_ns = 0;
  path = path ? path : "(trace)";
  if (info(db, "last_seq", &last) || info(db, "last_ns", &last_ns))
    return lr_err_set(err, "%s: the trace has no aggregate tables", path);
  /* the run goes on after its last allocation: markers, samples, its end */
  static const char *const ends[] = {
    "SELECT max(seq) FROM markers", "SELECT max(seq) FROM rss_samples",
    "SELECT value FROM meta WHERE key = 'last_seq'", "SELECT max(ns) FROM markers",
    "SELECT max(ns) FROM rss_samples", "SELECT value FROM meta WHERE key = 'end_ns'"};
  for (int k = 0; k < 6; k++) {
    int64_t v;
    if (q_int(db, ends[k], 0, 0, 0, &v) == 1) {
      int64_t *dst = k < 3 ? &last : &last_ns;
      if (v > *dst) *dst = v;
    }
  }
  int64_t groups = 0;
  info(db, "groups", &groups);
  if (!spec || !*spec || !strcmp(spec, "peak")) {
    if (info(db, "peak_seq", &seq)) return lr_err_set(err, "%s: no peak recorded", path);
    if (!groups) {
      /* nothing was ever allocated: the peak is zero bytes, at the start */
      memset(out, 0, sizeof *out);
      out->is_peak = 1;
      return 0;
    }
  } else if (!strncmp(spec, "marker:", 7)) {
    if (find_marker(db, path, spec + 7, &seq, err)) return -1;
  } else if (all_digits(spec)) {
    errno = 0;
    seq = strtoll(spec, NULL, 10);
    if (errno || seq > last)
      return lr_err_set(err, "%s: seq %s is past the last event (seq %lld)", path, spec,
                        (long long)last);
  } else if (isdigit((unsigned char)spec[0]) || spec[0] == '.') {
    int64_t ns;
    if (parse_time(spec, &ns)) {
      /* not a time: maybe a marker whose name starts with a digit */
      if (find_marker(db, path, spec, &seq, err) == 0)
        return moment_at_seq(db, path, seq, out, err);
      return lr_err_set(err, "%s: bad moment '%s' (want peak, a seq, a time like 1.5s or "
                        "200ms, or a marker name)", path, spec);
    }
    if (ns > last_ns) {
      char b[64];
      snprintf(b, sizeof b, "%.3f s", (double)last_ns / 1e9);
      return lr_err_set(err, "%s: time %s is after the end of the trace (%s)", path, spec, b);
    }
    if (ns_seq(db, ns, &seq)) return sqlerr(db, path, err);
    if (seq < 0)
      return lr_err_set(err, "%s: time %s is before the first event", path, spec);
  } else {
    if (find_marker(db, path, spec, &seq, err)) return -1;
  }
  return moment_at_seq(db, path, seq, out, err);
}

int lr_peak_live_at(LrTrace *t, int64_t seq, LrLive *out, LrErr *err) {
  sqlite3 *db = lr_qdb(t, err);
  return db ? live_at(db, seq, out, err) : -1;
}

int lr_peak_moment(LrTrace *t, const char *spec, LrMoment *out, LrErr *err) {
  sqlite3 *db = lr_qdb(t, err);
  return db ? moment(db, lr_trace_path(t), spec, out, err) : -1;
}

int lr_peak_moment_at_seq(LrTrace *t, int64_t seq, LrMoment *out, LrErr *err) {
  sqlite3 *db = lr_qdb(t, err);
  return db ? moment_at_seq(db, lr_trace_path(t), seq, out, err) : -1;
}

/* ---- stacks ---- */

struct LrStacks {
  sqlite3 *db;
  sqlite3_stmt *q;
  LrStack **slot; /* open addressing on id */
  size_t n, cap;
  /* every frame's function, file and module, each distinct string once:
  ** a PyTorch trace's 1M stacks of ~61 frames repeat 1,459 functions, and
  ** a copy per frame took gigabytes */
  char **str; /* open addressing */
  size_t nstr, capstr;
};

LrStacks *lr_peak_stacks_new(LrTrace *t) {
  LrStacks *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->db = lr_trace_db(t);
  return c;
}

/* The strings belong to the cache (str), not to the stack. */
static void stack_free(LrStack *s) {
  if (!s) return;
  free(s->frames);
  free(s);
}

void lr_peak_stacks_free(LrStacks *c) {
  if (!c) return;
  for (size_t i = 0; i < c->cap; i++) stack_free(c->slot[i]);
  free(c->slot);
  for (size_t i = 0; i < c->capstr; i++) free(c->str[i]);
  free(c->str);
  sqlite3_finalize(c->q);
  free(c);
}

static uint64_t hash64(int64_t k) {
  uint64_t x = (uint64_t)k * 0x9E3779B97F4A7C15ull;
  return x ^ (x >> 31);
}

static const char *base_name(const char *p) {
  const char *s = p ? strrchr(p, '/') : NULL;
  return s ? s + 1 : p;
}

/* Modules of the C/C++ runtime and of allocators: never a site, never the
** program's own module. */
static int runtime_module(const char *m) {
  static const char *const mods[] = {"libc.so", "libc-", "libstdc++", "libc++", "ld-linux",
                                     "ld-musl", "liblowram", "libjemalloc", "libtcmalloc",
                                     "libmimalloc", "libgcc_s", "libm.so", "libpthread",
                                     "libdl.so"};
  for (size_t i = 0; m && i < sizeof mods / sizeof mods[0]; i++)
    if (!strncmp(m, mods[i], strlen(mods[i]))) return 1;
  return 0;
}

/* Functions that allocate on behalf of their caller, so never the place a
** person would change: the C allocator's entry points and the allocation
** layers of the frameworks inference programs are built on. A name is a
** wrapper when it equals an entry ending without '*', or starts with one
** ending in '*'. Add a framework's allocation layer here, not its API
** (llama_kv_cache::llama_kv_cache is the site, ggml_aligned_malloc is not). */
static const char *const wrapper_fns[] = {
  /* C allocator and friends */
  "malloc", "calloc", "realloc", "free", "strdup", "strndup", "asprintf", "vasprintf",
  "posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc", "reallocarray",
  "xmalloc", "xcalloc", "xrealloc", "xstrdup", "mmap", "mmap64", "mremap",
  "operator new*", "_Znw*", "_Zna*", "__libc_*", "__GI_*",
  /* C++ containers growing: std::vector, std::string, their allocators */
  "std::vector<*", "std::_Vector_base<*", "std::__new_allocator<*",
  "__gnu_cxx::new_allocator<*", "std::allocator_traits<*", "std::allocator<*",
  "std::__cxx11::basic_string<*", "std::basic_string<*", "std::__detail::_Hashtable_alloc<*",
  /* ggml (llama.cpp, whisper.cpp): buffers and tensors */
  "ggml_aligned_malloc", "ggml_malloc", "ggml_calloc", "ggml_backend_buft_alloc_buffer",
  "ggml_backend_buffer_init", "ggml_backend_cpu_buffer_type_alloc_buffer",
  "ggml_backend_cpu_buffer_from_ptr", "alloc_tensor_range", "ggml_backend_alloc_ctx_tensors*",
  "ggml_gallocr_*", "ggml_new_object", "ggml_new_tensor*", "ggml_init",
  /* CPython's allocators: PyMem_*, PyObject_*alloc, obmalloc's arenas */
  "PyMem_*", "_PyMem_*", "PyObject_Malloc", "PyObject_Calloc", "PyObject_Realloc",
  "PyObject_GC_*", "_PyObject_*", "pymalloc_*", "new_arena", "allocate_from_new_pool",
  "PyType_GenericAlloc", "_PyType_AllocNoTrack", "gc_alloc",
  /* numpy's data allocator */
  "PyDataMem_*", "default_malloc", "default_calloc", "default_realloc", "npy_alloc_cache*",
  "_npy_alloc_cache", "npy_alloc_cache_zero",
  /* PyTorch's c10 CPU allocator */
  "c10::alloc_cpu*", "c10::DefaultCPUAllocator::*", "c10::DefaultMobileCPUAllocator*",
  "c10::ProfiledCPUMemoryReporter::*", "c10::memset_junk*",
  /* onnxruntime */
  "onnxruntime::CPUAllocator::Alloc*", "onnxruntime::AllocatorDefaultAlloc*",
};

static int is_wrapper_name(const char *fn) {
  for (size_t i = 0; i < sizeof wrapper_fns / sizeof wrapper_fns[0]; i++) {
    const char *w = wrapper_fns[i];
    size_t n = strlen(w);
    if (w[n - 1] == '*' ? !strncmp(fn, w, n - 1) : !strcmp(fn, w)) return 1;
  }
  return 0;
}

/* Frames inside allocator or framework wrappers, or the C/C++ runtime, are
** not the place a person would change; the site is the first frame outside
** them. */
static int is_wrapper(const LrFrame *f) {
  if (runtime_module(base_name(f->module))) return 1;
  return f->function && is_wrapper_name(f->function);
}

/* The program's own module: the one of the outermost frame outside the
** runtime (main's, or a thread's start function's). */
static size_t own_frame(const LrStack *s) {
  const char *own = NULL;
  for (size_t i = s->nframes; i-- > 0;)
    if (s->frames[i].module && !runtime_module(base_name(s->frames[i].module))) {
      own = s->frames[i].module;
      break;
    }
  if (!own) return s->site;
  /* the outermost frame is the entry (_start), which tells nothing */
  for (size_t i = s->site; i + 1 < s->nframes; i++)
    if (s->frames[i].module && !strcmp(s->frames[i].module, own)) return i;
  return s->site;
}

/* A Python program's stacks hold its Python frames (module "[python]",
** ingest/pyframes.h). The line a person would change is then the
** innermost Python frame of the program's own code: not the standard
** library's, an installed package's (a path with /lib/python,
** site-packages or dist-packages in it) nor a frozen module's
** ("<frozen ...>"); else the innermost Python frame. It is both the site
** and the own frame. Stacks without Python frames are left as they are. */
static void python_site(LrStack *s) {
  size_t first = s->nframes;
  for (size_t i = 0; i < s->nframes; i++) {
    const LrFrame *f = &s->frames[i];
    if (!f->module || strcmp(f->module, "[python]") != 0) continue;
    if (first == s->nframes) first = i;
    const char *p = f->file;
    if (p && *p && *p != '<' && !strstr(p, "/lib/python") && !strstr(p, "site-packages") &&
        !strstr(p, "dist-packages")) {
      s->site = s->own = i;
      return;
    }
  }
  if (first < s->nframes) s->site = s->own = first;
}

char *lr_peak_module_name(const char *path, size_t max, char *buf, size_t len) {
  const char *b = base_name(path);
  if (!b) b = "?";
  size_t n = strlen(b);
  if (max < 8 || n <= max) {
    snprintf(buf, len, "%s", b);
    return buf;
  }
  /* keep the start and the end (a third of max, at least the extension from
  ** ".so" on, at most half), "…" between */
  const char *ext = strstr(b, ".so");
  size_t tail = ext ? n - (size_t)(ext - b) : 0;
  if (tail < max / 3) tail = max / 3; /* ".cpython-311-x86_64-linux-gnu.so" */
  if (tail > max / 2) tail = max / 2;
  size_t head = max - 1 - tail; /* the ellipsis counts one column */
  /* cut between UTF-8 characters */
  while (head > 0 && ((unsigned char)b[head] & 0xC0) == 0x80) head--;
  const char *t = b + n - tail;
  while (*t && ((unsigned char)*t & 0xC0) == 0x80) t++;
  snprintf(buf, len, "%.*s\xe2\x80\xa6%s", (int)head, b, t);
  return buf;
}

static uint64_t str_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

/* Column i as the cache's one copy of that string; NULL for NULL. *oom set
** when memory runs out. */
static const char *intern_col(LrStacks *c, sqlite3_stmt *st, int i, int *oom) {
  const char *t = (const char *)sqlite3_column_text(st, i);
  if (!t) return NULL;
  if ((c->nstr + 1) * 4 > c->capstr * 3) {
    size_t nc = c->capstr ? c->capstr * 2 : 1024;
    char **ns = calloc(nc, sizeof *ns);
    if (!ns) {
      *oom = 1;
      return NULL;
    }
    for (size_t k = 0; k < c->capstr; k++) {
      if (!c->str[k]) continue;
      size_t j = str_hash(c->str[k]) & (nc - 1);
      while (ns[j]) j = (j + 1) & (nc - 1);
      ns[j] = c->str[k];
    }
    free(c->str);
    c->str = ns;
    c->capstr = nc;
  }
  size_t j = str_hash(t) & (c->capstr - 1);
  for (; c->str[j]; j = (j + 1) & (c->capstr - 1))
    if (!strcmp(c->str[j], t)) return c->str[j];
  if (!(c->str[j] = strdup(t))) {
    *oom = 1;
    return NULL;
  }
  c->nstr++;
  return c->str[j];
}

static LrFrame *push_frame(LrStack *s, size_t *cap) {
  if (s->nframes == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    LrFrame *nf = realloc(s->frames, nc * sizeof *nf);
    if (!nf) return NULL;
    s->frames = nf;
    *cap = nc;
  }
  LrFrame *f = &s->frames[s->nframes++];
  memset(f, 0, sizeof *f);
  return f;
}

/* One row per frame, or per inlined function at it (innermost first) and
** then the frame itself; traces made before inline_frames existed use the
** view alone. */
static const char stack_sql_inline[] =
    "SELECT e.depth, i.depth, i.function, i.file, i.line, f.function, f.file, f.line, m.path, "
    "f.rel_pc FROM stack_entries e JOIN frames f ON f.id = e.frame_id "
    "LEFT JOIN modules m ON m.id = f.module_id "
    "LEFT JOIN inline_frames i ON i.frame_id = f.id "
    "WHERE e.stack_id = ?1 ORDER BY e.depth, i.depth";
static const char stack_sql_plain[] =
    "SELECT depth, NULL, NULL, NULL, NULL, function, file, line, module, rel_pc "
    "FROM stack_frames WHERE stack_id = ?1 ORDER BY depth";

static LrStack *load_stack(LrStacks *c, int64_t id, LrErr *err) {
  LrStack *s = calloc(1, sizeof *s);
  if (!s) goto nomem;
  s->id = id;
  if (id < 0) return s;
  if (!c->q && sqlite3_prepare_v2(c->db, stack_sql_inline, -1, &c->q, NULL) != SQLITE_OK &&
      sqlite3_prepare_v2(c->db, stack_sql_plain, -1, &c->q, NULL) != SQLITE_OK) {
    lr_err_set(err, "stacks: %s", sqlite3_errmsg(c->db));
    free(s);
    return NULL;
  }
  sqlite3_reset(c->q);
  sqlite3_bind_int64(c->q, 1, id);
  size_t cap = 0;
  int rc, oom = 0;
  int64_t cur = -1; /* the stack depth whose own frame is still to come */
  LrFrame pend = {0};
  for (;;) {
    rc = sqlite3_step(c->q);
    int64_t depth = rc == SQLITE_ROW ? sqlite3_column_int64(c->q, 0) : -1;
    if (cur >= 0 && depth != cur) { /* the frame after its inlined functions */
      LrFrame *f = push_frame(s, &cap);
      if (!f) goto nomem_pend;
      *f = pend;
      memset(&pend, 0, sizeof pend);
      cur = -1;
    }
    if (rc != SQLITE_ROW) break;
    if (cur < 0) {
      cur = depth;
      pend.function = intern_col(c, c->q, 5, &oom);
      pend.file = intern_col(c, c->q, 6, &oom);
      pend.line = sqlite3_column_int64(c->q, 7);
      pend.module = intern_col(c, c->q, 8, &oom);
      if (oom) goto nomem_pend;
      pend.rel_pc = sqlite3_column_int64(c->q, 9);
    }
    if (sqlite3_column_type(c->q, 1) != SQLITE_NULL) {
      LrFrame *f = push_frame(s, &cap);
      if (!f) goto nomem_pend;
      f->function = intern_col(c, c->q, 2, &oom);
      f->file = intern_col(c, c->q, 3, &oom);
      f->line = sqlite3_column_int64(c->q, 4);
      f->module = pend.module;
      if (oom) goto nomem_pend;
      f->rel_pc = pend.rel_pc;
      f->inlined = 1;
    }
  }
  sqlite3_reset(c->q);
  if (rc != SQLITE_DONE) {
    lr_err_set(err, "stacks: %s", sqlite3_errmsg(c->db));
    stack_free(s);
    return NULL;
  }
  s->site = 0;
  for (size_t i = 0; i < s->nframes; i++)
    if (!is_wrapper(&s->frames[i])) {
      s->site = i;
      break;
    }
  s->own = own_frame(s);
  python_site(s);
  return s;
nomem_pend:
  sqlite3_reset(c->q);
nomem:
  stack_free(s);
  lr_err_set(err, "stacks: out of memory");
  return NULL;
}

const LrStack *lr_peak_stack(LrStacks *c, int64_t id, LrErr *err) {
  if ((c->n + 1) * 2 > c->cap) {
    size_t ncap = c->cap ? c->cap * 2 : 256;
    LrStack **ns = calloc(ncap, sizeof *ns);
    if (!ns) {
      lr_err_set(err, "stacks: out of memory");
      return NULL;
    }
    for (size_t i = 0; i < c->cap; i++) {
      if (!c->slot[i]) continue;
      size_t j = hash64(c->slot[i]->id) & (ncap - 1);
      while (ns[j]) j = (j + 1) & (ncap - 1);
      ns[j] = c->slot[i];
    }
    free(c->slot);
    c->slot = ns;
    c->cap = ncap;
  }
  size_t j = hash64(id) & (c->cap - 1);
  while (c->slot[j] && c->slot[j]->id != id) j = (j + 1) & (c->cap - 1);
  if (!c->slot[j]) {
    if (!(c->slot[j] = load_stack(c, id, err))) return NULL;
    c->n++;
  }
  return c->slot[j];
}

char *lr_peak_frame_name(const LrFrame *f, char *buf, size_t len) {
  if (f->function && *f->function) snprintf(buf, len, "%s", f->function);
  else if (f->module) snprintf(buf, len, "%s+0x%llx", base_name(f->module),
                               (unsigned long long)f->rel_pc);
  else snprintf(buf, len, "0x%llx", (unsigned long long)f->rel_pc);
  return buf;
}

char *lr_peak_group_key(const LrStack *s, LrBy by, char *buf, size_t len) {
  if (by == LR_BY_STACK || s->nframes == 0) {
    if (s->id < 0) snprintf(buf, len, "[no stack]");
    else if (by == LR_BY_STACK) snprintf(buf, len, "#%lld", (long long)s->id);
    else snprintf(buf, len, "[empty stack]");
    return buf;
  }
  const LrFrame *f = &s->frames[s->site];
  switch (by) {
  case LR_BY_FUNCTION: return lr_peak_frame_name(f, buf, len);
  case LR_BY_MODULE: snprintf(buf, len, "%s", f->module ? f->module : "?"); break;
  case LR_BY_FILE: snprintf(buf, len, "%s", f->file ? f->file : "?"); break;
  default:
    if (f->file) snprintf(buf, len, "%s:%lld", f->file, (long long)f->line);
    else lr_peak_frame_name(f, buf, len);
    break;
  }
  return buf;
}

char *lr_peak_stack_path(const LrStack *s) {
  if (s->nframes == 0) return strdup(s->id < 0 ? "[no stack]" : "[empty stack]");
  size_t cap = 256, len = 0;
  char *out = malloc(cap), name[512];
  if (!out) return NULL;
  for (size_t i = s->nframes; i-- > 0;) {
    lr_peak_frame_name(&s->frames[i], name, sizeof name);
    size_t n = strlen(name);
    if (len + n + 2 > cap) {
      while (len + n + 2 > cap) cap *= 2;
      char *no = realloc(out, cap);
      if (!no) {
        free(out);
        return NULL;
      }
      out = no;
    }
    for (size_t k = 0; k < n; k++)
      if (name[k] == ';' || name[k] == '\n' || name[k] == '\r') name[k] = '_';
    memcpy(out + len, name, n);
    len += n;
    if (i) out[len++] = ';';
  }
  out[len] = 0;
  return out;
}

/* ---- grouping ---- */

void lr_peak_groups_free(LrGroups *g) {
  if (!g) return;
  for (size_t i = 0; i < g->n; i++) free(g->v[i].key);
  free(g->v);
  memset(g, 0, sizeof *g);
}

typedef struct Slot {
  size_t group;    /* index + 1 into g->v; 0 = empty */
  int64_t best;    /* bytes of the group's top stack */
} Slot;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static int cmp_group(const void *a, const void *b) {
  const LrGroup *x = a, *y = b;
  if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
  if (x->count != y->count) return x->count > y->count ? -1 : 1;
  return strcmp(x->key, y->key);
}

int lr_peak_group_sql(sqlite3 *db, LrStacks *c, const char *sql, LrBy by, LrGroups *out,
                      LrErr *err) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return lr_err_set(err, "query: %s", sqlite3_errmsg(db));
  Slot *slot = NULL;
  size_t cap = 0, vcap = 0;
  int rc, ret = -1;
  char key[1024];
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 0);
    int64_t bytes = sqlite3_column_int64(st, 1), count = sqlite3_column_int64(st, 2);
    const LrStack *s = lr_peak_stack(c, id, err);
    if (!s) goto out;
    lr_peak_group_key(s, by, key, sizeof key);
    if ((out->n + 1) * 2 > cap) {
      size_t ncap = cap ? cap * 2 : 256;
      Slot *ns = calloc(ncap, sizeof *ns);
      if (!ns) goto nomem;
      for (size_t i = 0; i < cap; i++) {
        if (!slot[i].group) continue;
        size_t j = hash_str(out->v[slot[i].group - 1].key) & (ncap - 1);
        while (ns[j].group) j = (j + 1) & (ncap - 1);
        ns[j] = slot[i];
      }
      free(slot);
      slot = ns;
      cap = ncap;
    }
    size_t j = hash_str(key) & (cap - 1);
    while (slot[j].group && strcmp(out->v[slot[j].group - 1].key, key)) j = (j + 1) & (cap - 1);
    if (!slot[j].group) {
      if (out->n == vcap) {
        vcap = vcap ? vcap * 2 : 64;
        LrGroup *nv = realloc(out->v, vcap * sizeof *nv);
        if (!nv) goto nomem;
        out->v = nv;
      }
      LrGroup *g = &out->v[out->n];
      memset(g, 0, sizeof *g);
      if (!(g->key = strdup(key))) goto nomem;
      g->stack = s;
      slot[j].group = ++out->n;
      slot[j].best = bytes;
    }
    LrGroup *g = &out->v[slot[j].group - 1];
    g->bytes = sat_add(g->bytes, bytes);
    g->count = sat_add(g->count, count);
    if (bytes > slot[j].best || (bytes == slot[j].best && s->id < g->stack->id)) {
      slot[j].best = bytes;
      g->stack = s;
    }
    out->bytes = sat_add(out->bytes, bytes);
    out->count = sat_add(out->count, count);
  }
  if (rc != SQLITE_DONE) {
    lr_err_set(err, "query: %s", sqlite3_errmsg(db));
    goto out;
  }
  if (out->n) qsort(out->v, out->n, sizeof *out->v, cmp_group);
  ret = 0;
  goto out;
nomem:
  lr_err_set(err, "grouping: out of memory");
out:
  free(slot);
  sqlite3_finalize(st);
  if (ret) lr_peak_groups_free(out);
  return ret;
}

int lr_peak_has_live_at(sqlite3 *db) {
  sqlite3_stmt *st;
  int has = 0;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_xinfo('allocations') WHERE name = "
                             "'live_at'", -1, &st, NULL) == SQLITE_OK) {
    has = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
  }
  return has;
}

/* 1 if the trace has v2's agg_live table. */
static int has_agg_live(sqlite3 *db) {
  sqlite3_stmt *st;
  int has = 0;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = 'agg_live' UNION ALL "
                             "SELECT 1 FROM sqlite_temp_master WHERE name = 'agg_live'",
                         -1, &st, NULL) == SQLITE_OK) {
    has = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
  }
  return has;
}

char *lr_peak_live_sql(sqlite3 *db, int64_t seq, int64_t min_size, char *buf, size_t len) {
  int v3 = lr_peak_has_live_at(db);
  if (v3 || !has_agg_live(db)) {
    /* v3: the block store finds the live blocks (store/allocvt.h); a v2
    ** trace without agg_live: the plain scan */
    snprintf(buf, len,
             "(SELECT id, size, ifnull(stack_id, -1) AS stack_id FROM allocations WHERE %s "
             "region IN ('heap', 'anon') AND size >= %lld)",
             "%s", (long long)min_size);
    char cond[160];
    if (v3)
      snprintf(cond, sizeof cond, "live_at = %lld AND", (long long)seq);
    else
      snprintf(cond, sizeof cond, "alloc_seq <= %lld AND (free_seq IS NULL OR free_seq > %lld) AND",
               (long long)seq, (long long)seq);
    char tmp[LR_PEAK_LIVE_SQL];
    snprintf(tmp, sizeof tmp, buf, cond);
    snprintf(buf, len, "%s", tmp);
    return buf;
  }
  /* a v2 trace: agg_live's levels */
  size_t o = (size_t)snprintf(buf, len, "(");
  int64_t span = 16;
  for (int l = 0; l < 8 && o < len; l++, span *= 16) {
    if (l < 7)
      o += (size_t)snprintf(buf + o, len - o,
                            "%sSELECT id, size, stack_id FROM agg_live WHERE lvl = %d AND "
                            "alloc_seq > %lld AND alloc_seq <= %lld AND free_seq > %lld AND "
                            "size >= %lld",
                            l ? " UNION ALL " : "", l, (long long)(seq - span), (long long)seq,
                            (long long)seq, (long long)min_size);
    else
      o += (size_t)snprintf(buf + o, len - o,
                            " UNION ALL SELECT id, size, stack_id FROM agg_live WHERE lvl = %d "
                            "AND alloc_seq <= %lld AND (free_seq IS NULL OR free_seq > %lld) "
                            "AND size >= %lld)",
                            l, (long long)seq, (long long)seq, (long long)min_size);
  }
  return buf;
}

int lr_peak_contributors(LrTrace *t, LrStacks *c, int64_t seq, LrBy by, int64_t min_size,
                         LrGroups *out, LrErr *err) {
  sqlite3 *db = lr_qdb(t, err);
  if (!db) return -1;
  char live[LR_PEAK_LIVE_SQL], sql[LR_PEAK_LIVE_SQL + 128];
  snprintf(sql, sizeof sql, "SELECT stack_id, sum(size), count(*) FROM %s GROUP BY stack_id",
           lr_peak_live_sql(db, seq, min_size, live, sizeof live));
  return lr_peak_group_sql(db, c, sql, by, out, err);
}
