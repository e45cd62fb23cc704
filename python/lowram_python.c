/*
** lowram_python.c: liblowram_python.so, the Python frames of a CPython 3.x
** process recorded by liblowram.so (issue 13; schemas/SPOOL.md, "Python
** frames").
**
** python/lowram/__init__.py loads it with ctypes.PyDLL (calls keep the
** GIL) when the shim is preloaded. It does not link against libpython: the
** dozen C-API functions it needs are found with dlsym(RTLD_DEFAULT), so one
** build serves every CPython from 3.9 on (PyFrame_GetCode and
** PyFrame_GetBack are 3.9's), Debian's and pyenv's alike.
**
** How: a C profile function (PyEval_SetProfile, per thread) keeps a shadow
** stack of the thread's Python frames: a push on each PyTrace_CALL, a pop on
** PyTrace_RETURN (also sent when a frame ends by an exception, and when a
** generator yields). Each code object is given an id once (its names
** written to the spool as a PYCODE record); the id sits in the code
** object's co_extra slot, which CPython clears when the code object dies
** (a reused address gets a new id). When the shim takes a stack, it calls
** provide() on the allocating thread, which writes the shadow stack
** innermost first as LR_PYFRAME_TAG values; only then are line numbers
** read (PyFrame_GetLineNumber), and a caller's line is kept until it calls
** something else, so an allocation costs one line lookup plus one per
** frame entered since the last allocation.
**
** Invariants:
**   1. The shadow stack owns nothing: its frame pointers are borrowed. As
**      long as our profile function is the thread's (tstate's
**      c_profilefunc, at the offset found once in find_profile_slot()),
**      every RETURN arrives, so every entry is a frame now running on this
**      thread, alive while the thread is inside the shim (it is below it on
**      the C stack). Once the program replaces it (sys.setprofile,
**      cProfile), the entries may be dead: provide() sees that and gives
**      no Python frames, never dereferencing them; the profile function
**      never runs again in that thread (nothing reinstalls it).
**   2. Code objects are not kept: co_extra holds their id, and a dead code
**      object's table entry is marked dead by code_gone(). Ids are never
**      reused, so an id names one code object.
**   3. The code table and the name arena change only under the GIL (in the
**      profile function, code_gone() and the start calls); provide() reads
**      neither, only the calling thread's own shadow stack, so it needs no
**      lock and never allocates (it runs inside the shim's malloc hook).
**      It reads a frame's line only when the thread holds the GIL, or on a
**      CPython whose line tables are immutable (not 3.11, whose
**      _co_linearray another thread may be filling); otherwise the line
**      cached at the frame's last CALL or C_CALL event.
**   4. A fork child writes its own spool: the PYCODE records a frame names
**      are written again, lazily, under a new generation (g.gen).
*/
#include <assert.h>
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "lr_spool_format.h"

#define LR_EXPORT __attribute__((visibility("default")))

typedef struct _object PyObject;
typedef struct _frame PyFrameObject;
typedef struct _ts PyThreadState;
typedef int (*Py_tracefunc)(PyObject *, PyFrameObject *, int, PyObject *);
enum { PyTrace_CALL = 0, PyTrace_RETURN = 3, PyTrace_C_CALL = 4 };

static struct {
  void (*SetProfile)(Py_tracefunc, PyObject *);
  PyFrameObject *(*GetFrame)(void);             /* borrowed */
  PyObject *(*FrameGetCode)(PyFrameObject *);   /* new reference */
  PyFrameObject *(*FrameGetBack)(PyFrameObject *); /* new reference */
  int (*FrameGetLineNumber)(PyFrameObject *);
  void (*IncRef)(PyObject *);
  void (*DecRef)(PyObject *);
  PyObject *(*GetAttrString)(PyObject *, const char *);
  const char *(*AsUTF8AndSize)(PyObject *, ssize_t *);
  long (*AsLong)(PyObject *);
  void (*ErrFetch)(PyObject **, PyObject **, PyObject **);
  void (*ErrRestore)(PyObject *, PyObject *, PyObject *);
  const char *(*GetVersion)(void);
  PyThreadState *(*ThisThreadState)(void); /* the thread's own, GIL or not */
  PyThreadState *(*GilHolder)(void);       /* NULL or the thread's when it holds the GIL */
  ssize_t (*RequestCodeExtraIndex)(void (*)(void *));
  int (*CodeGetExtra)(PyObject *, ssize_t, void **);
  int (*CodeSetExtra)(PyObject *, ssize_t, void *);
} py;

