#ifndef CEREBELLUM_ALLOCATION_COUNTER_H
#define CEREBELLUM_ALLOCATION_COUNTER_H
/* Counts heap allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign)
   made by the calling thread between start and stop. Linked into the test process, where it
   interposes the allocator and forwards to glibc's. */
void allocation_counter_start(void);
long allocation_counter_stop(void);
#endif
