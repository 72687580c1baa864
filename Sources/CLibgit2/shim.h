#ifndef TRIBUTARY_CLIBGIT2_SHIM_H
#define TRIBUTARY_CLIBGIT2_SHIM_H
#include <git2.h>
#endif
