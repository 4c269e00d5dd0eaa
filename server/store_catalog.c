/*
 * Journeys, their phases, and touchpoints in the store.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void journey_release(struct journey *j)
{
    if (!j)
        return;
    free(j->key);
    free(j->name);
    for (size_t i = 0; i < j->nphases; i++) {
        free(j->phases[i].key);
        free(j->phases[i].name);
    }
    free(j->phases);
    memset(j, 0, sizeof(*j));
}

void touchpoint_release(struct touchpoint *t)
{
    if (!t)
        return;
    free(t->key);
    free(t->name);
    free(t->description);
    free(t->journey);
    free(t->phase);
    memset(t, 0, sizeof(*t));
}

/* Loads the phases of journey j->id into j, in order. */
static int journey_load_phases(struct conn *c, struct journey *j, struct err *e)
{
    sqlite3_stmt *st =
        conn_stmt(c, "SELECT key, name FROM phases WHERE journey_id = ? ORDER BY position", e);
    size_t cap = 0;
    int rc;

    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, j->id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (j->nphases == cap) {
            cap = cap ? 2 * cap : 8;
            j->phases = xrealloc(j->phases, cap * sizeof(*j->phases));
        }
        j->phases[j->nphases].key = col_text(st, 0);
        j->phases[j->nphases].name = col_text(st, 1);
        j->nphases++;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : store_sqlerr(e, c->db, rc, "phase list");
}

static void journey_from_row(sqlite3_stmt *st, void *item)
{
    struct journey *j = item;
    memset(j, 0, sizeof(*j));
    j->id = sqlite3_column_int64(st, 0);
    j->key = col_text(st, 1);
    j->name = col_text(st, 2);
    j->created_at = sqlite3_column_int64(st, 3);
    j->updated_at = sqlite3_column_int64(st, 4);
}

int store_journeys_list(struct store *s, struct journey **items, size_t *n, struct err *e)
{
    struct conn *c = reader_get(s, e);
    sqlite3_stmt *st;
    int ret = -1;

    *items = NULL;
    *n = 0;
    if (!c)
        return -1;
    st = conn_stmt(c, "SELECT id, key, name, created_at, updated_at FROM journeys ORDER BY key", e);
    if (!st || stmt_collect(c, st, (void **)items, n, sizeof(**items), journey_from_row,
                            "journey list", e) < 0)
        goto done;
    sqlite3_reset(st);
    for (size_t i = 0; i < *n; i++)
        if (journey_load_phases(c, &(*items)[i], e) < 0)
            goto done;
    ret = 0;
done:
    reader_put(s, c);
    return ret;
}

/* Loads journey key into out; 0, or -1 with ERR_NOT_FOUND. */
static int journey_get_on(struct conn *c, const char *key, struct journey *out, struct err *e)
{
    sqlite3_stmt *st =
        conn_stmt(c, "SELECT id, key, name, created_at, updated_at FROM journeys WHERE key = ?", e);
    int rc;

    if (!st)
        return -1;
    bind_text(st, 1, key);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return err_set(e, ERR_NOT_FOUND, "journey %s not found", key);
    if (rc != SQLITE_ROW)
        return store_sqlerr(e, c->db, rc, "journey lookup");
    journey_from_row(st, out);
    sqlite3_reset(st);
    return journey_load_phases(c, out, e);
}

int store_journey_get(struct store *s, const char *key, struct journey *out, struct err *e)
{
    struct conn *c = reader_get(s, e);
    int ret;

    if (!c)
        return -1;
    ret = journey_get_on(c, key, out, e);
    reader_put(s, c);
    return ret;
}

/* Inserts or updates the phases of journey id to exactly the given ordered list. Phases keep
 * their row (and so their touchpoints) by key; a dropped phase with touchpoints fails the
 * foreign key and is reported as ERR_CONFLICT. */
static int journey_set_phases(struct conn *c, int64_t id, const struct phase *phases, size_t n,
                              struct err *e)
{
    sqlite3_stmt *st;
    int rc;

