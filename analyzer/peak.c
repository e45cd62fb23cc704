/* peak.c: placeholder until its module lands. */
typedef int lr_peak_placeholder;
