#define _GNU_SOURCE
#include "cshims.h"
#include <errno.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <sched.h>
#include <pty.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include <linux/watchdog.h>
#include <linux/videodev2.h>
#include <libv4l2.h>
#include <sys/mman.h>
#include <signal.h>
#include <spawn.h>
#include <fcntl.h>

const unsigned long CB_WDIOC_SETTIMEOUT = WDIOC_SETTIMEOUT;
const unsigned long CB_WDIOC_GETTIMEOUT = WDIOC_GETTIMEOUT;
const unsigned long CB_WDIOC_KEEPALIVE = WDIOC_KEEPALIVE;
const unsigned long CB_WDIOC_GETSUPPORT = WDIOC_GETSUPPORT;

int cb_watchdog_identity(int fd, char *buf, size_t size) {
    struct watchdog_info info;
    memset(&info, 0, sizeof info);
    if (cb_ioctl(fd, WDIOC_GETSUPPORT, &info) != 0) return -1;
    snprintf(buf, size, "%.32s", (const char *)info.identity);
    return 0;
}

int cb_ioctl(int fd, unsigned long request, void *arg) {
    int r;
    do { r = ioctl(fd, request, arg); } while (r == -1 && errno == EINTR);
    return r;
}

int cb_pin_thread_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int cb_allowed_cpu_count(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return -1;
    return CPU_COUNT(&set);
}

static speed_t baud_constant(int baud) {
    switch (baud) {
    case 1200: return B1200;
    case 2400: return B2400;
    case 4800: return B4800;
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 115200: return B115200;
    case 230400: return B230400;
    case 460800: return B460800;
    case 500000: return B500000;
    case 921600: return B921600;
    case 1000000: return B1000000;
    case 1500000: return B1500000;
    case 2000000: return B2000000;
    case 3000000: return B3000000;
    case 4000000: return B4000000;
    default: return 0;
    }
}

int cb_serial_configure(int fd, int baud) {
    const speed_t speed = baud_constant(baud);
    if (speed == 0) return -2;
    struct termios t;
    if (tcgetattr(fd, &t) != 0) return -1;
    cfmakeraw(&t);
    t.c_cflag &= ~(tcflag_t)(CSTOPB | PARENB | CRTSCTS | CSIZE);
    t.c_cflag |= CS8 | CLOCAL | CREAD;
    t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    if (cfsetispeed(&t, speed) != 0 || cfsetospeed(&t, speed) != 0) return -1;
    if (tcsetattr(fd, TCSANOW, &t) != 0) return -1;
    tcflush(fd, TCIOFLUSH);
    return 0;
}

int cb_openpty(int *master, int *slave, char *slave_name, size_t name_size) {
    if (openpty(master, slave, NULL, NULL, NULL) != 0) return -1;
    struct termios t;
    if (tcgetattr(*slave, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(*slave, TCSANOW, &t);
    }
    const char *name = ttyname(*slave);
    if (name && slave_name && name_size > 0) {
        strncpy(slave_name, name, name_size - 1);
        slave_name[name_size - 1] = 0;
    }
    return 0;
}

void cb_line_buffered_stdout(void) { setvbuf(stdout, NULL, _IOLBF, 0); }

int cb_v4l2_open(const char *path, int flags) { return v4l2_open(path, flags); }
int cb_v4l2_close(int fd) { return v4l2_close(fd); }
int cb_v4l2_ioctl(int fd, unsigned long request, void *arg) {
    int r;
    do { r = v4l2_ioctl(fd, request, arg); } while (r == -1 && errno == EINTR);
    return r;
}
void *cb_v4l2_mmap(size_t length, int fd, long offset) {
    return v4l2_mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (int64_t)offset);
}
int cb_v4l2_munmap(void *start, size_t length) { return v4l2_munmap(start, length); }

const unsigned long CB_VIDIOC_QUERYCAP = VIDIOC_QUERYCAP, CB_VIDIOC_ENUM_FMT = VIDIOC_ENUM_FMT,
    CB_VIDIOC_S_FMT = VIDIOC_S_FMT, CB_VIDIOC_G_FMT = VIDIOC_G_FMT, CB_VIDIOC_G_PARM = VIDIOC_G_PARM,
    CB_VIDIOC_S_PARM = VIDIOC_S_PARM, CB_VIDIOC_REQBUFS = VIDIOC_REQBUFS, CB_VIDIOC_QUERYBUF = VIDIOC_QUERYBUF,
    CB_VIDIOC_QBUF = VIDIOC_QBUF, CB_VIDIOC_DQBUF = VIDIOC_DQBUF, CB_VIDIOC_STREAMON = VIDIOC_STREAMON,
    CB_VIDIOC_STREAMOFF = VIDIOC_STREAMOFF, CB_VIDIOC_ENUM_FRAMESIZES = VIDIOC_ENUM_FRAMESIZES,
    CB_VIDIOC_QUERYCTRL = VIDIOC_QUERYCTRL, CB_VIDIOC_G_CTRL = VIDIOC_G_CTRL, CB_VIDIOC_S_CTRL = VIDIOC_S_CTRL;

int cb_spawn_with_channel(const char *path, char *const argv[], int channel, int *pid) {
    /* Above the descriptor the child gets, so the dup2 cannot clobber it. */
    int high = fcntl(channel, F_DUPFD_CLOEXEC, 10);
    if (high < 0) return errno;
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int r = posix_spawn_file_actions_init(&actions);
    if (r) { close(high); return r; }
    r = posix_spawnattr_init(&attr);
    if (r) { posix_spawn_file_actions_destroy(&actions); close(high); return r; }
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    if (!r) r = posix_spawn_file_actions_adddup2(&actions, high, 3);
    if (!r) r = posix_spawn_file_actions_addclosefrom_np(&actions, 4);
    if (!r) r = posix_spawnattr_setsigmask(&attr, &none);
    if (!r) r = posix_spawnattr_setsigdefault(&attr, &all);
    if (!r) r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    extern char **environ;
    pid_t child = 0;
    if (!r) r = posix_spawn(&child, path, &actions, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    close(high);
    if (!r) *pid = child;
    return r;
}

const char *cb_libc_version(void) { return gnu_get_libc_version(); }
