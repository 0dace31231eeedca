/* SHA-256 (FIPS 180-4) and SM3 (GB/T 32905) for the state-tree kernel; see _smt_hash.h.
 * Written from the standards; checked against hashlib and cryptography by the tests. */
#include "_smt_hash.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define SMT_HAVE_X86 1
#endif

#define ROL(x, n) (((x) << (n)) | ((x) >> ((32 - (n)) & 31)))
#define ROR(x, n) (((x) >> (n)) | ((x) << ((32 - (n)) & 31)))

static const uint32_t SHA256_K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
static const uint32_t SHA256_IV[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
static const uint32_t SM3_IV[8] = {
    0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e};

static uint32_t load_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void store_be32(uint8_t *p, uint32_t x) {
    p[0] = (uint8_t)(x >> 24);
    p[1] = (uint8_t)(x >> 16);
    p[2] = (uint8_t)(x >> 8);
    p[3] = (uint8_t)x;
}

static void sha256_blocks_portable(uint32_t s[8], const uint8_t *p, size_t blocks) {
    uint32_t w[64];
    while (blocks--) {
        for (int i = 0; i < 16; i++) w[i] = load_be32(p + 4 * i);
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
            uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
        for (int i = 0; i < 64; i++) {
            uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) +
                          SHA256_K[i] + w[i];
            uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g; g = f; f = e; e = d + t1;
            d = c; c = b; b = a; a = t1 + t2;
        }
        s[0] += a; s[1] += b; s[2] += c; s[3] += d;
        s[4] += e; s[5] += f; s[6] += g; s[7] += h;
        p += SMT_BLOCK_LEN;
    }
}

#ifdef SMT_HAVE_X86
/* SHA-256 on the SHA extensions: the state as two registers (A,B,E,F) and (C,D,G,H), each
 * SHA256RNDS2 doing two rounds; the schedule four words at a time from the last sixteen. */
__attribute__((target("sha,sse4.1,ssse3")))
static void sha256_blocks_ni(uint32_t s[8], const uint8_t *p, size_t blocks) {
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&s[0]), 0xB1);
    __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&s[4]), 0x1B);
    __m128i abef = _mm_alignr_epi8(t, efgh, 8);
    __m128i cdgh = _mm_blend_epi16(efgh, t, 0xF0);
    while (blocks--) {
        __m128i abef_start = abef, cdgh_start = cdgh, m[4];
        for (int r = 0; r < 16; r++) {
            __m128i w;
            if (r < 4) {
                w = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * r)), swap);
            } else {
                __m128i x = _mm_sha256msg1_epu32(m[r % 4], m[(r + 1) % 4]);
                x = _mm_add_epi32(x, _mm_alignr_epi8(m[(r + 3) % 4], m[(r + 2) % 4], 4));
                w = _mm_sha256msg2_epu32(x, m[(r + 3) % 4]);
            }
            m[r % 4] = w;
            __m128i k = _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)&SHA256_K[4 * r]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, k);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(k, 0x0E));
        }
        abef = _mm_add_epi32(abef, abef_start);
        cdgh = _mm_add_epi32(cdgh, cdgh_start);
        p += SMT_BLOCK_LEN;
    }
    t = _mm_shuffle_epi32(abef, 0x1B);
    cdgh = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)&s[0], _mm_blend_epi16(t, cdgh, 0xF0));
    _mm_storeu_si128((__m128i *)&s[4], _mm_alignr_epi8(cdgh, t, 8));
}
#endif

