/*
** stackvt.h: a v3 trace's stacks as a trie, and `stack_entries` as a
** SQLite virtual table over it (module "lowram_stack_entries").
**
** Stacks share long prefixes of callers, so v3 keeps every frame of a
** stack once per distinct caller chain: a row of stack_nodes(id, parent,
** frame_id) is one frame with, as parent, the node of its caller (NULL for
** the outermost frame); stacks.node is the node of the stack's innermost
** frame (depth 0). Walking parents from stacks.node gives depth 0, 1, ...
**
** stack_entries(stack_id, depth, frame_id) reads as v2's plain table did:
**   - `stack_id = X` (and IN, one value at a time) walks from that stack's
**     node, depth 0 first, one B-tree lookup per frame;
**   - a range on stack_id (a process's TEMP VIEW) or no constraint walks
**     every stack in id order, after loading stack_nodes into memory once
**     per cursor; rows come ordered by (stack_id, depth) and the table
**     tells SQLite so.
**   - `depth =`, `<`, `<=` stop the walk early (SQLite checks them again).
** A damaged chain (a parent that is missing, or that loops) is an error
** naming the stack, never an endless walk.
**
** Writes: INSERT appends one frame to a stack, at the next depth (a
** stack's depths inserted in order from 0, after its stacks row), for
** tests and tools that build traces by hand; such chains are the
** stack's own, not shared. UPDATE and DELETE are errors. The importer
** writes nodes through LrStackTrie, which shares prefixes.
*/
#ifndef LR_STACKVT_H
#define LR_STACKVT_H

#include <stddef.h>
#include <stdint.h>

#include "store/sqlite_api.h"

/* Registers the module on db: SQLITE_OK or an SQLite error code.
** lr_allocvt_register calls it: every connection lowram opens, and
** lowram_sqlite.so, gets both modules. */
int lr_stackvt_register(sqlite3 *db);

/* The trie writer: interns caller chains into "schema".stack_nodes with
** an in-memory hash of (parent, frame_id) -> node, so that a node is
** written once and shared by every stack through it. New node ids follow
** the largest already in the table (node ids are unique in the file, not
** ranged per process). Nodes are shared only among the chains of one
** trie (one process's import: frame ids are per process anyway). */
typedef struct LrStackTrie LrStackTrie;

/* NULL with *oom set when memory ran out, else with the SQLite error left
** on db. */
LrStackTrie *lr_stack_trie_new(sqlite3 *db, const char *schema, int *oom);
void lr_stack_trie_free(LrStackTrie *t);

/* Interns frames[0..n) (innermost first, as depths 0..n-1) and sets *node
** to the node of depth 0 (0 when n is 0). 0, or -1: *oom set when memory
** ran out, else the SQLite error is on db. */
int lr_stack_trie_put(LrStackTrie *t, const int64_t *frames, size_t n, int64_t *node, int *oom);

/* Writes the stacks row (id, n, node of frames[0..n) as interned above),
** or leaves a known id as it is: 1 written, 0 known already, -1 as
** lr_stack_trie_put. */
int lr_stack_trie_stack(LrStackTrie *t, int64_t id, const int64_t *frames, size_t n, int *oom);

/* Nodes written so far by this trie. */
uint64_t lr_stack_trie_nodes(const LrStackTrie *t);

#endif
