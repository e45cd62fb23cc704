// gt_cpp.cpp: C++ new/delete reach the shim through malloc/free. Makes
// exactly 7 `new Blob` (sizeof 40), one new[] of 10 doubles (80 bytes),
// and deletes them all, from named functions.
#include <unistd.h>

struct Blob {
  char data[40];
};

static Blob *blobs[7];
static volatile int sink;

__attribute__((noinline)) void gt_cpp_new(void) {
  for (int i = 0; i < 7; i++) blobs[i] = new Blob();
  sink++;
}

__attribute__((noinline)) double *gt_cpp_new_array(void) {
  double *d = new double[10];
  sink++;
  return d;
}

__attribute__((noinline)) void gt_cpp_delete(double *d) {
  for (int i = 0; i < 7; i++) delete blobs[i];
  delete[] d;
  sink++;
}

int main() {
  gt_cpp_new();
  double *d = gt_cpp_new_array();
  gt_cpp_delete(d);
  return 0;
}
