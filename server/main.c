/*
 * Polku's entry point: the command line, configuration, signals, and wiring the modules
 * together (store -> auth -> router with the API's route table -> http).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "auth.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "pool.h"
#include "router.h"
#include "store.h"
#include "util.h"

#define DRAIN_GRACE_MS 10000

/* Sets the process time zone used for calendar buckets. Returns 0, or -1 for a zone the
 * system does not know. Must run before any thread starts. */
static int main_set_tz(const char *tz, struct err *e)
{
    char path[512];

    if (strcmp(tz, "UTC") != 0 && strcmp(tz, "Etc/UTC") != 0) {
        if (strstr(tz, "..") || tz[0] == '/' || strlen(tz) > 100)
            return err_set(e, ERR_BAD_REQUEST, "time zone %.100s is not an IANA zone name", tz);
        snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
        if (access(path, R_OK) != 0)
            return err_set(e, ERR_BAD_REQUEST, "unknown time zone %.100s (no %s)", tz, path);
    }
    util_set_tz(tz);
    return 0;
}

/* Creates a key in the store and writes it to out. */
static int main_make_key(struct store *s, const char *scope, const char *name, FILE *out,
                         struct err *e)
{
    char key[AUTH_KEY_LEN + 1], prefix[AUTH_PREFIX_LEN + 1];
    struct api_key k = {0};
    int ret;

    auth_key_generate(key, prefix, k.hash);
    k.prefix = xstrdup(prefix);
    k.scope = xstrdup(scope);
    k.name = xstrdup(name);
    ret = store_key_insert(s, &k, e);
    if (ret == 0) {
        fprintf(out, "%s\n", key);
        fflush(out);
    }
    api_key_release(&k);
    return ret;
}

static int main_key_create(const struct config *c, struct err *e)
{
    struct store *s = NULL;
    int ret;

    struct store_options so = {.leave_rollups = 1}; /* a running server's, of its zone */

    if (!c->scope || !auth_scope_perms(c->scope))
        return err_set(e, ERR_BAD_REQUEST, "--scope must be submit, read, write or admin");
    if (main_set_tz(c->tz, e) < 0 || store_open(c->db, &so, &s, e) < 0)
        return -1;
    ret = main_make_key(s, c->scope, c->name ? c->name : "cli", stdout, e);
    store_close(s);
    return ret;
}

static int main_rollup_rebuild(const struct config *c, struct err *e)
{
    struct store *s = NULL;
    int ret;

    struct store_options so = {.leave_rollups = 1}; /* rebuilt once, below */

    if (main_set_tz(c->tz, e) < 0 || store_open(c->db, &so, &s, e) < 0)
        return -1;
    ret = store_rollup_rebuild(s, e);
    if (ret == 0)
        printf("rollups rebuilt for the reporting time zone %s\n", c->tz);
    store_close(s);
    return ret;
}

