/* gt_plugin.c: the small library gt_prog's dlopen mode loads; its one
** function makes n allocations of `size` bytes and frees them.
**
** Preloaded after the shim with GT_LATE_FREE set, its constructor takes a
** malloc(4747) and registers an atexit handler that frees it. Registered
** before the program's start code registers the loader's fini, that
** handler runs after every library destructor, the shim's included: a free
** after the trace has ended. */
#include <stdlib.h>

static volatile int sink;
static void *late;

__attribute__((noinline)) void gt_plugin_alloc(int n, size_t size) {
  void *p[64];
  for (int i = 0; i < n && i < 64; i++) p[i] = malloc(size);
  for (int i = 0; i < n && i < 64; i++) free(p[i]);
  sink++;
}

static void late_free(void) {
  free(late);
  late = malloc(4748);
  free(late);
}

__attribute__((constructor)) static void gt_plugin_init(void) {
  if (!getenv("GT_LATE_FREE")) return;
  late = malloc(4747);
  atexit(late_free);
}
