/* plugin.c: a library whose constructor allocates while dlopen runs, before
** the recorder hears the library was loaded (tests/symbols/test_symbols.sh). */
#include <stdlib.h>
#include <string.h>

void *plugin_table;

__attribute__((constructor, noinline)) static void plugin_init(void) {
  plugin_table = malloc(123457);
  if (plugin_table) memset(plugin_table, 3, 123457);
}

int plugin_value(void) { return plugin_table ? ((char *)plugin_table)[5] : -1; }
