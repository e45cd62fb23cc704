/*
** shim_process.c: the hooks that follow the process rather than its
** memory: dlopen/dlclose (the module map, the stack caches' code
** generation), pthread_setname_np (thread names), execve (the exec index
** and a last RSS sample), exit/_exit/_Exit and main's return (how the run
** ended).
*/
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim_modules.h"
#include "shim_real.h"
#include "shim_rss.h"
#include "shim_session.h"

/* ---- modules, exits --------------------------------------------------- */

/* dlopen searches a bare name with its *caller's* RPATH/RUNPATH, and the
** caller of the real dlopen is now the shim. So look the name up in the
** program's caller's search path first (what it would have found), after
** checking it is not already loaded under that name. Bionic will need its
** loader's caller-aware entry (__loader_dlopen) here instead. */
static void *dlopen_as_caller(const char *file, int mode, const void *caller) {
#ifdef __GLIBC__
  Dl_info info;
  struct link_map *lm = NULL;
  if (!file || strchr(file, '/') || !dladdr1(caller, &info, (void **)&lm, RTLD_DL_LINKMAP) ||
      !lm)
    return lr_real.dlopen(file, mode);
  /* Already loaded: this call took the caller's one reference (and applied
  ** any promotion such as RTLD_GLOBAL); a second dlopen would take another
  ** that no dlclose ever drops. */
  void *loaded = lr_real.dlopen(file, mode | RTLD_NOLOAD);
  if (loaded) return loaded;
  Dl_serinfo size;
  if (dlinfo(lm, RTLD_DI_SERINFOSIZE, &size) != 0) return lr_real.dlopen(file, mode);
  Dl_serinfo *si = lr_real.malloc(size.dls_size);
  void *h = NULL;
  if (si) {
    si->dls_size = size.dls_size;
    si->dls_cnt = size.dls_cnt;
    if (dlinfo(lm, RTLD_DI_SERINFO, si) == 0) {
      size_t fl = strlen(file);
      for (unsigned i = 0; i < si->dls_cnt && !h; i++) {
        char path[LR_CONFIG_PATH_MAX];
        const char *d = si->dls_serpath[i].dls_name;
        size_t dl = strlen(d);
        if (!dl || dl + fl + 2 > sizeof path) continue;
        memcpy(path, d, dl);
        path[dl] = '/';
        memcpy(path + dl + 1, file, fl + 1);
        if (access(path, F_OK) == 0) h = lr_real.dlopen(path, mode);
      }
    }
    lr_real.free(si);
  }
  return h ? h : lr_real.dlopen(file, mode);
#else
  (void)caller;
  return lr_real.dlopen(file, mode);
#endif
}

LR_EXPORT void *dlopen(const char *file, int mode) {
  if (lr_shim_booting()) lr_shim_resolve();
  const void *caller = __builtin_return_address(0);
  /* the loader's allocations and the library's constructors' are the
  ** program's: they are recorded (the search itself uses real malloc) */
  void *h = dlopen_as_caller(file, mode, caller);
  LrTls *t = h ? lr_shim_enter() : NULL;
  if (t) {
    int e = errno;
    lr_modules_sync();
    lr_shim_leave(t, e);
  }
  return h;
}

LR_EXPORT int dlclose(void *h) {
  if (lr_shim_booting()) lr_shim_resolve();
  int r = lr_real.dlclose(h);
  /* code may be gone: no stack cache entry made before may be trusted */
  if (r == 0) __atomic_add_fetch(&g_shim.code_gen, 1, __ATOMIC_RELEASE);
  LrTls *t = r == 0 ? lr_shim_enter() : NULL;
  if (t) {
    int e = errno;
    lr_modules_sync();
    lr_shim_leave(t, e);
  }
  return r;
}

/* A thread that renames itself gets a new THREAD record (a rename of
** another thread is not seen: its kernel tid is not known portably). */
LR_EXPORT int pthread_setname_np(pthread_t th, const char *name) {
  if (lr_shim_booting()) lr_shim_resolve();
  int r = lr_real.pthread_setname_np(th, name);
  LrTls *t = r == 0 && pthread_equal(th, pthread_self()) ? lr_shim_enter() : NULL;
  if (t) {
    int e = errno;
    size_t n = 0;
    while (name[n] && n < 15) n++;
    lr_sw_thread(&t->w, __atomic_load_n(&g_shim.seq, __ATOMIC_RELAXED), lr_shim_now(), t->tid,
                 name, n);
    lr_shim_leave(t, e);
  }
  return r;
}

