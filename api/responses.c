/*
 * Responses: one customer's feedback at one touchpoint. POST validates strictly (every problem
 * is reported with its JSON pointer), honours Idempotency-Key, and answers 201 only after the
 * response is committed. GET pages by id with an opaque cursor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "jsonw.h"
#include "paging.h"
#include "sha256.h"
#include "util.h"
#include "validate.h"

#define COMMENT_MAX         5000
#define LANGUAGE_MAX        35
#define CUSTOMER_MAX        200
#define SEGMENT_MAX         100
#define PROPERTIES_MAX_KEYS 50
#define PROPERTY_KEY_MAX    64
#define PROPERTY_VALUE_MAX  500
#define IDEM_KEY_MAX        255
#define FUTURE_SKEW_MS      (5 * 60 * 1000)
#define SUBMITTED_MIN_MS    946684800000LL /* 2000-01-01T00:00:00Z */
#define LIST_DEFAULT        100
#define LIST_MAX            1000

static const char *const channels[] = {"web",  "email", "sms", "phone", "store",
                                       "chat", "app",   "api", NULL};

static int response_channel_ok(const char *s)
{
    for (const char *const *c = channels; *c; c++)
        if (strcmp(*c, s) == 0)
            return 1;
    return 0;
}

/* BCP 47-shaped: a 2-3 letter language, then subtags of 1-8 letters or digits. */
static int response_language_ok(const char *s)
{
    size_t n = 0;
    int first = 1;

    for (const char *p = s;; p++) {
        if (*p == '-' || *p == '\0') {
            if (first ? (n < 2 || n > 3) : (n < 1 || n > 8))
                return 0;
            if (*p == '\0')
                return 1;
            first = 0;
            n = 0;
            continue;
        }
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (!first && *p >= '0' && *p <= '9')))
            return 0;
        n++;
    }
}

static void jw_opt_int(struct jw *w, int v)
{
    if (v == RESPONSE_ABSENT)
        jw_raw(w, "null");
    else
        jw_int(w, v);
}

/* One response as a JSON object. Rendered by hand: it is part of every ingest's reply. */
static void response_write(struct jw *w, const struct response *r)
{
    int first = 1;

    jw_raw(w, "{\"id\":");
    jw_int(w, r->id);
    jw_raw(w, ",\"touchpoint\":");
    jw_str(w, r->touchpoint);
    jw_raw(w, ",\"journey\":");
    jw_str(w, r->journey);
    jw_raw(w, ",\"phase\":");
    jw_str(w, r->phase);
    jw_raw(w, ",\"nps\":");
    jw_opt_int(w, r->nps);
    jw_raw(w, ",\"csat\":");
    jw_opt_int(w, r->csat);
    jw_raw(w, ",\"ces\":");
    jw_opt_int(w, r->ces);
    jw_raw(w, ",\"expectation\":");
    jw_str(w, r->expectation == RESPONSE_ABSENT
                  ? NULL
                  : metrics_expectation_name((enum expectation)r->expectation));
    jw_raw(w, ",\"ratings\":{");
    for (int a = 0; a < RATING_AREAS; a++) {
        if (r->rating[a] == RESPONSE_ABSENT)
            continue;
        jw_raw(w, first ? "" : ",");
        jw_str(w, metrics_rating_name((enum rating_area)a));
        jw_raw(w, ":");
        jw_int(w, r->rating[a]);
        first = 0;
    }
    jw_raw(w, "},\"comment\":");
    jw_str(w, r->comment);
    jw_raw(w, ",\"channel\":");
    jw_str(w, r->channel);
    jw_raw(w, ",\"language\":");
    jw_str(w, r->language);
    jw_raw(w, ",\"customer\":");
    jw_str(w, r->customer);
    jw_raw(w, ",\"segment\":");
    jw_str(w, r->segment);
    /* properties are stored as the compact JSON text of the validated object */
    jw_raw(w, ",\"properties\":");
    jw_raw(w, r->properties ? r->properties : "null");
    jw_raw(w, ",\"submitted_at\":");
    jw_time(w, r->submitted_at);
    jw_raw(w, ",\"received_at\":");
    jw_time(w, r->received_at);
    jw_raw(w, "}");
}

