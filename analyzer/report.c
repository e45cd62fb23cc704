/* report.c: placeholder until its module lands. */
typedef int lr_report_placeholder;
