#define _GNU_SOURCE
#include "allocation_counter.h"
#include <errno.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

/* initial-exec: reading these never calls into the allocator (no lazy TLS allocation). */
static __thread int counting __attribute__((tls_model("initial-exec")));
static __thread long allocations __attribute__((tls_model("initial-exec")));

void allocation_counter_start(void) { allocations = 0; counting = 1; }
long allocation_counter_stop(void) { counting = 0; return allocations; }

void *malloc(size_t n) { if (counting) allocations++; return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { if (counting) allocations++; return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { if (counting) allocations++; return __libc_realloc(p, n); }
void *memalign(size_t al, size_t n) { if (counting) allocations++; return __libc_memalign(al, n); }
void *aligned_alloc(size_t al, size_t n) { if (counting) allocations++; return __libc_memalign(al, n); }
int posix_memalign(void **out, size_t al, size_t n) {
    if (counting) allocations++;
    void *p = __libc_memalign(al, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
