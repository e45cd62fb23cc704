/*
** sqlite_api.h: the SQLite API for the store's files, which are built
** twice: into the analysis library (linked against libsqlite3) and into
** lowram_sqlite.so, the loadable extension that lets the sqlite3 shell or
** Python read a trace's allocations (LR_SQLITE_EXT defined: every call
** then goes through the table of routines the loading SQLite hands over).
*/
#ifndef LR_SQLITE_API_H
#define LR_SQLITE_API_H

#ifdef LR_SQLITE_EXT
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3
#else
#include <sqlite3.h>
#endif

#endif
