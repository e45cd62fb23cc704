/*
** sitebytes.h: what `lowram suggest` needs from one trace: for each phase,
** the live bytes of each allocation site at that phase's peak moment.
**
** Phases are the spans between the program's markers (lowram_mark): the
** span before the first marker is "(start)", and a marker name ending in a
** number is folded into one phase with the number replaced by N ("batch 3"
** -> "batch N"), so that runs with different batch counts share phases.
** When a phase occurs several times in a run (every "batch N", or "prefill"
** once per batch) the occurrence with the highest peak is kept.
**
** The peak moment of a span is the first event inside it after which
** heap + anonymous-mmap live bytes are highest in the span (the state at the
** marker itself belongs to the previous span, so leftovers of the previous
** phase that are freed early in this one do not set this phase's moment; a
** span without events takes the state at its marker). The run's peak, the
** highest of these, is the true peak of the run, as in peak.h. File
** mappings are counted apart (mapped weights: resident or not at the
** kernel's will) and are not part of any site.
**
** Sites are matched across traces by a key made of the function names of
** the innermost LR_SITEBYTES_KEY_FRAMES frames of the stack, starting at the
** first frame outside the C runtime (libc, libstdc++, the loader), so that
** ids, addresses and line numbers, which differ between builds and runs, do
** not split a site. Unsymbolized frames are named "module+0xoffset".
**
** Allocator arenas are pooled apart, one site per allocator, keyed
** "(arena) ...": the memory an allocator maps for itself is charged to
** whichever object happened to need a new arena, differs from run to run,
** and says nothing about that object. They are recognized by frames of the
** arena code (_PyObject_ArenaMmap/new_arena; glibc's new_heap/sysmalloc;
** V8's MemoryAllocator/PageAllocator/...), and, where those functions are
** static and unnamed, by shape: an anonymous mmap of 256 KiB or 1 MiB whose
** innermost frame outside libc is in the Python interpreter (python3.x,
** libpython), or any anonymous mmap whose innermost frame is in node.
**
** When stacks explode (more than LR_SITEBYTES_EXPLODED_STACKS distinct
** stacks with under 8 blocks each, as an interpreter gives) the 5-frame
** keys do not repeat from run to run; lr_sitebytes_read_coarse keys sites
** by LR_SITEBYTES_COARSE_FRAMES frames starting at the first frame outside
** the C runtime and the interpreter (python, libpython, node).
*/
#ifndef LR_SITEBYTES_H
#define LR_SITEBYTES_H

#include <stddef.h>
#include <stdint.h>

#include "lowram/err.h"
#include "lowram/suggest.h" /* LrArena */

#define LR_SITEBYTES_KEY_FRAMES 5
#define LR_SITEBYTES_COARSE_FRAMES 2
#define LR_SITEBYTES_EXPLODED_STACKS 2000
#define LR_SITEBYTES_MAX_PHASES 64

/* One trace, reduced. Invariants: (1) phase names are unique;
** (2) for every phase, the site bytes add up to its peak (heap + anon);
** (3) the run's peak is the highest phase peak. */
typedef struct LrSiteBytes LrSiteBytes;

/* Opens the trace read-only (never modifies it); NULL with a one-line
** reason naming the file when it is not a complete lowram trace. */
LrSiteBytes *lr_sitebytes_read(const char *trace_path, LrErr *err);
void lr_sitebytes_free(LrSiteBytes *r);
/* The same with coarse keys (see above). */
LrSiteBytes *lr_sitebytes_read_coarse(const char *trace_path, LrErr *err);
/* Either of the above for process `process` of the run (processes.id; 0:
** the one with the highest peak, as above): `lowram suggest` reads the
** process that runs the program in every run, not a wrapping shell. */
LrSiteBytes *lr_sitebytes_read_process(const char *path, int coarse, int64_t process, LrErr *err);
int lr_sitebytes_exploded(const LrSiteBytes *r); /* stacks exploded (see above) */
int lr_sitebytes_coarse(const LrSiteBytes *r);
/* The arena a site key names, LR_ARENA_NONE for an ordinary site. */
LrArena lr_sitebytes_arena_of_key(const char *key);

