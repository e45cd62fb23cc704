-- lowram trace schema, version 1 (PRAGMA user_version = 1).
--
-- One SQLite file per traced process image. `lowram import` creates it from
-- a spool (schemas/lr_spool_format.h); nothing else ever writes it, except
-- `lowram symbolize`, which only rewrites the name columns of `frames`.
-- Every column is documented in schemas/README.md, with example queries.
-- Sizes are bytes, times are nanoseconds since the process started
-- (CLOCK_MONOTONIC), and `seq` is the global event sequence number: it orders
-- every event of every thread, and markers and RSS samples carry one too.

PRAGMA user_version = 1;

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value
) WITHOUT ROWID;
-- Keys: format ('lowram-trace'), schema_version, lowram_version, argv (JSON
-- array), pid, ppid, exec_index, arch, page_size, pointer_size, mem_total,
-- start_time (ISO 8601 UTC), start_realtime_ns, stack_depth, unwinder,
-- rss_interval_ms, end_reason ('exit','signal','_exit','exec','killed',
-- 'cut_short'), end_code, end_ns, events, spool_path, spool_bytes,
-- complete (1 once import finished and aggregates were built).
-- Also written by the importer: cut_short, last_seq, spool_chunks,
-- spool_chunks_unused, spool_chunks_corrupt, spool_chunks_truncated,
-- spool_records, unmatched_frees, unmatched_munmaps, unmatched_allocs,
-- peak_heap, peak_heap_seq, peak_rss (see schemas/README.md).

CREATE TABLE modules (
  id         INTEGER PRIMARY KEY,
  path       TEXT NOT NULL,
  build_id   TEXT,            -- hex, NULL if the ELF had none
  base       INTEGER NOT NULL,-- load address in the traced process
  size       INTEGER NOT NULL,
  load_seq   INTEGER NOT NULL,-- 0 for modules present at start
  unload_seq INTEGER          -- NULL while loaded
);

CREATE TABLE frames (
  id        INTEGER PRIMARY KEY,
  module_id INTEGER REFERENCES modules(id), -- NULL: the pc was in no known module
  rel_pc    INTEGER NOT NULL,  -- pc - module base (absolute pc if module_id IS NULL)
  function  TEXT,              -- NULL until symbolized, or if no symbol covers it
  file      TEXT,
  line      INTEGER,
  UNIQUE (module_id, rel_pc)
);

CREATE TABLE stacks (
  id      INTEGER PRIMARY KEY, -- the id events carry
  nframes INTEGER NOT NULL
);

CREATE TABLE stack_entries (
  stack_id INTEGER NOT NULL REFERENCES stacks(id),
  depth    INTEGER NOT NULL,  -- 0 = innermost frame of the program (malloc's caller)
  frame_id INTEGER NOT NULL REFERENCES frames(id),
  PRIMARY KEY (stack_id, depth)
) WITHOUT ROWID;

CREATE TABLE threads (
  tid       INTEGER PRIMARY KEY,
  name      TEXT,
  first_seq INTEGER
);

CREATE TABLE allocations (
  id        INTEGER PRIMARY KEY,
  kind      TEXT NOT NULL,    -- 'malloc','calloc','realloc',...,'mmap','mmap64','mremap'
  region    TEXT NOT NULL,    -- 'heap' (malloc family), 'anon' (anonymous or shared-anon mmap), 'file' (file mmap)
  address   INTEGER NOT NULL,
  size      INTEGER NOT NULL, -- bytes requested (mmap: length)
  alloc_seq INTEGER NOT NULL,
  free_seq  INTEGER,          -- NULL while live (and at exit: a leak)
  alloc_ns  INTEGER NOT NULL,
  free_ns   INTEGER,
  free_kind TEXT,             -- 'free','realloc','munmap','mremap','mmap' (MAP_FIXED over it), NULL if live
  thread_id INTEGER NOT NULL,
  stack_id  INTEGER REFERENCES stacks(id),
  alignment INTEGER,          -- memalign family only
  prot      INTEGER,          -- mmap family only
  flags     INTEGER,          -- mmap family only
  file      TEXT,             -- file mmap: the file's path
  file_offset INTEGER         -- file mmap: offset in the file
);
CREATE INDEX allocations_alloc_seq ON allocations(alloc_seq);
CREATE INDEX allocations_free_seq ON allocations(free_seq);
CREATE INDEX allocations_stack ON allocations(stack_id);

CREATE TABLE rss_samples (
  seq   INTEGER NOT NULL,     -- last event number handed out when sampled
  ns    INTEGER NOT NULL,
  rss   INTEGER NOT NULL,     -- VmRSS
  anon  INTEGER NOT NULL,     -- RssAnon
  file  INTEGER NOT NULL,     -- RssFile
  shmem INTEGER NOT NULL      -- RssShmem
);
CREATE INDEX rss_samples_seq ON rss_samples(seq);

CREATE TABLE markers (
  id        INTEGER PRIMARY KEY,
  seq       INTEGER NOT NULL,
  ns        INTEGER NOT NULL,
  thread_id INTEGER NOT NULL,
  name      TEXT NOT NULL
);

CREATE TABLE params (
  seq       INTEGER NOT NULL,
  ns        INTEGER NOT NULL,
  name      TEXT NOT NULL,
  value_int INTEGER,          -- set for lowram_param()
  value_text TEXT             -- set for lowram_param_str()
);

-- The readable form of a stack: one row per frame, depth 0 innermost.
CREATE VIEW stack_frames AS
  SELECT e.stack_id AS stack_id, e.depth AS depth,
         f.function AS function, f.file AS file, f.line AS line,
         m.path AS module, f.rel_pc AS rel_pc
  FROM stack_entries e
  JOIN frames f ON f.id = e.frame_id
  LEFT JOIN modules m ON m.id = f.module_id;

-- Every change to live bytes, in sequence order: +size when a block or
-- mapping starts, -size when it ends.
CREATE VIEW live_changes AS
  SELECT alloc_seq AS seq, alloc_ns AS ns, region, size AS delta FROM allocations
  UNION ALL
  SELECT free_seq, free_ns, region, -size FROM allocations WHERE free_seq IS NOT NULL;

-- Blocks still live at exit, i.e. leaks (and mappings never unmapped).
CREATE VIEW leaks AS
  SELECT * FROM allocations WHERE free_seq IS NULL;

-- Live bytes after every change, per region and over all regions: the
-- running sums of live_changes (at equal seq, decreases count first, so a
-- MAP_FIXED or munmap split never shows a peak that did not exist).
CREATE VIEW live_bytes AS
  SELECT seq, ns, region, delta,
         sum(delta) OVER (PARTITION BY region ORDER BY seq, delta
                          ROWS UNBOUNDED PRECEDING) AS region_live,
         sum(delta) OVER (ORDER BY seq, delta ROWS UNBOUNDED PRECEDING) AS total_live
  FROM live_changes;
