/* diff.c: placeholder until its module lands. */
typedef int lr_diff_placeholder;
