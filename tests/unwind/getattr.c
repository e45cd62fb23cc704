/*
** getattr.c: a thread whose first allocation happens inside
** pthread_getattr_np(pthread_self()), while glibc holds that thread's lock
** (gcc's ThreadSanitizer runtime starts every thread this way). The shim
** must not ask for the thread's stack bounds through the same lock: under
** the old shim this program never ended. It prints how many threads got
** their attributes, and each thread's stack size, for the test to compare.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void *volatile keep; /* the compiler may not drop malloc/free pairs */

static void *run(void *arg) {
  pthread_attr_t a;
  size_t size = 0;
  void *addr = NULL;
  if (pthread_getattr_np(pthread_self(), &a) != 0) return NULL;
  pthread_attr_getstack(&a, &addr, &size);
  pthread_attr_destroy(&a);
  *(size_t *)arg = size;
  keep = malloc(1000); /* an ordinary allocation after it, recorded */
  free(keep);
  return arg;
}

int main(void) {
  enum { N = 4 };
  pthread_t t[N];
  size_t sizes[N] = {0};
  for (int i = 0; i < N; i++) pthread_create(&t[i], NULL, run, &sizes[i]);
  int ok = 0;
  for (int i = 0; i < N; i++) {
    void *r = NULL;
    pthread_join(t[i], &r);
    ok += r != NULL && sizes[i] > 0;
  }
  printf("%d threads\n", ok);
  return ok == N ? 0 : 1;
}
