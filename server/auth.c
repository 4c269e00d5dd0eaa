/*
 * API key authentication. A key is found by its public prefix, then its SHA-256 is compared
 * in constant time, so neither the lookup nor the comparison leaks the secret.
 */
#include "auth.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util.h"

unsigned auth_scope_perms(const char *scope)
{
    if (!scope)
        return 0;
    if (strcmp(scope, "submit") == 0)
        return PERM_SUBMIT;
    if (strcmp(scope, "read") == 0)
        return PERM_READ;
    if (strcmp(scope, "write") == 0)
        return PERM_READ | PERM_SUBMIT | PERM_WRITE;
    if (strcmp(scope, "admin") == 0)
        return PERM_READ | PERM_SUBMIT | PERM_WRITE | PERM_ADMIN;
    return 0;
}

void auth_key_generate(char *key, char *prefix, unsigned char hash[SHA256_LEN])
{
    unsigned char pre[AUTH_PREFIX_LEN / 2], secret[32];
    char secret_text[48];

    util_random(pre, sizeof(pre));
    util_random(secret, sizeof(secret));
    util_hex(pre, sizeof(pre), prefix);
    util_b64url_encode(secret, sizeof(secret), secret_text);
    snprintf(key, AUTH_KEY_LEN + 1, "plk_%s_%s", prefix, secret_text);
    sha256(key, strlen(key), hash);
}

/* Whether origin is one of the JSON array of origins (NULL or empty list: any origin). */
static int auth_origin_allowed(const char *origins, const char *origin)
{
    json_t *list, *v;
    size_t i;
    int ok = 0;

    if (!origins || !origin)
        return 1;
    list = json_loads(origins, 0, NULL);
    if (!json_is_array(list) || json_array_size(list) == 0) {
        json_decref(list);
        return 1;
    }
    json_array_foreach (list, i, v) {
        if (json_is_string(v) && strcasecmp(json_string_value(v), origin) == 0)
            ok = 1;
    }
    json_decref(list);
    return ok;
}

void auth_init(struct auth *a, struct store *s, const char *admin_key)
{
    memset(a, 0, sizeof(*a));
    a->store = s;
    pthread_mutex_init(&a->lock, NULL);
    if (admin_key) {
        a->has_admin = 1;
        sha256(admin_key, strlen(admin_key), a->admin_hash);
    }
}

static void auth_flush(struct auth *a)
{
    for (size_t i = 0; i < a->ncache; i++)
        free(a->cache[i].origins);
    a->ncache = 0;
    a->next_evict = 0;
}

void auth_release(struct auth *a)
{
    if (!a)
        return;
    auth_flush(a);
    pthread_mutex_destroy(&a->lock);
}

/* Finds prefix in the cache, or in the store (then caches it). 0 found, -1 with e. */
static int auth_lookup(struct auth *a, const char *prefix, struct auth_entry *out, struct err *e)
{
    uint64_t v = store_keys_version(a->store);
    struct api_key k;
    int ret = -1;

    pthread_mutex_lock(&a->lock);
    if (a->version != v) {
        auth_flush(a);
        a->version = v;
    }
    for (size_t i = 0; i < a->ncache; i++) {
        if (strcmp(a->cache[i].prefix, prefix) == 0) {
            *out = a->cache[i];
            out->origins = a->cache[i].origins ? xstrdup(a->cache[i].origins) : NULL;
            pthread_mutex_unlock(&a->lock);
            return 0;
        }
    }
    pthread_mutex_unlock(&a->lock);

    memset(&k, 0, sizeof(k));
    if (store_key_find(a->store, prefix, &k, e) < 0)
        goto done;
    memset(out, 0, sizeof(*out));
    snprintf(out->prefix, sizeof(out->prefix), "%s", prefix);
    memcpy(out->hash, k.hash, SHA256_LEN);
    out->perms = auth_scope_perms(k.scope);
    out->id = k.id;
    out->origins = k.origins ? xstrdup(k.origins) : NULL;
    pthread_mutex_lock(&a->lock);
    /* Cache only what was read under the version the cache holds: a key deleted meanwhile
     * must not come back. */
    if (a->version == v && store_keys_version(a->store) == v) {
        size_t slot;

        if (a->ncache < AUTH_CACHE_SIZE) {
            slot = a->ncache++;
        } else {
            slot = a->next_evict++ % AUTH_CACHE_SIZE;
            free(a->cache[slot].origins);
        }
        a->cache[slot] = *out;
        a->cache[slot].origins = out->origins ? xstrdup(out->origins) : NULL;
    }
    pthread_mutex_unlock(&a->lock);
    ret = 0;
done:
    api_key_release(&k);
    return ret;
}

int auth_check(struct auth *a, const char *authorization, const char *origin, char *principal,
               size_t plen, unsigned *perms, struct err *e)
{
    unsigned char hash[SHA256_LEN];
    char prefix[AUTH_PREFIX_LEN + 1];
    struct auth_entry k;
    struct err lookup;
    const char *token;
    int ret = -1;

    if (!authorization || !*authorization)
        return err_set(e, ERR_UNAUTHORIZED, "send an API key as Authorization: Bearer <key>");
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return err_set(e, ERR_UNAUTHORIZED, "Authorization must use the Bearer scheme");
    token = authorization + 7;
    while (*token == ' ')
        token++;
    if (strlen(token) > 256)
        return err_set(e, ERR_UNAUTHORIZED, "the API key is not valid");
    sha256(token, strlen(token), hash);
    if (a->has_admin && util_ct_equal(hash, a->admin_hash, SHA256_LEN)) {
        snprintf(principal, plen, "admin-env");
        *perms = auth_scope_perms("admin");
        return 0;
    }
    if (strlen(token) != AUTH_KEY_LEN || strncmp(token, "plk_", 4) != 0 ||
        token[4 + AUTH_PREFIX_LEN] != '_')
        return err_set(e, ERR_UNAUTHORIZED, "the API key is not valid");
    memcpy(prefix, token + 4, AUTH_PREFIX_LEN);
    prefix[AUTH_PREFIX_LEN] = '\0';
    err_init(&lookup);
    memset(&k, 0, sizeof(k));
    if (auth_lookup(a, prefix, &k, &lookup) < 0) {
        if (lookup.code == ERR_NOT_FOUND)
            err_set(e, ERR_UNAUTHORIZED, "the API key is not valid");
        else
            err_set(e, lookup.code, "%s", lookup.detail);
        goto done;
    }
    if (!util_ct_equal(hash, k.hash, SHA256_LEN)) {
        err_set(e, ERR_UNAUTHORIZED, "the API key is not valid");
        goto done;
    }
    if (!auth_origin_allowed(k.origins, origin)) {
        err_set(e, ERR_FORBIDDEN, "origin %.100s may not use this key", origin);
        goto done;
    }
    snprintf(principal, plen, "key-%lld", (long long)k.id);
    *perms = k.perms;
    ret = 0;
done:
    err_release(&lookup);
    free(k.origins);
    return ret;
}
