// cppsymtarget.cpp: a C++ program the demangling test names frames in.
// The test finds these functions by their mangled names in .symtab, makes
// an allocation whose stack returns into them, and checks the exact
// demangled names; lr_cpp_plain is extern "C" and must keep its name.
#include <cstdio>
#include <cstdlib>

namespace lrt {
struct Box {
  static void *make(int n);
};

__attribute__((noinline)) void *Box::make(int n) { return std::malloc((size_t)n); }

template <typename T>
__attribute__((noinline)) T *grow(const Box *b, unsigned long n) {
  (void)b;
  return static_cast<T *>(Box::make((int)(n * sizeof(T))));
}
template double *grow<double>(const Box *, unsigned long);
}  // namespace lrt

extern "C" __attribute__((noinline)) int lr_cpp_plain(int x) {
  void *p = lrt::grow<double>(nullptr, (unsigned long)x);
  std::free(p);
  return x + 1;
}

int main(int argc, char **) {
  std::printf("%d\n", lr_cpp_plain(argc));
  return 0;
}
