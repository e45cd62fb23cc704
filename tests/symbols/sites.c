/* sites.c: the shape of llama.cpp's KV cache allocation (tests/symbols/
** test_symbols.sh): an allocator wrapper (ggml_aligned_malloc), a framework
** layer (alloc_tensor_range) and the library's own functions above them.
** The report's site must read kv_cache_init <- create_memory, not the
** wrapper. Built at -O0 so no frame is inlined away. */
#include <stdio.h>
#include <stdlib.h>

void *ggml_aligned_malloc(size_t n) {
  void *p = NULL;
  return posix_memalign(&p, 64, n) == 0 ? p : NULL;
}

void *alloc_tensor_range(size_t n) { return ggml_aligned_malloc(n); }

void *kv_cache_init(size_t n) { return alloc_tensor_range(n); }

void *create_memory(size_t n) { return kv_cache_init(n); }

int main(void) {
  char *kv = create_memory(1 << 20);
  printf("%p\n", (void *)kv);
  free(kv);
  return 0;
}
