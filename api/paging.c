/*
 * The Link header for the next page, with the request's own parameters percent-encoded.
 */
#include "paging.h"

#include <stdio.h>
#include <string.h>

#define LINK_MAX 2048

struct link_buf {
    char s[LINK_MAX];
    size_t len;
};

static void link_put(struct link_buf *b, const char *text, int encode)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        int plain = !encode || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~';

        if (b->len + 4 >= sizeof(b->s))
            return;
        if (plain) {
            b->s[b->len++] = (char)*p;
        } else {
            b->s[b->len++] = '%';
            b->s[b->len++] = hex[*p >> 4];
            b->s[b->len++] = hex[*p & 15];
        }
    }
    b->s[b->len] = '\0';
}

static int link_param(const char *name, const char *value, void *ctx)
{
    struct link_buf *b = ctx;

    if (strcmp(name, "cursor") == 0)
        return 0;
    link_put(b, name, 1);
    link_put(b, "=", 0);
    link_put(b, value ? value : "", 1);
    link_put(b, "&", 0);
    return 0;
}

void paging_link_next(struct req *req, const char *next)
{
    struct link_buf b = {.len = 0};
    char base[300];

    req_base_url(req, base, sizeof(base));
    link_put(&b, "<", 0);
    link_put(&b, base, 0);
    link_put(&b, req_path(req), 0);
    link_put(&b, "?", 0);
    req_query_each(req, link_param, &b);
    link_put(&b, "cursor=", 0);
    link_put(&b, next, 1);
    link_put(&b, ">; rel=\"next\"", 0);
    req_add_header(req, "Link", b.s);
}
