/*
 * The store: everything Polku keeps, behind one interface. The SQLite implementation lives in
 * store*.c; no other file includes <sqlite3.h>. Handlers see only these value structs and
 * functions, so a group-commit writer, rollups or another backend can slot in behind them.
 *
 * Threads: any thread may call any function. Reads run on a per-thread read connection (WAL
 * lets them run beside the writer); writes go through the single write connection and return
 * only once their transaction has committed with synchronous=FULL.
 *
 * Strings in the value structs are owned by the struct (new) and freed by its _release().
 */
#ifndef POLKU_STORE_H
#define POLKU_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "metrics.h"

struct store;

/* ---- lifecycle ---------------------------------------------------------------------------- */

#define STORE_IDEM_TTL_MS (24 * 3600 * 1000LL)
/* Recent idempotency fingerprints kept in memory (store_idem.c): 1M slots of 16 bytes at most.
 * config.c's default of --idempotency-memory is the same number. */
#define STORE_IDEM_MEM_MAX 400000

struct store_options {
    /* Commit every write in its own transaction instead of grouping the writes that queue up
     * while a commit runs (the benchmark's baseline). */
    int commit_each;
    /* WAL checkpoints (store_checkpoint.c); 0 for the defaults. Tests make them small. */
    int ckpt_soft_pages; /* WAL pages after a commit that call for a checkpoint: 40,000 */
    int ckpt_hard_pages; /* WAL pages from which the writer checkpoints every commit: 200,000 */
    int ckpt_stall_us;   /* a checkpoint by the writer longer than this moves them to the
                          * checkpointer thread: 5,000; -1 moves them at once */
    /* How long an Idempotency-Key is remembered, in ms; 0 for STORE_IDEM_TTL_MS. */
    int64_t idem_ttl_ms;
    /* How many recent idempotency fingerprints the writer keeps in memory before it merges
     * the oldest into the index (store_idem.c); 0 for STORE_IDEM_MEM_MAX. Tests make it small. */
    size_t idem_mem_max;
    /* The writer's clock (received_at of responses, ms); NULL for util_now_ms. Tests set it. */
    int64_t (*clock_ms)(void);
    /* Leave the rollups in whatever zone they were built for: no rebuild at open, no guard on
     * writes (commands that write no responses, such as `polku key create`, on the database
     * of a running server of another zone; `polku rollup rebuild`, which rebuilds once). */
    int leave_rollups;
    /* How lists find their rows: 0 lets each list choose (store_int.h, LIST_WALK and
     * LIST_GATHER); tests force one to compare both. */
    int list_plan;
};

/* What the checkpointer has done since the store opened. */
struct store_ckpt_counts {
    uint64_t by_writer; /* checkpoints run by the writer, after a commit */
    uint64_t by_thread; /* passes of the checkpointer thread */
    int background;     /* checkpoints are currently left to the thread */
};
void store_ckpt_counts(struct store *s, struct store_ckpt_counts *out);

/* Opens (creating if needed) the database at path, applies migrations, rebuilds the rollups
 * if the reporting time zone (the process TZ) changed since they were built, and starts the
 * writer thread. opts may be NULL for the defaults. *out is new. */
int store_open(const char *path, const struct store_options *opts, struct store **out,
               struct err *e);
void store_close(struct store *s);
/* Whether the database answers a trivial query. */
int store_ready(struct store *s);
/* Moves with every change of the stored API keys. */
uint64_t store_keys_version(const struct store *s);
/* Makes every read of s on this thread, until store_read_unpin, one snapshot (one read
 * transaction on one connection): for a request that reads through several store calls, such
 * as a metrics reply with its targets. Not nested; not across a suspension. */
int store_read_pin(struct store *s, struct err *e);
void store_read_unpin(struct store *s);
/* Moves with every committed write; 0 is never returned. */
uint64_t store_data_version(const struct store *s);
/* Whether no commit has begun since the data version was version: then everything read since
 * that version was taken shows exactly that version (an ETag made from it names one body). */
int store_snapshot_exact(const struct store *s, uint64_t version);
/* The schema version applied (PRAGMA user_version). */
int store_schema_version(struct store *s);

/* ---- journeys and touchpoints ------------------------------------------------------------- */

struct phase {
    char *key;
    char *name;
};

struct journey {
    int64_t id;
    char *key;
    char *name;
    int64_t created_at, updated_at;
    size_t nphases;
    struct phase *phases; /* in journey order */
};

void journey_release(struct journey *j);

/* All journeys in key order. *items is new: release each, then free the array. */
int store_journeys_list(struct store *s, struct journey **items, size_t *n, struct err *e);
/* ERR_NOT_FOUND when no such key. */
int store_journey_get(struct store *s, const char *key, struct journey *out, struct err *e);
/* Creates j (key, name, phases); ERR_CONFLICT when the key exists. Fills id and times. */
int store_journey_create(struct store *s, struct journey *j, struct err *e);
/* Updates name (when non-NULL) and phases (when phases non-NULL: the new ordered list; phases
 * keep their identity by key; dropping a phase that has touchpoints is ERR_CONFLICT). */
