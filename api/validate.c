/*
 * Strict validation helpers for request bodies and query parameters.
 */
#include "validate.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

int valid_key(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '-' || c == '_'));

        if (!ok)
            return 0;
    }
    return 1;
}

void v_member_ptr(char *buf, size_t len, const char *base, const char *name, size_t max)
{
    size_t n = (size_t)snprintf(buf, len, "%s/", base);

    for (size_t i = 0; name[i] && i < max && n + 3 < len; i++) {
        if (name[i] == '~' || name[i] == '/') {
            buf[n++] = '~';
            buf[n++] = name[i] == '~' ? '0' : '1';
        } else {
            buf[n++] = name[i];
        }
    }
    if (n < len)
        buf[n] = '\0';
}

int v_object(json_t *obj, const char *base, const char *const *allowed, struct err *e)
{
    const char *name;
    json_t *v;
    int ret = 0;

    if (!json_is_object(obj))
        return err_field(e, base, "must be a JSON object");
    json_object_foreach (obj, name, v) {
        int ok = 0;

        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, name) == 0)
                ok = 1;
        if (!ok) {
            char ptr[160];

            v_member_ptr(ptr, sizeof(ptr), base, name, 100);
            ret = err_field(e, ptr, "unknown field");
        }
    }
    return ret;
}

static void v_ptr(char *buf, size_t len, const char *base, const char *name)
{
    snprintf(buf, len, "%s/%s", base, name);
}

int v_string(json_t *obj, const char *base, const char *name, int required, size_t max,
             const char **out, struct err *e)
{
    json_t *v = json_object_get(obj, name);
    char ptr[160];

    *out = NULL;
    if ((!v || json_is_null(v)) && !required)
        return 0;
    if (v && json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= max &&
        util_valid_text(json_string_value(v), max)) {
        *out = json_string_value(v); /* the common case: no pointer to format */
        return 0;
    }
    v_ptr(ptr, sizeof(ptr), base, name);
    if (!v || json_is_null(v))
        return err_field(e, ptr, "is required");
    if (!json_is_string(v))
        return err_field(e, ptr, "must be a string");
    if (json_string_length(v) == 0)
        return err_field(e, ptr, "must not be empty");
    if (json_string_length(v) > max)
        return err_field(e, ptr, "must be at most %zu bytes", max);
    {
        /* comments may span lines; other fields are single-line */
        const char *s = json_string_value(v);
        int ok = 1;

        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
            if ((*p < 0x20 && *p != '\n' && *p != '\r' && *p != '\t') || *p == 0x7f)
                ok = 0;
        if (!ok || strcmp(name, "comment") != 0)
            return err_field(e, ptr, "must not contain control characters");
    }
    *out = json_string_value(v);
    return 0;
}

int v_keyfield(json_t *obj, const char *base, const char *name, int required, const char **out,
               struct err *e)
{
    char ptr[160];

    if (v_string(obj, base, name, required, KEY_MAX, out, e) < 0)
        return -1;
    if (*out && !valid_key(*out)) {
        v_ptr(ptr, sizeof(ptr), base, name);
        *out = NULL;
        return err_field(e, ptr,
                         "must be 1-64 characters: lowercase letters, digits, '-' and '_', "
                         "starting with a letter or digit");
    }
    return 0;
}

int v_int(json_t *obj, const char *base, const char *name, int min, int max, int *out,
          struct err *e)
{
    json_t *v = json_object_get(obj, name);
    char ptr[160];

    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        v_ptr(ptr, sizeof(ptr), base, name);
        return err_field(e, ptr, "must be an integer %d-%d", min, max);
    }
    *out = (int)json_integer_value(v);
    return 0;
}

int q_int(const char *name, const char *value, long long min, long long max, long long *out,
          struct err *e)
{
    if (util_parse_int(value, min, max, out) < 0)
        return err_param(e, name, "must be an integer %lld-%lld", min, max);
    return 0;
}

int q_key(const char *name, const char *value, struct err *e)
{
    if (!valid_key(value))
        return err_param(e, name, "is not a valid key");
    return 0;
}

void cursor_encode(char kind, const char *value, char *out, size_t len)
{
    char raw[160];
    int n = snprintf(raw, sizeof(raw), "%c:%s", kind, value);

    if (n < 0 || (size_t)n >= sizeof(raw) || len < 4 * (((size_t)n + 2) / 3) + 1) {
        out[0] = '\0';
        return;
    }
    util_b64url_encode(raw, (size_t)n, out);
}

int cursor_decode(const char *cursor, char kind, char *buf, size_t len)
{
    char raw[160];
    int n;

    if (strlen(cursor) > 4 * sizeof(raw) / 3)
        return -1;
    n = util_b64url_decode(cursor, raw, sizeof(raw) - 1);
    if (n < 3 || raw[0] != kind || raw[1] != ':' || (size_t)(n - 2) >= len)
        return -1;
    raw[n] = '\0';
    if (memchr(raw, '\0', (size_t)n))
        return -1;
    memcpy(buf, raw + 2, (size_t)(n - 2) + 1);
    return 0;
}

json_t *json_time(int64_t ms)
{
    char buf[40];

    util_format_time(ms, buf, sizeof(buf));
    return json_string(buf);
}

json_t *json_opt_string(const char *s)
{
    return s ? json_string(s) : json_null();
}