/* base: the pointer of the properties member ("/properties", "/items/3/properties"). */
static int response_parse_properties(json_t *v, const char *base, char **out, struct err *e)
{
    const char *name;
    json_t *val;
    int ret = 0;

    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return err_field(e, base, "must be a flat JSON object");
    if (json_object_size(v) > PROPERTIES_MAX_KEYS)
        return err_field(e, base, "must have at most %d members", PROPERTIES_MAX_KEYS);
    json_object_foreach (v, name, val) {
        char ptr[240];

        v_member_ptr(ptr, sizeof(ptr), base, name, 64);
        if (strlen(name) == 0 || strlen(name) > PROPERTY_KEY_MAX ||
            !util_valid_text(name, PROPERTY_KEY_MAX))
            ret =
                err_field(e, ptr, "property names must be 1-%d printable bytes", PROPERTY_KEY_MAX);
        else if (json_is_object(val) || json_is_array(val))
            ret = err_field(e, ptr, "must be a string, number, boolean or null (flat object)");
        else if (json_is_string(val) && json_string_length(val) > PROPERTY_VALUE_MAX)
            ret = err_field(e, ptr, "must be at most %d bytes", PROPERTY_VALUE_MAX);
    }
    if (ret == 0)
        *out = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    return ret;
}

/* Validates one response object at pointer base into r (strings copied). */
static int response_parse(json_t *obj, const char *base, struct response *r, struct err *e)
{
    static const char *const allowed[] = {
        "touchpoint", "nps",      "csat",     "ces",     "expectation", "ratings",      "comment",
        "channel",    "language", "customer", "segment", "properties",  "submitted_at", NULL};
    static const char *const areas[] = {"interaction", "content", "recovery", "value", NULL};
    const char *touchpoint, *expectation, *comment, *channel, *language, *customer, *segment,
        *submitted;
    char ptr[160];
    int before = e->nfields;
    json_t *ratings;

    response_init(r);
    if (v_object(obj, base, allowed, e) < 0 && !json_is_object(obj))
        return -1;
    v_keyfield(obj, base, "touchpoint", 1, &touchpoint, e);
    v_int(obj, base, "nps", 0, 10, &r->nps, e);
    v_int(obj, base, "csat", 1, 5, &r->csat, e);
    v_int(obj, base, "ces", 1, 7, &r->ces, e);
    if (v_string(obj, base, "expectation", 0, 16, &expectation, e) == 0 && expectation) {
        for (int i = 0; i < EXPECT_VALUES; i++)
            if (strcmp(expectation, metrics_expectation_name((enum expectation)i)) == 0)
                r->expectation = i;
        if (r->expectation == RESPONSE_ABSENT) {
            snprintf(ptr, sizeof(ptr), "%s/expectation", base);
            err_field(e, ptr, "must be one of below, met, exceeded");
        }
    }
    ratings = json_object_get(obj, "ratings");
    if (ratings && !json_is_null(ratings)) {
        snprintf(ptr, sizeof(ptr), "%s/ratings", base);
        if (v_object(ratings, ptr, areas, e) == 0)
            for (int a = 0; a < RATING_AREAS; a++)
                v_int(ratings, ptr, areas[a], 1, 5, &r->rating[a], e);
    }
    v_string(obj, base, "comment", 0, COMMENT_MAX, &comment, e);
    if (v_string(obj, base, "channel", 0, 16, &channel, e) == 0 && channel &&
        !response_channel_ok(channel)) {
        snprintf(ptr, sizeof(ptr), "%s/channel", base);
        err_field(e, ptr, "must be one of web, email, sms, phone, store, chat, app, api");
    }
    if (v_string(obj, base, "language", 0, LANGUAGE_MAX, &language, e) == 0 && language &&
        !response_language_ok(language)) {
        snprintf(ptr, sizeof(ptr), "%s/language", base);
        err_field(e, ptr, "must be a language tag such as fi or en-GB");
    }
    v_string(obj, base, "customer", 0, CUSTOMER_MAX, &customer, e);
    v_string(obj, base, "segment", 0, SEGMENT_MAX, &segment, e);
    if (v_string(obj, base, "submitted_at", 0, 40, &submitted, e) == 0 && submitted) {
        snprintf(ptr, sizeof(ptr), "%s/submitted_at", base);
        if (util_parse_time(submitted, 0, &r->submitted_at) < 0)
            err_field(e, ptr, "must be an RFC 3339 date-time such as 2026-10-01T12:00:00Z");
        else if (r->submitted_at > util_now_ms() + FUTURE_SKEW_MS)
            err_field(e, ptr, "must not be in the future");
        else if (r->submitted_at < SUBMITTED_MIN_MS)
            err_field(e, ptr, "must not be before 2000-01-01T00:00:00Z");
    }
    {
        char *props = NULL;

        snprintf(ptr, sizeof(ptr), "%s/properties", base);
        response_parse_properties(json_object_get(obj, "properties"), ptr, &props, e);
        r->properties = props;
    }
    if (r->nps == RESPONSE_ABSENT && r->csat == RESPONSE_ABSENT && r->ces == RESPONSE_ABSENT &&
        r->expectation == RESPONSE_ABSENT && r->rating[0] == RESPONSE_ABSENT &&
        r->rating[1] == RESPONSE_ABSENT && r->rating[2] == RESPONSE_ABSENT &&
        r->rating[3] == RESPONSE_ABSENT && e->nfields == before)
        err_field(e, base, "needs at least one of nps, csat, ces, expectation, ratings");
    if (e->nfields != before || e->code != ERR_NONE) {
        response_release(r);
        return -1;
    }
    r->touchpoint = xstrdup(touchpoint);
    r->comment = comment ? xstrdup(comment) : NULL;
    r->channel = channel ? xstrdup(channel) : NULL;
    r->language = language ? xstrdup(language) : NULL;
    r->customer = customer ? xstrdup(customer) : NULL;
    r->segment = segment ? xstrdup(segment) : NULL;
    return 0;
}

