/*
** shim_modules.c: the module map. Each spool holds a MODULE record for
** every loaded object (base, size, build id, path) when recording starts
** and for each one dlopen brings, and an UNMODULE when dlclose removes it;
** and the text ranges the shim needs (its own, libc's, the loader's,
** libunwind's).
**
** Invariant: the known-module list changes only under mods_lock, which is
** never held while unwinding or allocating.
*/
#include <elf.h>
#include <link.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "shim_modules.h"

#define MAX_MODULES 1024

typedef struct Mod {
  uint64_t base, size;
} Mod;

static Mod mods[MAX_MODULES];
static int nmods;
static int mods_lock;
static char exe_path[LR_CONFIG_PATH_MAX];

typedef struct ModInfo {
  uint64_t base, size;
  const char *path;
  const uint8_t *bid;
  size_t bid_len;
} ModInfo;

static void mod_info(struct dl_phdr_info *info, ModInfo *m) {
  m->base = info->dlpi_addr;
  m->size = 0;
  m->bid = NULL;
  m->bid_len = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_LOAD && ph->p_vaddr + ph->p_memsz > m->size)
      m->size = ph->p_vaddr + ph->p_memsz;
    if (ph->p_type == PT_NOTE && !m->bid) {
      const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
      const uint8_t *end = p + ph->p_memsz;
      while (p + sizeof(ElfW(Nhdr)) <= end) {
        const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
        size_t nsz = (nh->n_namesz + 3u) & ~3u, dsz = (nh->n_descsz + 3u) & ~3u;
        const uint8_t *name = p + sizeof *nh, *desc = name + nsz;
        if (desc + dsz > end) break;
        if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name, "GNU", 4)) {
          m->bid = desc;
          m->bid_len = nh->n_descsz;
          break;
        }
        p = desc + dsz;
      }
    }
  }
  m->path = info->dlpi_name ? info->dlpi_name : "";
  if (!m->path[0] && exe_path[0]) m->path = exe_path;
}

typedef struct SyncCtx {
  Mod now[MAX_MODULES];
  int n;
  LrSpoolWriter *w;
  uint64_t seq;
} SyncCtx;

static int known(uint64_t base) {
  for (int i = 0; i < nmods; i++)
    if (mods[i].base == base) return 1;
  return 0;
}

static int sync_cb(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  SyncCtx *c = arg;
  ModInfo m;
  mod_info(info, &m);
  if (m.size == 0 || c->n >= MAX_MODULES) return 0;
  c->now[c->n].base = m.base;
  c->now[c->n].size = m.size;
  c->n++;
  if (!known(m.base)) {
    if (!c->seq) c->seq = nmods ? lr_shim_next_seq() : 0;
    lr_sw_module(c->w, c->seq, m.base, m.size, m.bid, m.bid_len, m.path, strlen(m.path));
  }
  return 0;
}

static SyncCtx sync_ctx; /* under mods_lock: too big for a thread's stack */

void lr_modules_sync(void) {
  while (__atomic_exchange_n(&mods_lock, 1, __ATOMIC_ACQUIRE)) sched_yield();
  SyncCtx *c = &sync_ctx;
  c->n = 0;
  c->w = lr_shim_writer(&lr_tls);
  c->seq = 0;
  dl_iterate_phdr(sync_cb, c);
  for (int i = 0; i < nmods; i++) {
    int still = 0;
    for (int k = 0; k < c->n && !still; k++) still = c->now[k].base == mods[i].base;
    if (!still) {
      if (!c->seq) c->seq = lr_shim_next_seq();
      lr_sw_unmodule(c->w, c->seq, mods[i].base);
    }
  }
  memcpy(mods, c->now, sizeof(Mod) * (size_t)c->n);
  nmods = c->n;
  __atomic_store_n(&mods_lock, 0, __ATOMIC_RELEASE);
}

static int self_cb(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  uintptr_t *r = arg, me = r[2];
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && me >= lo && me < hi) {
      r[0] = lo;
      r[1] = hi;
      return 1;
    }
  }
  return 0;
}

void lr_modules_text_range(uintptr_t addr, uintptr_t *lo, uintptr_t *hi) {
  uintptr_t r[3] = {0, 0, addr};
  dl_iterate_phdr(self_cb, r);
  *lo = r[0];
  *hi = r[1];
}

void lr_modules_self_range(uintptr_t *lo, uintptr_t *hi) {
  lr_modules_text_range((uintptr_t)&lr_modules_self_range, lo, hi);
}

void lr_modules_start(void) {
  if (!exe_path[0]) {
    ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
    exe_path[n > 0 ? n : 0] = 0;
  }
  nmods = 0;
  lr_modules_sync();
}

void lr_modules_after_fork(void) { __atomic_store_n(&mods_lock, 0, __ATOMIC_RELEASE); }
