/*
 * Targets and the per-customer scores the key-driver analysis reads.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void target_release(struct target *t)
{
    if (!t)
        return;
    free(t->metric);
    free(t->journey);
    free(t->phase);
    free(t->touchpoint);
    memset(t, 0, sizeof(*t));
}

#define TARGET_SELECT                                                                              \
    "SELECT t.id, t.metric, t.value, j.key, p.key, tp.key, t.created_at FROM targets t "           \
    "LEFT JOIN journeys j ON j.id = t.journey_id LEFT JOIN phases p ON p.id = t.phase_id "         \
    "LEFT JOIN touchpoints tp ON tp.id = t.touchpoint_id "

static void target_from_row(sqlite3_stmt *st, void *item)
{
    struct target *t = item;
    memset(t, 0, sizeof(*t));
    t->id = sqlite3_column_int64(st, 0);
    t->metric = col_text(st, 1);
    t->value = sqlite3_column_double(st, 2);
    t->journey = col_text(st, 3);
    t->phase = col_text(st, 4);
    t->touchpoint = col_text(st, 5);
    t->created_at = sqlite3_column_int64(st, 6);
}

int store_targets_list(struct store *s, struct target **items, size_t *n, struct err *e)
{
    struct conn *c = reader_get(s, e);
    sqlite3_stmt *st;
    int ret = -1;

    *items = NULL;
    *n = 0;
    if (!c)
        return -1;
    st = conn_stmt(c, TARGET_SELECT "ORDER BY t.id", e);
    if (st)
        ret = stmt_collect(c, st, (void **)items, n, sizeof(**items), target_from_row,
                           "target list", e);
    reader_put(s, c);
    return ret;
}

/* Runs a one-column id lookup; 1 found (id set), 0 not found, -1 error. With unique, a second
 * row makes it ambiguous (2). */
static int lookup_id(struct conn *c, const char *sql, const char *a, const char *b, int64_t *id,
                     struct err *e)
{
    sqlite3_stmt *st = conn_stmt(c, sql, e);
    int rc, found = 0;

    if (!st)
        return -1;
    bind_text(st, 1, a);
    if (b)
        bind_text(st, 2, b);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        found++;
    }
    if (rc != SQLITE_DONE)
        return store_sqlerr(e, c->db, rc, "target scope lookup");
    return found > 1 ? 2 : found;
}

/* clang-format off */
#define TARGET_INSERT                                                                              \
    "INSERT INTO targets (id, metric, value, journey_id, phase_id, touchpoint_id, created_at) "    \
    "VALUES (" FRESH_ID("targets") ", ?, ?, nullif(?, 0), nullif(?, 0), nullif(?, 0), ?) "         \
    "ON CONFLICT DO NOTHING"
/* clang-format on */