    /* Park positions out of the way first, so that reordering never collides. */
    st = conn_stmt(c, "UPDATE phases SET position = -1 - position WHERE journey_id = ?", e);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    if ((rc = sqlite3_step(st)) != SQLITE_DONE)
        return store_sqlerr(e, c->db, rc, "phase update");
    for (size_t i = 0; i < n; i++) {
        st = conn_stmt(c,
                       "INSERT INTO phases (journey_id, key, name, position) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (journey_id, key) DO UPDATE SET name = excluded.name, "
                       "position = excluded.position",
                       e);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, id);
        bind_text(st, 2, phases[i].key);
        bind_text(st, 3, phases[i].name);
        sqlite3_bind_int64(st, 4, (int64_t)i);
        if ((rc = sqlite3_step(st)) != SQLITE_DONE)
            return store_sqlerr(e, c->db, rc, "phase insert");
    }
    st = conn_stmt(c,
                   "SELECT p.key FROM phases p WHERE p.journey_id = ? AND p.position < 0 AND "
                   "EXISTS (SELECT 1 FROM touchpoints t WHERE t.phase_id = p.id)",
                   e);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return err_set(e, ERR_CONFLICT, "phase %s still has touchpoints; move them first",
                       (const char *)sqlite3_column_text(st, 0));
    if (rc != SQLITE_DONE)
        return store_sqlerr(e, c->db, rc, "phase check");
    st = conn_stmt(c, "DELETE FROM phases WHERE journey_id = ? AND position < 0", e);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    if ((rc = sqlite3_step(st)) != SQLITE_DONE)
        return store_sqlerr(e, c->db, rc, "phase delete");
    return 0;
}

int store_journey_create(struct store *s, struct journey *j, struct err *e)
{
    struct conn *c = writer_begin(s, e);
    sqlite3_stmt *st;
    int rc, ok = 0;

    if (!c)
        return -1;
    st = conn_stmt(c,
                   "INSERT INTO journeys (key, name, created_at, updated_at) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (key) DO NOTHING",
                   e);
    if (!st)
        goto done;
    j->created_at = j->updated_at = util_now_ms();
    bind_text(st, 1, j->key);
    bind_text(st, 2, j->name);
    sqlite3_bind_int64(st, 3, j->created_at);
    sqlite3_bind_int64(st, 4, j->updated_at);
    if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
        store_sqlerr(e, c->db, rc, "journey insert");
        goto done;
    }
    if (sqlite3_changes(c->db) == 0) {
        err_set(e, ERR_CONFLICT, "journey %s already exists", j->key);
        goto done;
    }
    j->id = sqlite3_last_insert_rowid(c->db);
    if (journey_set_phases(c, j->id, j->phases, j->nphases, e) < 0)
        goto done;
    ok = 1;
done:
    return writer_end(s, ok, e);
}

int store_journey_update(struct store *s, const char *key, const char *name,
                         const struct phase *phases, size_t nphases, struct err *e)
{
    struct conn *c = writer_begin(s, e);
    struct journey j = {0};
    sqlite3_stmt *st;
    int rc, ok = 0;

    if (!c)
        return -1;
    if (journey_get_on(c, key, &j, e) < 0)
        goto done;
    st = conn_stmt(c, "UPDATE journeys SET name = coalesce(?, name), updated_at = ? WHERE id = ?",
                   e);
    if (!st)
        goto done;
    bind_text(st, 1, name);
    sqlite3_bind_int64(st, 2, util_now_ms());
    sqlite3_bind_int64(st, 3, j.id);
    if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
        store_sqlerr(e, c->db, rc, "journey update");
        goto done;
    }
    if (phases && journey_set_phases(c, j.id, phases, nphases, e) < 0)
        goto done;
    ok = 1;
done:
    journey_release(&j);
    return writer_end(s, ok, e);
}

