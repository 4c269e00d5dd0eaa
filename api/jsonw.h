/*
 * A small JSON text writer for the hot replies (a created response is rendered on every
 * ingest): appends straight into a growing buffer, with the escaping jansson's json_dumps uses
 * (quote, backslash and control characters; UTF-8 passes through), so the text is what
 * json_dumps(..., JSON_COMPACT) would give for the same members in the same order. Everything
 * else is rendered through jansson.
 */
#ifndef POLKU_JSONW_H
#define POLKU_JSONW_H

#include <stddef.h>
#include <stdint.h>

struct jw {
    char *buf;
    size_t len, cap;
};

void jw_init(struct jw *w);
/* Appends text as it is (it must be JSON already: punctuation, a member name with its quotes,
 * or a stored JSON value). */
void jw_raw(struct jw *w, const char *text);
/* A JSON string, escaped; NULL gives null. */
void jw_str(struct jw *w, const char *s);
void jw_int(struct jw *w, int64_t v);
/* A number as jansson's json_dumps writes a real: 17 significant digits ("%.17g"), ".0" when
 * that has neither a point nor an exponent, and the exponent without "+" or leading zeros.
 * Not finite: null (jansson has no such reals). */
void jw_real(struct jw *w, double v);
/* An RFC 3339 string of ms (util_format_time). */
void jw_time(struct jw *w, int64_t ms);
/* The NUL-terminated text (the caller frees it); w is empty again. */
char *jw_take(struct jw *w);

#endif
