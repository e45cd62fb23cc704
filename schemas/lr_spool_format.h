/*
** lr_spool_format.h: the on-disk layout of a lowram spool, version 1.
**
** The spool is what liblowram.so writes inside the profiled process and what
** `lowram import` reads. It is the trace's truth until it has been imported,
** so this header is the single definition both sides compile against; the
** prose description (with a worked example) is schemas/SPOOL.md. A change
** that older readers cannot skip bumps LR_SPOOL_VERSION; new record kinds
** that a reader of this version decodes bump LR_SPOOL_MINOR (stored in the
** header's minor_version, zero in spools written before minors existed).
**
** Minor versions of version 1:
**   0  the malloc family, mmap, munmap, mremap and the other records
**   1  LR_EV_MPROTECT, LR_EV_PKEY_MPROTECT, LR_EV_MADVISE (committed memory),
**      LR_REC_RSS_SWAP (an RSS sample with VmSwap)
**   2  Python frames: LR_REC_PYCODE, LR_REC_PYEVAL, and STACK records whose
**      frames carry LR_PYFRAME_TAG / LR_PYREF_TAG values (see below);
**      chunks of 1, 2, 4... units (LrChunkHeader.span, chunk_size is the unit)
** A reader of minor 1 reads every minor-0 spool unchanged; a reader of
** minor 0 stops a chunk at the first record of a kind it does not know
** (counted as truncated) and keeps what came before.
**
** Layout of the file:
**
**     offset 0               LrSpoolHeader, padded to LR_SPOOL_HEADER_SIZE
**     LR_SPOOL_HEADER_SIZE   chunk at unit 0 (span units of chunk_size bytes)
**     + span * chunk_size    the next chunk
**     ...
** A unit without a valid chunk header (magic, index = its unit number) is
** one unit reserved and never written; the reader skips it alone.
**
** Invariants the writer keeps and the reader checks (never trusts):
**   1. Every chunk starts with an LrChunkHeader; its payload is the
**      span * chunk_size - sizeof(LrChunkHeader) bytes that follow. The
**      header (span included) is written before the magic, and the magic
**      before any record.
**   2. A chunk belongs to one writer (one thread, or the sampler thread),
**      named by tid. Only that writer appends to it, so no lock is needed.
**   3. `used` counts payload bytes holding whole records. The writer stores
**      it (release) after each record is complete, so a reader that stops at
**      `used` never sees half a record, whatever killed the process.
**   4. When a chunk is full the writer seals it: it computes lr_sum64 over
**      the `used` payload bytes, stores it in `sum`, then sets
**      LR_CHUNK_SEALED. An unsealed chunk (the process died) has no sum and
**      is read up to `used`, record by record, each bounds-checked.
**   5. Delta state (prev_seq, prev_ns, prev_addr, prev_ip) starts at 0 at
**      the start of every chunk, so each chunk decodes on its own.
**   6. Within one chunk, seq never decreases (a thread's events are
**      numbered in the order it makes them).
**   7. A chunk whose magic is not LR_CHUNK_MAGIC was reserved but never
**      written; the reader skips it.
**
** All integers in headers are little-endian (every target we support is).
*/
#ifndef LR_SPOOL_FORMAT_H
#define LR_SPOOL_FORMAT_H

#include <stdint.h>
#include <stddef.h>

#define LR_SPOOL_MAGIC       "LRSPOOL1"   /* 8 bytes, no NUL stored */
#define LR_SPOOL_VERSION     1u
#define LR_SPOOL_MINOR       2u           /* LrSpoolHeader.minor_version */
#define LR_SPOOL_HEADER_SIZE 4096u         /* chunks start page-aligned */
#define LR_CHUNK_MAGIC       0x4b43524cu   /* "LRCK" little-endian */
#define LR_SPOOL_SUFFIX      ".spool"      /* trace "run.db" -> "run.db.spool" */

/* LrSpoolHeader.flags */
#define LR_SPOOL_CUT_SHORT   0x1u  /* a chunk could not be reserved: recording stopped */
#define LR_SPOOL_ENDED       0x2u  /* end_reason/end_code/end_ns are valid */
#define LR_SPOOL_FD_LOST     0x4u  /* with CUT_SHORT: the program closed the spool's
                                   ** fd (or reused its number) and the spool could
                                   ** not be reopened by its path: recording stopped */

