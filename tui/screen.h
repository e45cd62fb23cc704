/*
** screen.h: the only header of tui/ that includes curses, so the model
** (model.h) cannot reach the terminal by accident and the views share one
** set of drawing helpers. ncursesw: wide characters for UTF-8 block bars.
*/
#ifndef LT_SCREEN_H
#define LT_SCREEN_H

#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#if __has_include(<ncursesw/curses.h>)
#include <ncursesw/curses.h>
#else
#include <curses.h>
#endif

#include "model.h"

/* Screen options decided once at start. */
typedef struct LtScreen {
  int ascii;  /* no UTF-8: '#' bars and ASCII marks */
  int color;  /* colors on (has_colors and no NO_COLOR) */
} LtScreen;

/* Color pairs (attributes fall back to bold/reverse without color). */
enum { LT_PAIR_TITLE = 1, LT_PAIR_BAR, LT_PAIR_RSS, LT_PAIR_PEAK, LT_PAIR_MARK, LT_PAIR_DIM };

/* view.c */
void lt_view_draw(const LtScreen *sc, LtModel *m);
/* Rows the list of view v gets on a screen of lines x cols. */
size_t lt_view_list_rows(LtView v, int lines, int cols);
/* Text at (y, x), escaped already, cut at `cols` columns and at a whole
** UTF-8 character. Returns the columns written. */
int lt_put(int y, int x, const char *s, int cols);

/* chart.c: the live-bytes/RSS chart in rows [y, y + h) and its axis line
** at y + h (markers, peak, cursor) and labels at y + h + 1. */
void lt_chart_draw(const LtScreen *sc, const LtModel *m, int y, int h, int cols);

#endif