static int main_serve(const struct config *c, struct err *e)
{
    struct store *s = NULL;
    struct http *h = NULL;
    struct store_options so = {0};
    struct pool *pool = NULL;
    struct auth auth;
    struct app app = {0};
    struct router rt = {0};
    struct http_config hc = {0};
    sigset_t sigs;
    int64_t nkeys = 0;
    int sig = 0, ret = -1;

    if (main_set_tz(c->tz, e) < 0)
        return -1;
    /* Block the stop signals in every thread; main waits for them with sigwait. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (strcmp(c->commit_mode, "each") == 0)
        so.commit_each = 1;
    else if (strcmp(c->commit_mode, "group") != 0)
        return err_set(e, ERR_BAD_REQUEST, "--commit-mode must be group or each, not %.40s",
                       c->commit_mode);
    so.ckpt_soft_pages = (int)c->checkpoint_pages;
    so.ckpt_stall_us = c->checkpoint_stall_ms ? (int)c->checkpoint_stall_ms * 1000 : -1;
    so.idem_ttl_ms = (int64_t)c->idempotency_ttl_s * 1000;
    so.idem_mem_max = c->idempotency_memory;
    auth_init(&auth, NULL, c->admin_key);
    if (store_open(c->db, &so, &s, e) < 0)
        goto done;
    auth.store = s;
    if (!c->admin_key) {
        if (store_key_count(s, &nkeys, e) < 0)
            goto done;
        if (nkeys == 0) {
            fprintf(stdout, "Polku created an admin key for this new database. It is shown "
                            "only now; keep it safe:\n");
            if (main_make_key(s, "admin", "bootstrap", stdout, e) < 0)
                goto done;
        }
    }
    app.store = s;
    app.tz = c->tz;
    rt.routes = api_routes;
    rt.nroutes = api_nroutes;
    rt.auth = &auth;
    rt.store = s;
    rt.app = &app;
    rt.cors_origins = c->cors_origins;
    rt.large_body_limit = c->batch_body_limit;
    if (pool_new(2, &pool) < 0) {
        err_set(e, ERR_INTERNAL, "cannot start the worker threads");
        goto done;
    }
    rt.pool = pool;
    util_random(&rt.boot, sizeof(rt.boot));
    hc.listen = c->listen;
    hc.body_limit = c->body_limit;
    hc.threads = c->threads;
    hc.conn_limit = c->max_connections;
    hc.per_ip_limit = c->per_ip_connections;
    hc.timeout_s = c->timeout_s;
    hc.access_log = c->access_log;
    hc.body_limit_for = router_body_limit;
    hc.dispatch = router_dispatch;
    hc.ctx = &rt;
    if (http_start(&hc, &h, e) < 0)
        goto done;
    log_event("listening", "{s:s, s:i, s:s, s:s, s:s, s:s}", "listen", c->listen, "port",
              (int)http_port(h), "db", c->db, "tz", c->tz, "commit_mode", c->commit_mode, "version",
              POLKU_VERSION);
    while (sigwait(&sigs, &sig) != 0)
        ;
    log_event("stopping", "{s:i}", "signal", sig);
    http_stop(h, DRAIN_GRACE_MS);
    h = NULL;
    ret = 0;
done:
    http_stop(h, 0);
    pool_free(pool);
    store_close(s);
    auth_release(&auth);
    if (ret == 0)
        log_info("stopped");
    return ret;
}

int main(int argc, char **argv)
{
    struct config c;
    struct err e;
    const char *cmd = argc > 1 ? argv[1] : "";
    int first = 2, ret = 1;

    err_init(&e);
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(config_usage(), stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("polku %s\n", POLKU_VERSION);
        return 0;
    }
    if (strcmp(cmd, "key") == 0) {
        if (argc < 3 || strcmp(argv[2], "create") != 0) {
            fprintf(stderr, "polku: usage: polku key create --scope S [--name N]\n");
            return 2;
        }
        first = 3;
    } else if (strcmp(cmd, "rollup") == 0) {
        if (argc < 3 || strcmp(argv[2], "rebuild") != 0) {
            fprintf(stderr, "polku: usage: polku rollup rebuild [--db FILE]\n");
            return 2;
        }
        first = 3;
    } else if (strcmp(cmd, "serve") != 0) {
        fprintf(stderr, "polku: unknown command '%s'\n\n%s", cmd, config_usage());
        return 2;
    }
    if (config_load(&c, argc, argv, first, &e) < 0) {
        fprintf(stderr, "polku: %s\n", e.detail);
        config_release(&c);
        err_release(&e);
        return 2;
    }
    if (strcmp(cmd, "key") == 0)
        ret = main_key_create(&c, &e) == 0 ? 0 : 1;
    else if (strcmp(cmd, "rollup") == 0)
        ret = main_rollup_rebuild(&c, &e) == 0 ? 0 : 1;
    else
        ret = main_serve(&c, &e) == 0 ? 0 : 1;
    if (ret != 0) {
        if (strcmp(cmd, "serve") != 0)
            fprintf(stderr, "polku: %s\n", e.detail);
        else
            log_error("%s", e.detail);
    }
    config_release(&c);
    err_release(&e);
    return ret;
}
