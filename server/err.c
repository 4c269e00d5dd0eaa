/*
 * Error codes, their HTTP mapping, and RFC 9457 problem documents.
 */
#include "err.h"

#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERR_ROW(code, status, slug, title) {status, slug, title},
static const struct {
    int status;
    const char *slug;
    const char *title;
} err_rows[] = {ERR_TABLE(ERR_ROW)};
#undef ERR_ROW

void err_init(struct err *e)
{
    memset(e, 0, sizeof(*e));
}

void err_release(struct err *e)
{
    if (!e)
        return;
    json_decref(e->fields);
    err_init(e);
}

int err_set(struct err *e, enum err_code code, const char *fmt, ...)
{
    va_list ap;

    if (!e)
        return -1;
    if (e->code == ERR_NONE || e->detail[0] == '\0') {
        e->code = code;
        va_start(ap, fmt);
        vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
        va_end(ap);
        util_utf8_scrub(e->detail); /* quotes request bytes, maybe cut inside a character */
    }
    return -1;
}

static int err_add(struct err *e, enum err_code code, const char *name, const char *value,
                   const char *fmt, va_list ap)
{
    char detail[256], where[256];

    if (!e)
        return -1;
    if (e->code == ERR_NONE)
        e->code = code;
    /* Both quote the request (a parameter's name, a body's member names), and may cut it
     * inside a character: JSON needs well-formed UTF-8. */
    vsnprintf(detail, sizeof(detail), fmt, ap);
    util_utf8_scrub(detail);
    snprintf(where, sizeof(where), "%s", value);
    util_utf8_scrub(where);
    if (e->detail[0] == '\0') /* err_set scrubs what its cuts leave */
        err_set(e, e->code, "%.100s: %.150s", where[0] ? where : "/", detail);
    e->nfields++;
    if (e->nfields > ERR_MAX_FIELDS)
        return -1;
    if (!e->fields)
        e->fields = json_array();
    json_array_append_new(e->fields, json_pack("{s:s, s:s}", name, where, "detail", detail));
    return -1;
}

int err_field(struct err *e, const char *pointer, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_add(e, ERR_VALIDATION, "pointer", pointer, fmt, ap);
    va_end(ap);
    return -1;
}

int err_param(struct err *e, const char *param, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_add(e, ERR_BAD_REQUEST, "parameter", param, fmt, ap);
    va_end(ap);
    return -1;
}

static enum err_code err_clamp(enum err_code code)
{
    return (code >= 0 && code < ERR_CODE_COUNT) ? code : ERR_INTERNAL;
}

int err_http_status(enum err_code code)
{
    return err_rows[err_clamp(code)].status;
}

const char *err_slug(enum err_code code)
{
    return err_rows[err_clamp(code)].slug;
}

const char *err_title(enum err_code code)
{
    return err_rows[err_clamp(code)].title;
}

json_t *err_problem(const struct err *e)
{
    enum err_code code = err_clamp(e->code == ERR_NONE ? ERR_INTERNAL : e->code);
    char type[96];
    json_t *doc;

    snprintf(type, sizeof(type), "/problems/%s", err_rows[code].slug);
    doc =
        json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", err_rows[code].title, "status",
                  err_rows[code].status, "detail", e->detail[0] ? e->detail : err_rows[code].title);
    if (e->fields) {
        json_object_set(doc, "errors", e->fields);
        if (e->nfields > ERR_MAX_FIELDS)
            json_object_set_new(doc, "errors_total", json_integer(e->nfields));
    }
    return doc;
}
