/* fit.c: placeholder until its module lands. */
typedef int lr_fit_placeholder;
