#ifndef IMCTL_ALLOCATION_COUNTER_H
#define IMCTL_ALLOCATION_COUNTER_H

#include <stdbool.h>
#include <stdint.h>

/// Test support: counts the heap allocations (malloc, calloc, realloc, the aligned variants)
/// made by the threads that opted in. Linked only into the test executable, where these
/// definitions take the place of the C library's and forward to it.

/// Starts or stops counting the allocations of the calling thread.
void imctl_count_allocations_on_this_thread(bool enabled);

/// Allocations counted so far, over every opted-in thread.
uint64_t imctl_counted_allocations(void);

#endif
