/* loader.c: dlopens the plugin named by argv[1] and calls into it. */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) {
    fprintf(stderr, "%s\n", dlerror());
    return 1;
  }
  int (*value)(void) = (int (*)(void))dlsym(h, "plugin_value");
  printf("%d\n", value ? value() : -1);
  return 0;
}
