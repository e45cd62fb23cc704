/*
** sitebytes.c: one trace reduced to per-phase, per-site live bytes at each
** phase's peak moment (see sitebytes.h for the definitions). Two passes:
** a merge of the allocation and free indexes finds every span's peak
** without sorting the whole trace, then one grouped query per kept phase
** reads what was live at its peak.
*/
#include "predict/sitebytes.h"
#include "core/trace_internal.h"

#include <assert.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "predict/sitegroups.h"
#include "query/peak_sql.h"
#include "store/allocvt.h"

typedef struct Site {
  char *key;
  int64_t allocs, max_block;
  int64_t late_bytes; /* bytes of blocks never freed or freed in the run's last quarter */
  int anon;
  double life_sum; /* sum of free_seq - alloc_seq over freed blocks */
  int64_t freed;
} Site;

typedef struct Phase {
  char name[128];
  int64_t peak, seq, file;
  int64_t ns; /* time spent in the phase, all occurrences */
  /* the kept occurrence: events in (lo, hi), how many heap/anon event
  ** seqs it holds, and the 0-based ordinal of its peak (-1: the marker) */
  int64_t lo, hi, nevents, ordinal;
  int64_t *bytes, *blocks; /* per site, filled after sites are known */
  char file_name[256];     /* the file with the most bytes mapped at the peak */
} Phase;

struct LrSiteBytes {
  char *path;
  char program[256];
  char end[64];
  int clean;
  int nparams;
  char (*pname)[128];
  int64_t *pint;
  int *pisint;
  char **ptext;
  int64_t peak, rss_peak, rss_samples, span;
  int nsites, capsites;
  Site *sites;
  int *site_hash; /* open addressing, capacity hcap, -1 empty */
  int hcap;
  int nphases;
  Phase phases[LR_SITEBYTES_MAX_PHASES];
  /* kept open for lr_sitebytes_moment() */
  sqlite3 *db;
  int *stack_site;
  unsigned char *stack_cls; /* StackClass per stack id */
  int64_t nstack;
  int nullsite;
  int arena_site[LR_ARENA_KINDS]; /* the pooled arena sites, by LrArena */
  int coarse;                     /* sites keyed coarsely (lr_sitebytes_read_coarse) */
  int exploded;                   /* many distinct stacks, few blocks each */
  int64_t process;                /* processes.id read (0: the highest peak) */
};

/* How a stack's allocations may belong to an allocator's own arenas. */
typedef enum StackClass {
  SC_PLAIN,
  SC_PY_NAMED,  /* a frame of obmalloc's arena code: every block is an arena */
  SC_PY_CAND,   /* innermost frame outside libc in the Python interpreter: its
                ** anonymous mmaps of arena size (256 KiB, 1 MiB) are arenas */
  SC_GLIBC,     /* glibc's heap/arena creation: its mmaps are malloc's own */
  SC_V8,        /* V8's page allocator, or node itself: its mmaps are heap pages */
} StackClass;

static const char *const arena_key[LR_ARENA_KINDS] = {
    NULL, "(arena) Python obmalloc arenas", "(arena) glibc malloc heaps",
    "(arena) V8 heap pages"};

LrArena lr_sitebytes_arena_of_key(const char *key) {
  for (int k = 1; k < LR_ARENA_KINDS; k++)
    if (!strcmp(key, arena_key[k])) return (LrArena)k;
  return LR_ARENA_NONE;
}

/* The invariants of sitebytes.h, for assert() in debug builds. Sums are
** taken modulo 2^64, as the aggregates of a damaged trace wrap. */
static int sitebytes_check(const LrSiteBytes *r) {
  int64_t top = 0;
  for (int p = 0; p < r->nphases; p++) {
    const Phase *ph = &r->phases[p];
    for (int q = 0; q < p; q++)
      if (!strcmp(ph->name, r->phases[q].name)) return 0; /* (1) */
    uint64_t sum = 0;
    for (int k = 0; ph->bytes && k < r->nsites; k++) sum += (uint64_t)ph->bytes[k];
    if (ph->bytes && sum != (uint64_t)ph->peak) return 0; /* (2) */
    if (ph->peak > top) top = ph->peak;
  }
  return r->nphases == 0 || top == r->peak; /* (3) */
}

static int fail_db(LrErr *err, const char *path, sqlite3 *db, const char *what) {
  return lr_err_set(err, "%s: %s: %s", path, what, db ? sqlite3_errmsg(db) : "cannot open");
}

void lr_sitebytes_free(LrSiteBytes *r) {
  if (!r) return;
  sqlite3_close(r->db);
  free(r->stack_site);
  free(r->stack_cls);
  for (int i = 0; i < r->nsites; i++) free(r->sites[i].key);
  free(r->sites);
  free(r->site_hash);
  for (int i = 0; i < r->nparams; i++) free(r->ptext[i]);
  free(r->pname);
  free(r->pint);
  free(r->pisint);
  free(r->ptext);
  for (int p = 0; p < r->nphases; p++) {
    free(r->phases[p].bytes);
    free(r->phases[p].blocks);
  }
  free(r->path);
  free(r);
}

