/*
 * Logs: one JSON object per line on stderr ({"ts", "level", "msg", ...}).
 */
#ifndef POLKU_LOG_H
#define POLKU_LOG_H

#include <stdint.h>

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One line per request; note may be NULL. */
void log_access(const char *method, const char *path, int status, int64_t ms, const char *note);
/* A line with extra fields: fields is a jansson pack format and its arguments follow. */
void log_event(const char *msg, const char *fields, ...);

#endif