/* LrSpoolHeader.end_reason (valid once LR_SPOOL_ENDED is set) */
enum {
  LR_END_UNKNOWN = 0,  /* never ended: SIGKILL, power loss, or still running */
  LR_END_EXIT    = 1,  /* exit()/return from main; end_code = status */
  LR_END_SIGNAL  = 2,  /* fatal signal caught (SIGSEGV, SIGABRT...); end_code = signo */
  LR_END__EXIT   = 3,  /* _exit()/_Exit(); end_code = status */
  LR_END_EXEC    = 4,  /* the image was replaced by exec; end_code = 0 */
};

typedef struct LrSpoolHeader {
  char     magic[8];          /* LR_SPOOL_MAGIC */
  uint32_t version;           /* LR_SPOOL_VERSION */
  uint32_t header_size;       /* LR_SPOOL_HEADER_SIZE */
  uint32_t chunk_size;        /* bytes per chunk, a multiple of the page size */
  uint32_t flags;             /* LR_SPOOL_* */
  uint64_t pid;
  uint64_t ppid;
  uint64_t start_realtime_ns; /* CLOCK_REALTIME at start, for humans */
  uint64_t start_mono_ns;     /* CLOCK_MONOTONIC at start; record ns are relative to it */
  uint32_t page_size;
  uint32_t pointer_size;      /* 4 or 8 */
  char     arch[16];          /* "x86_64", "aarch64", ... NUL-padded */
  uint64_t mem_total;         /* MemTotal from /proc/meminfo, bytes (0 if unknown) */
  uint32_t stack_depth;       /* max frames per stack (LOWRAM_DEPTH) */
  uint32_t rss_interval_ms;   /* 0 = samples only at start and end */
  uint32_t unwinder;          /* 0 = libunwind, 1 = frame pointers */
  uint32_t end_reason;        /* LR_END_* */
  int64_t  end_code;
  uint64_t end_ns;            /* relative to start_mono_ns */
  uint64_t exec_index;        /* 0 for a fresh process, n for its n-th exec'd image */
  uint32_t minor_version;     /* LR_SPOOL_MINOR of the writer (0: before minors) */
  uint8_t  reserved[36];      /* zero */
} LrSpoolHeader;              /* sizeof == 160, padded to header_size on disk */

/* LrChunkHeader.flags */
#define LR_CHUNK_SEALED 0x1u

typedef struct LrChunkHeader {
  uint32_t magic;      /* LR_CHUNK_MAGIC */
  uint32_t index;      /* chunk number: file offset = header_size + index * chunk_size */
  uint32_t tid;        /* the writer's kernel thread id */
  uint32_t used;       /* payload bytes of whole records (invariant 3) */
  uint32_t flags;      /* LR_CHUNK_SEALED */
  uint32_t span;       /* minor 2: the chunk's length in chunk_size units
                       ** (0 in older spools: one) */
  uint64_t sum;        /* lr_sum64 of the payload's first `used` bytes, once sealed */
} LrChunkHeader;       /* 32 bytes */

