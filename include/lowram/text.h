/*
** text.h: the one rule for showing text that came from a trace. Symbol
** names, file paths, marker names, argv words and mapped-file paths are
** data written by the traced program (or by whoever crafted the trace): a
** name like "\x1b]0;pwned\x07" must not retitle the window, "\x1b[2J" must
** not clear the screen, and a newline must not forge a report line. Every
** text output (report, diff, suggest, folded, CSV cells, the TUI, error
** messages) passes such strings through lr_text_escape().
*/
#ifndef LR_TEXT_H
#define LR_TEXT_H

#include <stddef.h>

/* Copies s into buf (len > 0 bytes, always NUL-terminated, cut only between
** characters) with these shown as \xHH: control characters (0x00-0x1f and
** 0x7f), C1 controls encoded in UTF-8 (U+0080-U+009F), and every byte that
** is not part of valid UTF-8; a backslash becomes "\\" so the escapes stay
** unambiguous. Everything else (printable ASCII and valid UTF-8) is kept.
** s NULL gives "". Returns buf. */
char *lr_text_escape(const char *s, char *buf, size_t len);

/* 1 when lr_text_escape would return s unchanged. */
int lr_text_is_clean(const char *s);

#endif
