/*
 * Small shared helpers. Time zone handling relies on the process TZ, which main sets once from
 * POLKU_TZ (util_set_tz) before any thread starts; localtime_r then reads it without races.
 */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p)
        abort();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (!p)
        abort();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (!q)
        abort();
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

int64_t util_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t util_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t util_mono_ms(void)
{
    return util_mono_us() / 1000;
}

/* Reads exactly n digits at *p. */
static int util_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int util_days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 ? 28 + leap : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t util_days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

/* The civil date of a day number (inverse of util_days_from_civil). */
static void util_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;

    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static _Atomic unsigned util_tz_generation; /* moves with every util_set_tz */

void util_set_tz(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
    atomic_fetch_add(&util_tz_generation, 1);
}

/* Seconds whose local time a thread remembers: a metrics reply converts every bucket start it
 * reads (three conversions a local day start), and glibc's localtime_r takes a process-wide
 * lock for each, which the HTTP threads then queued on (about a fifth of the CPU of a query by
 * week over a year, with futex calls). The same seconds come back with every dashboard poll. */
#define LOCALTIME_CACHE 512

/* localtime_r in the process zone, remembered per thread until util_set_tz changes the zone. */
static void util_localtime(time_t t, struct tm *tm)
{
    static _Thread_local struct {
        time_t t;
        unsigned generation; /* 0: empty (util_set_tz has run before any lookup) */
        struct tm tm;
    } cache[LOCALTIME_CACHE];
    unsigned generation = atomic_load_explicit(&util_tz_generation, memory_order_relaxed);
    size_t i = (size_t)(((uint64_t)t * 0x9e3779b97f4a7c15ULL) >> 55);

    if (cache[i].generation == generation && generation != 0 && cache[i].t == t) {
        *tm = cache[i].tm;
        return;
    }
    localtime_r(&t, tm);
    cache[i].t = t;
    cache[i].generation = generation;
    cache[i].tm = *tm;
}

void util_local_tm(int64_t ms, struct tm *tm)
{
    util_localtime((time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000), tm);
}

