/*
** symbolize.h: naming the frames of a trace (function, file, line) from the
** ELF files of its modules, with libelf and libdw.
**
** A frame is (module, rel_pc) with rel_pc a return address minus the
** module's base, so the call instruction is at rel_pc - 1: that is the
** address looked up. Function names come from .symtab (static functions
** too) or, when a file was stripped, .dynsym; file:line from DWARF when
** present. A file is used only if its build-id matches the one recorded for
** the module (when one was recorded), so a library that changed on disk
** since the run never gives wrong names.
**
** Where files are looked for, in order:
**   1. DIR/.build-id/xx/yyyy.debug (the usual separate debug-info layout),
**   2. any DIR/<path>/<name> where <name> is the module's file name,
**   3. this machine's debug files, no network: /usr/lib/debug/.build-id/
**      xx/yyyy.debug (Debian's -dbg/-dbgsym packages), debuginfod's local
**      cache ($DEBUGINFOD_CACHE_PATH, else ~/.cache/debuginfod_client:
**      <build-id>/debuginfo), and the module's .gnu_debuglink name in
**      /usr/lib/debug/<its dir>/ and <its dir>/.debug/,
**   4. the module's own path (at import, on the machine that ran it).
** A frame takes its function name and its line from the first file that
** has them.
**
** Inlined code: where DWARF says the address is in functions inlined into
** the one the symbol table names (DW_TAG_inlined_subroutine), the frame's
** file:line is the line of that outer function (the call site of the
** outermost inlined function), and table inline_frames gets one row per
** inlined function, depth 0 innermost, each with its own file:line (the
** innermost's from the line table, the others' from their callee's
** DW_AT_call_file/call_line).
**
** Frames of code that ran before its library was registered (constructors
** run inside dlopen, before it returns) carry no module; a pass first
** gives each the module of its process that covers its pc and was loaded
** first during the run, so they are named like any other.
**
** C++ names are stored demangled in frames.function ("lrt::Box::make(int)",
** not "_ZN3lrt3Box4makeEi"), at import and by `lowram symbolize` alike, so
** every trace names a site the same way; the mangled name is not kept.
*/
#ifndef LR_SYMBOLIZE_H
#define LR_SYMBOLIZE_H

#include <stdint.h>

#include "lowram/err.h"

typedef struct LrSymStats {
  uint64_t modules;         /* modules with frames */
  uint64_t modules_matched; /* of those, modules some ELF file matched */
  uint64_t frames;          /* frames looked at */
  uint64_t frames_named;    /* frames with a function name after the pass */
  uint64_t frames_lines;    /* frames with file:line after the pass */
  uint64_t frames_inlined;  /* frames this pass found inlined functions at */
} LrSymStats;

/* `lowram symbolize`: opens the finished trace at trace_path read-write and
** renames its frames from symbols_dir in one transaction (the one write a
** finished trace ever gets). */
int lr_sym_file(const char *trace_path, const char *symbols_dir, LrSymStats *st, LrErr *err);

/* The readable form of an Itanium C++ mangled name ("_Z..."), malloc'd
** (the caller frees it), or NULL to keep name as it is: not mangled, not
** demangleable, no C++ runtime found at run time, or name or result longer
** than 4096 bytes. Thread-safe. */
char *lr_sym_demangle(const char *name);

#endif
