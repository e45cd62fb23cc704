/*
** stack_table.h: lock-free deduplication of call stacks for the shim.
**
** Each distinct stack (a list of return addresses) gets the next id, once.
** The table is open addressing over an anonymous mapping, with the frames
** in a bump-allocated arena beside it: no malloc, no lock, usable from any
** thread at any time. A repeated stack costs one hash and one comparison.
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
*/
#ifndef LR_STACK_TABLE_H
#define LR_STACK_TABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct LrStackTable LrStackTable;

/* 2^log2_slots slots and arena_bytes of frames, reserved (not committed)
** with mmap. NULL if the mapping failed. */
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

#endif /* LR_STACK_TABLE_H */