int64_t util_local_day(int64_t ms)
{
    struct tm tm;

    util_local_tm(ms, &tm);
    return util_days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

int64_t util_local_month(int64_t ms)
{
    struct tm tm;

    util_local_tm(ms, &tm);
    return (int64_t)(tm.tm_year + 1900) * 12 + tm.tm_mon;
}

/* The local day of a second, as days since 1970-01-01. */
static int64_t util_local_day_s(time_t t)
{
    struct tm tm;

    util_localtime(t, &tm);
    return util_days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* The first instant of a civil date in the process zone, as ms. Where clocks change across
 * midnight, "local midnight" is not one instant: a zone that skips it (America/Havana in
 * March: 00:00 becomes 01:00) starts the day at the change, and one that repeats it (Havana in
 * November: 01:00 back to 00:00) starts it at the first 00:00 (POSIX leaves open which of the two
 * mktime returns for tm_isdst = -1; glibc's returns the first). The rollups count a response in the
 * local date of its instant, so a day must start at the first second whose local date is that day;
 * a part of a day and its rollup row then always agree (test_day_start_where_midnight_repeats). The
 * guess (UTC midnight less the zone's offset there) is right unless the offset changes within a day
 * of it; then the first second is searched for, since the local date never goes back as time goes
 * on. */
static int64_t util_local_midnight(int y, int m, int d)
{
    int64_t day = util_days_from_civil(y, m, d);
    time_t utc = (time_t)(day * 86400), t, lo, hi;
    struct tm tm;

    util_localtime(utc, &tm);
    t = utc - (time_t)tm.tm_gmtoff;
    if (util_local_day_s(t) == day && util_local_day_s(t - 1) < day)
        return (int64_t)t * 1000;
    lo = t - 2 * 86400; /* local date before day: offsets are within +-26 h */
    hi = t + 2 * 86400; /* local date day or later */
    while (hi - lo > 1) {
        time_t mid = lo + (hi - lo) / 2;

        if (util_local_day_s(mid) >= day)
            hi = mid;
        else
            lo = mid;
    }
    return (int64_t)hi * 1000;
}

int64_t util_day_start(int64_t day)
{
    int y, m, d;

    util_civil_from_days(day, &y, &m, &d);
    return util_local_midnight(y, m, d);
}

int64_t util_day_month(int64_t day)
{
    int y, m, d;

    util_civil_from_days(day, &y, &m, &d);
    return (int64_t)y * 12 + (m - 1);
}

int64_t util_month_first_day(int64_t month)
{
    int64_t y = month >= 0 ? month / 12 : (month - 11) / 12;

    return util_days_from_civil((int)y, (int)(month - y * 12) + 1, 1);
}

int64_t util_month_start(int64_t month)
{
    int64_t y = month >= 0 ? month / 12 : (month - 11) / 12;

    return util_local_midnight((int)y, (int)(month - y * 12) + 1, 1);
}

int util_parse_time(const char *s, int allow_date, int64_t *ms)
{
    const char *p = s;
    int y, mo, d, h, mi, sec, frac = 0, oh = 0, om = 0, sign = 0;

    if (util_digits(&p, 4, &y) || *p++ != '-' || util_digits(&p, 2, &mo) || *p++ != '-' ||
        util_digits(&p, 2, &d))
        return -1;
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > util_days_in_month(y, mo))
        return -1;
    if (*p == '\0') {
        if (!allow_date)
            return -1;
        *ms = util_local_midnight(y, mo, d);
        return 0;
    }
    if ((*p != 'T' && *p != 't') || (p++, util_digits(&p, 2, &h)) || *p++ != ':' ||
        util_digits(&p, 2, &mi) || *p++ != ':' || util_digits(&p, 2, &sec))
        return -1;
    if (h > 23 || mi > 59 || sec > 60)
        return -1;
    if (*p == '.') {
        int ndig = 0;

        p++;
        while (isdigit((unsigned char)*p)) {
            if (ndig < 3)
                frac = frac * 10 + (*p - '0');
            ndig++;
            p++;
        }
        if (ndig == 0 || ndig > 9)
            return -1;
        for (int i = ndig; i < 3; i++)
            frac *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p++ == '-' ? -1 : 1;
        if (util_digits(&p, 2, &oh) || *p++ != ':' || util_digits(&p, 2, &om) || oh > 23 || om > 59)
            return -1;
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    if (sec == 60) {
        /* A leap second comes only at the end of a UTC day (RFC 3339 5.7), and counts as the
         * last second before it. */
        int utc_min = ((h * 60 + mi - sign * (oh * 60 + om)) % 1440 + 1440) % 1440;

        if (utc_min != 1439)
            return -1;
        sec = 59;
    }
    int64_t secs = util_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    secs -= sign * (oh * 3600 + om * 60);
    *ms = secs * 1000 + frac;
    return 0;
}

static char *put_digits(char *p, int v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

void util_format_time(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)t * 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    if (len >= 25 && tm.tm_year >= -1900 && tm.tm_year <= 9999 - 1900) {
        /* by hand: every response carries two of these, and snprintf was ~2% of an HTTP
         * thread's time */
        char *p = put_digits(buf, tm.tm_year + 1900, 4);

        *p++ = '-';
        p = put_digits(p, tm.tm_mon + 1, 2);
        *p++ = '-';
        p = put_digits(p, tm.tm_mday, 2);
        *p++ = 'T';
        p = put_digits(p, tm.tm_hour, 2);
        *p++ = ':';
        p = put_digits(p, tm.tm_min, 2);
        *p++ = ':';
        p = put_digits(p, tm.tm_sec, 2);
        if (frac) {
            *p++ = '.';
            p = put_digits(p, frac, 3);
        }
        *p++ = 'Z';
        *p = '\0';
    } else if (frac) {
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    } else {
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    }
}

void util_random(void *buf, size_t n)
{
    unsigned char *p = buf;

    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);

        if (got < 0) {
            if (errno == EINTR)
                continue;
            abort();
        }
        p += got;
        n -= (size_t)got;
    }
}

void util_hex(const void *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = in;

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void util_b64url_encode(const void *in, size_t n, char *out)
{
    const unsigned char *p = in;
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        size_t left = n - i;

        if (left > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (left > 2)
            v |= p[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (left > 1)
            out[o++] = b64url[(v >> 6) & 63];
        if (left > 2)
            out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
}

int util_b64url_decode(const char *in, void *out, size_t cap)
{
    unsigned char *o = out;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;

    for (const char *p = in; *p; p++) {
        const char *c = strchr(b64url, *p);

        if (!c || *p == '\0')
            return -1;
        acc = (acc << 6) | (uint32_t)(c - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap)
                return -1;
            o[n++] = (unsigned char)(acc >> bits);
        }
    }
    if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0)
        return -1; /* a dangling character, or non-zero padding bits: not canonical */
    return (int)n;
}

int util_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char diff = 0;

    for (size_t i = 0; i < n; i++)
        diff |= x[i] ^ y[i];
    return diff == 0;
}

int util_parse_int(const char *s, long long min, long long max, long long *out)
{
    char *end;
    long long v;

    if (!s || !*s || isspace((unsigned char)*s) || *s == '+')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int util_utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        return (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (p[0] >= 0xe0 && p[0] <= 0xef) {
        if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
            return 0;
        if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f))
            return 0;
        return 3;
    }
    if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        if ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
            return 0;
        return 4;
    }
    return 0;
}

void util_utf8_scrub(char *s)
{
    unsigned char *p = (unsigned char *)s;

    while (*p) {
        int len = util_utf8_len(p);

        if (len == 0) {
            *p++ = '?';
            continue;
        }
        p += len;
    }
}

int util_valid_text(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int len = util_utf8_len(p);

        if (len == 0 || (len == 1 && (*p < 0x20 || *p == 0x7f)))
            return 0;
        p += len;
    }
    return 1;
}
