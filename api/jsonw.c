/*
 * The JSON text writer (jsonw.h).
 */
#include "jsonw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void jw_init(struct jw *w)
{
    w->cap = 512;
    w->buf = xmalloc(w->cap);
    w->len = 0;
    w->buf[0] = '\0';
}

static void jw_put(struct jw *w, const char *p, size_t n)
{
    if (w->len + n + 1 > w->cap) {
        while (w->len + n + 1 > w->cap)
            w->cap *= 2;
        w->buf = xrealloc(w->buf, w->cap);
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

void jw_raw(struct jw *w, const char *text)
{
    jw_put(w, text, strlen(text));
}

void jw_str(struct jw *w, const char *s)
{
    const char *run;

    if (!s) {
        jw_put(w, "null", 4);
        return;
    }
    jw_put(w, "\"", 1);
    for (run = s; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        jw_put(w, run, (size_t)(s - run));
        run = s + 1;
        switch (c) {
        case '"':
            jw_put(w, "\\\"", 2);
            break;
        case '\\':
            jw_put(w, "\\\\", 2);
            break;
        case '\b':
            jw_put(w, "\\b", 2);
            break;
        case '\f':
            jw_put(w, "\\f", 2);
            break;
        case '\n':
            jw_put(w, "\\n", 2);
            break;
        case '\r':
            jw_put(w, "\\r", 2);
            break;
        case '\t':
            jw_put(w, "\\t", 2);
            break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04X", c);
            jw_put(w, esc, 6);
        }
    }
    jw_put(w, run, (size_t)(s - run));
    jw_put(w, "\"", 1);
}

void jw_int(struct jw *w, int64_t v)
{
    char digits[24], *p = digits + sizeof(digits);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    jw_put(w, p, (size_t)(digits + sizeof(digits) - p));
}

/* a (1e-3 <= a < 1e14) as jansson writes it: its 17 significant digits as printf's "%.17g"
 * writes them, and ".0" when that has no point, into buf (at least 24 bytes). a is m * 2^e
 * exactly, so a * 10^k (k = 16 - its decimal exponent) is m * 10^k / 2^-e, which fits in 128
 * bits here, rounded half to even as glibc rounds. printf's exact conversion was the largest
 * cost of a metrics reply (a dozen numbers a group). */
static int real_fixed17(double a, char *buf)
{
    static const uint64_t pow10[] = {1ULL,
                                     10ULL,
                                     100ULL,
                                     1000ULL,
                                     10000ULL,
                                     100000ULL,
                                     1000000ULL,
                                     10000000ULL,
                                     100000000ULL,
                                     1000000000ULL,
                                     10000000000ULL,
                                     100000000000ULL,
                                     1000000000000ULL,
                                     10000000000000ULL,
                                     100000000000000ULL,
                                     1000000000000000ULL,
                                     10000000000000000ULL,
                                     100000000000000000ULL,
                                     1000000000000000000ULL,
                                     10000000000000000000ULL};
    const uint64_t lo = pow10[16], hi = pow10[17];
    int ex, x, len = 0;
    uint64_t m = (uint64_t)ldexp(frexp(a, &ex), 53), d = 0;
    int shift = 53 - ex; /* a = m / 2^shift, shift from 6 to 62 here */
    char digits[18];

    /* a is in [2^(ex-1), 2^ex): its decimal exponent is this or one more (the loop finds out);
     * a >= 1e-3 has one of -3 or more */
    x = (int)floor((ex - 1) * 0.30102999566398120);
    if (x < -3)
        x = -3;

    for (int tries = 0; tries < 4; tries++) {
        int k = 16 - x; /* 3 to 19 here */
        unsigned __int128 p, r, half;

        if (k < 0 || k > 19)
            return -1;
        p = (unsigned __int128)m * pow10[k];
        d = (uint64_t)(p >> shift);
        r = p & (((unsigned __int128)1 << shift) - 1);
        half = (unsigned __int128)1 << (shift - 1);
        if (r > half || (r == half && (d & 1)))
            d++;
        if (d >= hi) /* x was too small, or a rounded up to 10^(x+1): again with x + 1 */
            x++;
        else if (d < lo)
            x--;
        else
            break;
    }
    if (d < lo || d >= hi || x < -4 || x >= 17)
        return -1;
    for (int i = 16; i >= 0; i--, d /= 10)
        digits[i] = (char)('0' + d % 10);
    if (x < 0) {
        buf[len++] = '0';
        buf[len++] = '.';
        for (int i = -1; i > x; i--)
            buf[len++] = '0';
        memcpy(buf + len, digits, 17);
        len += 17;
    } else {
        memcpy(buf, digits, (size_t)x + 1);
        len = x + 1;
        buf[len++] = '.';
        memcpy(buf + len, digits + x + 1, (size_t)(16 - x));
        len += 16 - x;
    }
    while (buf[len - 1] == '0') /* %g drops trailing zeros, and then the point */
        len--;
    if (buf[len - 1] == '.') /* which jansson puts back with a 0 */
        buf[len++] = '0';
    buf[len] = '\0';
    return len;
}

void jw_real(struct jw *w, double v)
{
    char buf[40], *e;
    int len = -1;

    if (!isfinite(v)) {
        jw_put(w, "null", 4);
        return;
    }
    /* jansson 2.14's jsonp_dtostr at its default precision (the process locale is "C") */
    if (v == 0) {
        jw_put(w, signbit(v) ? "-0.0" : "0.0", signbit(v) ? 4 : 3);
        return;
    }
    if (fabs(v) >= 1e-3 && fabs(v) < 1e14) {
        buf[0] = '-';
        len = real_fixed17(fabs(v), buf + (v < 0));
        if (len >= 0) {
            jw_put(w, buf, (size_t)len + (v < 0));
            return;
        }
    }
    len = snprintf(buf, sizeof(buf) - 2, "%.17g", v);
    if (!strchr(buf, '.') && !strchr(buf, 'e')) {
        buf[len++] = '.';
        buf[len++] = '0';
        buf[len] = '\0';
    }
    e = strchr(buf, 'e');
    if (e) {
        char *start = e + 1, *end = e + 2;

        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, (size_t)(len - (end - buf)) + 1);
            len -= (int)(end - start);
        }
    }
    jw_put(w, buf, (size_t)len);
}

void jw_time(struct jw *w, int64_t ms)
{
    char buf[40];

    util_format_time(ms, buf, sizeof(buf));
    jw_str(w, buf);
}

char *jw_take(struct jw *w)
{
    char *text = w->buf;

    w->buf = NULL;
    w->len = w->cap = 0;
    return text;
}
