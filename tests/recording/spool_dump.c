/*
** spool_dump.c: prints a spool's header and record counts, and with -v
** every record, using the tests' own decoder. A debugging aid, and the
** bench's source for bytes per event.
*/
#include <stdio.h>
#include <string.h>

#include "spool_decode.h"

int main(int argc, char **argv) {
  int verbose = argc > 2 && !strcmp(argv[1], "-v");
  if (argc < 2 || (verbose && argc < 3)) {
    fprintf(stderr, "usage: lrt_spool_dump [-v] FILE.spool\n");
    return 2;
  }
  const char *path = argv[verbose ? 2 : 1];
  LrtSpool s;
  char err[256];
  if (lrt_spool_load(path, &s, err, sizeof err)) {
    fprintf(stderr, "lrt_spool_dump: %s: %s\n", path, err);
    return 1;
  }
  const LrSpoolHeader *h = &s.hdr;
  printf("pid %llu ppid %llu exec_index %llu flags 0x%x end_reason %u end_code %lld\n",
         (unsigned long long)h->pid, (unsigned long long)h->ppid,
         (unsigned long long)h->exec_index, h->flags, h->end_reason, (long long)h->end_code);
  printf("chunks %zu sealed %zu payload %zu events %zu stacks %zu modules %zu other %zu argc %zu\n",
         s.chunks, s.sealed, s.payload_bytes, s.nev, s.nst, s.nmod, s.noth, s.argc);
  if (s.nev)
    printf("bytes/event %.2f (all records) \n", (double)s.payload_bytes / (double)s.nev);
  for (unsigned k = 1; k < LR_EV__COUNT; k++)
    if (lrt_count(&s, k)) printf("  %-15s %zu\n", lr_event_kind_name(k), lrt_count(&s, k));
  if (verbose) {
    for (size_t i = 0; i < s.nev; i++) {
      const LrtEvent *e = &s.ev[i];
      printf("ev %s seq %llu tid %u addr 0x%llx size %llu stack %llu old 0x%llx fseq %llu %s\n",
             lr_event_kind_name(e->kind), (unsigned long long)e->seq, e->tid,
             (unsigned long long)e->addr, (unsigned long long)e->size,
             (unsigned long long)e->stack, (unsigned long long)e->old_addr,
             (unsigned long long)e->free_seq, e->path);
    }
    for (size_t i = 0; i < s.nst; i++) {
      printf("stack %llu:", (unsigned long long)s.st[i].id);
      for (uint32_t k = 0; k < s.st[i].n; k++) printf(" 0x%llx", (unsigned long long)s.st[i].ips[k]);
      printf("\n");
    }
    for (size_t i = 0; i < s.nmod; i++)
      printf("mod %s seq %llu base 0x%llx size %llu bid %zu %s\n", s.mod[i].unload ? "-" : "+",
             (unsigned long long)s.mod[i].seq, (unsigned long long)s.mod[i].base,
             (unsigned long long)s.mod[i].size, s.mod[i].bid_len, s.mod[i].path);
    for (size_t i = 0; i < s.noth; i++)
      printf("rec %u seq %llu tid %u name %s v %llu %llu ival %lld text %s\n", s.oth[i].type,
             (unsigned long long)s.oth[i].seq, s.oth[i].tid, s.oth[i].name,
             (unsigned long long)s.oth[i].v[0], (unsigned long long)s.oth[i].v[1],
             (long long)s.oth[i].ival, s.oth[i].text);
    for (size_t i = 0; i < s.argc; i++) printf("argv[%zu] %s\n", i, s.argv[i]);
  }
  lrt_spool_free(&s);
  return 0;
}