/* T_j rotated left by j mod 32, for rounds 0..63 (GB/T 32905 §5.3.3). */
static const uint32_t SM3_TJ[64] = {
    0x79cc4519u, 0xf3988a32u, 0xe7311465u, 0xce6228cbu,
    0x9cc45197u, 0x3988a32fu, 0x7311465eu, 0xe6228cbcu,
    0xcc451979u, 0x988a32f3u, 0x311465e7u, 0x6228cbceu,
    0xc451979cu, 0x88a32f39u, 0x11465e73u, 0x228cbce6u,
    0x9d8a7a87u, 0x3b14f50fu, 0x7629ea1eu, 0xec53d43cu,
    0xd8a7a879u, 0xb14f50f3u, 0x629ea1e7u, 0xc53d43ceu,
    0x8a7a879du, 0x14f50f3bu, 0x29ea1e76u, 0x53d43cecu,
    0xa7a879d8u, 0x4f50f3b1u, 0x9ea1e762u, 0x3d43cec5u,
    0x7a879d8au, 0xf50f3b14u, 0xea1e7629u, 0xd43cec53u,
    0xa879d8a7u, 0x50f3b14fu, 0xa1e7629eu, 0x43cec53du,
    0x879d8a7au, 0x0f3b14f5u, 0x1e7629eau, 0x3cec53d4u,
    0x79d8a7a8u, 0xf3b14f50u, 0xe7629ea1u, 0xcec53d43u,
    0x9d8a7a87u, 0x3b14f50fu, 0x7629ea1eu, 0xec53d43cu,
    0xd8a7a879u, 0xb14f50f3u, 0x629ea1e7u, 0xc53d43ceu,
    0x8a7a879du, 0x14f50f3bu, 0x29ea1e76u, 0x53d43cecu,
    0xa7a879d8u, 0x4f50f3b1u, 0x9ea1e762u, 0x3d43cec5u,
};

/* One SM3 round on the registers named (A..H), in place: rather than moving every register
 * each round, the round writes the new A into D, the new E into H, and rotates B and F;
 * the next round is called with the names shifted (D A B C H E F G). FF and GG are the
 * boolean functions of rounds 0..15 or 16..63. */
#define SM3_FF0(x, y, z) ((x) ^ (y) ^ (z))
#define SM3_GG0(x, y, z) ((x) ^ (y) ^ (z))
#define SM3_FF1(x, y, z) (((x) & (y)) | ((x) & (z)) | ((y) & (z)))
#define SM3_GG1(x, y, z) ((((y) ^ (z)) & (x)) ^ (z))
#define SM3_ROUND(FF, GG, A, B, C, D, E, F, G, H, j)                               \
    do {                                                                          \
        uint32_t a12 = ROL(A, 12);                                                \
        uint32_t ss1 = ROL(a12 + E + SM3_TJ[j], 7);                               \
        uint32_t tt1 = FF(A, B, C) + D + (ss1 ^ a12) + (w[j] ^ w[(j) + 4]);        \
        uint32_t tt2 = GG(E, F, G) + H + ss1 + w[j];                              \
        B = ROL(B, 9);                                                            \
        F = ROL(F, 19);                                                           \
        D = tt1;                                                                  \
        H = tt2 ^ ROL(tt2, 9) ^ ROL(tt2, 17);                                     \
    } while (0)
#define SM3_FOUR(FF, GG, j)                                                       \
    do {                                                                          \
        SM3_ROUND(FF, GG, a, b, c, d, e, f, g, h, (j));                           \
        SM3_ROUND(FF, GG, d, a, b, c, h, e, f, g, (j) + 1);                       \
        SM3_ROUND(FF, GG, c, d, a, b, g, h, e, f, (j) + 2);                       \
        SM3_ROUND(FF, GG, b, c, d, a, f, g, h, e, (j) + 3);                       \
    } while (0)

