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

static void sm3_blocks(uint32_t v[8], const uint8_t *p, size_t blocks) {
    uint32_t w[68], w1[64];
    while (blocks--) {
        for (int j = 0; j < 16; j++) w[j] = load_be32(p + 4 * j);
        for (int j = 16; j < 68; j++) {
            uint32_t x = w[j - 16] ^ w[j - 9] ^ ROL(w[j - 3], 15);
            w[j] = (x ^ ROL(x, 15) ^ ROL(x, 23)) ^ ROL(w[j - 13], 7) ^ w[j - 6];
        }
        for (int j = 0; j < 64; j++) w1[j] = w[j] ^ w[j + 4];
        uint32_t a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], h = v[7];
        for (int j = 0; j < 64; j++) {
            uint32_t tj = j < 16 ? 0x79cc4519u : 0x7a879d8au;
            uint32_t a12 = ROL(a, 12);
            uint32_t ss1 = ROL(a12 + e + ROL(tj, j % 32), 7);
            uint32_t ss2 = ss1 ^ a12;
            uint32_t ff = j < 16 ? (a ^ b ^ c) : ((a & b) | (a & c) | (b & c));
            uint32_t gg = j < 16 ? (e ^ f ^ g) : ((e & f) | (~e & g));
            uint32_t tt1 = ff + d + ss2 + w1[j];
            uint32_t tt2 = gg + h + ss1 + w[j];
            d = c; c = ROL(b, 9); b = a; a = tt1;
            h = g; g = ROL(f, 19); f = e; e = tt2 ^ ROL(tt2, 9) ^ ROL(tt2, 17);
        }
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
