/* symbolize.c: placeholder until its module lands. */
typedef int lr_symbolize_placeholder;