/*
** Record types. Every record is: one type byte, then fields encoded as
**   uv  = unsigned LEB128 varint (at most 10 bytes),
**   sv  = zigzag-encoded signed LEB128 varint,
**   str = uv length, then that many bytes (no NUL).
** "dseq" is uv(seq - prev_seq), "dns" is uv(ns - prev_ns) with ns relative
** to start_mono_ns, "daddr" is sv(addr - prev_addr); each updates the prev.
** An event's ns is its thread's last clock read, at most ~25 us old on
** x86-64 and arm64 (SPOOL.md, "Time"): seq, not ns, orders events.
**
** Event records (types 1..31): the type byte is the LrEventKind.
**   malloc calloc valloc pvalloc:        dseq dns daddr uv(size) uv(stack)
**   posix_memalign aligned_alloc memalign: dseq dns daddr uv(size) uv(stack) uv(alignment)
**   realloc reallocarray:                dseq dns daddr uv(size) uv(stack)
**                                        sv(old_addr - addr) uv(seq - free_seq)
**       (old_addr 0: it acted as malloc; free_seq is the number taken before
**        the call, when the old block stopped being ours. size 0 with addr 0:
**        it acted as free, at free_seq.)
**   free:                                dseq dns daddr
**   mmap mmap64:                         dseq dns daddr uv(length) uv(stack)
**                                        uv(prot) uv(flags) uv(offset) str(path)
**       (path is empty for anonymous mappings; for a file mapping it is the
**        file's path as /proc/self/fd showed it)
**   munmap:                              dseq dns daddr uv(length)
**   mremap:                              dseq dns daddr uv(new_length) uv(stack)
**                                        sv(old_addr - addr) uv(old_length)
**                                        uv(flags) uv(seq - free_seq)
**   mprotect:                            dseq dns daddr uv(length) uv(stack) uv(prot)
**   pkey_mprotect:                       dseq dns daddr uv(length) uv(stack) uv(prot)
**                                        uv(pkey)
**       (minor 1; stack 0 when prot is PROT_NONE: the bytes stop being
**        committed and no stack is taken)
**   madvise:                             dseq dns daddr uv(length) uv(advice)
**       (minor 1; only MADV_DONTNEED 4, MADV_FREE 8 and MADV_REMOVE 9 are
**        recorded: advice that gives pages back to the kernel)
** Only calls that succeeded are recorded. For calls that release memory
** (free, munmap, the old half of realloc/mremap) the sequence number is
** taken before the real call, for calls that obtain memory after it, so
** that an address reused by another thread is always freed (in sequence
** order) before it is handed out again.
**
** Other records:
**   LR_REC_STACK   uv(stack_id) uv(nframes) then nframes x sv(ip - prev_ip)
**                  (ips are absolute return addresses, innermost first,
**                  with the shim's own frames already cut off; prev_ip is
**                  reset to 0 at each STACK record)
**   LR_REC_MODULE  dseq uv(base) uv(size) str(build_id bytes) str(path)
**                  (a module mapped at [base, base+size); build_id raw bytes)
**   LR_REC_UNMODULE dseq uv(base)        (dlclose removed the module at base)
**   LR_REC_RSS     dseq dns uv(vm_rss) uv(rss_anon) uv(rss_file) uv(rss_shmem)
**                  (bytes; seq is the last number handed out when sampled,
**                  not a new one)
**   LR_REC_RSS_SWAP dseq dns uv(vm_rss) uv(rss_anon) uv(rss_file) uv(rss_shmem)
**                  uv(vm_swap)   (minor 1: what the shim writes; RSS stays valid)
**   LR_REC_MARK    dseq dns str(name)
**   LR_REC_PARAM   dseq dns str(name) uv(type) then sv(int) if type 0, str if type 1
**   LR_REC_ARGV    uv(argc) then argc x str
**   LR_REC_THREAD  dseq dns uv(tid) str(name)     (thread start or rename)
**   LR_REC_PYCODE  uv(code_id) uv(first_line) str(function) str(file)
**                  (minor 2: a Python code object, once per process; its
**                  qualified name and file, as CPython gives them)
**   LR_REC_PYEVAL  uv(lo) uv(hi)   (minor 2: CPython's frame evaluator
**                  occupies [lo, hi): where Python frames join the native
**                  ones, see "Python frames" in SPOOL.md)
**
** Python frames (minor 2). A STACK record of a thread running Python code
** is  LR_PYREF_TAG | native_stack_id,  then the Python frames innermost
** first, each  LR_PYFRAME_TAG | code_id << 24 | line.  The native stack is
** an ordinary STACK record of the same process (its id is smaller, but its
** record may come later in the merge: readers resolve these at the end).
** The tags have the top nibble set: never a user-space address on x86-64
** or arm64, whose user pcs are below 2^56.
*/
typedef enum LrEventKind {
  LR_EV_MALLOC = 1,
  LR_EV_CALLOC = 2,
  LR_EV_REALLOC = 3,
  LR_EV_REALLOCARRAY = 4,
  LR_EV_FREE = 5,
  LR_EV_POSIX_MEMALIGN = 6,
  LR_EV_ALIGNED_ALLOC = 7,
  LR_EV_MEMALIGN = 8,
  LR_EV_VALLOC = 9,
  LR_EV_PVALLOC = 10,
  LR_EV_MMAP = 11,
  LR_EV_MMAP64 = 12,
  LR_EV_MUNMAP = 13,
  LR_EV_MREMAP = 14,
  LR_EV_MPROTECT = 15,      /* minor 1 */
  LR_EV_PKEY_MPROTECT = 16, /* minor 1 */
  LR_EV_MADVISE = 17,       /* minor 1 */
  LR_EV__COUNT
} LrEventKind;

