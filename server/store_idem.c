/*
 * Idempotency records (migration 11): what an Idempotency-Key was first answered with.
 *
 * Records are appended in arrival order to idempotency_records and found through the index on
 * fp, a 64-bit fingerprint of (principal, key). The index is the only part written at random
 * places, and its entries are small (about 16 bytes), so with a client's random keys a commit
 * touches small index pages that stay cached instead of one random page of wide rows per key.
 * Two keys with the same fp are told apart by the principal and key stored in the row. Only the
 * writer records keys, after checking in the same transaction that the key is not recorded, so
 * the index needs no UNIQUE constraint. Records older than the store's idem_ttl_ms are deleted
 * by the writer, oldest first (ids grow with created_at).
 */
#include "store_int.h"

#include <string.h>

#include "sha256.h"

int64_t idem_fp(const char *principal, const char *key)
{
    struct sha256 h;
    unsigned char d[SHA256_LEN];
    uint64_t v = 0;

    sha256_init(&h);
    sha256_update(&h, principal, strlen(principal) + 1);
    sha256_update(&h, key, strlen(key));
    sha256_final(&h, d);
    for (int i = 0; i < 8; i++)
        v = v << 8 | d[i];
    return (int64_t)v;
}

/* polku_idem_fp(principal, key): idem_fp for migration 11, which fills fp of existing records. */
static void sql_idem_fp(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const unsigned char *p = sqlite3_value_text(argv[0]), *k = sqlite3_value_text(argv[1]);

    (void)argc;
    if (!p || !k)
        sqlite3_result_null(ctx);
    else
        sqlite3_result_int64(ctx, idem_fp((const char *)p, (const char *)k));
}

void idem_register(sqlite3 *db)
{
    sqlite3_create_function(db, "polku_idem_fp", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                            sql_idem_fp, NULL, NULL);
}

/* Records younger than the TTL only: an expired one may wait a while for the purge. */
#define IDEM_FIND                                                                                  \
    "FROM idempotency_records WHERE fp = ? AND principal = ? AND idem_key = ? AND created_at >= ?"

static void idem_bind_find(sqlite3_stmt *st, int64_t fp, const char *principal, const char *key,
                           int64_t since)
{
    sqlite3_bind_int64(st, 1, fp);
    bind_text(st, 2, principal);
    bind_text(st, 3, key);
    sqlite3_bind_int64(st, 4, since);
}

/* Fills out from the row of a lookup (request_hash, status, body). */
static void idem_replay_of(sqlite3_stmt *st, struct idem_replay *out)
{
    const void *h = sqlite3_column_blob(st, 0);

    out->found = 1;
    memset(out->hash, 0, sizeof(out->hash));
    if (h && sqlite3_column_bytes(st, 0) == (int)sizeof(out->hash))
        memcpy(out->hash, h, sizeof(out->hash));
    out->status = sqlite3_column_int(st, 1);
    free(out->body);
    out->body = col_text(st, 2);
}

int idem_find(struct conn *c, const struct idem *idem, int64_t fp, int64_t since, int *exists,
              struct err *e)
{
    sqlite3_stmt *st = conn_stmt(c, "SELECT request_hash, status, body " IDEM_FIND, e);
    int rc;

    if (!st)
        return -1;
    idem_bind_find(st, fp, idem->principal, idem->key, since);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && idem->replay)
        idem_replay_of(st, idem->replay);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_sqlerr(e, c->db, rc, "idempotency lookup");
    *exists = rc == SQLITE_ROW;
    return 0;
}

int idem_record(struct conn *c, const struct idem *idem, int64_t fp, const struct response *r,
                size_t n, int64_t now, struct err *e)
{
    sqlite3_stmt *st;
    char *body;
    int rc;

    st = conn_stmt(c,
                   "INSERT INTO idempotency_records (fp, principal, idem_key, request_hash, "
                   "status, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   e);
    if (!st)
        return -1;
    body = idem->render(r, n, idem->ctx);
    sqlite3_bind_int64(st, 1, fp);
    bind_text(st, 2, idem->principal);
    bind_text(st, 3, idem->key);
    sqlite3_bind_blob(st, 4, idem->hash, sizeof(idem->hash), SQLITE_STATIC);
    sqlite3_bind_int(st, 5, idem->status);
    sqlite3_bind_text(st, 6, body, -1, free);
    sqlite3_bind_int64(st, 7, now);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st); /* frees body now, not at the next use */
    return rc == SQLITE_DONE ? 0 : store_sqlerr(e, c->db, rc, "idempotency insert");
}

int idem_purge(struct conn *c, int64_t before, int limit, struct err *e)
{
    sqlite3_stmt *st;
    int64_t last = -1;
    int rc, n = 0;

    /* The oldest records, in id order, as long as they are older than before: one step down
     * the left edge of the table when none is. */
    st = conn_stmt(c, "SELECT id, created_at FROM idempotency_records ORDER BY id LIMIT ?", e);
    if (!st)
        return -1;
    sqlite3_bind_int(st, 1, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && sqlite3_column_int64(st, 1) < before)
        last = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_sqlerr(e, c->db, rc, "idempotency expiry");
    if (last < 0)
        return 0;
    st = conn_stmt(c, "DELETE FROM idempotency_records WHERE id <= ? AND created_at < ?", e);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, last);
    sqlite3_bind_int64(st, 2, before);
    rc = sqlite3_step(st);
    n = sqlite3_changes(c->db);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_sqlerr(e, c->db, rc, "idempotency expiry");
    return n;
}

int store_idem_get(struct store *s, const char *principal, const char *key, struct idem_replay *out,
                   struct err *e)
{
    struct conn *c = reader_get(s, e);
    sqlite3_stmt *st;
    int rc, ret = -1;

    if (!c)
        return -1;
    st = conn_stmt(c, "SELECT request_hash, status, body " IDEM_FIND, e);
    if (!st)
        goto done;
    idem_bind_find(st, idem_fp(principal, key), principal, key, store_now(s) - s->opts.idem_ttl_ms);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        idem_replay_of(st, out);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        ret = rc == SQLITE_ROW;
    else
        store_sqlerr(e, c->db, rc, "idempotency lookup");
done:
    reader_put(s, c);
    return ret;
}