static uint32_t hash_str(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

/* Index of the site with this key, added if new; -1 when out of memory. */
static int site_intern(LrSiteBytes *r, const char *key) {
  if ((r->nsites + 1) * 2 > r->hcap) {
    int ncap = r->hcap ? r->hcap * 2 : 256;
    int *nh = malloc(sizeof(int) * (size_t)ncap);
    if (!nh) return -1;
    for (int i = 0; i < ncap; i++) nh[i] = -1;
    for (int i = 0; i < r->nsites; i++) {
      uint32_t h = hash_str(r->sites[i].key) & (uint32_t)(ncap - 1);
      while (nh[h] >= 0) h = (h + 1) & (uint32_t)(ncap - 1);
      nh[h] = i;
    }
    free(r->site_hash);
    r->site_hash = nh;
    r->hcap = ncap;
  }
  uint32_t h = hash_str(key) & (uint32_t)(r->hcap - 1);
  while (r->site_hash[h] >= 0) {
    if (!strcmp(r->sites[r->site_hash[h]].key, key)) return r->site_hash[h];
    h = (h + 1) & (uint32_t)(r->hcap - 1);
  }
  if (r->nsites == r->capsites) {
    int nc = r->capsites ? r->capsites * 2 : 64;
    Site *ns = realloc(r->sites, sizeof *ns * (size_t)nc);
    if (!ns) return -1;
    r->sites = ns;
    r->capsites = nc;
  }
  Site *s = &r->sites[r->nsites];
  memset(s, 0, sizeof *s);
  if (!(s->key = strdup(key))) return -1;
  r->site_hash[h] = r->nsites;
  return r->nsites++;
}

static const char *base_name(const char *p) {
  const char *b = p ? strrchr(p, '/') : NULL;
  return b ? b + 1 : p ? p : "";
}

/* Frames of the C runtime and the loader: skipped when a site key starts,
** so strdup's or operator new's callers name the site. */
static int runtime_module(const char *path) {
  static const char *const pre[] = {"libc.so", "libc-", "libstdc++", "ld-linux", "libm.so",
                                    "libgcc_s", "libpthread", "liblowram", "ld-musl", "libc++"};
  const char *b = base_name(path);
  for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++)
    if (!strncmp(b, pre[i], strlen(pre[i]))) return 1;
  return 0;
}

/* Interpreters and JS engines: their frames say little about which part of
** the program allocated, so coarse keys skip them as well. */
static int interpreter_module(const char *path) {
  const char *b = base_name(path);
  return !strncmp(b, "python", 6) || !strncmp(b, "libpython", 9) || !strcmp(b, "node") ||
         !strncmp(b, "libnode", 7);
}

static StackClass frame_class(const char *fn) {
  static const char *const py[] = {"_PyObject_ArenaMmap", "new_arena", "_PyObject_ArenaVirtualAlloc",
                                   "_PyObject_VirtualAlloc"};
  static const char *const glibc[] = {"new_heap", "alloc_new_heap", "_int_new_arena", "arena_get2",
                                      "sysmalloc"};
  static const char *const v8[] = {"v8::internal::MemoryAllocator", "v8::base::PageAllocator",
                                   "v8::internal::VirtualMemory", "v8::base::OS::Allocate",
                                   "v8::internal::MemoryChunk", "v8::internal::PagedSpace",
                                   "v8::internal::NewSpace", "v8::internal::SemiSpace",
                                   "v8::internal::CodeRange", "v8::internal::IsolateAllocator",
                                   "v8::base::BoundedPageAllocator"};
  for (size_t i = 0; i < sizeof py / sizeof py[0]; i++)
    if (!strcmp(fn, py[i])) return SC_PY_NAMED;
  for (size_t i = 0; i < sizeof glibc / sizeof glibc[0]; i++)
    if (!strcmp(fn, glibc[i])) return SC_GLIBC;
  for (size_t i = 0; i < sizeof v8 / sizeof v8[0]; i++)
    if (strstr(fn, v8[i])) return SC_V8;
  return SC_PLAIN;
}

/* The first string of a JSON array such as ["/usr/bin/qrun","run"]. */
static void argv0_of(const char *json, char *out, size_t len) {
  out[0] = 0;
  const char *q = json ? strchr(json, '"') : NULL;
  if (!q) return;
  size_t n = 0;
  for (q++; *q && *q != '"' && n + 1 < len; q++) {
    if (*q == '\\' && q[1]) q++;
    out[n++] = *q;
  }
  out[n] = 0;
  const char *b = base_name(out);
  memmove(out, b, strlen(b) + 1);
}