#define BATCH_MAX 1000

/* The body of a created write: the response itself, or {"items": [...]} for a batch. */
/* Replies 200 with the text of w (the reply takes it). */
static void response_reply_text(struct req *req, struct jw *w)
{
    size_t len = w->len;

    req_reply_raw(req, HTTP_OK, "application/json", jw_take(w), len);
}

static char *response_render_body(const struct response *rs, size_t n, void *ctx)
{
    const int *batch = ctx;
    struct jw w;

    jw_init(&w);
    if (*batch) {
        jw_raw(&w, "{\"items\":[");
        for (size_t i = 0; i < n; i++) {
            jw_raw(&w, i ? "," : "");
            response_write(&w, &rs[i]);
        }
        jw_raw(&w, "]}");
    } else {
        response_write(&w, &rs[0]);
    }
    return jw_take(&w);
}

/* Replies 201 with a created body; id (single responses) gives the Location, or 0 to read it
 * from the body (a replayed answer). */
static void response_reply_created(struct req *req, char *body, int status, int batch, int64_t id)
{
    char location[64];

    if (!batch && id == 0) {
        json_t *obj = json_loads(body, 0, NULL);

        if (json_is_integer(json_object_get(obj, "id")))
            id = json_integer_value(json_object_get(obj, "id"));
        json_decref(obj);
    }
    if (!batch && id > 0) {
        snprintf(location, sizeof(location), "/v1/responses/%lld", (long long)id);
        req_add_header(req, "Location", location);
    }
    req_reply_raw(req, status, "application/json", body, strlen(body));
}

/* A write of responses in flight: lives with the request until it completes. */
struct create_state {
    struct store_write w;
    struct response *items;
    size_t n;
    int batch;
    int has_idem;
    struct idem idem;
    struct idem_replay replay;
    char principal[64];
    char *idem_key;
    struct app *app;
};

static void create_state_free(void *p)
{
    struct create_state *st = p;

    for (size_t i = 0; i < st->n; i++)
        response_release(&st->items[i]);
    free(st->items);
    free(st->idem_key);
    free(st->replay.body);
    err_release(&st->w.err);
    free(st);
}

/* Answers with the recorded answer of the request's Idempotency-Key, found by the writer. */
static int response_replay(struct req *req, struct create_state *st)
{
    struct idem_replay *found = &st->replay;

    if (!found->found)
        return err_set(req_err(req), ERR_CONFLICT, "Idempotency-Key %.64s is in use", st->idem_key);
    if (!util_ct_equal(found->hash, st->idem.hash, SHA256_LEN))
        return err_set(req_err(req), ERR_IDEMPOTENCY,
                       "Idempotency-Key %.64s was used with a different request", st->idem_key);
    response_reply_created(req, found->body, found->status, st->batch, 0);
    found->body = NULL; /* the reply owns it now */
    req_add_header(req, "Idempotent-Replayed", "true");
    return 0;
}

/* Writer thread: the transaction holding the write has committed (or the write failed). */
static void create_done(struct store_write *w)
{
    req_resume(w->ctx);
}

static void create_start(struct req *req, void *ctx)
{
    struct create_state *st = ctx;

    st->w.done = create_done;
    st->w.ctx = req;
    store_write_submit(st->app->store, &st->w);
}