typedef uint32_t (*frames_fn)(uint64_t *, uint32_t);
static struct {
  void (*frames)(frames_fn);
  int (*pycode)(uint64_t, uint64_t, const char *, size_t, const char *, size_t);
  int (*pyeval)(uint64_t, uint64_t);
} shim;

/* ---- per-thread shadow stacks (invariant 1) ---- */

#define SHADOW_CAP 4096u /* deeper frames are counted, not kept */

typedef struct Ent {
  PyFrameObject *f; /* borrowed: read only while our profile function is installed */
  uint64_t code;    /* code id */
  uint32_t line;    /* the line it was at when it called the entry above */
  uint32_t line_ok;
} Ent;

typedef struct Shadow {
  uint32_t n; /* frames entered and not returned (may exceed SHADOW_CAP) */
  uint32_t gen;
  Ent e[SHADOW_CAP];
} Shadow;

/* ---- the code table, indexed by id (invariants 2, 3) ---- */

typedef struct Code {
  uint32_t gen; /* generation its PYCODE record was written in */
  uint32_t first_line;
  uint32_t name_off, name_len, file_off, file_len; /* in g.arena */
  uint32_t alive;
} Code;

#define ARENA_BYTES (64u << 20) /* names; reserved, touched as used */

static struct {
  int started;
  const char *note; /* why Python frames are off, or NULL */
  pthread_key_t key;
  Code *tab; /* tab[id], 1 <= id <= next_id */
  size_t cap;
  uint64_t next_id, live;
  ssize_t extra; /* our co_extra index */
  size_t pf_off; /* offset of c_profilefunc in PyThreadState */
  int lines_need_gil; /* CPython 3.11 (invariant 3) */
  char *arena;
  size_t arena_used;
  uint32_t gen;      /* bumped in a fork child (invariant 4) */
  uint32_t eval_gen; /* generation the PYEVAL record was written in */
  uint64_t eval_lo, eval_hi;
} g;

/* The profiler's own memory, mapped past the shim's hooks (raw syscalls):
** it is not the program's, and must not show in its trace. */
static void *map(size_t bytes) {
  /* every argument widened to long: syscall() is variadic (see
  ** preload/sys_mmap.h) */
  void *p = (void *)syscall(SYS_mmap, NULL, bytes, (long)(PROT_READ | PROT_WRITE),
                            (long)(MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE), -1L, 0L);
  return p == MAP_FAILED ? NULL : p;
}
static void unmap(void *p, size_t bytes) { syscall(SYS_munmap, p, bytes); }

static int grow(void) {
  size_t nc = g.cap ? g.cap * 2 : 4096;
  Code *t = map(nc * sizeof *t);
  if (!t) return -1;
  if (g.tab) {
    memcpy(t, g.tab, g.cap * sizeof *t);
    unmap(g.tab, g.cap * sizeof *g.tab);
  }
  g.tab = t;
  g.cap = nc;
  return 0;
}

/* Copies s[0..n) into the arena; its offset, or the length cut to 0. */
static uint32_t keep(const char *s, ssize_t n, uint32_t *len) {
  *len = 0;
  if (!s || n <= 0) return 0;
  if (n > 1024) n = 1024;
  if (g.arena_used + (size_t)n > ARENA_BYTES) return 0;
  uint32_t off = (uint32_t)g.arena_used;
  memcpy(g.arena + off, s, (size_t)n);
  g.arena_used += (size_t)n;
  *len = (uint32_t)n;
  return off;
}

static uint32_t keep_attr(PyObject *co, const char *attr, const char *alt, uint32_t *len) {
  PyObject *o = py.GetAttrString(co, attr);
  if (!o && alt) {
    PyObject *t, *v, *tb;
    py.ErrFetch(&t, &v, &tb); /* no co_qualname before 3.11 */
    if (t) py.DecRef(t);
    if (v) py.DecRef(v);
    if (tb) py.DecRef(tb);
    o = py.GetAttrString(co, alt);
  }
  ssize_t n = 0;
  const char *s = o ? py.AsUTF8AndSize(o, &n) : NULL;
  uint32_t off = keep(s, s ? n : 0, len);
  if (o) py.DecRef(o);
  return off;
}