static int load_meta(LrSiteBytes *r, sqlite3 *db, LrErr *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT key, value FROM meta", -1, &st, NULL) != SQLITE_OK)
    return lr_err_set(err, "%s: not a lowram trace (no meta table)", r->path);
  int is_trace = 0, complete = 0;
  char reason[32] = "";
  int64_t code = 0;
  int have_code = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *k = (const char *)sqlite3_column_text(st, 0);
    const char *v = (const char *)sqlite3_column_text(st, 1);
    if (!k) continue;
    if (!strcmp(k, "format") && v && !strcmp(v, "lowram-trace")) is_trace = 1;
    else if (!strcmp(k, "complete")) complete = sqlite3_column_int(st, 1) == 1;
    else if (!strcmp(k, "argv")) argv0_of(v, r->program, sizeof r->program);
    else if (!strcmp(k, "end_reason") && v) snprintf(reason, sizeof reason, "%s", v);
    else if (!strcmp(k, "end_code")) {
      code = sqlite3_column_int64(st, 1);
      have_code = 1;
    }
  }
  sqlite3_finalize(st);
  if (!is_trace) return lr_err_set(err, "%s: not a lowram trace (meta.format)", r->path);
  if (!complete)
    return lr_err_set(err, "%s: unfinished trace (its process died?); run `lowram recover` first",
                      r->path);
  if (!reason[0]) {
    snprintf(r->end, sizeof r->end, "unknown end");
    r->clean = 1;
  } else {
    snprintf(r->end, sizeof r->end, "%s %lld", reason, (long long)(have_code ? code : 0));
    r->clean = (!strcmp(reason, "exit") || !strcmp(reason, "_exit")) && code == 0;
  }
  return 0;
}

static int load_params(LrSiteBytes *r, sqlite3 *db, LrErr *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT name, value_int, value_text FROM params ORDER BY seq", -1,
                         &st, NULL) != SQLITE_OK)
    return fail_db(err, r->path, db, "params");
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *n = (const char *)sqlite3_column_text(st, 0);
    if (!n) continue;
    int i, fresh = 0;
    for (i = 0; i < r->nparams; i++)
      if (!strcmp(r->pname[i], n)) break;
    if (i == r->nparams) {
      fresh = 1;
      if (r->nparams >= 256) continue; /* bounded: more is not a run's parameter set */
      size_t c = (size_t)r->nparams + 1;
      void *a = realloc(r->pname, c * sizeof *r->pname), *b, *d, *e;
      if (a) r->pname = a;
      b = realloc(r->pint, c * sizeof *r->pint);
      if (b) r->pint = b;
      d = realloc(r->pisint, c * sizeof *r->pisint);
      if (d) r->pisint = d;
      e = realloc(r->ptext, c * sizeof *r->ptext);
      if (e) r->ptext = e;
      if (!a || !b || !d || !e) {
        sqlite3_finalize(st);
        return lr_err_set(err, "%s: out of memory", r->path);
      }
      snprintf(r->pname[i], sizeof r->pname[i], "%s", n);
      r->ptext[i] = NULL;
      r->nparams++;
    }
    free(r->ptext[i]);
    r->ptext[i] = NULL;
    int isint = sqlite3_column_type(st, 1) == SQLITE_INTEGER;
    int64_t v = sqlite3_column_int64(st, 1);
    /* an integer set several times (batch in stream mode) keeps its
    ** largest value: the one that sizes the peak */
    if (!(!fresh && isint && r->pisint[i] && r->pint[i] > v)) r->pint[i] = v;
    r->pisint[i] = isint;
    const char *t = (const char *)sqlite3_column_text(st, 2);
    if (!r->pisint[i] && t) r->ptext[i] = strdup(t);
  }
  sqlite3_finalize(st);
  return 0;
}