/* A program that execs with its own environment array (a shell does)
** passes the LOWRAM_EXEC_INDEX it saw at start, which is stale in a fork
** child. Pass the current one, so the new image knows it replaces this
** one. Only touched when the array names it or preloads something. */
LR_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
  if (lr_shim_booting()) lr_shim_resolve();
  const char *cur = lr_session_exec_env_entry();
  LrTls *t = lr_shim_enter();
  if (t) { /* this image's last word on resident memory, if exec succeeds */
    lr_rss_sample_now();
    lr_shim_leave(t, errno);
  }
  if (!__atomic_load_n(&g_shim.active, __ATOMIC_ACQUIRE) || !envp || !cur[0])
    return lr_real.execve(path, argv, envp);
  size_t n = 0, at = SIZE_MAX, nl = sizeof LR_EXEC_ENV; /* "NAME=" */
  int preload = 0;
  for (; envp[n]; n++) {
    if (!strncmp(envp[n], cur, nl)) at = n;
    if (!strncmp(envp[n], "LD_PRELOAD=", 11)) preload = 1;
  }
  if ((at != SIZE_MAX && !strcmp(envp[at], cur)) || (at == SIZE_MAX && !preload))
    return lr_real.execve(path, argv, envp);
  char **e = lr_real.malloc((n + 2) * sizeof *e); /* not the program's: real malloc */
  if (!e) return lr_real.execve(path, argv, envp);
  memcpy(e, envp, n * sizeof *e);
  e[at != SIZE_MAX ? at : n] = (char *)cur;
  e[at != SIZE_MAX ? n : n + 1] = NULL;
  int r = lr_real.execve(path, argv, e);
  int err = errno;
  lr_real.free(e);
  errno = err;
  return r;
}

LR_EXPORT void exit(int status) {
  if (lr_shim_booting()) lr_shim_resolve();
  g_shim.exit_status = status;
  __atomic_store_n(&g_shim.exit_known, 1, __ATOMIC_RELEASE);
  lr_real.exit(status);
  __builtin_unreachable();
}

static _Noreturn void quick_exit_common(void (*fn)(int), int status) {
  if (__atomic_load_n(&g_shim.active, __ATOMIC_ACQUIRE)) {
    /* restored: a vfork child runs on its parent's thread state */
    int g = lr_tls.guard;
    lr_tls.guard = 1;
    lr_session_end(LR_END__EXIT, status);
    lr_tls.guard = g;
  }
  if (fn) fn(status);
  syscall(SYS_exit_group, status);
  __builtin_unreachable();
}

LR_EXPORT void _exit(int status) {
  if (lr_shim_booting()) lr_shim_resolve();
  quick_exit_common(lr_real._exit, status);
}

LR_EXPORT void _Exit(int status) {
  if (lr_shim_booting()) lr_shim_resolve();
  quick_exit_common(lr_real._Exit, status);
}

#ifdef __GLIBC__
/* Wraps main so that a return from it yields the exit status too (exit()
** inside libc is not reached through our exit hook). */
typedef int (*lr_main_fn)(int, char **, char **);
static lr_main_fn real_main;

static int main_wrapper(int argc, char **argv, char **envp) {
  int r = real_main(argc, argv, envp);
  g_shim.exit_status = r;
  __atomic_store_n(&g_shim.exit_known, 1, __ATOMIC_RELEASE);
  return r;
}

LR_EXPORT int __libc_start_main(lr_main_fn main_fn, int argc, char **argv, void (*init)(void),
                                void (*fini)(void), void (*rtld_fini)(void), void *stack_end) {
  int (*next)(lr_main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void),
              void *);
  *(void **)&next = dlsym(RTLD_NEXT, "__libc_start_main");
  real_main = main_fn;
  return next(main_wrapper, argc, argv, init, fini, rtld_fini, stack_end);
}
#endif
