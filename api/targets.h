/*
 * Targets as the metric renderers use them: loaded once per request, resolved per group to the
 * most specific target in scope (touchpoint, then phase, then journey, then global).
 */
#ifndef POLKU_TARGETS_H
#define POLKU_TARGETS_H

#include <jansson.h>

#include "store.h"

struct target_set {
    struct target *items;
    size_t n;
};

/* What a group of responses is known to be limited to; NULL members are not fixed. */
struct scope {
    const char *journey, *phase, *touchpoint;
};

int targets_load(struct store *s, struct target_set *ts, struct err *e);
void targets_release(struct target_set *ts);
/* The most specific target for metric in scope, or NULL (borrowed from ts). */
const struct target *targets_find(const struct target_set *ts, const char *metric,
                                  const struct scope *scope);

#endif