/* Maps every stack id used by a heap/anon allocation to a site index. */
static int load_sites(LrSiteBytes *r, sqlite3 *db, int **stack_site, int64_t *nstack,
                      LrErr *err) {
  int key_frames = r->coarse ? LR_SITEBYTES_COARSE_FRAMES : LR_SITEBYTES_KEY_FRAMES;
  sqlite3_stmt *st;
  int64_t maxid = 0;
  if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(id), 0) FROM stacks", -1, &st, NULL) !=
      SQLITE_OK)
    return fail_db(err, r->path, db, "stacks");
  if (sqlite3_step(st) == SQLITE_ROW) maxid = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (maxid < 0 || maxid > 50000000)
    return lr_err_set(err, "%s: stack ids up to %lld (corrupt?)", r->path, (long long)maxid);
  *nstack = maxid + 1;
  int *map = malloc(sizeof(int) * (size_t)(maxid + 1));
  if (!map) return lr_err_set(err, "%s: out of memory", r->path);
  for (int64_t i = 0; i <= maxid; i++) map[i] = -1;
  *stack_site = map;
  if (!(r->stack_cls = calloc((size_t)(maxid + 1), 1)))
    return lr_err_set(err, "%s: out of memory", r->path);
  if (sqlite3_prepare_v2(db,
                         "SELECT e.stack_id, f.function, m.path, f.rel_pc FROM stack_entries e "
                         "JOIN frames f ON f.id = e.frame_id LEFT JOIN modules m "
                         "ON m.id = f.module_id ORDER BY e.stack_id, e.depth",
                         -1, &st, NULL) != SQLITE_OK)
    return fail_db(err, r->path, db, "stack_entries");
  int64_t cur = -1;
  char names[16][160];
  int nf = 0, start = -1, rc = 0, cls = SC_PLAIN, inner = -1; /* inner: first frame outside libc */
  char inner_mod[160] = "";
  for (int more = 1; more;) {
    int row = sqlite3_step(st) == SQLITE_ROW;
    int64_t id = row ? sqlite3_column_int64(st, 0) : -2;
    if (id != cur && cur >= 0 && cur <= maxid) {
      char key[1024];
      size_t used = 0;
      int s0 = start >= 0 ? start : 0;
      key[0] = 0;
      for (int k = s0; k < nf && k < s0 + key_frames; k++) {
        int w = snprintf(key + used, sizeof key - used, "%s%s", used ? ";" : "", names[k]);
        if (w > 0 && (size_t)w < sizeof key - used) used += (size_t)w;
      }
      int s = site_intern(r, used ? key : "(no frames)");
      if (s < 0) {
        rc = lr_err_set(err, "%s: out of memory", r->path);
        break;
      }
      map[cur] = s;
      if (cls == SC_PLAIN && inner >= 0 && interpreter_module(inner_mod))
        cls = !strncmp(inner_mod, "python", 6) || !strncmp(inner_mod, "libpython", 9) ? SC_PY_CAND
                                                                                      : SC_V8;
      r->stack_cls[cur] = (unsigned char)cls;
    }
    if (!row) break;
    if (id != cur) {
      cur = id;
      nf = 0;
      start = -1;
      cls = SC_PLAIN;
      inner = -1;
      inner_mod[0] = 0;
    }
    if (nf >= 16) continue;
    const char *fn = (const char *)sqlite3_column_text(st, 1);
    const char *mod = (const char *)sqlite3_column_text(st, 2);
    if (fn && *fn) snprintf(names[nf], sizeof names[nf], "%s", fn);
    else snprintf(names[nf], sizeof names[nf], "%s+0x%llx", mod ? base_name(mod) : "?",
                  (unsigned long long)sqlite3_column_int64(st, 3));
    if (fn && *fn && cls == SC_PLAIN) cls = frame_class(fn);
    if (inner < 0 && !runtime_module(mod)) {
      inner = nf;
      snprintf(inner_mod, sizeof inner_mod, "%s", mod ? base_name(mod) : "");
    }
    if (start < 0 && !runtime_module(mod) && !(r->coarse && interpreter_module(mod))) start = nf;
    nf++;
  }
  sqlite3_finalize(st);
  return rc;
}

static int phase_index(LrSiteBytes *r, const char *marker, LrErr *err) {
  char name[128];
  snprintf(name, sizeof name, "%s", marker);
  size_t n = strlen(name);
  size_t k = n;
  while (k > 0 && name[k - 1] >= '0' && name[k - 1] <= '9') k--;
  if (k < n && k > 0) snprintf(name + k, sizeof name - k, "N");
  for (int p = 0; p < r->nphases; p++)
    if (!strcmp(r->phases[p].name, name)) return p;
  if (r->nphases >= LR_SITEBYTES_MAX_PHASES)
    return lr_err_set(err, "%s: more than %d distinct phases (markers)", r->path,
                      LR_SITEBYTES_MAX_PHASES);
  Phase *ph = &r->phases[r->nphases];
  memset(ph, 0, sizeof *ph);
  snprintf(ph->name, sizeof ph->name, "%s", name);
  ph->peak = -1;
  return r->nphases++;
}

