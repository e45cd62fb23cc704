-- lowram trace schema, version 3 (PRAGMA user_version = 3).
--
-- One SQLite file per run: every process and exec'd image the command
-- started, one row each in `processes`, their rows side by side in the
-- tables below. `lowram import` / `record` create it from the spools
-- (schemas/lr_spool_format.h); nothing else ever writes it, except
-- `lowram symbolize`, which only rewrites the name columns of `frames`.
-- Every column is documented in schemas/README.md, with example queries.
-- Sizes are bytes, times are nanoseconds since the process started
-- (CLOCK_MONOTONIC), and `seq` is the process's event sequence number: it
-- orders every event of every thread of one process image.
--
-- Rows that belong to one process carry `process_id` (processes.id), and
-- their indexes lead with it. Ids (allocations, stacks, frames, modules,
-- markers) are unique in the whole file: each process's come in one range
-- (processes.*_first .. *_last). lowram opens a trace with one process
-- selected: TEMP VIEWs named like these tables show that process's rows
-- only (schemas/README.md, "Processes").

PRAGMA user_version = 3;

CREATE TABLE processes (
  id          INTEGER PRIMARY KEY, -- process_id in the tables below
  pid         INTEGER NOT NULL,
  ppid        INTEGER NOT NULL,
  exec_index  INTEGER NOT NULL,    -- 0 fresh process, n its n-th exec'd image
  parent_id   INTEGER,             -- processes.id of the image that forked it (or that it replaced)
  argv        TEXT NOT NULL,       -- JSON array
  start_realtime_ns INTEGER NOT NULL,
  start_ns    INTEGER NOT NULL,    -- ns since the run's first process started
  end_ns      INTEGER,             -- ns since the run's first process started
  end_reason  TEXT NOT NULL,
  end_code    INTEGER,
  peak        INTEGER NOT NULL,    -- its own peak live heap + anon bytes
  peak_heap   INTEGER NOT NULL,
  peak_rss    INTEGER NOT NULL,
  events      INTEGER NOT NULL,
  cut_short   INTEGER NOT NULL,
  unmatched_frees  INTEGER NOT NULL,
  unmatched_allocs INTEGER NOT NULL,
  spool_path  TEXT,
  spool_bytes INTEGER,
  alloc_first INTEGER NOT NULL, alloc_last INTEGER NOT NULL,
  stack_first INTEGER NOT NULL, stack_last INTEGER NOT NULL,
  frame_first INTEGER NOT NULL, frame_last INTEGER NOT NULL,
  module_first INTEGER NOT NULL, module_last INTEGER NOT NULL,
  marker_first INTEGER NOT NULL, marker_last INTEGER NOT NULL
);
CREATE INDEX processes_pid ON processes(pid, exec_index);

