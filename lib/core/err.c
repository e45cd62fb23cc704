/* err.c: see err.h. */
#include "lowram/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* SQLite reports a damaged schema as "malformed database schema (NAME) -
** DETAIL", where DETAIL quotes the broken CREATE statement: many lines of
** SQL read from the damaged file, which turned one error into a screenful
** (issue 14). This is the one place every such message passes (callers
** format sqlite3_errmsg() into an LrErr), so it is cut here to
** "malformed database schema (NAME)": the object that is broken, without
** its text. NAME comes from the damaged file too; a control byte in it
** becomes '?' so the message stays one line even where it is printed raw.
** Names the caller put in the message (paths) are left as they are: the
** printers escape them (text.h). */
static void cut_schema_detail(char *msg) {
  static const char tag[] = "malformed database schema (";
  char *p = strstr(msg, tag);
  if (!p) return;
  p += sizeof tag - 1;
  char *close = strchr(p, ')');
  /* SQLite writes " - " right after the name's ')': with a detail, that
     ')' is the one before it (a damaged name may hold a ')' itself) */
  char *sep = strstr(p, ") - ");
  if (sep) close = sep;
  if (!close) return;
  for (char *c = p; c < close; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
  close[1] = '\0';
}

int lr_err_set(LrErr *e, const char *fmt, ...) {
  if (e) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    cut_schema_detail(e->msg);
  }
  return -1;
}
