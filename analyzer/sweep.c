/* sweep.c: placeholder until its module lands. */
typedef int lr_sweep_placeholder;
