/*
 * Configuration from POLKU_* environment variables, overridden by command-line flags.
 */
#ifndef POLKU_CONFIG_H
#define POLKU_CONFIG_H

#include <stddef.h>

#include "err.h"

struct config {
    char *listen;            /* POLKU_LISTEN, --listen: host:port */
    char *db;                /* POLKU_DB, --db */
    char *tz;                /* POLKU_TZ, --tz: reporting time zone (IANA name) */
    char *admin_key;         /* POLKU_ADMIN_KEY (environment only: flags show in ps) */
    char *cors_origins;      /* POLKU_CORS_ORIGINS, --cors-origins */
    size_t body_limit;       /* POLKU_BODY_LIMIT, --body-limit: bytes */
    size_t batch_body_limit; /* POLKU_BATCH_BODY_LIMIT, --batch-body-limit: bytes */
    char *commit_mode;       /* POLKU_COMMIT_MODE, --commit-mode: group or each */
    unsigned threads, max_connections, per_ip_connections, timeout_s;
    unsigned checkpoint_pages;    /* POLKU_CHECKPOINT_PAGES: WAL pages that call for one */
    unsigned checkpoint_stall_ms; /* POLKU_CHECKPOINT_STALL_MS: 0 = always in the background */
    unsigned idempotency_ttl_s;   /* POLKU_IDEMPOTENCY_TTL, seconds */
    unsigned idempotency_memory;  /* POLKU_IDEMPOTENCY_MEMORY: fingerprints held in memory */
    int access_log;
    /* key create */
    char *scope, *name;
};

/* Fills c with defaults, then the environment, then flags argv[first..argc). Returns 0, or -1
 * with a message naming the bad flag or variable. Strings in c are new. */
int config_load(struct config *c, int argc, char **argv, int first, struct err *e);
void config_release(struct config *c);
/* The --help text. */
const char *config_usage(void);

#endif
