/*
 * Small shared helpers: aborting allocation, time in milliseconds and its RFC 3339 forms,
 * random bytes, hex and base64url, constant-time comparison, strict integer parsing.
 */
#ifndef POLKU_UTIL_H
#define POLKU_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Allocation that aborts on failure. Returned pointers are new. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Wall-clock time, milliseconds since the Unix epoch. */
int64_t util_now_ms(void);
/* Monotonic clock in microseconds, for durations. */
int64_t util_mono_us(void);
/* Monotonic time in milliseconds. */
int64_t util_mono_ms(void);

/* Parses an RFC 3339 date-time ("2026-10-01T12:00:00Z", "...+02:00", fractions up to ms kept)
 * or, when allow_date, a full date ("2026-10-01") taken as local midnight in the reporting time
 * zone (TZ of the process). Returns 0 and sets *ms, or -1. */
int util_parse_time(const char *s, int allow_date, int64_t *ms);
/* Formats ms as "2026-10-01T12:00:00Z" (or with ".123" when ms has a fraction). buf >= 32. */
void util_format_time(int64_t ms, char *buf, size_t len);

/* Sets the process time zone (TZ) for every conversion below. The only way to change it: the
 * conversions remember local times per thread until this is called. Call it before threads
 * start (main does, from POLKU_TZ; tests may call it between cases). */
void util_set_tz(const char *tz);
/* The local time of ms (floored to its second) in the process zone. */
void util_local_tm(int64_t ms, struct tm *tm);
/* Calendar buckets in the reporting time zone (the process TZ): the local date of ms as days
 * since 1970-01-01, the local month as year * 12 + month - 1, and the instants (ms) at which a
 * local day or month starts. */
int64_t util_local_day(int64_t ms);
int64_t util_local_month(int64_t ms);
int64_t util_day_start(int64_t day);
int64_t util_month_start(int64_t month);
/* Pure calendar arithmetic on those numbers: the month of a day, the first day of a month. */
int64_t util_day_month(int64_t day);
int64_t util_month_first_day(int64_t month);

/* Fills buf with n cryptographically random bytes; aborts if the kernel refuses. */
void util_random(void *buf, size_t n);
/* Hex-encodes n bytes into out (2n+1 bytes). */
void util_hex(const void *in, size_t n, char *out);

/* base64url without padding. Encoded size: 4*ceil(n/3)+1. Decode returns the byte count or -1. */
void util_b64url_encode(const void *in, size_t n, char *out);
int util_b64url_decode(const char *in, void *out, size_t cap);

/* Compares n bytes in time independent of their contents. Returns 1 when equal. */
int util_ct_equal(const void *a, const void *b, size_t n);

/* Parses a whole decimal string as an integer in [min, max]. Returns 0 or -1. */
int util_parse_int(const char *s, long long min, long long max, long long *out);

/* Whether s is non-empty well-formed UTF-8 without ASCII control characters, at most max
 * bytes. */
int util_valid_text(const char *s, size_t max);
/* Length of the UTF-8 sequence at p (1-4; p is NUL-terminated), or 0 when it is not
 * well-formed (overlong forms, surrogates and values above U+10FFFF are refused). */
int util_utf8_len(const unsigned char *p);
/* Replaces, in place, every byte of s that does not begin a well-formed UTF-8 sequence (also a
 * sequence cut short at the end) with '?': text quoted from a request (an error's detail) then
 * always serializes as JSON. */
void util_utf8_scrub(char *s);

#endif
