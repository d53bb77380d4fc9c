#ifndef IMCTL_CRDKAFKA_SHIM_H
#define IMCTL_CRDKAFKA_SHIM_H

#include <librdkafka/rdkafka.h>

#endif