const char *lr_sitebytes_path(const LrSiteBytes *r);
/* The program: basename of argv[0] from the trace's meta ("" if unknown). */
const char *lr_sitebytes_program(const LrSiteBytes *r);
/* 1 if the program exited with status 0. */
int lr_sitebytes_clean_exit(const LrSiteBytes *r);
const char *lr_sitebytes_end(const LrSiteBytes *r); /* "exit 0", "signal 9"... */

/* Parameters recorded with lowram_param / lowram_param_str: the last value,
** except that an integer recorded several times (batch in stream mode)
** keeps its largest, the one that sizes the peak. */
int lr_sitebytes_nparams(const LrSiteBytes *r);
const char *lr_sitebytes_param_name(const LrSiteBytes *r, int i);
/* 0 and *out if the parameter is an integer, -1 otherwise (text or absent). */
int lr_sitebytes_param_int(const LrSiteBytes *r, const char *name, int64_t *out);
/* The text of a string parameter, or NULL. */
const char *lr_sitebytes_param_text(const LrSiteBytes *r, const char *name);

int64_t lr_sitebytes_peak(const LrSiteBytes *r);     /* heap + anon */
int64_t lr_sitebytes_rss_peak(const LrSiteBytes *r); /* max VmRSS sampled; -1 if none */
int64_t lr_sitebytes_rss_samples(const LrSiteBytes *r); /* how many RSS samples */

int lr_sitebytes_nsites(const LrSiteBytes *r);
const char *lr_sitebytes_site_key(const LrSiteBytes *r, int s);
int64_t lr_sitebytes_site_allocs(const LrSiteBytes *r, int s);   /* over the run */
int64_t lr_sitebytes_site_max_block(const LrSiteBytes *r, int s);
int lr_sitebytes_site_is_anon(const LrSiteBytes *r, int s); /* its bytes are mmap'd */
/* Mean lifetime of the site's freed blocks, in events (seq numbers), and
** the run's length in events: a temporary lives a small share of the run. */
double lr_sitebytes_site_mean_life(const LrSiteBytes *r, int s);
/* Bytes of the site's blocks never freed or freed in the run's last quarter
** of events: what is held to the end (a cache, weights). */
int64_t lr_sitebytes_site_late_bytes(const LrSiteBytes *r, int s);
int64_t lr_sitebytes_span(const LrSiteBytes *r);

int lr_sitebytes_nphases(const LrSiteBytes *r);
const char *lr_sitebytes_phase_name(const LrSiteBytes *r, int p);
int64_t lr_sitebytes_phase_peak(const LrSiteBytes *r, int p);
int64_t lr_sitebytes_phase_file(const LrSiteBytes *r, int p); /* file-mapped bytes then */
/* The file with the most bytes mapped at that moment ("" when none). */
const char *lr_sitebytes_phase_file_name(const LrSiteBytes *r, int p);
int64_t lr_sitebytes_phase_seq(const LrSiteBytes *r, int p);
/* Time spent in the phase (all its occurrences), nanoseconds. */
int64_t lr_sitebytes_phase_ns(const LrSiteBytes *r, int p);
/* The kept occurrence of phase p as a list of events (heap/anon event
** seqs between its marker and the next): how many, and the 0-based
** ordinal of the peak among them (-1 when the span had no event). */
int64_t lr_sitebytes_phase_events(const LrSiteBytes *r, int p);
int64_t lr_sitebytes_phase_ordinal(const LrSiteBytes *r, int p);
/* Live bytes of every site (bytes[nsites]) and file-mapped bytes just after
** event `ordinal` of phase p, so that runs whose phases have the same
** events can be compared at the same point of the program. */
int lr_sitebytes_moment(LrSiteBytes *r, int p, int64_t ordinal, int64_t *bytes, int64_t *file,
                        LrErr *err);
/* lr_sitebytes_moment opens the trace again (read-only) and keeps it open
** for the next call; this closes it. */
void lr_sitebytes_release(LrSiteBytes *r);
/* Live bytes of site s at phase p's peak moment. */
int64_t lr_sitebytes_bytes(const LrSiteBytes *r, int p, int s);
/* Blocks of site s live at phase p's peak moment. */
int64_t lr_sitebytes_blocks(const LrSiteBytes *r, int p, int s);

#endif
