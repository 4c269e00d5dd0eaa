/*
 * A small pool of worker threads that run queued jobs in order of arrival. The router uses it
 * to run handlers that write (and so wait for a commit) off the HTTP threads.
 */
#ifndef POLKU_POOL_H
#define POLKU_POOL_H

#include <stddef.h>

struct pool;

/* Starts n threads. *out is new. Returns 0 or -1. */
int pool_new(size_t n, struct pool **out);
/* Queues fn(arg); returns at once. */
void pool_submit(struct pool *p, void (*fn)(void *arg), void *arg);
/* Runs what is queued, then stops the threads and frees the pool. Accepts NULL. */
void pool_free(struct pool *p);

#endif
