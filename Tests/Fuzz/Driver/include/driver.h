#include <stddef.h>
#include <stdint.h>

int tributary_fuzz_main(int argc, char **argv);
