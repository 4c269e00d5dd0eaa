/*
 * The metric blocks of one group of responses (n, nps, csat, ces, expectation, ratings), each
 * with "target": {"value", "met"} when a target is in the group's scope (targets.h; met
 * compares the NPS, CSAT score, CES mean or expectation index with the value, at or above is
 * met, null without a score).
 */
#ifndef POLKU_BLOCKS_H
#define POLKU_BLOCKS_H

#include <jansson.h>

#include "jsonw.h"
#include "metrics.h"
#include "targets.h"

/* Writes the blocks as members of an object the caller has opened ("n": ..., "nps": {...},
 * ...). ts may be NULL: no targets. */
void blocks_write(struct jw *w, const struct hist *h, const struct target_set *ts,
                  const struct scope *sc);
/* The same members, added to obj (for replies built as jansson trees). */
void blocks_add(json_t *obj, const struct hist *h, const struct target_set *ts,
                const struct scope *sc);

#endif
