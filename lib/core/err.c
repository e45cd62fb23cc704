/* err.c: see err.h. */
#include "lowram/err.h"

#include <stdarg.h>
#include <stdio.h>

int lr_err_set(LrErr *e, const char *fmt, ...) {
  if (e) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
  }
  return -1;
}