/* Writes the records this generation still lacks for id (and PYEVAL). */
static void emit(uint64_t id) {
  if (g.eval_gen != g.gen && g.eval_hi) {
    g.eval_gen = g.gen;
    shim.pyeval(g.eval_lo, g.eval_hi);
  }
  if (!id || id > g.next_id) return;
  Code *c = &g.tab[id];
  if (c->gen == g.gen) return;
  c->gen = g.gen;
  shim.pycode(id, c->first_line, g.arena + c->name_off, c->name_len, g.arena + c->file_off,
              c->file_len);
}

static void drop_error(void) {
  PyObject *t, *v, *tb;
  py.ErrFetch(&t, &v, &tb);
  if (t) py.DecRef(t);
  if (v) py.DecRef(v);
  if (tb) py.DecRef(tb);
}

/* CPython calls this when a code object we named dies (invariant 2). */
static void code_gone(void *x) {
  uint64_t id = (uint64_t)(uintptr_t)x;
  if (!id || id > g.next_id || !g.tab[id].alive) return;
  g.tab[id].alive = 0;
  g.live--;
}

/* The id of f's code object, named (and its record written) if new; 0 if
** it cannot be. Under the GIL; keeps any pending exception. */
static uint64_t intern(PyFrameObject *f) {
  PyObject *co = py.FrameGetCode(f);
  if (!co) return 0;
  void *x = NULL;
  if (py.CodeGetExtra(co, g.extra, &x) == 0 && x) {
    py.DecRef(co);
    emit((uint64_t)(uintptr_t)x);
    return (uint64_t)(uintptr_t)x;
  }
  uint64_t id = g.next_id + 1;
  if (id >= LR_PYCODE_MAX || (uint64_t)(uintptr_t)id != id || (id >= g.cap && grow() != 0)) {
    py.DecRef(co);
    return 0;
  }
  PyObject *et, *ev, *etb;
  py.ErrFetch(&et, &ev, &etb);
  if (py.CodeSetExtra(co, g.extra, (void *)(uintptr_t)id) != 0) {
    drop_error();
    py.ErrRestore(et, ev, etb);
    py.DecRef(co);
    return 0;
  }
  g.next_id = id;
  Code *c = &g.tab[id];
  memset(c, 0, sizeof *c);
  c->gen = g.gen - 1;
  c->alive = 1;
  g.live++;
  c->name_off = keep_attr(co, "co_qualname", "co_name", &c->name_len);
  c->file_off = keep_attr(co, "co_filename", NULL, &c->file_len);
  PyObject *fl = py.GetAttrString(co, "co_firstlineno");
  if (fl) {
    long v = py.AsLong(fl);
    c->first_line = v > 0 && v < (long)UINT32_MAX ? (uint32_t)v : 0;
    py.DecRef(fl);
  }
  drop_error(); /* whatever the lookups raised goes */
  py.ErrRestore(et, ev, etb);
  py.DecRef(co); /* invariant 2: co_extra holds the id, nothing holds co */
  emit(id);
  return id;
}

static Shadow *shadow_of_thread(void) { return pthread_getspecific(g.key); }

static void push(Shadow *s, PyFrameObject *f, uint64_t code) {
  if (s->n < SHADOW_CAP) {
    if (s->n) s->e[s->n - 1].line_ok = 0; /* the caller is at a new call */
    s->e[s->n] = (Ent){f, code, 0, 0};
  }
  /* the entry is whole before provide() (maybe in a signal handler) sees it */
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  s->n++;
}

/* Pops f and whatever is above it; a frame not on the stack (entered
** before the profiler was installed) is ignored. */
static void pop(Shadow *s, PyFrameObject *f) {
  if (s->n > SHADOW_CAP) {
    s->n--;
    return;
  }
  for (uint32_t i = s->n; i-- > 0;) {
    if (s->e[i].f != f) continue;
    assert(i < s->n && s->n <= SHADOW_CAP);
    s->n = i;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    return;
  }
}

static int line_of(PyFrameObject *f) {
  int l = py.FrameGetLineNumber(f);
  return l > 0 ? l : 0;
}