static void sm3_blocks(uint32_t v[8], const uint8_t *p, size_t blocks) {
    uint32_t w[68];
    while (blocks--) {
        for (int j = 0; j < 16; j++) w[j] = load_be32(p + 4 * j);
        /* Unrolled, the expansion's array indices are constants the compiler keeps in
         * registers; as a loop it cost two thirds of a block's time. */
#pragma GCC unroll 52
        for (int j = 16; j < 68; j++) {
            uint32_t x = w[j - 16] ^ w[j - 9] ^ ROL(w[j - 3], 15);
            w[j] = (x ^ ROL(x, 15) ^ ROL(x, 23)) ^ ROL(w[j - 13], 7) ^ w[j - 6];
        }
        uint32_t a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], h = v[7];
        /* After four rounds every name is back in its place. */
        for (int j = 0; j < 16; j += 4) SM3_FOUR(SM3_FF0, SM3_GG0, j);
        for (int j = 16; j < 64; j += 4) SM3_FOUR(SM3_FF1, SM3_GG1, j);
        v[0] ^= a; v[1] ^= b; v[2] ^= c; v[3] ^= d;
        v[4] ^= e; v[5] ^= f; v[6] ^= g; v[7] ^= h;
        p += SMT_BLOCK_LEN;
    }
}

typedef void (*blocks_fn)(uint32_t *, const uint8_t *, size_t);
static blocks_fn sha256_blocks = sha256_blocks_portable;

void smt_hash_setup(void) {
#ifdef SMT_HAVE_X86
    unsigned int a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_1) && (c & bit_SSSE3) &&
        __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29))) {
        sha256_blocks = sha256_blocks_ni;
    }
#endif
}

int smt_hash_sha_ni(void) { return sha256_blocks != sha256_blocks_portable; }

static blocks_fn blocks_of(int algorithm) {
    return algorithm == SMT_SM3 ? sm3_blocks : sha256_blocks;
}

void smt_hash_init(smt_hash_ctx *ctx, int algorithm) {
    memcpy(ctx->state, algorithm == SMT_SM3 ? SM3_IV : SHA256_IV, sizeof ctx->state);
    ctx->used = 0;
    ctx->total = 0;
    ctx->algorithm = algorithm;
}

void smt_hash_update(smt_hash_ctx *ctx, const uint8_t *data, size_t len) {
    blocks_fn blocks = blocks_of(ctx->algorithm);
    ctx->total += len;
    if (ctx->used) {
        size_t take = SMT_BLOCK_LEN - ctx->used;
        if (take > len) take = len;
        memcpy(ctx->block + ctx->used, data, take);
        ctx->used += take;
        data += take;
        len -= take;
        if (ctx->used < SMT_BLOCK_LEN) return;
        blocks(ctx->state, ctx->block, 1);
        ctx->used = 0;
    }
    if (len >= SMT_BLOCK_LEN) {
        blocks(ctx->state, data, len / SMT_BLOCK_LEN);
        data += len - len % SMT_BLOCK_LEN;
        len %= SMT_BLOCK_LEN;
    }
    memcpy(ctx->block, data, len);
    ctx->used = len;
}

void smt_hash_final(smt_hash_ctx *ctx, uint8_t out[SMT_DIGEST_LEN]) {
    blocks_fn blocks = blocks_of(ctx->algorithm);
    uint64_t bits = ctx->total * 8;
    ctx->block[ctx->used++] = 0x80;
    if (ctx->used > SMT_BLOCK_LEN - 8) {
        memset(ctx->block + ctx->used, 0, SMT_BLOCK_LEN - ctx->used);
        blocks(ctx->state, ctx->block, 1);
        ctx->used = 0;
    }
    memset(ctx->block + ctx->used, 0, SMT_BLOCK_LEN - 8 - ctx->used);
    store_be32(ctx->block + SMT_BLOCK_LEN - 8, (uint32_t)(bits >> 32));
    store_be32(ctx->block + SMT_BLOCK_LEN - 4, (uint32_t)bits);
    blocks(ctx->state, ctx->block, 1);
    for (int i = 0; i < 8; i++) store_be32(out + 4 * i, ctx->state[i]);
}

void smt_hash(int algorithm, const uint8_t *data, size_t len, uint8_t out[SMT_DIGEST_LEN]) {
    smt_hash_ctx ctx;
    smt_hash_init(&ctx, algorithm);
    smt_hash_update(&ctx, data, len);
    smt_hash_final(&ctx, out);
}
