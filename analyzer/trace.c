/* trace.c: placeholder until its module lands. */
typedef int lr_trace_placeholder;
