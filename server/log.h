/*
 * Logs: one JSON object per line on stderr ({"ts", "level", "msg", ...}).
 */
#ifndef POLKU_LOG_H
#define POLKU_LOG_H

#include <stddef.h>
#include <stdint.h>

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One line per request; note may be NULL. Access lines are buffered: they reach stderr within
 * 100 ms, before any other line, and at exit; log_flush() writes them out at once. */
void log_access(const char *method, const char *path, int status, int64_t ms, const char *note);
/* The access line of log_access into buf (LOG_ACCESS_LINE_MAX bytes), ending in a newline;
 * returns its length. Paths longer than 1024 bytes are cut, bytes that are not UTF-8 shown as
 * U+FFFD. */
#define LOG_ACCESS_LINE_MAX 8192
size_t log_access_line(char *buf, const char *method, const char *path, int status, int64_t ms,
                       const char *note, int64_t now_ms);
void log_flush(void);
/* A line with extra fields: fields is a jansson pack format and its arguments follow. */
void log_event(const char *msg, const char *fields, ...);

#endif