/* Walks heap + anon live bytes in seq order and keeps, per phase, the
** highest span peak and its first seq. */
static int scan_peaks(LrSiteBytes *r, sqlite3 *db, LrErr *err) {
  sqlite3_stmt *mk, *al, *fr;
  if (sqlite3_prepare_v2(db, "SELECT seq, name, ns FROM markers ORDER BY seq, id", -1, &mk, NULL))
    return fail_db(err, r->path, db, "markers");
  if (sqlite3_prepare_v2(db, "SELECT alloc_seq, size FROM allocations WHERE region IN "
                             "('heap','anon') ORDER BY alloc_seq", -1, &al, NULL)) {
    sqlite3_finalize(mk);
    return fail_db(err, r->path, db, "allocations");
  }
  if (sqlite3_prepare_v2(db, "SELECT free_seq, size FROM allocations WHERE free_seq IS NOT "
                             "NULL AND region IN ('heap','anon') ORDER BY free_seq", -1, &fr,
                         NULL)) {
    sqlite3_finalize(mk);
    sqlite3_finalize(al);
    return fail_db(err, r->path, db, "allocations");
  }
  int rc = 0;
  int cur = phase_index(r, "(start)", err);
  r->phases[cur].lo = -1;
  int64_t span_max = -1, span_seq = 0, open_live = 0, open_seq = -1, open_ns = 0;
  int64_t span_events = 0, span_ord = -1;
  int64_t end_ns = 0;
  sqlite3_stmt *en;
  if (sqlite3_prepare_v2(db, "SELECT MAX((SELECT MAX(alloc_ns) FROM allocations), (SELECT "
                             "MAX(free_ns) FROM allocations), (SELECT MAX(ns) FROM markers))",
                         -1, &en, NULL) == SQLITE_OK) {
    if (sqlite3_step(en) == SQLITE_ROW) end_ns = sqlite3_column_int64(en, 0);
    sqlite3_finalize(en);
  }
  int mk_row = sqlite3_step(mk) == SQLITE_ROW, al_row = sqlite3_step(al) == SQLITE_ROW;
  int fr_row = sqlite3_step(fr) == SQLITE_ROW;
  int64_t live = 0;
  for (;;) {
    int64_t a = al_row ? sqlite3_column_int64(al, 0) : INT64_MAX;
    int64_t f = fr_row ? sqlite3_column_int64(fr, 0) : INT64_MAX;
    int64_t m = mk_row ? sqlite3_column_int64(mk, 0) : INT64_MAX;
    int64_t next = a < f ? a : f;
    /* a marker opens a new span before the events at or after its seq */
    if (m <= next || (m == INT64_MAX && next == INT64_MAX)) {
      if (span_max < 0) { /* no event in the span: what the marker saw */
        span_max = open_live;
        span_seq = open_seq;
        span_ord = -1;
      }
      if (span_max > r->phases[cur].peak) {
        Phase *ph = &r->phases[cur];
        ph->peak = span_max;
        ph->seq = span_seq;
        ph->lo = open_seq;
        ph->hi = m;
        ph->nevents = span_events;
        ph->ordinal = span_ord;
      }
      r->phases[cur].ns += (m == INT64_MAX ? end_ns : sqlite3_column_int64(mk, 2)) - open_ns;
      if (m == INT64_MAX) break;
      const char *name = (const char *)sqlite3_column_text(mk, 1);
      if ((cur = phase_index(r, name ? name : "?", err)) < 0) {
        rc = -1;
        break;
      }
      /* only the span's own events compete for its peak: the state at the
      ** marker is the previous span's last one, and counting it here would
      ** let leftovers of the previous phase set this phase's moment */
      span_max = -1;
      span_events = 0;
      span_ord = -1;
      open_live = live;
      open_seq = span_seq = m;
      open_ns = sqlite3_column_int64(mk, 2);
      mk_row = sqlite3_step(mk) == SQLITE_ROW;
      continue;
    }
    while (al_row && sqlite3_column_int64(al, 0) == next) {
      live += sqlite3_column_int64(al, 1);
      al_row = sqlite3_step(al) == SQLITE_ROW;
    }
    while (fr_row && sqlite3_column_int64(fr, 0) == next) {
      live -= sqlite3_column_int64(fr, 1);
      fr_row = sqlite3_step(fr) == SQLITE_ROW;
    }
    if (live > span_max) {
      span_max = live;
      span_seq = next;
      span_ord = span_events;
    }
    span_events++;
  }
  sqlite3_finalize(mk);
  sqlite3_finalize(al);
  sqlite3_finalize(fr);
  if (rc) return rc;
  /* drop phases that saw no span (cannot happen) and keep order */
  r->peak = 0;
  for (int p = 0; p < r->nphases; p++) {
    if (r->phases[p].peak < 0) r->phases[p].peak = 0;
    if (r->phases[p].peak > r->peak) r->peak = r->phases[p].peak;
  }
  return 0;
}

/* The site of a row of allocations: its stack's site, or the pooled arena
** of its allocator (see StackClass). arena_sized: an anonymous mmap of
** 256 KiB or 1 MiB, obmalloc's arena sizes. */
/* The site of a group of rows: their stack (id -1: none), region, and
** whether they are arena-sized anonymous mappings. */
static int site_of(const LrSiteBytes *r, int64_t id, int anon, int arena_sized) {
  int s = r->nullsite;
  if (id < 0 || id >= r->nstack || r->stack_site[id] < 0) return s;
  switch ((StackClass)r->stack_cls[id]) {
  case SC_PY_NAMED: return r->arena_site[LR_ARENA_PYTHON];
  case SC_PY_CAND:
    if (anon && arena_sized) return r->arena_site[LR_ARENA_PYTHON];
    break;
  case SC_GLIBC:
    if (anon) return r->arena_site[LR_ARENA_GLIBC];
    break;
  case SC_V8:
    if (anon) return r->arena_site[LR_ARENA_V8];
    break;
  case SC_PLAIN: break;
  }
  return r->stack_site[id];
}

static int row_site(const LrSiteBytes *r, sqlite3_stmt *st, int col_stack, const char *region,
                    int arena_sized) {
  if (sqlite3_column_type(st, col_stack) == SQLITE_NULL) return r->nullsite;
  return site_of(r, sqlite3_column_int64(st, col_stack), region && !strcmp(region, "anon"),
                 arena_sized);
}

