#ifndef CEREBELLUM_CSHIMS_H
#define CEREBELLUM_CSHIMS_H
/* What Swift cannot call directly: variadic ioctl and the CPU-set macros. */
#include <stddef.h>

/* ioctl(fd, request, arg): returns -1 and sets errno on failure. */
int cb_ioctl(int fd, unsigned long request, void *arg);

/* Pins the calling thread to one CPU. Returns 0 or an errno. */
int cb_pin_thread_to_cpu(int cpu);

/* The number of CPUs the calling thread may run on. */
int cb_allowed_cpu_count(void);

#endif
