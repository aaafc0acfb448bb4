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

/* Puts a serial port in raw 8N1 mode at `baud` (bits per second), no flow control, reads that
   return at once (VMIN 0, VTIME 0). Returns 0, -1 with errno, or -2 for an unsupported baud. */
int cb_serial_configure(int fd, int baud);

/* Makes stdout line-buffered (progress reaches a pipe or a log at once). */
void cb_line_buffered_stdout(void);

/* openpty(3): a pseudo-terminal pair, the slave in raw mode. Returns 0 or -1 with errno. */
int cb_openpty(int *master, int *slave, char *slave_name, size_t name_size);

#endif
