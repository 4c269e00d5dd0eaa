/*
 * Worker threads over a FIFO of jobs, guarded by one mutex and condition variable.
 */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

#include "util.h"

struct job {
    void (*fn)(void *arg);
    void *arg;
    struct job *next;
};

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct job *head, *tail;
    int stopping;
    size_t nthreads;
    pthread_t *threads;
};

static void *pool_main(void *arg)
{
    struct pool *p = arg;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct job *j;

        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        if (!p->head)
            break;
        j = p->head;
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        pthread_mutex_unlock(&p->lock);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int pool_new(size_t n, struct pool **out)
{
    struct pool *p = xcalloc(1, sizeof(*p));
    pthread_attr_t attr;

    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->threads = xcalloc(n, sizeof(*p->threads));
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1 << 20); /* as the HTTP threads: handlers run here */
    for (; p->nthreads < n; p->nthreads++) {
        if (pthread_create(&p->threads[p->nthreads], &attr, pool_main, p) != 0) {
            pthread_attr_destroy(&attr);
            pool_free(p);
            return -1;
        }
    }
    pthread_attr_destroy(&attr);
    *out = p;
    return 0;
}

void pool_submit(struct pool *p, void (*fn)(void *arg), void *arg)
{
    struct job *j = xmalloc(sizeof(*j));

    j->fn = fn;
    j->arg = arg;
    j->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

void pool_free(struct pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p);
}