static int create_finish(struct req *req, void *ctx)
{
    struct create_state *st = ctx;
    struct err *e = req_err(req);

    if (st->w.rc == 0) {
        response_reply_created(req, response_render_body(st->items, st->n, &st->batch),
                               HTTP_CREATED, st->batch, st->items[0].id);
        return 0;
    }
    if (st->has_idem && st->w.err.code == ERR_CONFLICT) {
        /* The key is recorded, by an earlier request or one committed in the same
         * transaction: answer as it was answered (the writer read the record). */
        return response_replay(req, st);
    }
    err_release(e);
    *e = st->w.err; /* moves the field list */
    err_init(&st->w.err);
    return -1;
}

/* The shared path of POST /v1/responses and POST /v1/responses/batch: validated responses in,
 * idempotency checked, the write queued for the group commit, the request suspended. */
static int response_submit(struct req *req, struct app *app, struct response *items, size_t n,
                           int batch)
{
    const char *idem_key = req_header(req, "Idempotency-Key");
    struct create_state *st = xcalloc(1, sizeof(*st));

    st->items = items;
    st->n = n;
    st->batch = batch;
    st->app = app;
    st->w.responses = items;
    st->w.n = n;
    st->w.batch = batch;
    req_set_state(req, st, create_state_free);
    if (idem_key) {
        struct sha256 h;
        char *canon = json_dumps(req_json(req), JSON_COMPACT | JSON_SORT_KEYS);

        snprintf(st->principal, sizeof(st->principal), "%s", req_principal(req));
        st->idem_key = xstrdup(idem_key);
        st->has_idem = 1;
        st->idem.principal = st->principal;
        st->idem.key = st->idem_key;
        st->idem.status = HTTP_CREATED;
        st->idem.render = response_render_body;
        st->idem.ctx = &st->batch;
        st->idem.replay = &st->replay;
        /* The fingerprint is of the canonical JSON, so whitespace and member order don't
         * matter; the path is included so a key is never valid across operations. */
        sha256_init(&h);
        sha256_update(&h, req_path(req), strlen(req_path(req)) + 1);
        sha256_update(&h, canon, strlen(canon));
        sha256_final(&h, st->idem.hash);
        free(canon);
        /* Not looked up here: the writer checks the key in the transaction that would record
         * it, and a recorded key comes back as ERR_CONFLICT, replayed by create_finish. A
         * lookup here as well cost a read transaction per request, for the rare retry. */
        st->w.idem = &st->idem;
    }
    req_suspend(req, create_start, create_finish, st);
    return 0;
}

static int response_idem_header_ok(struct req *req)
{
    const char *idem_key = req_header(req, "Idempotency-Key");

    if (idem_key && (strlen(idem_key) == 0 || strlen(idem_key) > IDEM_KEY_MAX ||
                     !util_valid_text(idem_key, IDEM_KEY_MAX)))
        return err_set(req_err(req), ERR_BAD_REQUEST,
                       "Idempotency-Key must be 1-%d printable characters", IDEM_KEY_MAX);
    return 0;
}

int api_response_create(struct req *req, struct app *app)
{
    struct response *r;

    if (response_idem_header_ok(req) < 0)
        return -1;
    r = xcalloc(1, sizeof(*r));
    if (response_parse(req_json(req), "", r, req_err(req)) < 0) {
        free(r);
        return -1;
    }
    return response_submit(req, app, r, 1, 0);
}

int api_responses_batch(struct req *req, struct app *app)
{
    static const char *const allowed[] = {"items", NULL};
    json_t *body = req_json(req), *items, *v;
    struct err *e = req_err(req);
    struct response *rs;
    size_t i, n;
    int bad = 0;

    if (response_idem_header_ok(req) < 0)
        return -1;
    if (v_object(body, "", allowed, e) < 0 && !json_is_object(body))
        return -1;
    items = json_object_get(body, "items");
    if (!json_is_array(items) || json_array_size(items) == 0 || json_array_size(items) > BATCH_MAX)
        return err_field(e, "/items", "must be an array of 1-%d responses", BATCH_MAX);
    if (e->code != ERR_NONE)
        return -1;
    n = json_array_size(items);
    rs = xcalloc(n, sizeof(*rs));
    json_array_foreach (items, i, v) {
        char base[32];

        snprintf(base, sizeof(base), "/items/%zu", i);
        if (response_parse(v, base, &rs[i], e) < 0)
            bad = 1;
    }
    if (bad) {
        for (i = 0; i < n; i++)
            response_release(&rs[i]);
        free(rs);
        return -1;
    }
    return response_submit(req, app, rs, n, 1);
}

