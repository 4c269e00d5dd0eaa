/*
 * Strict validation of JSON bodies and query parameters. Every function that finds a problem
 * adds a field error naming the JSON pointer (or query parameter) to e and returns -1; callers
 * may keep validating to report every problem at once.
 */
#ifndef POLKU_VALIDATE_H
#define POLKU_VALIDATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Keys: lowercase letters, digits, '-' and '_', starting with a letter or digit, 1-64 long. */
#define KEY_MAX 64
int valid_key(const char *s);

/* Writes the JSON pointer of member name under base (RFC 6901: "~" as "~0", "/" as "~1"),
 * keeping at most max bytes of the name. */
void v_member_ptr(char *buf, size_t len, const char *base, const char *name, size_t max);

/* Requires obj to be a JSON object whose members are all in allowed (NULL-terminated). base is
 * the pointer of obj ("" for the body). */
int v_object(json_t *obj, const char *base, const char *const *allowed, struct err *e);

/* Reads string member name of obj: NULL when absent (or null when nullable); otherwise checks
 * it is a string of 1..max bytes without control characters. *out is borrowed from obj. */
int v_string(json_t *obj, const char *base, const char *name, int required, size_t max,
             const char **out, struct err *e);
/* Like v_string, and the value must satisfy valid_key(). */
int v_keyfield(json_t *obj, const char *base, const char *name, int required, const char **out,
               struct err *e);
/* Reads integer member name in [min, max]; *out is absent (unchanged) when missing or null. */
int v_int(json_t *obj, const char *base, const char *name, int min, int max, int *out,
          struct err *e);

/* Query parameters. */
int q_int(const char *name, const char *value, long long min, long long max, long long *out,
          struct err *e);
/* Query keys must satisfy valid_key(). */
int q_key(const char *name, const char *value, struct err *e);

/* Opaque cursors: base64url of "<kind>:<value>". decode writes the value into buf. */
void cursor_encode(char kind, const char *value, char *out, size_t len);
int cursor_decode(const char *cursor, char kind, char *buf, size_t len);

/* Renders ms as an RFC 3339 JSON string (new). */
json_t *json_time(int64_t ms);
/* A JSON string or null (new). */
json_t *json_opt_string(const char *s);

#endif
