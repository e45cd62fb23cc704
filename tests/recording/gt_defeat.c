/* gt_defeat.c: placeholder; the stack-cache ground truth comes with the cache. */
int main(void) { return 0; }
