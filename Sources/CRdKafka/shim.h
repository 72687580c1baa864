#ifndef TRIBUTARY_CRDKAFKA_SHIM_H
#define TRIBUTARY_CRDKAFKA_SHIM_H
// Order matters: rdkafka_mock.h relies on declarations from rdkafka.h.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#endif