static int profile(PyObject *obj, PyFrameObject *f, int what, PyObject *arg) {
  (void)obj;
  (void)arg;
  Shadow *s = shadow_of_thread();
  if (!s || !f) return 0;
  if (what == PyTrace_RETURN) {
    pop(s, f);
    return 0;
  }
  if (what == PyTrace_C_CALL) { /* 3.11: the line a GIL-less allocation shows */
    if (g.lines_need_gil && s->n && s->n <= SHADOW_CAP && s->e[s->n - 1].f == f) {
      Ent *e = &s->e[s->n - 1];
      e->line_ok = 0;
      __atomic_signal_fence(__ATOMIC_SEQ_CST);
      e->line = (uint32_t)line_of(f);
      __atomic_signal_fence(__ATOMIC_SEQ_CST);
      e->line_ok = 1;
      /* callers not yet looked at: each is at its call until it calls again */
      for (uint32_t i = s->n - 1; i-- > 0 && !s->e[i].line_ok;) {
        s->e[i].line = (uint32_t)line_of(s->e[i].f);
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        s->e[i].line_ok = 1;
      }
    }
    return 0;
  }
  if (what != PyTrace_CALL) return 0;
  if (s->gen != g.gen) { /* a fork child: the frames' codes are named again */
    s->gen = g.gen;
    for (uint32_t i = 0; i < s->n && i < SHADOW_CAP; i++) emit(s->e[i].code);
  }
  uint64_t code = intern(f);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  push(s, f, code);
  return 0;
}

/* The provider (pyframes.h): the calling thread's frames, innermost first.
** Runs inside the shim's hook: no allocation, no lock (invariant 3); gives
** nothing once the program replaced our profile function (invariant 1). */
static uint32_t provide(uint64_t *out, uint32_t max) {
  if (!g.started) return 0;
  Shadow *s = shadow_of_thread();
  if (!s || !s->n || s->n > SHADOW_CAP) return 0;
  PyThreadState *ts = py.ThisThreadState();
  if (!ts) return 0;
  if (__atomic_load_n((Py_tracefunc *)(void *)((char *)ts + g.pf_off), __ATOMIC_RELAXED) !=
      profile)
    return 0; /* stale: the entries may name freed frames */
  int may_read = !g.lines_need_gil || py.GilHolder() == ts;
  uint32_t k = 0;
  for (uint32_t i = s->n; i-- > 0 && k < max;) {
    Ent *e = &s->e[i];
    uint32_t line = e->line_ok ? e->line : 0;
    if (may_read && (i + 1 == s->n || !e->line_ok)) {
      line = (uint32_t)line_of(e->f);
      if (i + 1 < s->n) { /* a caller stays at its call until it calls again */
        e->line = line;
        e->line_ok = 1;
      }
    }
    out[k++] = lr_pyframe(e->code, line);
  }
  return k;
}

static void shadow_free(void *p) { unmap(p, sizeof(Shadow)); }

static void after_fork_child(void) { g.gen++; }

#define FIND(field, name) (*(void **)&py.field = dlsym(RTLD_DEFAULT, name))
#define NEED(field, name)                                                      \
  do {                                                                         \
    if (!FIND(field, name)) return "CPython symbol " name " not found";       \
  } while (0)

/* Where this CPython keeps a thread's profile function: the one word of
** the thread state that holds `profile` while it is set and not after
** (under the GIL, in the starting thread; leaves it unset). */
static int find_profile_slot(void) {
  py.SetProfile(profile, NULL);
  PyThreadState *ts = py.ThisThreadState();
  if (!ts) return -1;
  size_t hits = 0;
  for (size_t off = 0; off < 64 * sizeof(void *); off += sizeof(void *)) {
    Py_tracefunc fn;
    memcpy(&fn, (char *)ts + off, sizeof fn);
    if (fn == profile) {
      g.pf_off = off;
      hits++;
    }
  }
  py.SetProfile(NULL, NULL);
  Py_tracefunc after;
  memcpy(&after, (char *)ts + g.pf_off, sizeof after);
  return hits == 1 && after == NULL ? 0 : -1;
}

