/*
 * JSON-lines logging to stderr. Every write(2) holds whole lines under one lock, so lines from
 * different threads never interleave.
 *
 * Access lines (one per request) are formatted by hand and gathered in a buffer that a thread
 * writes out every LOG_FLUSH_MS, when it is full, before any other line and at exit. Built with
 * jansson (an object, a hash table, json_dumps) and written with two stdio writes each, they
 * cost 4.5 us of CPU per request, 11% of the bench's ingest (36.1k/s against 40.4k/s with the
 * log off); formatted by hand with one write(2) each, 1.8 us (37.4k/s against 39.6k/s). The
 * price of the buffer: a crash loses the access lines of its last LOG_FLUSH_MS. Hand
 * formatting also logs paths that are not UTF-8 (libmicrohttpd decodes %FF), which jansson
 * refused.
 */
#include "log.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define LOG_PATH_MAX 1024 /* bytes of a path that an access line shows */
#define LOG_BUF_SIZE (64 * 1024)
#define LOG_FLUSH_MS 100

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER; /* orders writes to stderr */
static pthread_mutex_t buf_lock = PTHREAD_MUTEX_INITIALIZER;   /* the buffered lines */
static pthread_cond_t buf_cond = PTHREAD_COND_INITIALIZER;     /* lines wait: the flusher */
static char bufs[2][LOG_BUF_SIZE];
static int front;      /* bufs[front] gathers lines */
static size_t buf_len; /* bytes in bufs[front] */
static pthread_once_t flusher_once = PTHREAD_ONCE_INIT;
static int flusher_running; /* set once, before any line is buffered */

static void log_write_fd(const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* nowhere to log to: nothing else to do */
        p += n;
        len -= (size_t)n;
    }
}

/* Writes the buffered lines, then line (len bytes ending in a newline; NULL for none). */
static void log_out(const char *line, size_t len)
{
    const char *lines;
    size_t n;

    pthread_mutex_lock(&write_lock);
    pthread_mutex_lock(&buf_lock);
    lines = bufs[front];
    n = buf_len;
    front = !front; /* the other buffer is free: only a holder of write_lock writes one out */
    buf_len = 0;
    pthread_mutex_unlock(&buf_lock);
    flockfile(stderr); /* libmicrohttpd's and SQLite's messages go through stdio */
    log_write_fd(lines, n);
    if (line)
        log_write_fd(line, len);
    funlockfile(stderr);
    pthread_mutex_unlock(&write_lock);
}

void log_flush(void)
{
    log_out(NULL, 0);
}

static void *log_flusher(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "polku-log");
    for (;;) {
        struct timespec ts = {0, LOG_FLUSH_MS * 1000 * 1000};

        pthread_mutex_lock(&buf_lock);
        while (buf_len == 0)
            pthread_cond_wait(&buf_cond, &buf_lock);
        pthread_mutex_unlock(&buf_lock);
        nanosleep(&ts, NULL); /* gather what comes meanwhile */
        log_flush();
    }
    return NULL;
}

static void log_flusher_start(void)
{
    pthread_t t;

    atexit(log_flush);
    if (pthread_create(&t, NULL, log_flusher, NULL) == 0) {
        pthread_detach(t);
        flusher_running = 1;
    }
}

/* Buffers len bytes of whole lines (len <= LOG_BUF_SIZE). */
static void log_buffered(const char *line, size_t len)
{
    pthread_once(&flusher_once, log_flusher_start);
    if (!flusher_running) { /* no thread to write them later: at once */
        log_out(line, len);
        return;
    }
    for (;;) {
        pthread_mutex_lock(&buf_lock);
        if (buf_len + len <= LOG_BUF_SIZE) {
            memcpy(bufs[front] + buf_len, line, len);
            if (buf_len == 0)
                pthread_cond_signal(&buf_cond);
            buf_len += len;
            pthread_mutex_unlock(&buf_lock);
            return;
        }
        pthread_mutex_unlock(&buf_lock);
        log_flush(); /* full */
    }
}

static void log_emit(json_t *obj)
{
    char ts[40];
    char *line;
    size_t len;

    util_format_time(util_now_ms(), ts, sizeof(ts));
    json_object_set_new(obj, "ts", json_string(ts));
    line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (!line)
        return;
    len = strlen(line);
    line = xrealloc(line, len + 2);
    line[len++] = '\n';
    log_out(line, len); /* at once, after the access lines before it */
    free(line);
}

/* Appends s (at most max bytes of it) to out as a JSON string; returns the new end. out must
 * have room for 6 * max + 8 bytes. Bytes that are not UTF-8 become U+FFFD; a cut shows "...".
 * The cut falls before a character, so no sequence that util_utf8_len accepts crosses it. */
static char *log_json_str(char *out, const char *s, size_t max)
{
    static const char hex[] = "0123456789ABCDEF";
    static const char short_esc[32] = {
        ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r'};
    size_t full = strlen(s), n = full, i = 0;
    const unsigned char *u = (const unsigned char *)s;

    *out++ = '"';
    if (n > max) {
        n = max;
        while (n > 0 && (u[n] & 0xC0) == 0x80)
            n--; /* cut before a character, not inside it */
    }
    while (i < n) {
        unsigned char c = u[i];
        size_t len;

        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *out++ = (char)c;
            i++;
        } else if (c == '"' || c == '\\') {
            *out++ = '\\';
            *out++ = (char)c;
            i++;
        } else if (c < 0x20 && short_esc[c]) {
            *out++ = '\\';
            *out++ = short_esc[c];
            i++;
        } else if (c < 0x20) {
            memcpy(out, "\\u00", 4);
            out[4] = hex[c >> 4];
            out[5] = hex[c & 15];
            out += 6;
            i++;
        } else if ((len = (size_t)util_utf8_len(u + i)) > 0) {
            memcpy(out, u + i, len);
            out += len;
            i += len;
        } else {
            memcpy(out, "\\ufffd", 6);
            out += 6;
            i++;
        }
    }
    if (full > max) {
        memcpy(out, "...", 3);
        out += 3;
    }
    *out++ = '"';
    return out;
}

size_t log_access_line(char *buf, const char *method, const char *path, int status, int64_t ms,
                       const char *note, int64_t now_ms)
{
    char *p = buf;

    p += sprintf(p, "{\"level\":\"info\",\"msg\":\"request\",\"method\":");
    p = log_json_str(p, method, 32);
    p += sprintf(p, ",\"path\":");
    p = log_json_str(p, path, LOG_PATH_MAX);
    p += sprintf(p, ",\"status\":%d,\"ms\":%lld", status, (long long)ms);
    if (note) {
        p += sprintf(p, ",\"note\":");
        p = log_json_str(p, note, 64);
    }
    p += sprintf(p, ",\"ts\":\"");
    util_format_time(now_ms, p, 40);
    p += strlen(p);
    p += sprintf(p, "\"}\n");
    return (size_t)(p - buf);
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
    char line[LOG_ACCESS_LINE_MAX];

    log_buffered(line, log_access_line(line, method, path, status, ms, note, util_now_ms()));
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
