#ifndef TRIBUTARY_CJSONNET_SHIM_H
#define TRIBUTARY_CJSONNET_SHIM_H
#include <stddef.h>
#include <libjsonnet.h>
#endif
