#ifndef IMCTL_CRDKAFKA_SHIM_H
#define IMCTL_CRDKAFKA_SHIM_H

#include <librdkafka/rdkafka.h>

// Macros with casts are not imported into Swift; these return their values.

/// RD_KAFKA_PARTITION_UA: let the configured partitioner choose the partition.
static inline int32_t imctl_rd_kafka_partition_unassigned(void) {
    return RD_KAFKA_PARTITION_UA;
}

/// RD_KAFKA_MSG_F_COPY: librdkafka copies the payload before produce() returns.
static inline int imctl_rd_kafka_msg_flag_copy(void) {
    return RD_KAFKA_MSG_F_COPY;
}

/// RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE: destroy without another (unbounded) consumer close.
static inline int imctl_rd_kafka_destroy_flag_no_consumer_close(void) {
    return RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE;
}

#endif
