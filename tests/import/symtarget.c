/*
** symtarget.c: a program the symbolizer test names frames in. Built with
** -g; the test finds lr_known_static in its .symtab, makes a frame that
** returns into it, and checks the name and the line of the line below
** that holds the function's name (the test reads this file to find it).
*/
#include <stdio.h>

static volatile int sink;

static int __attribute__((noinline)) lr_known_static(int x) { /* KNOWN-LINE */
  sink = x;
  return x * 3 + 1;
}

int lr_known_global(int x);
int __attribute__((noinline)) lr_known_global(int x) {
  return lr_known_static(x) + 1;
}

int main(int argc, char **argv) {
  (void)argv;
  printf("%d\n", lr_known_global(argc));
  return 0;
}
