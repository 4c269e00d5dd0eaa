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

void jw_real(struct jw *w, double v)
{
    char buf[40], *e;
    int len;

    if (!isfinite(v)) {
        jw_put(w, "null", 4);
        return;
    }
    /* jansson 2.14's jsonp_dtostr at its default precision (the process locale is "C") */
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
