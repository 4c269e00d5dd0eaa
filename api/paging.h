/*
 * Keyset paging shared by list endpoints: the next page's absolute URL for the Link header.
 */
#ifndef POLKU_PAGING_H
#define POLKU_PAGING_H

#include "http.h"

/* Adds `Link: <base/path?...&cursor=next>; rel="next"` to the reply, keeping every query
 * parameter of the request except cursor. */
void paging_link_next(struct req *req, const char *next);

#endif
