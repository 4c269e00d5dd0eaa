/*
 * API keys in the store: only the SHA-256 of a key is kept, found by its public prefix.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define KEY_COLS "id, prefix, scope, name, origins, hash, created_at"

void api_key_release(struct api_key *k)
{
    if (!k)
        return;
    free(k->prefix);
    free(k->scope);
    free(k->name);
    free(k->origins);
    memset(k, 0, sizeof(*k));
}

static void key_from_row(sqlite3_stmt *st, void *item)
{
    struct api_key *k = item;
    const void *h = sqlite3_column_blob(st, 5);

    memset(k, 0, sizeof(*k));
    k->id = sqlite3_column_int64(st, 0);
    k->prefix = col_text(st, 1);
    k->scope = col_text(st, 2);
    k->name = col_text(st, 3);
    k->origins = col_text(st, 4);
    if (h && sqlite3_column_bytes(st, 5) == (int)sizeof(k->hash))
        memcpy(k->hash, h, sizeof(k->hash));
    k->created_at = sqlite3_column_int64(st, 6);
}

int store_key_insert(struct store *s, struct api_key *k, struct err *e)
{
    struct conn *c = writer_begin(s, e);
    sqlite3_stmt *st;
    int rc, ok = 0;

    if (!c)
        return -1;
    st = conn_stmt(c,
                   "INSERT INTO api_keys (id, prefix, hash, scope, name, origins, created_at) "
                   "VALUES (" FRESH_ID("api_keys") ", ?, ?, ?, ?, ?, ?)",
                   e);
    if (!st)
        goto done;
    k->created_at = util_now_ms();
    bind_text(st, 1, k->prefix);
    sqlite3_bind_blob(st, 2, k->hash, sizeof(k->hash), SQLITE_TRANSIENT);
    bind_text(st, 3, k->scope);
    bind_text(st, 4, k->name);
    bind_text(st, 5, k->origins);
    sqlite3_bind_int64(st, 6, k->created_at);
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        store_sqlerr(e, c->db, rc, "key insert");
        goto done;
    }
    k->id = sqlite3_last_insert_rowid(c->db);
    ok = 1;
done:
    if (writer_end(s, ok, e) < 0)
        return -1;
    atomic_fetch_add(&s->keys_version, 1);
    return 0;
}

int store_key_find(struct store *s, const char *prefix, struct api_key *out, struct err *e)
{
    struct conn *c = reader_get(s, e);
    sqlite3_stmt *st;
    int rc, ret = -1;

    if (!c)
        return -1;
    st = conn_stmt(c, "SELECT " KEY_COLS " FROM api_keys WHERE prefix = ?", e);
    if (!st)
        goto done;
    bind_text(st, 1, prefix);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        key_from_row(st, out);
        ret = 0;
    } else if (rc == SQLITE_DONE) {
        err_set(e, ERR_NOT_FOUND, "no key with prefix %s", prefix);
    } else {
        store_sqlerr(e, c->db, rc, "key lookup");
    }
done:
    reader_put(s, c);
    return ret;
}

int store_keys_list(struct store *s, struct api_key **items, size_t *n, struct err *e)
{
    struct conn *c = reader_get(s, e);
    sqlite3_stmt *st;
    int ret = -1;

    *items = NULL;
    *n = 0;
    if (!c)
        return -1;
    st = conn_stmt(c, "SELECT " KEY_COLS " FROM api_keys ORDER BY id", e);
    if (st)
        ret = stmt_collect(c, st, (void **)items, n, sizeof(**items), key_from_row, "key list", e);
    reader_put(s, c);
    return ret;
}

int store_key_delete(struct store *s, int64_t id, struct err *e)
{
    if (store_delete_id(s, "DELETE FROM api_keys WHERE id = ?", id, "key", e) < 0)
        return -1;
    atomic_fetch_add(&s->keys_version, 1);
    return 0;
}

int store_key_count(struct store *s, int64_t *n, struct err *e)
{
    struct conn *c = reader_get(s, e);
    sqlite3_stmt *st;
    int ret = -1;

    if (!c)
        return -1;
    st = conn_stmt(c, "SELECT count(*) FROM api_keys", e);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        *n = sqlite3_column_int64(st, 0);
        ret = 0;
    } else if (st) {
        store_sqlerr(e, c->db, sqlite3_errcode(c->db), "key count");
    }
    reader_put(s, c);
    return ret;
}