#define ARENA_SIZED "(region = 'anon' AND size IN (262144, 1048576))"

/* Site bytes and blocks live at seq (heap + anon), file-mapped bytes apart;
** reserved address space (PROT_NONE: V8's heap reservation) is in neither,
** as in the peak scan. */
static int bytes_at(LrSiteBytes *r, int64_t seq, int64_t *bytes, int64_t *blocks, int64_t *file,
                    char *file_name, size_t name_len, LrErr *err) {
  sqlite3_stmt *st;
  /* v3: live_at reads the blocks around seq only (store/allocvt.h) */
  if (sqlite3_prepare_v2(r->db,
                         lr_peak_has_live_at(r->db)
                             ? "SELECT stack_id, region, SUM(size), COUNT(*), " ARENA_SIZED ", "
                               "CASE WHEN region = 'file' THEN file END FROM allocations "
                               "WHERE region IN ('heap','anon','file') AND live_at = ?1 "
                               "GROUP BY stack_id, region, 5, 6"
                             : "SELECT stack_id, region, SUM(size), COUNT(*), " ARENA_SIZED ", "
                               "CASE WHEN region = 'file' THEN file END FROM allocations "
                               "WHERE region IN ('heap','anon','file') AND "
                               "alloc_seq <= ?1 AND (free_seq IS NULL OR free_seq > ?1) "
                               "GROUP BY stack_id, region, 5, 6",
                         -1, &st, NULL))
    return fail_db(err, r->path, r->db, "allocations");
  sqlite3_bind_int64(st, 1, seq);
  *file = 0;
  int64_t top_file = 0;
  if (file_name) file_name[0] = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *region = (const char *)sqlite3_column_text(st, 1);
    int64_t b = sqlite3_column_int64(st, 2);
    if (region && !strcmp(region, "file")) {
      *file += b;
      const char *fname = (const char *)sqlite3_column_text(st, 5);
      if (file_name && fname && b > top_file) {
        top_file = b;
        snprintf(file_name, name_len, "%s", fname);
      }
      continue;
    }
    int s = row_site(r, st, 0, region, sqlite3_column_int(st, 4));
    bytes[s] += b;
    if (blocks) blocks[s] += sqlite3_column_int64(st, 3);
  }
  sqlite3_finalize(st);
  return 0;
}

static int read_moments(LrSiteBytes *r, LrErr *err) {
  for (int p = 0; p < r->nphases; p++) {
    Phase *ph = &r->phases[p];
    ph->bytes = calloc((size_t)r->nsites + 1, sizeof *ph->bytes);
    ph->blocks = calloc((size_t)r->nsites + 1, sizeof *ph->blocks);
    if (!ph->bytes || !ph->blocks) return lr_err_set(err, "%s: out of memory", r->path);
    if (bytes_at(r, ph->seq, ph->bytes, ph->blocks, &ph->file, ph->file_name,
                 sizeof ph->file_name, err))
      return -1;
  }
  return 0;
}

int64_t lr_sitebytes_phase_events(const LrSiteBytes *r, int p) { return r->phases[p].nevents; }
int64_t lr_sitebytes_phase_ordinal(const LrSiteBytes *r, int p) { return r->phases[p].ordinal; }

void lr_sitebytes_release(LrSiteBytes *r) {
  sqlite3_close(r->db);
  r->db = NULL;
}

int lr_sitebytes_moment(LrSiteBytes *r, int p, int64_t ordinal, int64_t *bytes, int64_t *file,
                        LrErr *err) {
  const Phase *ph = &r->phases[p];
  if (!r->db && (lr_allocvt_open(r->path, SQLITE_OPEN_READONLY, &r->db) != SQLITE_OK ||
                 lr_trace_views(r->db, r->path, r->process, err))) {
    lr_err_set(err, "%s: cannot open again: %s", r->path, r->db ? sqlite3_errmsg(r->db) : "?");
    lr_sitebytes_release(r);
    return -1;
  }
  if (ordinal < 0 || ordinal >= ph->nevents)
    return lr_err_set(err, "%s: phase %s has no event %lld", r->path, ph->name, (long long)ordinal);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(r->db,
                         "SELECT seq FROM (SELECT alloc_seq AS seq FROM allocations WHERE region "
                         "IN ('heap','anon') AND alloc_seq > ?1 AND alloc_seq < ?2 UNION "
                         "SELECT free_seq FROM allocations WHERE region IN ('heap','anon') AND "
                         "free_seq > ?1 AND free_seq < ?2) ORDER BY seq LIMIT 1 OFFSET ?3",
                         -1, &st, NULL))
    return fail_db(err, r->path, r->db, "allocations");
  sqlite3_bind_int64(st, 1, ph->lo);
  sqlite3_bind_int64(st, 2, ph->hi);
  sqlite3_bind_int64(st, 3, ordinal);
  int64_t seq = -1;
  if (sqlite3_step(st) == SQLITE_ROW) seq = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (seq < 0) return lr_err_set(err, "%s: phase %s: event %lld not found", r->path, ph->name,
                                 (long long)ordinal);
  memset(bytes, 0, sizeof *bytes * (size_t)r->nsites);
  return bytes_at(r, seq, bytes, NULL, file, NULL, 0, err);
}