int store_journey_update(struct store *s, const char *key, const char *name,
                         const struct phase *phases, size_t nphases, struct err *e);
/* Deletes the journey and its touchpoints; ERR_CONFLICT while responses refer to it. */
int store_journey_delete(struct store *s, const char *key, struct err *e);

struct touchpoint {
    int64_t id;
    char *key;
    char *name;
    char *description; /* or NULL */
    char *journey;
    char *phase;
    int64_t created_at, updated_at;
};

void touchpoint_release(struct touchpoint *t);

struct touchpoint_filter {
    const char *journey; /* borrowed, or NULL */
    const char *phase;   /* borrowed, or NULL */
    const char *after;   /* keyset cursor: keys greater than this, or NULL */
    int limit;
};

/* Touchpoints in key order. *items is new. */
int store_touchpoints_list(struct store *s, const struct touchpoint_filter *f,
                           struct touchpoint **items, size_t *n, struct err *e);
int store_touchpoint_get(struct store *s, const char *key, struct touchpoint *out, struct err *e);
/* Creates t (key, name, description, journey, phase). ERR_CONFLICT for a duplicate key;
 * ERR_VALIDATION (pointer /journey or /phase) for an unknown journey or phase. */
int store_touchpoint_create(struct store *s, struct touchpoint *t, struct err *e);
/* Updates the non-NULL fields of t (name, description, journey, phase; set_description with a
 * NULL description clears it). Moving to another journey is ERR_CONFLICT while responses refer
 * to the touchpoint. Fills t with the stored result. */
int store_touchpoint_update(struct store *s, const char *key, struct touchpoint *t,
                            int set_description, struct err *e);
/* ERR_CONFLICT while responses refer to it. */
int store_touchpoint_delete(struct store *s, const char *key, struct err *e);

/* ---- responses ---------------------------------------------------------------------------- */

#define RESPONSE_ABSENT (-1)

struct response {
    int64_t id;
    char *touchpoint;
    int64_t touchpoint_id;           /* filled by the store */
    char *journey;                   /* filled by the store */
    char *phase;                     /* filled by the store */
    int nps, csat, ces, expectation; /* RESPONSE_ABSENT or the value (expectation: enum) */
    int rating[RATING_AREAS];        /* RESPONSE_ABSENT or 1-5 */
    char *comment, *channel, *language, *customer, *segment;
    char *properties;     /* compact JSON object text, or NULL */
    int64_t submitted_at; /* -1 until given: the store then uses the time of receipt */
    int64_t received_at;
};

void response_init(struct response *r);
void response_release(struct response *r);

struct response_filter {
    const char *journey, *phase, *touchpoint, *channel, *segment, *customer; /* borrowed */
    int has_from, has_to;
    int64_t from, to; /* submitted_at in [from, to) */
    int64_t after_id; /* keyset cursor: ids greater than this */
    int limit;
};

/* What a recorded Idempotency-Key was first answered with. */
struct idem_replay {
    int found;
    unsigned char hash[32]; /* the fingerprint of the request that recorded it */
    int status;
    char *body; /* new; the caller frees it */
};

/* An Idempotency-Key to record in the same transaction as the write it guards. render is called
 * inside the transaction with the stored responses and returns the body to replay (new). When
 * the key is recorded already (and not expired), the write fails with ERR_CONFLICT and, if
 * replay is set, the writer fills it from the record it found. */
struct idem {
    const char *principal; /* who sent it: the API key's identity */
    const char *key;
    unsigned char hash[32]; /* fingerprint of the request */
    int status;
    char *(*render)(const struct response *r, size_t n, void *ctx);
    void *ctx;
    struct idem_replay *replay; /* or NULL */
};

/* A write of responses for the group-commit writer. The caller fills the first block and keeps
 * the struct (and everything it points to) alive until done has run. */
struct store_write {
    struct response *responses; /* stored in order, all or nothing; id, journey, phase,
                                   received_at are filled in */
    size_t n;
    int batch;               /* errors point into the batch: /items/<i>/touchpoint */
    const struct idem *idem; /* or NULL */
    /* Called on the writer thread once the transaction holding this write has committed (rc
     * 0) or the write failed (rc -1, err set). Must be quick and must not call the store. */
    void (*done)(struct store_write *w);
    void *ctx;
    /* results */
    int rc;
    struct err err;
    /* the store's */
    struct store_write *next;
};

/* Queues w for the writer; returns at once. An unknown touchpoint fails the write with
 * ERR_VALIDATION (pointer /touchpoint, or /items/N/touchpoint in a batch of more than one);
 * a recorded idempotency key fails it with ERR_CONFLICT (look it up and replay). */
void store_write_submit(struct store *s, struct store_write *w);

