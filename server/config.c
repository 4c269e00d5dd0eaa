/*
 * Configuration: defaults, then POLKU_* environment variables, then flags.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

struct option_def {
    const char *flag;
    const char *env;
    enum { OPT_STR, OPT_SIZE, OPT_UINT, OPT_BOOL } type;
    size_t offset;
    long long min, max;
    const char *help;
};

#define OFF(f) offsetof(struct config, f)

static const struct option_def options[] = {
    {"--listen", "POLKU_LISTEN", OPT_STR, OFF(listen), 0, 0,
     "address to serve on, host:port (default 127.0.0.1:8080; port 0 picks one)"},
    {"--db", "POLKU_DB", OPT_STR, OFF(db), 0, 0, "SQLite database file (default ./polku.db)"},
    {"--tz", "POLKU_TZ", OPT_STR, OFF(tz), 0, 0,
     "reporting time zone for day/week/month buckets (default UTC)"},
    {"--cors-origins", "POLKU_CORS_ORIGINS", OPT_STR, OFF(cors_origins), 0, 0,
     "browser origins allowed to call the API, comma-separated, or * (default *)"},
    {"--body-limit", "POLKU_BODY_LIMIT", OPT_SIZE, OFF(body_limit), 1024, 64 << 20,
     "largest request body in bytes (default 65536)"},
    {"--batch-body-limit", "POLKU_BATCH_BODY_LIMIT", OPT_SIZE, OFF(batch_body_limit), 1024,
     256 << 20, "largest body of POST /v1/responses/batch in bytes (default 4194304)"},
    {"--commit-mode", "POLKU_COMMIT_MODE", OPT_STR, OFF(commit_mode), 0, 0,
     "group (commit queued writes together, default) or each (one commit per write)"},
    {"--threads", "POLKU_THREADS", OPT_UINT, OFF(threads), 1, 64,
     "HTTP polling threads (default 4)"},
    {"--max-connections", "POLKU_MAX_CONNECTIONS", OPT_UINT, OFF(max_connections), 1, 100000,
     "connections at once (default 1024)"},
    {"--per-ip-connections", "POLKU_PER_IP_CONNECTIONS", OPT_UINT, OFF(per_ip_connections), 1,
     100000, "connections at once from one IP address (default 256)"},
    {"--timeout", "POLKU_TIMEOUT", OPT_UINT, OFF(timeout_s), 1, 3600,
     "seconds before an idle connection is closed (default 30)"},
    {"--checkpoint-pages", "POLKU_CHECKPOINT_PAGES", OPT_UINT, OFF(checkpoint_pages), 64, 10000000,
     "WAL pages (4 KiB each) after a commit that call for a checkpoint (default 40000)"},
    {"--checkpoint-stall-ms", "POLKU_CHECKPOINT_STALL_MS", OPT_UINT, OFF(checkpoint_stall_ms), 0,
     60000,
     "a checkpoint by the writer longer than this moves checkpoints to their own thread; 0: "
     "always there (default 5)"},
    {"--idempotency-ttl", "POLKU_IDEMPOTENCY_TTL", OPT_UINT, OFF(idempotency_ttl_s), 1,
     10 * 366 * 86400,
     "seconds an Idempotency-Key is remembered and replayed (default 86400, 24 hours)"},
    {"--idempotency-memory", "POLKU_IDEMPOTENCY_MEMORY", OPT_UINT, OFF(idempotency_memory), 1,
     10000000,
     "recent Idempotency-Keys whose fingerprints are kept in memory, 16-40 bytes each; older "
     "ones are indexed on disk (default 400000)"},
    {"--access-log", "POLKU_ACCESS_LOG", OPT_BOOL, OFF(access_log), 0, 1,
     "log one line per request: 1 or 0 (default 1)"},
    {"--scope", NULL, OPT_STR, OFF(scope), 0, 0, "key create: submit, read, write or admin"},
    {"--name", NULL, OPT_STR, OFF(name), 0, 0, "key create: a name for the key"},
};

static int config_set(struct config *c, const struct option_def *o, const char *value,
                      const char *source, struct err *e)
{
    char *base = (char *)c + o->offset;
    long long v;

    switch (o->type) {
    case OPT_STR:
        if (!*value)
            return err_set(e, ERR_BAD_REQUEST, "%s must not be empty", source);
        free(*(char **)(void *)base);
        *(char **)(void *)base = xstrdup(value);
        return 0;
    case OPT_BOOL:
        if (strcmp(value, "1") == 0 || strcmp(value, "true") == 0 || strcmp(value, "on") == 0)
            v = 1;
        else if (strcmp(value, "0") == 0 || strcmp(value, "false") == 0 ||
                 strcmp(value, "off") == 0)
            v = 0;
        else
            return err_set(e, ERR_BAD_REQUEST, "%s must be 1 or 0, not %.40s", source, value);
        *(int *)(void *)base = (int)v;
        return 0;
    case OPT_SIZE:
    case OPT_UINT:
        if (util_parse_int(value, o->min, o->max, &v) < 0)
            return err_set(e, ERR_BAD_REQUEST, "%s must be an integer %lld-%lld, not %.40s", source,
                           o->min, o->max, value);
        if (o->type == OPT_SIZE)
            *(size_t *)(void *)base = (size_t)v;
        else
            *(unsigned *)(void *)base = (unsigned)v;
        return 0;
    }
    return -1;
}

int config_load(struct config *c, int argc, char **argv, int first, struct err *e)
{
    const size_t n = sizeof(options) / sizeof(options[0]);
    const char *admin;

    memset(c, 0, sizeof(*c));
    c->listen = xstrdup("127.0.0.1:8080");
    c->db = xstrdup("./polku.db");
    c->tz = xstrdup("UTC");
    c->cors_origins = xstrdup("*");
    c->body_limit = 64 * 1024;
    c->batch_body_limit = 4 * 1024 * 1024;
    c->commit_mode = xstrdup("group");
    c->threads = 4;
    c->max_connections = 1024;
    c->per_ip_connections = 256;
    c->timeout_s = 30;
    c->checkpoint_pages = 40000;
    c->checkpoint_stall_ms = 5;
    c->idempotency_ttl_s = 86400;
    c->idempotency_memory = 400000;
    c->access_log = 1;
    admin = getenv("POLKU_ADMIN_KEY");
    if (admin && *admin)
        c->admin_key = xstrdup(admin);
    for (size_t i = 0; i < n; i++) {
        const char *v = options[i].env ? getenv(options[i].env) : NULL;

        if (v && config_set(c, &options[i], v, options[i].env, e) < 0)
            return -1;
    }
    for (int a = first; a < argc; a++) {
        const char *arg = argv[a], *eq = strchr(arg, '='), *value;
        size_t flen = eq ? (size_t)(eq - arg) : strlen(arg);
        const struct option_def *o = NULL;

        for (size_t i = 0; i < n; i++)
            if (strlen(options[i].flag) == flen && strncmp(options[i].flag, arg, flen) == 0)
                o = &options[i];
        if (!o)
            return err_set(e, ERR_BAD_REQUEST, "unknown option %.60s (see --help)", arg);
        if (eq) {
            value = eq + 1;
        } else {
            if (a + 1 >= argc)
                return err_set(e, ERR_BAD_REQUEST, "%s needs a value", o->flag);
            value = argv[++a];
        }
        if (config_set(c, o, value, o->flag, e) < 0)
            return -1;
    }
    return 0;
}

void config_release(struct config *c)
{
    if (!c)
        return;
    free(c->listen);
    free(c->db);
    free(c->tz);
    free(c->admin_key);
    free(c->cors_origins);
    free(c->commit_mode);
    free(c->scope);
    free(c->name);
    memset(c, 0, sizeof(*c));
}

const char *config_usage(void)
{
    static char text[4096];
    size_t len;

    if (text[0])
        return text;
    len = (size_t)snprintf(text, sizeof(text),
                           "Polku: a customer-journey feedback service.\n\n"
                           "Usage:\n"
                           "  polku serve [options]          serve the HTTP API\n"
                           "  polku key create --scope S [--name N] [--db FILE]\n"
                           "                                 make an API key, print it once\n"
                           "  polku rollup rebuild [--db FILE] recompute the metric rollups\n"
                           "  polku --help | --version\n\n"
                           "Options (each also from the environment variable shown):\n");
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]) && len < sizeof(text); i++)
        len +=
            (size_t)snprintf(text + len, sizeof(text) - len, "  %-22s %-26s %s\n", options[i].flag,
                             options[i].env ? options[i].env : "", options[i].help);
    if (len < sizeof(text))
        snprintf(text + len, sizeof(text) - len,
                 "\n  POLKU_ADMIN_KEY (environment only): accepted as an admin key. Without it, "
                 "the first\n  start of an empty database creates an admin key and prints it "
                 "once.\n");
    return text;
}
