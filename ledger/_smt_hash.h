/* The two hash functions of the crypto suites (PROTOCOL §2) for the state-tree kernel:
 * SHA-256 (FIPS 180-4) and SM3 (GB/T 32905), written here so that the extension needs no
 * OpenSSL headers. Both take 64-byte blocks and pad alike (0x80, zeros, 64-bit big-endian
 * bit length); only the initial value and the compression function differ. */
#ifndef CREDCHAIN_SMT_HASH_H
#define CREDCHAIN_SMT_HASH_H

#include <stddef.h>
#include <stdint.h>

#define SMT_DIGEST_LEN 32
#define SMT_BLOCK_LEN 64

enum smt_algorithm { SMT_SHA256 = 0, SMT_SM3 = 1 };

typedef struct {
    uint32_t state[8];
    uint8_t block[SMT_BLOCK_LEN];
    size_t used;          /* bytes waiting in block */
    uint64_t total;       /* bytes hashed so far */
    int algorithm;
} smt_hash_ctx;

/* Selects the SHA-NI compression when the CPU has it; call once before hashing. */
void smt_hash_setup(void);
/* 1 when SHA-256 runs on the CPU's SHA extensions. */
int smt_hash_sha_ni(void);

void smt_hash_init(smt_hash_ctx *ctx, int algorithm);
void smt_hash_update(smt_hash_ctx *ctx, const uint8_t *data, size_t len);
void smt_hash_final(smt_hash_ctx *ctx, uint8_t out[SMT_DIGEST_LEN]);
/* H(data) in one call. */
void smt_hash(int algorithm, const uint8_t *data, size_t len, uint8_t out[SMT_DIGEST_LEN]);

#endif
