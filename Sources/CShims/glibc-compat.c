/* The C library functions glibc 2.38 added that Swift's runtime and Foundation call, for a build linked against
 * an older glibc: the aarch64 binary is linked against Debian bookworm's glibc 2.36 (docs/arm64.md) with Debian
 * sid's Swift runtime, which was compiled against glibc 2.41's headers. Those headers send strtol, strtoll, strtoul
 * and sscanf to their C23 versions (which also read a 0b binary prefix) and declare strlcpy and strlcat.
 * The implementations (cb_c23_…, cb_strl…) are always built, so the tests check them on every host; the glibc
 * names are defined over them only against a glibc older than 2.38, so a build against a newer one uses its own. */
#include "cshims.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first binary digit after a C23 "0b" prefix (after white space and a sign) when `base` allows one, else NULL. */
static const char *c23_binary_digits(const char *s, int base, int *negative) {
    if (base != 0 && base != 2) return NULL;
    while (isspace((unsigned char)*s)) s++;
    *negative = *s == '-';
    if (*s == '+' || *s == '-') s++;
    if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B') && (s[2] == '0' || s[2] == '1')) return s + 2;
    return NULL;
}

long long cb_c23_strtoll(const char *s, char **end, int base) {
    int negative = 0;
    const char *digits = c23_binary_digits(s, base, &negative);
    if (!digits) return strtoll(s, end, base);
    unsigned long long v = strtoull(digits, end, 2);
    if (negative) {
        if (v > (unsigned long long)LLONG_MAX + 1) { errno = ERANGE; return LLONG_MIN; }
        return v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    }
    if (v > (unsigned long long)LLONG_MAX) { errno = ERANGE; return LLONG_MAX; }
    return (long long)v;
}

/* long is long long on the 64-bit targets this builds for (LP64). */
_Static_assert(LONG_MAX == LLONG_MAX && LONG_MIN == LLONG_MIN, "long and long long differ");

long cb_c23_strtol(const char *s, char **end, int base) { return (long)cb_c23_strtoll(s, end, base); }

unsigned long cb_c23_strtoul(const char *s, char **end, int base) {
    int negative = 0;
    const char *digits = c23_binary_digits(s, base, &negative);
    if (!digits) return strtoul(s, end, base);
    unsigned long long v = strtoull(digits, end, 2);
    if (v > ULONG_MAX) { errno = ERANGE; return ULONG_MAX; }
    return negative ? -(unsigned long)v : (unsigned long)v;
}

size_t cb_strlcpy(char *dst, const char *src, size_t size) {
    size_t n = strlen(src);
    if (size > 0) {
        size_t copied = n < size - 1 ? n : size - 1;
        memcpy(dst, src, copied);
        dst[copied] = '\0';
    }
    return n;
}

size_t cb_strlcat(char *dst, const char *src, size_t size) {
    size_t used = strnlen(dst, size);
    if (used == size) return size + strlen(src);
    return used + cb_strlcpy(dst + used, src, size - used);
}

#if defined(__GLIBC__) && !__GLIBC_PREREQ(2, 38)

long long __isoc23_strtoll(const char *s, char **end, int base) { return cb_c23_strtoll(s, end, base); }
long __isoc23_strtol(const char *s, char **end, int base) { return cb_c23_strtol(s, end, base); }
unsigned long __isoc23_strtoul(const char *s, char **end, int base) { return cb_c23_strtoul(s, end, base); }
size_t strlcpy(char *dst, const char *src, size_t size) { return cb_strlcpy(dst, src, size); }
size_t strlcat(char *dst, const char *src, size_t size) { return cb_strlcat(dst, src, size); }

/* C23 sscanf differs from C99's only in %i reading a 0b prefix and in the %b conversion. */
int __isoc23_sscanf(const char *s, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    int n = vsscanf(s, format, arguments);
    va_end(arguments);
    return n;
}

#endif
