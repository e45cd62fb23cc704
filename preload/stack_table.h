/*
** stack_table.h: lock-free deduplication of call stacks for the shim.
**
** Each distinct stack (a list of return addresses) gets the next id, once.
** The table is open addressing over anonymous mappings, with the frames
** in a bump-allocated arena beside it: no malloc, no lock, usable from any
** thread at any time. A repeated stack costs one hash and one comparison.
** Address space is taken as it is needed (a phone's RLIMIT_AS, and the
** target's VmSize, count it): the slots come in levels, the first 128 KiB
** (4096 slots), each next one twice the last, mapped when the one before is
** 3/4 full; the arena in segments, the first 256 KiB, each next one as large
** as all before it. A lookup probes the levels oldest first.
**
** Protocol for a new stack: lr_stack_intern returns its id with *is_new set;
** the caller writes the LR_REC_STACK record and then calls
** lr_stack_publish, and only then can other threads get that id. So no
** event can name a stack id whose record is not already in some chunk.
**
** Invariants:
**   1. A slot's hash goes 0 -> h once (claim); its id goes 0 -> id once
**      (publish, release), after its frames were written.
**   2. Ids are 1, 2, 3... in claim order; 0 is never handed out.
**   3. If the table or the arena is full, a stack still gets a fresh id
**      (is_new set, nothing stored): dedup degrades, correctness does not.
**   4. Levels and segments are never moved or unmapped before
**      lr_stack_table_free: a slot or frame pointer, once read, stays valid.
*/
#ifndef LR_STACK_TABLE_H
#define LR_STACK_TABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct LrStackTable LrStackTable;

/* Up to about 2^(log2_slots+1) slots (levels up to 2^log2_slots) and
** arena_bytes of frames, mapped on demand; the first level and segment are
** mapped now. NULL if they could not be. */
LrStackTable *lr_stack_table_new(unsigned log2_slots, size_t arena_bytes);
void lr_stack_table_free(LrStackTable *t);

/* The id of stack ips[0..n). *slot receives what lr_stack_publish needs. */
uint64_t lr_stack_intern(LrStackTable *t, const uintptr_t *ips, uint32_t n,
                         int *is_new, uint32_t *slot);
/* The id of a published stack equal to ips[0..n), or 0 (never inserts). */
uint64_t lr_stack_find(LrStackTable *t, const uintptr_t *ips, uint32_t n);

/* Makes a new stack visible to other threads (after its record is written). */
void lr_stack_publish(LrStackTable *t, uint32_t slot, uint64_t id);

/* Distinct stacks handed out so far. */
uint64_t lr_stack_count(const LrStackTable *t);

/* Bytes of address space the table has mapped so far. */
size_t lr_stack_table_mapped(const LrStackTable *t);

#endif /* LR_STACK_TABLE_H */
