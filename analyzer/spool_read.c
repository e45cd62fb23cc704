/* spool_read.c: placeholder until its module lands. */
typedef int lr_spool_read_placeholder;