static int response_id(struct req *req, int64_t *id)
{
    long long v;

    if (util_parse_int(req_param(req, 0), 1, INT64_MAX, &v) < 0)
        return err_set(req_err(req), ERR_NOT_FOUND, "response %.32s not found", req_param(req, 0));
    *id = v;
    return 0;
}

int api_response_get(struct req *req, struct app *app)
{
    struct response r;
    struct jw w;
    int64_t id;

    if (response_id(req, &id) < 0)
        return -1;
    response_init(&r);
    if (store_response_get(app->store, id, &r, req_err(req)) < 0)
        return -1;
    jw_init(&w);
    response_write(&w, &r);
    response_release(&r);
    response_reply_text(req, &w);
    return 0;
}

int api_response_delete(struct req *req, struct app *app)
{
    int64_t id;

    if (response_id(req, &id) < 0)
        return -1;
    if (store_response_delete(app->store, id, req_err(req)) < 0)
        return -1;
    req_reply_json(req, HTTP_NO_CONTENT, NULL);
    return 0;
}

int api_response_filter(struct req *req, struct response_filter *f)
{
    struct err *e = req_err(req);
    const char *from = req_query(req, "from"), *to = req_query(req, "to");
    const char *keys[] = {"journey", "phase", "touchpoint"};
    const char **slots[] = {&f->journey, &f->phase, &f->touchpoint};

    for (int i = 0; i < 3; i++) {
        *slots[i] = req_query(req, keys[i]);
        if (*slots[i])
            q_key(keys[i], *slots[i], e);
    }
    f->channel = req_query(req, "channel");
    if (f->channel && !response_channel_ok(f->channel))
        err_param(e, "channel", "must be one of web, email, sms, phone, store, chat, app, api");
    f->segment = req_query(req, "segment");
    if (f->segment && !util_valid_text(f->segment, SEGMENT_MAX))
        err_param(e, "segment", "must be 1-%d printable bytes", SEGMENT_MAX);
    f->customer = req_query(req, "customer");
    if (f->customer && !util_valid_text(f->customer, CUSTOMER_MAX))
        err_param(e, "customer", "must be 1-%d printable bytes", CUSTOMER_MAX);
    if (from) {
        if (util_parse_time(from, 1, &f->from) < 0)
            err_param(e, "from", "must be an RFC 3339 date-time or a date (YYYY-MM-DD)");
        else
            f->has_from = 1;
    }
    if (to) {
        if (util_parse_time(to, 1, &f->to) < 0)
            err_param(e, "to", "must be an RFC 3339 date-time or a date (YYYY-MM-DD)");
        else
            f->has_to = 1;
    }
    if (f->has_from && f->has_to && f->to <= f->from)
        err_param(e, "to", "must be later than from");
    return e->code == ERR_NONE ? 0 : -1;
}

int api_responses_list(struct req *req, struct app *app)
{
    struct err *e = req_err(req);
    struct response_filter f = {0};
    struct response *items = NULL;
    const char *cursor = req_query(req, "cursor"), *limit = req_query(req, "limit");
    long long lim = LIST_DEFAULT, after;
    char buf[32], next[64];
    size_t n = 0;
    struct jw w;

    api_response_filter(req, &f);
    if (limit)
        q_int("limit", limit, 1, LIST_MAX, &lim, e);
    if (cursor) {
        if (cursor_decode(cursor, 'r', buf, sizeof(buf)) < 0 ||
            util_parse_int(buf, 0, INT64_MAX, &after) < 0)
            err_param(e, "cursor", "is not a cursor this server issued");
        else
            f.after_id = after;
    }
    if (e->code != ERR_NONE)
        return -1;
    f.limit = (int)lim + 1;
    if (store_responses_list(app->store, &f, &items, &n, e) < 0)
        return -1;
    jw_init(&w);
    jw_raw(&w, "{\"items\":[");
    for (size_t i = 0; i < n && (long long)i < lim; i++) {
        jw_raw(&w, i ? "," : "");
        response_write(&w, &items[i]);
    }
    jw_raw(&w, "],\"next_cursor\":");
    if ((long long)n > lim) {
        snprintf(buf, sizeof(buf), "%lld", (long long)items[lim - 1].id);
        cursor_encode('r', buf, next, sizeof(next));
        jw_str(&w, next);
        paging_link_next(req, next);
    } else {
        jw_raw(&w, "null");
    }
    jw_raw(&w, "}");
    for (size_t i = 0; i < n; i++)
        response_release(&items[i]);
    free(items);
    response_reply_text(req, &w);
    return 0;
}