/* Runs each of the n statements of sqls with ?1 bound to id (deletes of the catalog). */
static int exec_with_id(struct conn *c, const char *const *sqls, size_t n, int64_t id,
                        const char *what, struct err *e)
{
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = conn_stmt(c, sqls[i], e);
        int rc;

        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, id);
        if ((rc = sqlite3_step(st)) != SQLITE_DONE)
            return store_sqlerr(e, c->db, rc, what);
    }
    return 0;
}

/* What a journey's deletion removes, in an order that leaves no reference behind: the
 * foreign keys' cascades written out, since the deletion runs without the checks
 * (writer_begin_unchecked). A new table that refers to journeys, phases or touchpoints must be
 * added here and to store_touchpoint_delete. */
static const char *const journey_delete_sql[] = {
    "DELETE FROM targets WHERE journey_id = ?1 "
    "OR phase_id IN (SELECT id FROM phases WHERE journey_id = ?1) "
    "OR touchpoint_id IN (SELECT t.id FROM touchpoints t JOIN phases p ON p.id = t.phase_id "
    "WHERE p.journey_id = ?1)",
    "DELETE FROM touchpoints WHERE phase_id IN (SELECT id FROM phases WHERE journey_id = ?1)",
    "DELETE FROM phases WHERE journey_id = ?1",
    "DELETE FROM journeys WHERE id = ?1",
};

int store_journey_delete(struct store *s, const char *key, struct err *e)
{
    struct conn *c = writer_begin_unchecked(s, e);
    struct journey j = {0};
    sqlite3_stmt *st;
    int rc, ok = 0;

    if (!c)
        return -1;
    if (journey_get_on(c, key, &j, e) < 0)
        goto done;
    /* counted from the rollups (exact: their rows go when their count reaches 0): no index of
     * responses starts with the touchpoint since migration 14 */
    st = conn_stmt(c,
                   "SELECT count(*), coalesce(sum(m.n), 0) FROM rollup_month_tp m "
                   "JOIN touchpoints t ON t.id = m.touchpoint_id "
                   "JOIN phases p ON p.id = t.phase_id WHERE p.journey_id = ?",
                   e);
    if (!st)
        goto done;
    sqlite3_bind_int64(st, 1, j.id);
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        store_sqlerr(e, c->db, rc, "journey check");
        goto done;
    }
    if (sqlite3_column_int64(st, 0) > 0) { /* a rollup row stays while it counts any */
        err_set(e, ERR_CONFLICT, "journey %s has %lld responses; delete them first", key,
                (long long)sqlite3_column_int64(st, 1));
        goto done;
    }
    ok = exec_with_id(c, journey_delete_sql,
                      sizeof(journey_delete_sql) / sizeof(*journey_delete_sql), j.id,
                      "journey delete", e) == 0;
done:
    journey_release(&j);
    return writer_end(s, ok, e);
}

/* ---- touchpoints -------------------------------------------------------------------------- */

#define TP_SELECT                                                                                  \
    "SELECT t.id, t.key, t.name, t.description, j.key, p.key, t.created_at, t.updated_at "         \
    "FROM touchpoints t JOIN phases p ON p.id = t.phase_id JOIN journeys j ON j.id = "             \
    "p.journey_id "

static void touchpoint_from_row(sqlite3_stmt *st, void *item)
{
    struct touchpoint *t = item;
    memset(t, 0, sizeof(*t));
    t->id = sqlite3_column_int64(st, 0);
    t->key = col_text(st, 1);
    t->name = col_text(st, 2);
    t->description = col_text(st, 3);
    t->journey = col_text(st, 4);
    t->phase = col_text(st, 5);
    t->created_at = sqlite3_column_int64(st, 6);
    t->updated_at = sqlite3_column_int64(st, 7);
}

int store_touchpoints_list(struct store *s, const struct touchpoint_filter *f,
                           struct touchpoint **items, size_t *n, struct err *e)
{
    struct conn *c = reader_get(s, e);
    sqlite3_stmt *st;
    int ret = -1;

