/* gt_plugin.c: the small library gt_prog's dlopen mode loads; its one
** function makes n allocations of `size` bytes and frees them. */
#include <stdlib.h>

static volatile int sink;

__attribute__((noinline)) void gt_plugin_alloc(int n, size_t size) {
  void *p[64];
  for (int i = 0; i < n && i < 64; i++) p[i] = malloc(size);
  for (int i = 0; i < n && i < 64; i++) free(p[i]);
  sink++;
}
