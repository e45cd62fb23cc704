/* suggest.c: placeholder until its module lands. */
typedef int lr_suggest_placeholder;
