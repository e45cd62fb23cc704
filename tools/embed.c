/*
** embed.c: turns a text file into a C source file defining
**   const char NAME[] = "...";
** so that schemas/trace.sql is compiled into the analyzer and stays the one
** copy of the schema. Usage: lr-embed NAME IN OUT
*/
#include <stdio.h>

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: lr-embed NAME IN OUT\n");
    return 2;
  }
  FILE *in = fopen(argv[2], "rb");
  if (!in) {
    perror(argv[2]);
    return 1;
  }
  FILE *out = fopen(argv[3], "wb");
  if (!out) {
    perror(argv[3]);
    fclose(in);
    return 1;
  }
  fprintf(out, "/* generated from %s by lr-embed; do not edit */\n", argv[2]);
  fprintf(out, "const char %s[] =\n\"", argv[1]);
  int c;
  while ((c = fgetc(in)) != EOF) {
    if (c == '\n') fputs("\\n\"\n\"", out);
    else if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
    else if (c < 32 || c > 126) fprintf(out, "\\%03o", c);
    else fputc(c, out);
  }
  fputs("\";\n", out);
  int bad = ferror(in) || ferror(out);
  fclose(in);
  if (fclose(out) != 0) bad = 1;
  return bad ? 1 : 0;
}