int store_target_create(struct store *s, struct target *t, struct err *e)
{
    struct conn *c = writer_begin(s, e);
    int64_t journey_id = 0, phase_id = 0, touchpoint_id = 0;
    sqlite3_stmt *st;
    int rc, found, ok = 0;

    if (!c)
        return -1;
    if (t->touchpoint) {
        found = lookup_id(c, "SELECT id FROM touchpoints WHERE key = ?", t->touchpoint, NULL,
                          &touchpoint_id, e);
        if (found <= 0) {
            if (found == 0)
                err_field(e, "/touchpoint", "unknown touchpoint %s", t->touchpoint);
            goto done;
        }
    } else if (t->phase) {
        if (t->journey) {
            found = lookup_id(c, "SELECT id FROM journeys WHERE key = ?", t->journey, NULL,
                              &journey_id, e);
            if (found <= 0) {
                if (found == 0)
                    err_field(e, "/journey", "unknown journey %s", t->journey);
                goto done;
            }
        }
        if (t->journey)
            found = lookup_id(c,
                              "SELECT p.id FROM phases p JOIN journeys j ON j.id = p.journey_id "
                              "WHERE j.key = ? AND p.key = ?",
                              t->journey, t->phase, &phase_id, e);
        else
            found =
                lookup_id(c, "SELECT id FROM phases WHERE key = ?", t->phase, NULL, &phase_id, e);
        if (found < 0)
            goto done;
        if (found == 0) {
            err_field(e, "/phase", "unknown phase %s", t->phase);
            goto done;
        }
        if (found == 2) {
            err_field(e, "/journey", "is required: several journeys have a phase %s", t->phase);
            goto done;
        }
    } else if (t->journey) {
        found =
            lookup_id(c, "SELECT id FROM journeys WHERE key = ?", t->journey, NULL, &journey_id, e);
        if (found <= 0) {
            if (found == 0)
                err_field(e, "/journey", "unknown journey %s", t->journey);
            goto done;
        }
    }
    if (phase_id) {
        st = conn_stmt(c, "SELECT journey_id FROM phases WHERE id = ?", e);
        if (!st)
            goto done;
        sqlite3_bind_int64(st, 1, phase_id);
        if (sqlite3_step(st) == SQLITE_ROW)
            journey_id = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    st = conn_stmt(c, TARGET_INSERT, e);
    if (!st)
        goto done;
    t->created_at = util_now_ms();
    bind_text(st, 1, t->metric);
    sqlite3_bind_double(st, 2, t->value);
    sqlite3_bind_int64(st, 3, journey_id);
    sqlite3_bind_int64(st, 4, phase_id);
    sqlite3_bind_int64(st, 5, touchpoint_id);
    sqlite3_bind_int64(st, 6, t->created_at);
    if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
        store_sqlerr(e, c->db, rc, "target insert");
        goto done;
    }
    if (sqlite3_changes(c->db) == 0) {
        err_set(e, ERR_CONFLICT, "a %s target already exists in that scope", t->metric);
        goto done;
    }
    t->id = sqlite3_last_insert_rowid(c->db);
    st = conn_stmt(c, TARGET_SELECT "WHERE t.id = ?", e);
    if (!st)
        goto done;
    sqlite3_bind_int64(st, 1, t->id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        target_release(t);
        target_from_row(st, t);
    }
    sqlite3_reset(st);
    ok = 1;
done:
    return writer_end(s, ok, e);
}

int store_target_delete(struct store *s, int64_t id, struct err *e)
{
    return store_delete_id(s, "DELETE FROM targets WHERE id = ?", id, "target", e);
}

int store_customer_scores(struct store *s, const char *journey, const struct response_filter *f,
                          void (*cb)(const char *customer, const char *touchpoint, int nps,
                                     int csat, int ces, void *ctx),
                          void *ctx, struct err *e)
{
    struct conn *c = reader_get(s, e);
    sqlite3_stmt *st;
    int rc, ret = -1;

    if (!c)
        return -1;
    st = conn_stmt(c,
                   "SELECT r.customer, t.key, r.nps, r.csat, r.ces FROM responses r "
                   "JOIN touchpoints t ON t.id = r.touchpoint_id "
                   "JOIN phases p ON p.id = t.phase_id JOIN journeys j ON j.id = p.journey_id "
                   "WHERE j.key = ?1 AND r.customer IS NOT NULL AND r.submitted_at >= ?2 "
                   "AND r.submitted_at < ?3 AND " RESPONSE_DAY " BETWEEN ?4 AND ?5 "
                   "ORDER BY r.customer",
                   e);
    if (!st)
        goto done;
    bind_text(st, 1, journey);
    sqlite3_bind_int64(st, 2, f->has_from ? f->from : INT64_MIN);
    sqlite3_bind_int64(st, 3, f->has_to ? f->to : INT64_MAX);
    sqlite3_bind_int64(st, 4, f->has_from ? response_day_of(f->from) : -1);
    sqlite3_bind_int64(st, 5, f->has_to ? response_day_of(f->to - 1) : INT64_MAX);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int v[3];

        for (int i = 0; i < 3; i++)
            v[i] = sqlite3_column_type(st, 2 + i) == SQLITE_NULL ? RESPONSE_ABSENT
                                                                 : sqlite3_column_int(st, 2 + i);
        cb((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1), v[0],
           v[1], v[2], ctx);
    }
    if (rc != SQLITE_DONE) {
        store_sqlerr(e, c->db, rc, "customer scores");
        goto done;
    }
    ret = 0;
done:
    reader_put(s, c);
    return ret;
}