/* Per-site counts, sizes and lifetimes from every heap and anon row
** (predict/sitegroups.h), then the RSS peak. */
static int site_stats(LrSiteBytes *r, sqlite3 *db, LrErr *err) {
  sqlite3_stmt *st;
  LrSiteGroup *g = NULL;
  size_t n = 0;
  if (lr_site_groups(db, r->path, &r->span, &g, &n, err)) return -1;
  int64_t allocs = 0;
  for (size_t i = 0; i < n; i++) {
    int s = site_of(r, g[i].stack, g[i].anon, g[i].arena_sized);
    allocs += g[i].count;
    r->sites[s].allocs += g[i].count;
    if (g[i].max_size > r->sites[s].max_block) r->sites[s].max_block = g[i].max_size;
    r->sites[s].anon |= g[i].anon;
    r->sites[s].life_sum += (double)g[i].life_sum;
    r->sites[s].freed += g[i].freed;
    r->sites[s].late_bytes += g[i].late_bytes;
  }
  free(g);
  /* many distinct stacks with few blocks each: keys of 5 frames split the
  ** program into groups that do not repeat from run to run */
  r->exploded = (int64_t)n > LR_SITEBYTES_EXPLODED_STACKS && allocs < 8 * (int64_t)n;
  r->rss_peak = -1;
  if (sqlite3_prepare_v2(db, "SELECT MAX(rss), COUNT(*) FROM rss_samples", -1, &st, NULL) ==
      SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
      r->rss_peak = sqlite3_column_int64(st, 0);
      r->rss_samples = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
  }
  return 0;
}

static LrSiteBytes *read_trace(const char *path, int coarse, int64_t process, LrErr *err) {
  LrSiteBytes *r = calloc(1, sizeof *r);
  if (r) r->coarse = coarse;
  if (r) r->process = process;
  sqlite3 *db = NULL;
  int *stack_site = NULL;
  int64_t nstack = 0;
  if (!r || !(r->path = strdup(path))) {
    free(r);
    lr_err_set(err, "%s: out of memory", path);
    return NULL;
  }
  if (lr_allocvt_open(path, SQLITE_OPEN_READONLY, &db) != SQLITE_OK) {
    lr_err_set(err, "%s: cannot open: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
    goto fail;
  }
  sqlite3_stmt *st;
  int version = -1;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
    lr_err_set(err, "%s: not a SQLite database: %s", path, sqlite3_errmsg(db));
    goto fail;
  }
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW) version = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  if (step != SQLITE_ROW) {
    lr_err_set(err, "%s: not a lowram trace (not a SQLite database: %s)", path, sqlite3_errmsg(db));
    goto fail;
  }
  if (version != 2 && version != 3) { /* LR_SCHEMA_VERSION (lowram/trace.h), and v2 */
    lr_err_set(err, "%s: trace schema version %d, this lowram reads versions 2 and 3", path,
               version);
    goto fail;
  }
  if (lr_trace_views(db, path, process, err)) goto fail; /* one process (0: the highest peak) */
  /* No call that succeeded returns more than an address space holds (2^57
  ** bytes on every supported CPU), so sizes beyond that mean a damaged trace;
  ** refusing it keeps the fit's integer sums far from overflow. */
  if (sqlite3_prepare_v2(db, "SELECT max(size), total(size) FROM allocations", -1, &st, NULL) !=
      SQLITE_OK) {
    fail_db(err, path, db, "allocations");
    goto fail;
  }
  if (sqlite3_step(st) == SQLITE_ROW &&
      (sqlite3_column_int64(st, 0) > (INT64_C(1) << 57) || sqlite3_column_int64(st, 0) < 0 ||
       sqlite3_column_double(st, 1) > 0x1p62)) {
    lr_err_set(err, "%s: allocations of %lld bytes and %.3g in all: more than any address space, "
               "the trace is damaged", path, (long long)sqlite3_column_int64(st, 0),
               sqlite3_column_double(st, 1));
    sqlite3_finalize(st);
    goto fail;
  }
  sqlite3_finalize(st);
  if (load_meta(r, db, err) || load_params(r, db, err) ||
      load_sites(r, db, &stack_site, &nstack, err))
    goto fail;
  int nullsite = site_intern(r, "(no stack)");
  for (int k = 1; k < LR_ARENA_KINDS && nullsite >= 0; k++)
    if ((r->arena_site[k] = site_intern(r, arena_key[k])) < 0) nullsite = -1;
  if (nullsite < 0) {
    lr_err_set(err, "%s: out of memory", path);
    goto fail;
  }
  r->db = db;
  r->stack_site = stack_site;
  r->nstack = nstack;
  r->nullsite = nullsite;
  db = NULL;
  stack_site = NULL;
  if (scan_peaks(r, r->db, err) || read_moments(r, err) || site_stats(r, r->db, err))
    goto fail;
  /* the invariants hold for every trace lowram writes; numbers read from a
  ** damaged file can break them, and that is an error, not an abort */
  if (!sitebytes_check(r)) {
    lr_err_set(err, "%s: damaged trace: the phases' site bytes do not add up to its peak", path);
    goto fail;
  }
  /* a sweep holds many runs at once: no file stays open between uses */
  lr_sitebytes_release(r);
  return r;
