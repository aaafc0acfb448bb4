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

/* The version of the C library the process runs on (glibc's gnu_get_libc_version), e.g. "2.41". */
const char *cb_libc_version(void);

/* Makes stdout line-buffered (progress reaches a pipe or a log at once). */
void cb_line_buffered_stdout(void);

/* openpty(3): a pseudo-terminal pair, the slave in raw mode. Returns 0 or -1 with errno. */
int cb_openpty(int *master, int *slave, char *slave_name, size_t name_size);

/* Linux watchdog ioctls (the _IOR/_IOWR macros do not import into Swift). */
extern const unsigned long CB_WDIOC_SETTIMEOUT;
extern const unsigned long CB_WDIOC_GETTIMEOUT;
extern const unsigned long CB_WDIOC_KEEPALIVE;
extern const unsigned long CB_WDIOC_GETSUPPORT;
/* The watchdog's identity string (struct watchdog_info.identity) into buf. Returns 0 or -1 with errno. */
int cb_watchdog_identity(int fd, char *buf, size_t size);

/* V4L2 through libv4l2 (format conversion such as MJPEG → YUV420 by libv4lconvert). v4l2_ioctl is
   variadic, which Swift cannot call; the VIDIOC_* numbers are _IOWR macros. */
int cb_v4l2_open(const char *path, int flags);
int cb_v4l2_close(int fd);
int cb_v4l2_ioctl(int fd, unsigned long request, void *arg);
void *cb_v4l2_mmap(size_t length, int fd, long offset);
int cb_v4l2_munmap(void *start, size_t length);
extern const unsigned long CB_VIDIOC_QUERYCAP, CB_VIDIOC_ENUM_FMT, CB_VIDIOC_S_FMT, CB_VIDIOC_G_FMT,
    CB_VIDIOC_G_PARM, CB_VIDIOC_S_PARM, CB_VIDIOC_REQBUFS, CB_VIDIOC_QUERYBUF, CB_VIDIOC_QBUF,
    CB_VIDIOC_DQBUF, CB_VIDIOC_STREAMON, CB_VIDIOC_STREAMOFF, CB_VIDIOC_ENUM_FRAMESIZES,
    CB_VIDIOC_QUERYCTRL, CB_VIDIOC_G_CTRL, CB_VIDIOC_S_CTRL;

/* Starts `path` with `argv` (NULL-terminated) as a helper process (the output supervisor, a simulator
   host): in a session of its own (terminal signals such as Ctrl-C do not reach it), with `channel` as its file descriptor 3 and every other
   descriptor above 2 closed (it inherits no camera, GPIO or I2C handle of the caller), signals at their
   defaults and unblocked. Returns 0 and the child's pid, or an errno. */
int cb_spawn_with_channel(const char *path, char *const argv[], int channel, int *pid);

/* glibc-compat.c: C23's strtol family (a 0b binary prefix is read when the base is 0 or 2) and BSD's strlcpy and
   strlcat, which a build against a glibc older than 2.38 provides under the library's own names. */
long cb_c23_strtol(const char *s, char **end, int base);
long long cb_c23_strtoll(const char *s, char **end, int base);
unsigned long cb_c23_strtoul(const char *s, char **end, int base);
size_t cb_strlcpy(char *dst, const char *src, size_t size);
size_t cb_strlcat(char *dst, const char *src, size_t size);

#endif