    *items = NULL;
    *n = 0;
    if (!c)
        return -1;
    st = conn_stmt(c,
                   TP_SELECT "WHERE (?1 IS NULL OR j.key = ?1) AND (?2 IS NULL OR p.key = ?2) "
                             "AND (?3 IS NULL OR t.key > ?3) ORDER BY t.key LIMIT ?4",
                   e);
    if (st) {
        bind_text(st, 1, f->journey);
        bind_text(st, 2, f->phase);
        bind_text(st, 3, f->after);
        sqlite3_bind_int(st, 4, f->limit);
        ret = stmt_collect(c, st, (void **)items, n, sizeof(**items), touchpoint_from_row,
                           "touchpoint list", e);
    }
    reader_put(s, c);
    return ret;
}

static int touchpoint_get_on(struct conn *c, const char *key, struct touchpoint *out, struct err *e)
{
    sqlite3_stmt *st = conn_stmt(c, TP_SELECT "WHERE t.key = ?", e);
    int rc;

    if (!st)
        return -1;
    bind_text(st, 1, key);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return err_set(e, ERR_NOT_FOUND, "touchpoint %s not found", key);
    if (rc != SQLITE_ROW)
        return store_sqlerr(e, c->db, rc, "touchpoint lookup");
    touchpoint_from_row(st, out);
    sqlite3_reset(st);
    return 0;
}

int store_touchpoint_get(struct store *s, const char *key, struct touchpoint *out, struct err *e)
{
    struct conn *c = reader_get(s, e);
    int ret;

    if (!c)
        return -1;
    ret = touchpoint_get_on(c, key, out, e);
    reader_put(s, c);
    return ret;
}

/* Finds the phase row of journey/phase keys: ERR_VALIDATION naming the field when unknown. */
static int phase_resolve(struct conn *c, const char *journey, const char *phase, int64_t *id,
                         struct err *e)
{
    sqlite3_stmt *st;
    int rc;

