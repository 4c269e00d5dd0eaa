/*
 * JSON-lines logging to stderr. Each line is written with one fputs on a locked stream, so
 * lines from different threads never interleave.
 */
#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "util.h"

static void log_emit(json_t *obj)
{
    char ts[40];
    char *line;

    util_format_time(util_now_ms(), ts, sizeof(ts));
    json_object_set_new(obj, "ts", json_string(ts));
    line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (!line)
        return;
    flockfile(stderr);
    fputs(line, stderr);
    fputc('\n', stderr);
    funlockfile(stderr);
    free(line);
}

static void log_v(const char *level, const char *fmt, va_list ap)
{
    char msg[1024];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    log_emit(json_pack("{s:s, s:s}", "level", level, "msg", msg));
}

void log_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_v("info", fmt, ap);
    va_end(ap);
}

void log_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_v("error", fmt, ap);
    va_end(ap);
}

void log_access(const char *method, const char *path, int status, int64_t ms, const char *note)
{
    json_t *obj = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I}", "level", "info", "msg", "request",
                            "method", method, "path", path, "status", status, "ms", (json_int_t)ms);

    if (obj && note)
        json_object_set_new(obj, "note", json_string(note));
    if (obj)
        log_emit(obj);
}

void log_event(const char *msg, const char *fields, ...)
{
    va_list ap;
    json_t *obj;

    va_start(ap, fields);
    obj = json_vpack_ex(NULL, 0, fields, ap);
    va_end(ap);
    if (!obj)
        obj = json_object();
    json_object_set_new(obj, "level", json_string("info"));
    json_object_set_new(obj, "msg", json_string(msg));
    log_emit(obj);
}
