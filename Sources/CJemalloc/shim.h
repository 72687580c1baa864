// Only what Tributary calls. jemalloc.h itself redeclares malloc and friends with attributes that
// clash with glibc's when both are imported into Swift.
#include <stddef.h>

int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