enum {
  LR_REC_STACK = 32,
  LR_REC_MODULE = 33,
  LR_REC_UNMODULE = 34,
  LR_REC_RSS = 35,
  LR_REC_MARK = 36,
  LR_REC_PARAM = 37,
  LR_REC_ARGV = 38,
  LR_REC_THREAD = 39,
  LR_REC_RSS_SWAP = 40, /* minor 1 */
  LR_REC_PYCODE = 41,   /* minor 2 */
  LR_REC_PYEVAL = 42,   /* minor 2 */
};

/* Python frames in STACK records (minor 2, see above). */
#define LR_PYTAG_MASK    0xF000000000000000ull
#define LR_PYFRAME_TAG   0xF000000000000000ull
#define LR_PYREF_TAG     0xE000000000000000ull
#define LR_PYLINE_BITS   24u
#define LR_PYLINE_MAX    ((1ull << LR_PYLINE_BITS) - 1)  /* longer: stored as 0 */
#define LR_PYCODE_MAX    ((1ull << 36) - 1)              /* code ids fit in 36 bits */
static inline uint64_t lr_pyframe(uint64_t code_id, uint64_t line) {
  return LR_PYFRAME_TAG | (code_id << LR_PYLINE_BITS) | (line <= LR_PYLINE_MAX ? line : 0);
}

#define LR_PARAM_INT 0u
#define LR_PARAM_STR 1u

/* Longest str the reader accepts (paths, names, argv entries). */
#define LR_SPOOL_MAX_STR 4096u
/* Most frames in one STACK record the reader accepts. */
#define LR_SPOOL_MAX_FRAMES 256u

/* The name SQL and reports use for each event kind ("malloc", "mmap", ...);
** NULL for a value that is not an event kind. */
static inline const char *lr_event_kind_name(unsigned kind) {
  static const char *const names[LR_EV__COUNT] = {
    0, "malloc", "calloc", "realloc", "reallocarray", "free",
    "posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
    "mmap", "mmap64", "munmap", "mremap", "mprotect", "pkey_mprotect", "madvise",
  };
  return kind < LR_EV__COUNT ? names[kind] : 0;
}

/* Checksum of a sealed chunk's payload: FNV-1a over 64-bit little-endian
** words, the last one zero-padded. Cheap enough to run once per chunk in the
** target (about one cycle per byte), strong enough to catch a torn or
** overwritten chunk. */
static inline uint64_t lr_sum64(const void *data, size_t len) {
  const unsigned char *p = (const unsigned char *)data;
  uint64_t h = 0xcbf29ce484222325ull;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w = 0;
    for (int b = 0; b < 8; b++) w |= (uint64_t)p[i + b] << (8 * b);
    h = (h ^ w) * 0x100000001b3ull;
  }
  if (i < len) {
    uint64_t w = 0;
    for (int b = 0; i + b < len; b++) w |= (uint64_t)p[i + b] << (8 * b);
    h = (h ^ w) * 0x100000001b3ull;
  }
  return h;
}

/* Varint writers, shared by the shim and the tests. `p` must have room for
** 10 bytes; they return the byte after the last one written. */
static inline uint8_t *lr_put_uv(uint8_t *p, uint64_t v) {
  while (v >= 0x80) { *p++ = (uint8_t)(v | 0x80); v >>= 7; }
  *p++ = (uint8_t)v;
  return p;
}
static inline uint8_t *lr_put_sv(uint8_t *p, int64_t v) {
  return lr_put_uv(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

#endif /* LR_SPOOL_FORMAT_H */
