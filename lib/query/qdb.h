/*
** qdb.h: the one way a query reaches a trace's connection. Every public
** query (peak.h, report.h, diff.h, export.h) starts with lr_qdb(), which
** makes sure the aggregate tables exist (lib/query/agg.h) the first time
** and returns the connection, so no caller has to remember to build them.
*/
#ifndef LR_QDB_H
#define LR_QDB_H

#include <sqlite3.h>

#include "lowram/err.h"
#include "lowram/trace.h"

/* The connection with aggregates ready, or NULL with *err set. */
sqlite3 *lr_qdb(LrTrace *t, LrErr *err);

#endif