-- Per-process facts: the keys of meta that describe one process image.
CREATE TABLE process_meta (
  process_id INTEGER NOT NULL,
  key        TEXT NOT NULL,
  value,
  PRIMARY KEY (process_id, key)
) WITHOUT ROWID;

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value
) WITHOUT ROWID;
-- Run-level keys: format ('lowram-trace'), schema_version, lowram_version,
-- processes, default_process, complete. The selected process's keys (below,
-- stored in process_meta) are added by the TEMP VIEW meta.
-- Process keys: argv (JSON
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

-- Stacks are a trie of frames (schemas/README.md, "stacks, stack_nodes and
-- stack_entries"): a node is one frame under its caller's node, so the
-- callers two stacks share are kept once. Node ids are unique in the file
-- (not ranged per process: reach them through stacks.node).
CREATE TABLE stacks (
  id      INTEGER PRIMARY KEY, -- the id events carry
  nframes INTEGER NOT NULL,
  node    INTEGER              -- stack_nodes(id) of its innermost frame (depth 0); NULL: no frames
);

CREATE TABLE stack_nodes (
  id       INTEGER PRIMARY KEY,
  parent   INTEGER,            -- the caller's node (depth + 1); NULL: the outermost frame
  frame_id INTEGER NOT NULL REFERENCES frames(id)
);

-- One row per frame of a stack, as v2's plain table had them: a virtual
-- table (module lowram_stack_entries, lib/store/stackvt.h) that walks
-- stack_nodes from stacks.node; registered with lowram_allocations.
--   stack_id INTEGER  stacks(id)
--   depth    INTEGER  0 = innermost frame of the program (malloc's caller)
--   frame_id INTEGER  frames(id)
-- INSERT appends a frame at a stack's next depth (tests, hand-made traces).
CREATE VIRTUAL TABLE stack_entries USING lowram_stack_entries;

CREATE TABLE threads (
  tid       INTEGER NOT NULL,
  name      TEXT,
  first_seq INTEGER,
  process_id INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (process_id, tid)
) WITHOUT ROWID;

-- One row per heap block or mapping lifetime: a virtual table (module
-- lowram_allocations, lib/store/allocvt.h) over alloc_blocks below, which
-- lowram registers on its connections; the sqlite3 shell and Python load
-- it from lowram_sqlite.so (`lowram sql TRACE`; schemas/README.md,
-- "Storage"). Its columns, as a table of v2 had them:
--   id        INTEGER  unique in the file
--   kind      TEXT     'malloc','calloc','realloc',...,'mmap','mmap64','mremap','mprotect','pkey_mprotect'
--   region    TEXT     'heap' (malloc family), 'anon' (anonymous or shared-anon mmap, committed),
--                      'file' (file mmap), 'reserved' (anonymous PROT_NONE address space: not
--                      memory, never in the peak)
--   address   INTEGER
--   size      INTEGER  bytes requested (mmap: length)
--   alloc_seq INTEGER
--   free_seq  INTEGER  NULL while live (and at exit: a leak)
--   alloc_ns  INTEGER
--   free_ns   INTEGER
--   free_kind TEXT     'free','realloc','munmap','mremap','mmap' (MAP_FIXED over it),
--                      'mprotect' (committed <-> reserved), NULL if live
--   thread_id INTEGER
--   stack_id  INTEGER  stacks(id), NULL: none
--   alignment INTEGER  memalign family only
--   prot      INTEGER  mmap family only
--   flags     INTEGER  mmap family only
--   file      TEXT     file mmap: the file's path
--   file_offset INTEGER file mmap: offset in the file
--   process_id INTEGER
--   live_at   INTEGER HIDDEN: `WHERE live_at = S` keeps the rows live just
--                      after seq S, reading only the blocks that can hold one
CREATE TABLE alloc_blocks (
  id         INTEGER PRIMARY KEY,
  process_id INTEGER NOT NULL,
  lvl        INTEGER NOT NULL, -- lifetime under 16^(lvl+1) seqs; 7: longer or never freed
  n          INTEGER NOT NULL, -- rows in the block
  id_min     INTEGER, id_max INTEGER,       -- ranges over the rows (NULL: all NULL)
  alloc_min  INTEGER, alloc_max INTEGER,
  free_min   INTEGER, free_max INTEGER,
  nlive      INTEGER NOT NULL, -- rows with free_seq NULL
  data       BLOB NOT NULL     -- the rows, column by column (lib/store/blockcodec.h)
);
CREATE VIRTUAL TABLE allocations USING lowram_allocations;

CREATE TABLE rss_samples (
  seq   INTEGER NOT NULL,     -- last event number handed out when sampled
  ns    INTEGER NOT NULL,
  rss   INTEGER NOT NULL,     -- VmRSS
  anon  INTEGER NOT NULL,     -- RssAnon
  file  INTEGER NOT NULL,     -- RssFile
  shmem INTEGER NOT NULL,     -- RssShmem
  swap  INTEGER,              -- VmSwap (NULL: not sampled, spools of minor 0)
  pss   INTEGER,              -- Pss from smaps_rollup (NULL: not sampled then; only `lowram record`'s outside samples have it)
  process_id INTEGER NOT NULL DEFAULT 1,
  allocated INTEGER           -- live heap + anon + file bytes at seq, set by the import's aggregate pass
);
CREATE INDEX rss_samples_seq ON rss_samples(process_id, seq);

CREATE TABLE markers (
  id        INTEGER PRIMARY KEY,
  seq       INTEGER NOT NULL,
  ns        INTEGER NOT NULL,
  thread_id INTEGER NOT NULL,
  name      TEXT NOT NULL,
  process_id INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX markers_process ON markers(process_id, seq);

CREATE TABLE params (
  seq       INTEGER NOT NULL,
  ns        INTEGER NOT NULL,
  name      TEXT NOT NULL,
  value_int INTEGER,          -- set for lowram_param()
  value_text TEXT,            -- set for lowram_param_str()
  process_id INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX params_process ON params(process_id, seq);

-- The readable form of a stack: one row per frame, depth 0 innermost.
CREATE VIEW stack_frames AS
  SELECT e.stack_id AS stack_id, e.depth AS depth,
         f.function AS function, f.file AS file, f.line AS line,
         m.path AS module, f.rel_pc AS rel_pc
  FROM stack_entries e
  JOIN frames f ON f.id = e.frame_id
  LEFT JOIN modules m ON m.id = f.module_id;

-- The views read one process: the one meta's `process_id` names (in the
-- file, the default process, the highest peak; through lowram's selection,
-- the selected one: schemas/README.md), or 1 in a trace without it. A
-- running sum over seq means nothing across processes, whose seqs each
-- count from 1.

-- Every change to live bytes, in sequence order: +size when a block or
-- mapping starts, -size when it ends.
CREATE VIEW live_changes AS
  SELECT alloc_seq AS seq, alloc_ns AS ns, region, size AS delta, process_id FROM allocations
  WHERE process_id = coalesce((SELECT value FROM meta WHERE key = 'process_id'), 1)
  UNION ALL
  SELECT free_seq, free_ns, region, -size, process_id FROM allocations
  WHERE free_seq IS NOT NULL
    AND process_id = coalesce((SELECT value FROM meta WHERE key = 'process_id'), 1);

-- Blocks still live at exit, i.e. leaks (and mappings never unmapped).
CREATE VIEW leaks AS
  SELECT * FROM allocations WHERE free_seq IS NULL
    AND process_id = coalesce((SELECT value FROM meta WHERE key = 'process_id'), 1);

-- Live bytes after every change, per region and over all regions: the
-- running sums of live_changes (at equal seq, decreases count first, so a
-- MAP_FIXED or munmap split never shows a peak that did not exist).
CREATE VIEW live_bytes AS
  SELECT seq, ns, region, delta,
         sum(delta) OVER (PARTITION BY region ORDER BY seq, delta
                          ROWS UNBOUNDED PRECEDING) AS region_live,
         sum(delta) OVER (ORDER BY seq, delta ROWS UNBOUNDED PRECEDING) AS total_live,
         process_id
  FROM live_changes;

-- Functions inlined at a frame's pc (DWARF DW_TAG_inlined_subroutine), one
-- row each, depth 0 innermost; the frames row is the function they were
-- inlined into, its file:line the call site in it. Written by the
-- symbolizer (at import and by `lowram symbolize`).
CREATE TABLE inline_frames (
  frame_id INTEGER NOT NULL REFERENCES frames(id),
  depth    INTEGER NOT NULL, -- 0 = innermost inlined function
  function TEXT,
  file     TEXT,
  line     INTEGER,
  PRIMARY KEY (frame_id, depth)
) WITHOUT ROWID;