/* Resolves everything once; NULL, or why not. */
static const char *setup(void) {
  *(void **)&shim.frames = dlsym(RTLD_DEFAULT, "lowram_shim_frames_v1");
  *(void **)&shim.pycode = dlsym(RTLD_DEFAULT, "lowram_shim_pycode_v1");
  *(void **)&shim.pyeval = dlsym(RTLD_DEFAULT, "lowram_shim_pyeval_v1");
  if (!shim.frames || !shim.pycode || !shim.pyeval)
    return "liblowram.so (with Python frames) is not preloaded";
  NEED(GetVersion, "Py_GetVersion");
  const char *v = py.GetVersion();
  int maj = 0, min = 0;
  if (!v || sscanf(v, "%d.%d", &maj, &min) != 2 || maj != 3 || min < 9)
    return "Python frames need CPython 3.9 or later";
  g.lines_need_gil = min == 11;
  NEED(SetProfile, "PyEval_SetProfile");
  NEED(GetFrame, "PyEval_GetFrame");
  NEED(FrameGetCode, "PyFrame_GetCode");
  NEED(FrameGetBack, "PyFrame_GetBack");
  NEED(FrameGetLineNumber, "PyFrame_GetLineNumber");
  NEED(IncRef, "Py_IncRef");
  NEED(DecRef, "Py_DecRef");
  NEED(GetAttrString, "PyObject_GetAttrString");
  NEED(AsUTF8AndSize, "PyUnicode_AsUTF8AndSize");
  NEED(AsLong, "PyLong_AsLong");
  NEED(ErrFetch, "PyErr_Fetch");
  NEED(ErrRestore, "PyErr_Restore");
  NEED(ThisThreadState, "PyGILState_GetThisThreadState");
  if (!FIND(GilHolder, "PyThreadState_GetUnchecked")) /* 3.13's name */
    NEED(GilHolder, "_PyThreadState_UncheckedGet");
  if (!FIND(RequestCodeExtraIndex, "PyUnstable_Eval_RequestCodeExtraIndex")) /* 3.12's names */
    NEED(RequestCodeExtraIndex, "_PyEval_RequestCodeExtraIndex");
  if (!FIND(CodeGetExtra, "PyUnstable_Code_GetExtra")) NEED(CodeGetExtra, "_PyCode_GetExtra");
  if (!FIND(CodeSetExtra, "PyUnstable_Code_SetExtra")) NEED(CodeSetExtra, "_PyCode_SetExtra");
  /* where Python frames join the native ones (SPOOL.md) */
#ifdef __GLIBC__ /* dladdr1 is glibc's; elsewhere Python frames follow the native ones */
  void *ev = dlsym(RTLD_DEFAULT, "_PyEval_EvalFrameDefault");
  Dl_info info;
  const ElfW(Sym) *sym = NULL;
  if (ev && dladdr1(ev, &info, (void **)&sym, RTLD_DL_SYMENT) && sym && sym->st_size) {
    g.eval_lo = (uint64_t)(uintptr_t)ev;
    g.eval_hi = g.eval_lo + sym->st_size;
  }
#endif
  if (find_profile_slot() != 0) return "the thread state's profile function not found";
  if ((g.extra = py.RequestCodeExtraIndex(code_gone)) < 0) return "no co_extra index left";
  if (pthread_key_create(&g.key, shadow_free) != 0) return "no thread key";
  if (!(g.arena = map(ARENA_BYTES)) || grow() != 0) return "out of memory";
  g.gen = 1;
  pthread_atfork(NULL, NULL, after_fork_child);
  return NULL;
}

/* Installs the profiler in the calling thread. seed >= 0: the frames
** already running are pushed, less the `seed` innermost (the caller's own
** hook); -1: none (they end before the program's code starts). */
static int thread_start(int seed) {
  if (shadow_of_thread()) return 0; /* never again: invariant 1 */
  Shadow *s = map(sizeof(Shadow));
  if (!s) return -1;
  s->gen = g.gen;
  if (pthread_setspecific(g.key, s) != 0) {
    unmap(s, sizeof(Shadow));
    return -1;
  }
  if (seed >= 0) {
    PyFrameObject *chain[256];
    int n = 0;
    PyFrameObject *f = py.GetFrame();
    if (f) py.IncRef((PyObject *)f);
    while (f && n < 256) {
      chain[n++] = f;
      f = py.FrameGetBack(f);
    }
    if (f) py.DecRef((PyObject *)f);
    for (int i = n; i-- > 0;) {
      /* running frames: their evaluation keeps them alive (invariant 1) */
      if (i >= seed) push(s, chain[i], intern(chain[i]));
      py.DecRef((PyObject *)chain[i]);
    }
  }
  py.SetProfile(profile, NULL);
  return 0;
}

/* Called from lowram/__init__.py (ctypes.PyDLL: the GIL is held). 0 when
** Python frames are on in this thread; else lowram_py_note() says why. */
LR_EXPORT int lowram_py_start(int seed) {
  if (!g.started) {
    if (g.note) return -1;
    if ((g.note = setup()) != NULL) return -1;
    g.started = 1;
    shim.frames(provide);
  }
  return thread_start(seed);
}

LR_EXPORT const char *lowram_py_note(void) { return g.note ? g.note : ""; }

/* Code objects named and still alive (tests). */
LR_EXPORT uint64_t lowram_py_codes(void) { return g.live; }
