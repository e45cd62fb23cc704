/* import.c: placeholder until its module lands. */
typedef int lr_import_placeholder;