    st = conn_stmt(c, "SELECT id FROM journeys WHERE key = ?", e);
    if (!st)
        return -1;
    bind_text(st, 1, journey);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return err_field(e, "/journey", "unknown journey %s", journey);
    if (rc != SQLITE_ROW)
        return store_sqlerr(e, c->db, rc, "journey lookup");
    st = conn_stmt(c,
                   "SELECT p.id FROM phases p JOIN journeys j ON j.id = p.journey_id "
                   "WHERE j.key = ? AND p.key = ?",
                   e);
    if (!st)
        return -1;
    bind_text(st, 1, journey);
    bind_text(st, 2, phase);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return err_field(e, "/phase", "journey %s has no phase %s", journey, phase);
    if (rc != SQLITE_ROW)
        return store_sqlerr(e, c->db, rc, "phase lookup");
    *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

int store_touchpoint_create(struct store *s, struct touchpoint *t, struct err *e)
{
    struct conn *c = writer_begin(s, e);
    sqlite3_stmt *st;
    int64_t phase_id;
    int rc, ok = 0;

    if (!c)
        return -1;
    if (phase_resolve(c, t->journey, t->phase, &phase_id, e) < 0)
        goto done;
    st = conn_stmt(c,
                   "INSERT INTO touchpoints (key, name, description, phase_id, created_at, "
                   "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                   e);
    if (!st)
        goto done;
    t->created_at = t->updated_at = util_now_ms();
    bind_text(st, 1, t->key);
    bind_text(st, 2, t->name);
    bind_text(st, 3, t->description);
    sqlite3_bind_int64(st, 4, phase_id);
    sqlite3_bind_int64(st, 5, t->created_at);
    sqlite3_bind_int64(st, 6, t->updated_at);
    if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
        store_sqlerr(e, c->db, rc, "touchpoint insert");
        goto done;
    }
    if (sqlite3_changes(c->db) == 0) {
        err_set(e, ERR_CONFLICT, "touchpoint %s already exists", t->key);
        goto done;
    }
    t->id = sqlite3_last_insert_rowid(c->db);
    ok = 1;
done:
    return writer_end(s, ok, e);
}

/* From the rollups, whose rows go when their count reaches 0: no index of responses starts with
 * the touchpoint since migration 14, and the table would be read whole. */
static int touchpoint_has_responses(struct conn *c, int64_t id, int *has, struct err *e)
{
    sqlite3_stmt *st =
        conn_stmt(c, "SELECT EXISTS (SELECT 1 FROM rollup_month_tp WHERE touchpoint_id = ?)", e);
    int rc;

    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    if ((rc = sqlite3_step(st)) != SQLITE_ROW)
        return store_sqlerr(e, c->db, rc, "touchpoint check");
    *has = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    return 0;
}

int store_touchpoint_update(struct store *s, const char *key, struct touchpoint *t,
                            int set_description, struct err *e)
{
    struct conn *c = writer_begin(s, e);
    struct touchpoint old = {0};
    sqlite3_stmt *st;
    int64_t phase_id = 0;
    int rc, has, ok = 0;

    if (!c)
        return -1;
    if (touchpoint_get_on(c, key, &old, e) < 0)
        goto done;
    if (t->journey || t->phase) {
        const char *journey = t->journey ? t->journey : old.journey;
        const char *phase = t->phase ? t->phase : old.phase;

        if (phase_resolve(c, journey, phase, &phase_id, e) < 0)
            goto done;
        if (strcmp(journey, old.journey) != 0) {
            if (touchpoint_has_responses(c, old.id, &has, e) < 0)
                goto done;
            if (has) {
                err_set(e, ERR_CONFLICT,
                        "touchpoint %s has responses in journey %s; it cannot move to %s", key,
                        old.journey, journey);
                goto done;
            }
        }
    }
    st = conn_stmt(c,
                   "UPDATE touchpoints SET name = coalesce(?1, name), "
                   "description = CASE WHEN ?2 THEN ?3 ELSE description END, "
                   "phase_id = CASE WHEN ?4 > 0 THEN ?4 ELSE phase_id END, updated_at = ?5 "
                   "WHERE id = ?6",
                   e);
    if (!st)
        goto done;
    bind_text(st, 1, t->name);
    sqlite3_bind_int(st, 2, set_description);
    bind_text(st, 3, t->description);
    sqlite3_bind_int64(st, 4, phase_id);
    sqlite3_bind_int64(st, 5, util_now_ms());
    sqlite3_bind_int64(st, 6, old.id);
    if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
        store_sqlerr(e, c->db, rc, "touchpoint update");
        goto done;
    }
    touchpoint_release(t);
    if (touchpoint_get_on(c, key, t, e) < 0)
        goto done;
    ok = 1;
done:
    touchpoint_release(&old);
    return writer_end(s, ok, e);
}

/* Without the foreign keys' checks (writer_begin_unchecked): their cascade written out. */
static const char *const touchpoint_delete_sql[] = {
    "DELETE FROM targets WHERE touchpoint_id = ?1",
    "DELETE FROM touchpoints WHERE id = ?1",
};

int store_touchpoint_delete(struct store *s, const char *key, struct err *e)
{
    struct conn *c = writer_begin_unchecked(s, e);
    struct touchpoint t = {0};
    int has, ok = 0;

    if (!c)
        return -1;
    if (touchpoint_get_on(c, key, &t, e) < 0)
        goto done;
    if (touchpoint_has_responses(c, t.id, &has, e) < 0)
        goto done;
    if (has) {
        err_set(e, ERR_CONFLICT, "touchpoint %s has responses; delete them first", key);
        goto done;
    }
    ok = exec_with_id(c, touchpoint_delete_sql, 2, t.id, "touchpoint delete", e) == 0;
done:
    touchpoint_release(&t);
    return writer_end(s, ok, e);
}