fail:
  free(stack_site);
  sqlite3_close(db);
  lr_sitebytes_free(r);
  return NULL;
}

LrSiteBytes *lr_sitebytes_read(const char *path, LrErr *err) {
  return read_trace(path, 0, 0, err);
}
LrSiteBytes *lr_sitebytes_read_coarse(const char *path, LrErr *err) {
  return read_trace(path, 1, 0, err);
}
LrSiteBytes *lr_sitebytes_read_process(const char *path, int coarse, int64_t process, LrErr *err) {
  return read_trace(path, coarse, process, err);
}
int lr_sitebytes_exploded(const LrSiteBytes *r) { return r->exploded; }
int lr_sitebytes_coarse(const LrSiteBytes *r) { return r->coarse; }
int64_t lr_sitebytes_site_late_bytes(const LrSiteBytes *r, int s) { return r->sites[s].late_bytes; }
const char *lr_sitebytes_phase_file_name(const LrSiteBytes *r, int p) {
  return r->phases[p].file_name;
}

const char *lr_sitebytes_path(const LrSiteBytes *r) { return r->path; }
const char *lr_sitebytes_program(const LrSiteBytes *r) { return r->program; }
int lr_sitebytes_clean_exit(const LrSiteBytes *r) { return r->clean; }
const char *lr_sitebytes_end(const LrSiteBytes *r) { return r->end; }
int lr_sitebytes_nparams(const LrSiteBytes *r) { return r->nparams; }
const char *lr_sitebytes_param_name(const LrSiteBytes *r, int i) { return r->pname[i]; }

int lr_sitebytes_param_int(const LrSiteBytes *r, const char *name, int64_t *out) {
  for (int i = 0; i < r->nparams; i++)
    if (!strcmp(r->pname[i], name) && r->pisint[i]) {
      *out = r->pint[i];
      return 0;
    }
  return -1;
}

const char *lr_sitebytes_param_text(const LrSiteBytes *r, const char *name) {
  for (int i = 0; i < r->nparams; i++)
    if (!strcmp(r->pname[i], name)) return r->ptext[i];
  return NULL;
}

int64_t lr_sitebytes_peak(const LrSiteBytes *r) { return r->peak; }
int64_t lr_sitebytes_rss_peak(const LrSiteBytes *r) { return r->rss_peak; }
int64_t lr_sitebytes_rss_samples(const LrSiteBytes *r) { return r->rss_samples; }
int64_t lr_sitebytes_span(const LrSiteBytes *r) { return r->span; }
double lr_sitebytes_site_mean_life(const LrSiteBytes *r, int s) {
  /* blocks never freed live to the end: count them as the whole run */
  const Site *x = &r->sites[s];
  if (x->allocs <= 0) return 0;
  return (x->life_sum + (double)(x->allocs - x->freed) * (double)r->span) / (double)x->allocs;
}
int lr_sitebytes_nsites(const LrSiteBytes *r) { return r->nsites; }
const char *lr_sitebytes_site_key(const LrSiteBytes *r, int s) { return r->sites[s].key; }
int64_t lr_sitebytes_site_allocs(const LrSiteBytes *r, int s) { return r->sites[s].allocs; }
int64_t lr_sitebytes_site_max_block(const LrSiteBytes *r, int s) {
  return r->sites[s].max_block;
}
int lr_sitebytes_site_is_anon(const LrSiteBytes *r, int s) { return r->sites[s].anon; }
int lr_sitebytes_nphases(const LrSiteBytes *r) { return r->nphases; }
const char *lr_sitebytes_phase_name(const LrSiteBytes *r, int p) { return r->phases[p].name; }
int64_t lr_sitebytes_phase_peak(const LrSiteBytes *r, int p) { return r->phases[p].peak; }
int64_t lr_sitebytes_phase_file(const LrSiteBytes *r, int p) { return r->phases[p].file; }
int64_t lr_sitebytes_phase_seq(const LrSiteBytes *r, int p) { return r->phases[p].seq; }
int64_t lr_sitebytes_phase_ns(const LrSiteBytes *r, int p) { return r->phases[p].ns; }
int64_t lr_sitebytes_bytes(const LrSiteBytes *r, int p, int s) {
  return r->phases[p].bytes ? r->phases[p].bytes[s] : 0;
}
int64_t lr_sitebytes_blocks(const LrSiteBytes *r, int p, int s) {
  return r->phases[p].blocks ? r->phases[p].blocks[s] : 0;
}
