/*
** tui.h: the entry of `lowram tui`, called by the lowram command's
** dispatch table (cli/main.c). Returns the exit status.
*/
#ifndef LT_TUI_H
#define LT_TUI_H

int lt_main(int argc, char **argv);

#endif
