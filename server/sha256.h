/*
 * SHA-256 (FIPS 180-4), for hashing API keys and request fingerprints.
 */
#ifndef POLKU_SHA256_H
#define POLKU_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

struct sha256 {
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t used;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t n);
void sha256_final(struct sha256 *s, unsigned char out[SHA256_LEN]);
/* One-shot digest of n bytes. */
void sha256(const void *data, size_t n, unsigned char out[SHA256_LEN]);

#endif