/* The same, waiting for the commit: stores r as a write of one. */
int store_response_insert(struct store *s, struct response *r, const struct idem *idem,
                          struct err *e);
int store_response_get(struct store *s, int64_t id, struct response *out, struct err *e);
int store_response_delete(struct store *s, int64_t id, struct err *e);
/* Responses matching f in id order, at most f->limit. *items is new. */
int store_responses_list(struct store *s, const struct response_filter *f, struct response **items,
                         size_t *n, struct err *e);

/* Looks up a recorded Idempotency-Key that has not expired: 1 and *out filled (out->body new)
 * when found, 0 when not, -1 on error. The writer does its own lookups; this one is for
 * inspecting records (tests, tools). */
int store_idem_get(struct store *s, const char *principal, const char *key, struct idem_replay *out,
                   struct err *e);

/* ---- metrics ------------------------------------------------------------------------------ */

/* One unit of counted responses with its dimensions: a rollup bucket, or raw responses of one
 * touchpoint (and channel and segment) within one local day. Its counts may be negative: a
 * part of a day can come as the day's bucket less the rest of the day, so consumers must only
 * sum them (a group whose count comes to 0 has no responses). Borrowed strings, valid during
 * the callback only. */
struct metric_row {
    const char *journey, *phase, *touchpoint, *channel, *segment; /* channel, segment may be NULL */
    int phase_position;
    int64_t time; /* the start of the bucket (local midnight), or a time inside the local day */
    const struct hist *hist;
};

/* What a caller of store_metrics_scan needs of the rows (flags): SCAN_MONTH, the time of each
 * row to the month; SCAN_DAY, to the day (a month bucket must not reach a caller that groups
 * by day or week); SCAN_DETAIL, channel and segment. Without SCAN_DETAIL (and without a
 * channel or segment filter) rows may come from the coarser per-touchpoint rollups, with
 * channel and segment NULL; without SCAN_MONTH or SCAN_DAY, row times are not computed (0). */
#define SCAN_ANY    0u
#define SCAN_MONTH  1u
#define SCAN_DAY    2u
#define SCAN_DETAIL 4u

/* Calls cb for every unit of responses matching f (after_id and limit ignored), from the
 * rollups for whole local days and months inside [from, to) and from raw rows for the partial
 * days at the edges. */
int store_metrics_scan(struct store *s, const struct response_filter *f, unsigned needs,
                       void (*cb)(const struct metric_row *row, void *ctx), void *ctx,
                       struct err *e);

/* Recomputes the rollups from the raw responses (after a time zone change, or to verify them:
 * the result must equal the incrementally maintained rollups). */
int store_rollup_rebuild(struct store *s, struct err *e);
/* Whether the rollups equal a fresh computation from the raw responses: 1 equal, 0 not. */
int store_rollup_check(struct store *s, struct err *e);

/* ---- targets and customer scores ----------------------------------------------------------- */

struct target {
    int64_t id;
    char *metric; /* nps, csat, ces, expectation */
    double value;
    char *journey, *phase, *touchpoint; /* the scope: all NULL for global; phase comes with its
                                           journey */
    int64_t created_at;
};

void target_release(struct target *t);

/* All targets, oldest first. *items is new. */
int store_targets_list(struct store *s, struct target **items, size_t *n, struct err *e);
/* Creates t (metric, value, and at most one scope: touchpoint, or phase (journey optional when
 * the phase key is unique), or journey). ERR_VALIDATION naming /journey, /phase or
 * /touchpoint for unknown keys; ERR_CONFLICT when the metric has a target in that scope. Fills
 * id, the scope's journey (for a phase) and created_at. */
int store_target_create(struct store *s, struct target *t, struct err *e);
int store_target_delete(struct store *s, int64_t id, struct err *e);

/* Calls cb for every response of journey with a customer reference, submitted in [from, to)
 * (bounds as in f), ordered by customer. Scores are RESPONSE_ABSENT when missing. */
int store_customer_scores(struct store *s, const char *journey, const struct response_filter *f,
                          void (*cb)(const char *customer, const char *touchpoint, int nps,
                                     int csat, int ces, void *ctx),
                          void *ctx, struct err *e);

/* ---- API keys ----------------------------------------------------------------------------- */

struct api_key {
    int64_t id;
    char *prefix; /* the public part of the key */
    char *scope;
    char *name;
    char *origins; /* JSON array text, or NULL */
    unsigned char hash[32];
    int64_t created_at;
};

void api_key_release(struct api_key *k);

int store_key_insert(struct store *s, struct api_key *k, struct err *e);
/* ERR_NOT_FOUND when no key has that prefix. */
int store_key_find(struct store *s, const char *prefix, struct api_key *out, struct err *e);
int store_keys_list(struct store *s, struct api_key **items, size_t *n, struct err *e);
int store_key_delete(struct store *s, int64_t id, struct err *e);
/* Number of stored keys. */
int store_key_count(struct store *s, int64_t *n, struct err *e);

#endif
