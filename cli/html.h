/*
** html.h: the parts of `lowram html` (cli/html.c: options, data, page;
** cli/html_tables.c: the summary and the tables of the text report).
**
** Names from a trace are data written by the traced program: each one goes
** through lr_text_escape (lowram/text.h: control characters and invalid
** UTF-8 shown as \xHH) and then through the escaping of where it lands, so
** no name can close a tag, open a script or drive a terminal that shows
** the file.
*/
#ifndef LR_CLI_HTML_H
#define LR_CLI_HTML_H

#include <stdio.h>

#include "lowram/report.h"

/* s as HTML text or a quoted attribute value (& < > " ' as entities). */
void lr_html_text(FILE *f, const char *s);

/* s as a JSON string that is safe inside a <script> element: besides JSON's
** own escapes, < > & as \u003c \u003e \u0026 (no "</script" or "<!--" can
** appear) and U+2028/U+2029 as \u2028/\u2029. */
void lr_html_json(FILE *f, const char *s);

/* The headline figures (peak, RSS, run) as cards and notes. */
void lr_html_summary(FILE *f, const LrReport *r);

/* The tables of the text report: contributors, leaks, temporaries, hot
** sites, largest blocks, phases, mapped files and the run; `top` rows each. */
void lr_html_tables(FILE *f, const LrReport *r, int top);

#endif
