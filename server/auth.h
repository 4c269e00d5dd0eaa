/*
 * API keys: scopes and their permissions, key generation, and authenticating a request's
 * "Authorization: Bearer <key>". Keys are stored as SHA-256 and compared in constant time.
 *
 * Scopes: submit (POST responses only; may be bound to browser origins), read (every read but
 * keys), write (read + submit + journeys and touchpoints), admin (everything).
 */
#ifndef POLKU_AUTH_H
#define POLKU_AUTH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sha256.h"
#include "store.h"

enum perm {
    PERM_NONE = 0,
    PERM_SUBMIT = 1 << 0,
    PERM_READ = 1 << 1,
    PERM_WRITE = 1 << 2,
    PERM_ADMIN = 1 << 3,
};

/* The permissions of a scope name, or 0 for an unknown scope. */
unsigned auth_scope_perms(const char *scope);

/* Key text: "plk_" + 12 hex prefix + "_" + 43 base64url secret characters. */
#define AUTH_KEY_LEN    60
#define AUTH_PREFIX_LEN 12

/* Makes a fresh key: key (AUTH_KEY_LEN + 1 bytes), its public prefix (AUTH_PREFIX_LEN + 1) and
 * its hash. */
void auth_key_generate(char *key, char *prefix, unsigned char hash[SHA256_LEN]);

#define AUTH_CACHE_SIZE 64

/* A stored key as remembered by the cache. */
struct auth_entry {
    char prefix[AUTH_PREFIX_LEN + 1];
    unsigned char hash[SHA256_LEN];
    unsigned perms;
    int64_t id;
    char *origins; /* new, JSON array text or NULL */
};

/* Authentication state. Keys found in the store are cached (so that a 304 for a poller needs
 * no SQLite at all); the cache empties whenever the stored keys change. */
struct auth {
    struct store *store; /* borrowed */
    int has_admin;       /* POLKU_ADMIN_KEY given */
    unsigned char admin_hash[SHA256_LEN];
    pthread_mutex_t lock;
    uint64_t version; /* store_keys_version the cache holds */
    struct auth_entry cache[AUTH_CACHE_SIZE];
    size_t ncache, next_evict;
};

/* admin_key may be NULL. */
void auth_init(struct auth *a, struct store *s, const char *admin_key);
void auth_release(struct auth *a);

/* Authenticates an Authorization header value (may be NULL) from a request with Origin origin
 * (may be NULL). On success fills principal (an identity for idempotency and logs) and perms.
 * ERR_UNAUTHORIZED for a missing or unknown key, ERR_FORBIDDEN for an origin the key is not
 * bound to. */
int auth_check(struct auth *a, const char *authorization, const char *origin, char *principal,
               size_t plen, unsigned *perms, struct err *e);

#endif
