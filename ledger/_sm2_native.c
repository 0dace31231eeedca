/* SM2 signature verification (GB/T 32918.2) on the recommended curve (GB/T 32918.5), in C.
 *
 * Why: on the sm2-sm3 suite a validator spent over half its CPU in Tongsuo's SM2 verify,
 * which runs OpenSSL's generic prime-field code (~210 us a verification here). This file
 * does the one thing the chain needs on its hot path, verification, with arithmetic made
 * for this curve: field elements of four 64-bit limbs in Montgomery form, Jacobian points
 * (the curve's a is -3), and [s]G + [t]P as one interleaved wNAF double-scalar
 * multiplication with a fixed table of G's odd multiples. Signing, key generation and
 * public-key checks stay on Tongsuo, which is also the reference this file is tested
 * against (tests/test_sm2_native.py) and the fallback when the extension is missing.
 *
 * Verification of (r, s) over message M by public key P = (xA, yA), with the default user
 * ID "1234567812345678" (PROTOCOL §2):
 *   1 <= r, s <= n-1 and P on the curve, else invalid;
 *   Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA), e = SM3(Z || M);
 *   t = (r + s) mod n, invalid if 0;
 *   (x1, y1) = [s]G + [t]P, invalid if the point at infinity;
 *   valid iff (e + x1) mod n == r.
 * The last step is checked without an inversion: x1 = X/Z^2 must be congruent to r - e
 * modulo n, and since x1 < p < 2n it is c = (r - e) mod n or c + n (if below p), so the
 * check is X == c * Z^2 for those candidates.
 *
 * Only public data is involved (keys, messages, signatures): nothing here needs constant
 * time. The field's additions and reductions still select without branching, for speed:
 * their outcomes are random, and mispredicted branches cost a quarter of a verification.
 * The GIL is released while a verification computes. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_smt_hash.h"

typedef uint64_t u64;
typedef unsigned __int128 u128;

/* Numbers are four 64-bit limbs, least significant first. */
typedef struct { u64 v[4]; } num;
/* A point in Jacobian coordinates (x = X/Z^2, y = Y/Z^3), Montgomery form; Z = 0 is the
 * point at infinity. */
typedef struct { num x, y, z; } jac;
/* An affine point in Montgomery form (the table of G). */
typedef struct { num x, y; } aff;

static const char *HEX_B = "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93";
static const char *HEX_N = "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123";
static const char *HEX_GX = "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7";
static const char *HEX_GY = "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0";

#define G_WINDOW 7                          /* wNAF width for G: 32 odd multiples */
#define G_TABLE (1 << (G_WINDOW - 2))
#define P_WINDOW 5                          /* wNAF width for the public key: 8 */
#define P_TABLE (1 << (P_WINDOW - 2))
#define NAF_MAX 260                         /* a 256-bit scalar has at most 257 digits */

/* p = 2^256 - 2^224 - 2^96 + 2^64 - 1, as constants so that the compiler can fold the
 * reduction's products. p = -1 mod 2^64, so -p^-1 mod 2^64 is 1: each Montgomery step's
 * multiplier is the low limb itself. */
#define P0 0xFFFFFFFFFFFFFFFFull
#define P1 0xFFFFFFFF00000000ull
#define P2 0xFFFFFFFFFFFFFFFFull
#define P3 0xFFFFFFFEFFFFFFFFull
static const num P = {{P0, P1, P2, P3}};
static num N, ONE_M, R2, B_M;               /* n; 1, R^2 mod p and b in Montgomery form */
static uint8_t Z_PREFIX[2 + 16 + 4 * 32];   /* ENTL, ID, a, b, xG, yG: the start of Z's input */
static aff G_ODD[G_TABLE];                  /* G, 3G, 5G, ..., (2*G_TABLE - 1)G */

/* ---- numbers ---- */

static void num_from_be(num *r, const uint8_t b[32]) {
    for (int i = 0; i < 4; i++) {
        u64 w = 0;
        for (int j = 0; j < 8; j++) w = (w << 8) | b[(3 - i) * 8 + j];
        r->v[i] = w;
    }
}

static void num_to_be(uint8_t b[32], const num *a) {
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 8; j++) b[(3 - i) * 8 + j] = (uint8_t)(a->v[i] >> (56 - 8 * j));
    }
}

static int hex_digit(char c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static void num_from_hex(num *r, const char *hex) {
    uint8_t b[32];
    for (int i = 0; i < 32; i++) {
        b[i] = (uint8_t)(hex_digit(hex[2 * i]) << 4 | hex_digit(hex[2 * i + 1]));
    }
    num_from_be(r, b);
}

static int num_is_zero(const num *a) {
    return (a->v[0] | a->v[1] | a->v[2] | a->v[3]) == 0;
}

static int num_eq(const num *a, const num *b) {
    return ((a->v[0] ^ b->v[0]) | (a->v[1] ^ b->v[1]) | (a->v[2] ^ b->v[2])
            | (a->v[3] ^ b->v[3])) == 0;
}

/* r = a - b over 256 bits; returns the borrow (1 when a < b). */
static u64 num_sub(num *r, const num *a, const num *b) {
    u64 borrow = 0;
    for (int i = 0; i < 4; i++) {
        u128 d = (u128)a->v[i] - b->v[i] - borrow;
        r->v[i] = (u64)d;
        borrow = (u64)(d >> 127);
    }
    return borrow;
}

/* r = a + b over 256 bits; returns the carry. */
static u64 num_add(num *r, const num *a, const num *b) {
    u64 carry = 0;
    for (int i = 0; i < 4; i++) {
        u128 s = (u128)a->v[i] + b->v[i] + carry;
        r->v[i] = (u64)s;
        carry = (u64)(s >> 64);
    }
    return carry;
}

static int num_lt(const num *a, const num *b) {
    num scratch;
    return (int)num_sub(&scratch, a, b);
}

/* (a + b) mod m for a, b < m. */
static void mod_add(num *r, const num *a, const num *b, const num *m) {
    num s, d;
    u64 carry = num_add(&s, a, b);
    u64 borrow = num_sub(&d, &s, m);
    *r = (carry || !borrow) ? d : s;
}

/* (a - b) mod m for a, b < m. */
static void mod_sub(num *r, const num *a, const num *b, const num *m) {
    num d, s;
    if (num_sub(&d, a, b)) {
        num_add(&s, &d, m);
        *r = s;
    } else {
        *r = d;
    }
}

/* ---- the field, in Montgomery form (R = 2^256) ---- */

/* One step of the product (t += a * b_i) and of the reduction (t = (t + m p) / 2^64). */
#define MUL_ROW(bi)                                                            \
    do {                                                                       \
        u128 c_ = (u128)a->v[0] * (bi) + t0;                                   \
        t0 = (u64)c_;                                                          \
        c_ = (c_ >> 64) + (u128)a->v[1] * (bi) + t1;                           \
        t1 = (u64)c_;                                                          \
        c_ = (c_ >> 64) + (u128)a->v[2] * (bi) + t2;                           \
        t2 = (u64)c_;                                                          \
        c_ = (c_ >> 64) + (u128)a->v[3] * (bi) + t3;                           \
        t3 = (u64)c_;                                                          \
        c_ = (c_ >> 64) + t4;                                                  \
        t4 = (u64)c_;                                                          \
        t5 = (u64)(c_ >> 64);                                                  \
        u64 m_ = t0;                                                           \
        c_ = ((u128)m_ * P0 + t0) >> 64;                                       \
        c_ += (u128)m_ * P1 + t1;                                              \
        t0 = (u64)c_;                                                          \
        c_ = (c_ >> 64) + (u128)m_ * P2 + t2;                                  \
        t1 = (u64)c_;                                                          \
        c_ = (c_ >> 64) + (u128)m_ * P3 + t3;                                  \
        t2 = (u64)c_;                                                          \
        c_ = (c_ >> 64) + t4;                                                  \
        t3 = (u64)c_;                                                          \
        t4 = t5 + (u64)(c_ >> 64);                                             \
    } while (0)

/* r = t mod p for t = carry * 2^256 + (t0, t1, t2, t3) < 2p: subtract p once if t >= p,
 * selecting by a mask (the outcome is random, a branch would be mispredicted). Always
 * inlined: as a call it cost fe_mul and fe_add ~2 % of a verification. */
static inline __attribute__((always_inline)) void reduce_once(num *r, u64 t0, u64 t1,
                                                              u64 t2, u64 t3, u64 carry) {
    u128 d = (u128)t0 - P0;
    u64 d0 = (u64)d;
    d = (u128)t1 - P1 - (u64)(d >> 127);
    u64 d1 = (u64)d;
    d = (u128)t2 - P2 - (u64)(d >> 127);
    u64 d2 = (u64)d;
    d = (u128)t3 - P3 - (u64)(d >> 127);
    u64 d3 = (u64)d, borrow = (u64)(d >> 127);
    u64 keep = (u64)0 - (u64)((carry == 0) & borrow);  /* all ones: t < p, keep t */
    r->v[0] = (t0 & keep) | (d0 & ~keep);
    r->v[1] = (t1 & keep) | (d1 & ~keep);
    r->v[2] = (t2 & keep) | (d2 & ~keep);
    r->v[3] = (t3 & keep) | (d3 & ~keep);
}

/* r = a * b / R mod p (CIOS, unrolled), for a, b < p. */
static void fe_mul(num *r, const num *a, const num *b) {
    u64 t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0, t5;
    u64 b0 = b->v[0], b1 = b->v[1], b2 = b->v[2], b3 = b->v[3];
    MUL_ROW(b0);
    MUL_ROW(b1);
    MUL_ROW(b2);
    MUL_ROW(b3);
    reduce_once(r, t0, t1, t2, t3, t4);          /* t < 2p */
}

static void fe_sqr(num *r, const num *a) { fe_mul(r, a, a); }

/* (a + b) mod p, a carry chain and one conditional subtraction: the doubling and addition
 * formulas do about as many of these as multiplications. */
static void fe_add(num *r, const num *a, const num *b) {
    u128 c = (u128)a->v[0] + b->v[0];
    u64 s0 = (u64)c;
    c = (c >> 64) + a->v[1] + b->v[1];
    u64 s1 = (u64)c;
    c = (c >> 64) + a->v[2] + b->v[2];
    u64 s2 = (u64)c;
    c = (c >> 64) + a->v[3] + b->v[3];
    reduce_once(r, s0, s1, s2, (u64)c, (u64)(c >> 64));
}

/* (a - b) mod p. */
static void fe_sub(num *r, const num *a, const num *b) {
    u128 d = (u128)a->v[0] - b->v[0];
    u64 d0 = (u64)d;
    d = (u128)a->v[1] - b->v[1] - (u64)(d >> 127);
    u64 d1 = (u64)d;
    d = (u128)a->v[2] - b->v[2] - (u64)(d >> 127);
    u64 d2 = (u64)d;
    d = (u128)a->v[3] - b->v[3] - (u64)(d >> 127);
    u64 d3 = (u64)d;
    u64 back = (u64)0 - (u64)(d >> 127);         /* a < b: add p back (masked, no branch) */
    u128 c = (u128)d0 + (P0 & back);
    r->v[0] = (u64)c;
    c = (c >> 64) + d1 + (P1 & back);
    r->v[1] = (u64)c;
    c = (c >> 64) + d2 + (P2 & back);
    r->v[2] = (u64)c;
    r->v[3] = d3 + (P3 & back) + (u64)(c >> 64);
}

static void fe_neg(num *r, const num *a) {
    if (num_is_zero(a)) {
        *r = *a;
    } else {
        num_sub(r, &P, a);
    }
}

static void fe_to_mont(num *r, const num *a) { fe_mul(r, a, &R2); }

static void fe_from_mont(num *r, const num *a) {
    num one = {{1, 0, 0, 0}};
    fe_mul(r, a, &one);
}

/* a^(p-2): the inverse of a != 0 (only used to build G's table, once). */
static void fe_inv(num *r, const num *a) {
    num e, two = {{2, 0, 0, 0}}, acc = ONE_M;
    num_sub(&e, &P, &two);
    for (int i = 255; i >= 0; i--) {
        fe_sqr(&acc, &acc);
        if ((e.v[i / 64] >> (i % 64)) & 1) fe_mul(&acc, &acc, a);
    }
    *r = acc;
}

/* ---- points ---- */

/* The affine coordinates (Montgomery form) of a, not the point at infinity: one inversion,
 * so only for G's table and the tests' mul_base. */
static void jac_to_affine(aff *r, const jac *a) {
    num zi, zi2, zi3;
    fe_inv(&zi, &a->z);
    fe_sqr(&zi2, &zi);
    fe_mul(&zi3, &zi2, &zi);
    fe_mul(&r->x, &a->x, &zi2);
    fe_mul(&r->y, &a->y, &zi3);
}

static void jac_set_infinity(jac *r) {
    memset(r, 0, sizeof *r);
}

static int jac_is_infinity(const jac *a) { return num_is_zero(&a->z); }

/* r = 2a (dbl-2001-b, a = -3). */
static void jac_double(jac *r, const jac *a) {
    if (jac_is_infinity(a) || num_is_zero(&a->y)) {
        jac_set_infinity(r);
        return;
    }
    num delta, gamma, beta, alpha, t1, t2, x3, y3, z3;
    fe_sqr(&delta, &a->z);
    fe_sqr(&gamma, &a->y);
    fe_mul(&beta, &a->x, &gamma);
    fe_sub(&t1, &a->x, &delta);
    fe_add(&t2, &a->x, &delta);
    fe_mul(&alpha, &t1, &t2);
    fe_add(&t1, &alpha, &alpha);
    fe_add(&alpha, &t1, &alpha);                 /* alpha = 3 (X - delta)(X + delta) */
    fe_add(&t1, &beta, &beta);
    fe_add(&t1, &t1, &t1);                       /* 4 beta */
    fe_add(&t2, &t1, &t1);                       /* 8 beta */
    fe_sqr(&x3, &alpha);
    fe_sub(&x3, &x3, &t2);                       /* X3 = alpha^2 - 8 beta */
    fe_add(&z3, &a->y, &a->z);
    fe_sqr(&z3, &z3);
    fe_sub(&z3, &z3, &gamma);
    fe_sub(&z3, &z3, &delta);                    /* Z3 = (Y + Z)^2 - gamma - delta */
    fe_sub(&t1, &t1, &x3);
    fe_mul(&y3, &alpha, &t1);
    fe_sqr(&t2, &gamma);
    fe_add(&t2, &t2, &t2);
    fe_add(&t2, &t2, &t2);
    fe_add(&t2, &t2, &t2);                       /* 8 gamma^2 */
    fe_sub(&y3, &y3, &t2);                       /* Y3 = alpha (4 beta - X3) - 8 gamma^2 */
    r->x = x3;
    r->y = y3;
    r->z = z3;
}

/* The sum of a and (x2, y2, z2), given U1 = X1 Z2^2, S1 = Y1 Z2^3, U2 = X2 Z1^2 and
 * S2 = Y2 Z1^3: shared by the general and the mixed addition. */
static void jac_add_finish(jac *r, const jac *a, const num *u1, const num *s1, const num *u2,
                           const num *s2, const num *z1z2) {
    num h, rr, h2, h3, u1h2, t, x3, y3, z3;
    fe_sub(&h, u2, u1);
    fe_sub(&rr, s2, s1);
    if (num_is_zero(&h)) {
        if (num_is_zero(&rr)) {
            jac_double(r, a);                    /* the same point */
        } else {
            jac_set_infinity(r);                 /* opposite points */
        }
        return;
    }
    fe_sqr(&h2, &h);
    fe_mul(&h3, &h, &h2);
    fe_mul(&u1h2, u1, &h2);
    fe_sqr(&x3, &rr);
    fe_sub(&x3, &x3, &h3);
    fe_add(&t, &u1h2, &u1h2);
    fe_sub(&x3, &x3, &t);                        /* X3 = R^2 - H^3 - 2 U1 H^2 */
    fe_sub(&t, &u1h2, &x3);
    fe_mul(&y3, &rr, &t);
    fe_mul(&t, s1, &h3);
    fe_sub(&y3, &y3, &t);                        /* Y3 = R (U1 H^2 - X3) - S1 H^3 */
    fe_mul(&z3, z1z2, &h);                       /* Z3 = Z1 Z2 H */
    r->x = x3;
    r->y = y3;
    r->z = z3;
}

/* r = a + b. */
static void jac_add(jac *r, const jac *a, const jac *b) {
    if (jac_is_infinity(a)) {
        *r = *b;
        return;
    }
    if (jac_is_infinity(b)) {
        *r = *a;
        return;
    }
    num z1z1, z2z2, u1, u2, s1, s2, z1z2;
    fe_sqr(&z1z1, &a->z);
    fe_sqr(&z2z2, &b->z);
    fe_mul(&u1, &a->x, &z2z2);
    fe_mul(&u2, &b->x, &z1z1);
    fe_mul(&s1, &a->y, &b->z);
    fe_mul(&s1, &s1, &z2z2);
    fe_mul(&s2, &b->y, &a->z);
    fe_mul(&s2, &s2, &z1z1);
    fe_mul(&z1z2, &a->z, &b->z);
    jac_add_finish(r, a, &u1, &s1, &u2, &s2, &z1z2);
}

/* r = a + (x, y), an affine point. */
static void jac_add_affine(jac *r, const jac *a, const num *x, const num *y) {
    if (jac_is_infinity(a)) {
        r->x = *x;
        r->y = *y;
        r->z = ONE_M;
        return;
    }
    num z1z1, u2, s2;
    fe_sqr(&z1z1, &a->z);
    fe_mul(&u2, x, &z1z1);
    fe_mul(&s2, y, &a->z);
    fe_mul(&s2, &s2, &z1z1);
    jac_add_finish(r, a, &a->x, &a->y, &u2, &s2, &a->z);
}

/* ---- scalars ---- */

/* The width-w NAF of k (digits odd or zero, |digit| < 2^(w-1)), least significant first;
 * returns the number of digits. */
static int wnaf(int8_t out[NAF_MAX], const num *k_in, int w) {
    u64 k[5] = {k_in->v[0], k_in->v[1], k_in->v[2], k_in->v[3], 0};
    int len = 0;
    memset(out, 0, NAF_MAX);
    while (k[0] | k[1] | k[2] | k[3] | k[4]) {
        int digit = 0;
        if (k[0] & 1) {
            digit = (int)(k[0] & ((1u << w) - 1));
            if (digit >= (1 << (w - 1))) digit -= 1 << w;
            /* k -= digit: k becomes a multiple of 2^w */
            if (digit > 0) {
                u64 borrow = (u64)digit;
                for (int i = 0; i < 5 && borrow; i++) {
                    u64 before = k[i];
                    k[i] -= borrow;
                    borrow = k[i] > before;
                }
            } else {
                u64 carry = (u64)(-digit);
                for (int i = 0; i < 5 && carry; i++) {
                    k[i] += carry;
                    carry = k[i] < carry;
                }
            }
        }
        out[len++] = (int8_t)digit;
        for (int i = 0; i < 4; i++) k[i] = (k[i] >> 1) | (k[i + 1] << 63);
        k[4] >>= 1;
    }
    return len;
}

/* acc += d G for a wNAF digit d of G's width (0: nothing), from G's table. */
static void add_g_digit(jac *acc, int d) {
    if (d > 0) {
        jac_add_affine(acc, acc, &G_ODD[d >> 1].x, &G_ODD[d >> 1].y);
    } else if (d < 0) {
        num neg_y;
        fe_neg(&neg_y, &G_ODD[(-d) >> 1].y);
        jac_add_affine(acc, acc, &G_ODD[(-d) >> 1].x, &neg_y);
    }
}

/* ---- verification ---- */

/* Whether (x, y), plain numbers, is a point of the curve (x, y < p; y^2 = x^3 - 3x + b). */
static int on_curve(const num *x, const num *y, num *xm, num *ym) {
    if (!num_lt(x, &P) || !num_lt(y, &P)) return 0;
    num lhs, rhs, t;
    fe_to_mont(xm, x);
    fe_to_mont(ym, y);
    fe_sqr(&lhs, ym);
    fe_sqr(&rhs, xm);
    fe_mul(&rhs, &rhs, xm);
    fe_add(&t, xm, xm);
    fe_add(&t, &t, xm);
    fe_sub(&rhs, &rhs, &t);
    fe_add(&rhs, &rhs, &B_M);
    return num_eq(&lhs, &rhs);
}

/* Whether pub (04 || x || y) is a point of the curve; its coordinates in Montgomery form. */
static int load_public_key(const uint8_t pub[65], num *xm, num *ym) {
    num x, y;
    if (pub[0] != 0x04) return 0;
    num_from_be(&x, pub + 1);
    num_from_be(&y, pub + 33);
    return on_curve(&x, &y, xm, ym);
}

/* e = SM3(Z || msg), Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA). */
static void message_digest(uint8_t digest[SMT_DIGEST_LEN], const uint8_t pub[65],
                           const uint8_t *msg, size_t msg_len) {
    uint8_t z[SMT_DIGEST_LEN];
    smt_hash_ctx ctx;
    smt_hash_init(&ctx, SMT_SM3);
    smt_hash_update(&ctx, Z_PREFIX, sizeof Z_PREFIX);
    smt_hash_update(&ctx, pub + 1, 64);
    smt_hash_final(&ctx, z);
    smt_hash_init(&ctx, SMT_SM3);
    smt_hash_update(&ctx, z, sizeof z);
    smt_hash_update(&ctx, msg, msg_len);
    smt_hash_final(&ctx, digest);
}

/* 1 if sig (r || s, 32 bytes each) is pub's (04 || x || y) over the message whose digest
 * e is given (32 bytes, big-endian), else 0. */
static int sm2_verify_digest(const uint8_t pub[65], const uint8_t digest[SMT_DIGEST_LEN],
                             const uint8_t sig[64]) {
    num r, s, t, e, pxm, pym;
    num_from_be(&r, sig);
    num_from_be(&s, sig + 32);
    if (num_is_zero(&r) || num_is_zero(&s) || !num_lt(&r, &N) || !num_lt(&s, &N)) return 0;
    if (!load_public_key(pub, &pxm, &pym)) return 0;
    mod_add(&t, &r, &s, &N);
    if (num_is_zero(&t)) return 0;
    num_from_be(&e, digest);
    if (!num_lt(&e, &N)) num_sub(&e, &e, &N);    /* e < 2^256 < 2n */

    /* The public key's odd multiples P, 3P, ..., (2 P_TABLE - 1) P. */
    jac table[P_TABLE], twice;
    table[0].x = pxm;
    table[0].y = pym;
    table[0].z = ONE_M;
    jac_double(&twice, &table[0]);
    for (int i = 1; i < P_TABLE; i++) jac_add(&table[i], &table[i - 1], &twice);

    int8_t naf_s[NAF_MAX], naf_t[NAF_MAX];
    int len_s = wnaf(naf_s, &s, G_WINDOW);
    int len_t = wnaf(naf_t, &t, P_WINDOW);
    int len = len_s > len_t ? len_s : len_t;
    jac acc;
    jac_set_infinity(&acc);
    for (int i = len - 1; i >= 0; i--) {
        jac_double(&acc, &acc);
        add_g_digit(&acc, naf_s[i]);
        int dt = naf_t[i];
        if (dt > 0) {
            jac_add(&acc, &acc, &table[dt >> 1]);
        } else if (dt < 0) {
            jac neg = table[(-dt) >> 1];
            fe_neg(&neg.y, &neg.y);
            jac_add(&acc, &acc, &neg);
        }
    }
    if (jac_is_infinity(&acc)) return 0;

    /* x1 = X / Z^2 must be c = (r - e) mod n, or c + n when that is below p. */
    num c, cm, zz, want;
    mod_sub(&c, &r, &e, &N);
    fe_sqr(&zz, &acc.z);
    fe_to_mont(&cm, &c);
    fe_mul(&want, &cm, &zz);
    if (num_eq(&want, &acc.x)) return 1;
    num c2;
    if (num_add(&c2, &c, &N) == 0 && num_lt(&c2, &P)) {
        fe_to_mont(&cm, &c2);
        fe_mul(&want, &cm, &zz);
        if (num_eq(&want, &acc.x)) return 1;
    }
    return 0;
}

/* 1 if sig (r || s, 32 bytes each) is pub's (04 || x || y) over msg, else 0. */
static int sm2_verify(const uint8_t pub[65], const uint8_t *msg, size_t msg_len,
                      const uint8_t sig[64]) {
    uint8_t digest[SMT_DIGEST_LEN];
    message_digest(digest, pub, msg, msg_len);
    return sm2_verify_digest(pub, digest, sig);
}

/* ---- set-up ---- */

static void setup(void) {
    num_from_hex(&N, HEX_N);
    /* R mod p = 2^256 - p; R^2 mod p by doubling it 256 times. */
    num zero = {{0, 0, 0, 0}}, rmod;
    num_sub(&rmod, &zero, &P);
    ONE_M = rmod;
    R2 = rmod;
    for (int i = 0; i < 256; i++) fe_add(&R2, &R2, &R2);

    num a, b, gx, gy, three = {{3, 0, 0, 0}};
    num_sub(&a, &P, &three);                     /* a = p - 3 */
    num_from_hex(&b, HEX_B);
    num_from_hex(&gx, HEX_GX);
    num_from_hex(&gy, HEX_GY);
    fe_to_mont(&B_M, &b);

    uint8_t *zp = Z_PREFIX;
    zp[0] = 0x00;
    zp[1] = 0x80;                                /* ENTL: the ID's length in bits, 128 */
    memcpy(zp + 2, "1234567812345678", 16);
    num_to_be(zp + 18, &a);
    num_to_be(zp + 50, &b);
    num_to_be(zp + 82, &gx);
    num_to_be(zp + 114, &gy);

    jac g, twice, odd;
    fe_to_mont(&g.x, &gx);
    fe_to_mont(&g.y, &gy);
    g.z = ONE_M;
    jac_double(&twice, &g);
    odd = g;
    for (int i = 0; i < G_TABLE; i++) {
        if (i) jac_add(&odd, &odd, &twice);
        jac_to_affine(&G_ODD[i], &odd);
    }
}

/* ---- Python ---- */

static PyObject *py_verify(PyObject *self, PyObject *args) {
    (void)self;
    const uint8_t *pub, *msg, *sig;
    Py_ssize_t pub_len, msg_len, sig_len;
    if (!PyArg_ParseTuple(args, "y#y#y#", &pub, &pub_len, &msg, &msg_len, &sig, &sig_len)) {
        return NULL;
    }
    if (pub_len != 65 || sig_len != 64) Py_RETURN_FALSE;
    int ok;
    /* The bytes objects stay alive (the argument tuple holds them) while the GIL is free. */
    Py_BEGIN_ALLOW_THREADS
    ok = sm2_verify(pub, msg, (size_t)msg_len, sig);
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(ok);
}

static PyObject *py_verify_digest(PyObject *self, PyObject *args) {
    /* The verification from the digest e on: lets tests build the cases no message reaches
     * in practice (x1 >= n, t = 0 with a matching e) and compare with a reference. */
    (void)self;
    const uint8_t *pub, *digest, *sig;
    Py_ssize_t pub_len, digest_len, sig_len;
    if (!PyArg_ParseTuple(args, "y#y#y#", &pub, &pub_len, &digest, &digest_len, &sig, &sig_len)) {
        return NULL;
    }
    if (pub_len != 65 || sig_len != 64 || digest_len != SMT_DIGEST_LEN) Py_RETURN_FALSE;
    return PyBool_FromLong(sm2_verify_digest(pub, digest, sig));
}

static PyObject *py_valid_public_key(PyObject *self, PyObject *args) {
    (void)self;
    const uint8_t *pub;
    Py_ssize_t pub_len;
    if (!PyArg_ParseTuple(args, "y#", &pub, &pub_len)) return NULL;
    num xm, ym;
    return PyBool_FromLong(pub_len == 65 && load_public_key(pub, &xm, &ym));
}

static PyObject *py_mul_base(PyObject *self, PyObject *args) {
    /* [k]G as 04 || x || y (or None for the point at infinity): for tests of the tables
     * and the arithmetic against an independent implementation. */
    (void)self;
    const uint8_t *kb;
    Py_ssize_t k_len;
    if (!PyArg_ParseTuple(args, "y#", &kb, &k_len)) return NULL;
    if (k_len != 32) {
        PyErr_SetString(PyExc_ValueError, "k must be 32 bytes");
        return NULL;
    }
    num k;
    num_from_be(&k, kb);
    int8_t naf[NAF_MAX];
    int len = wnaf(naf, &k, G_WINDOW);
    jac acc;
    jac_set_infinity(&acc);
    for (int i = len - 1; i >= 0; i--) {
        jac_double(&acc, &acc);
        add_g_digit(&acc, naf[i]);
    }
    if (jac_is_infinity(&acc)) Py_RETURN_NONE;
    aff point;
    num x, y;
    jac_to_affine(&point, &acc);
    fe_from_mont(&x, &point.x);
    fe_from_mont(&y, &point.y);
    uint8_t out[65];
    out[0] = 0x04;
    num_to_be(out + 1, &x);
    num_to_be(out + 33, &y);
    return PyBytes_FromStringAndSize((const char *)out, 65);
}

static PyMethodDef methods[] = {
    {"verify", py_verify, METH_VARARGS,
     "verify(pubkey65, message, signature64) -> whether the SM2 signature (r || s) is valid"},
    {"verify_digest", py_verify_digest, METH_VARARGS,
     "verify_digest(pubkey65, e32, signature64) -> verify from the message digest e on"},
    {"valid_public_key", py_valid_public_key, METH_VARARGS,
     "valid_public_key(pubkey65) -> whether it is 04 || x || y of a point of the curve"},
    {"mul_base", py_mul_base, METH_VARARGS, "mul_base(k32) -> [k]G as 04 || x || y, or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "ledger._sm2_native",
    "SM2 signature verification in C (see ledger/crypto.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__sm2_native(void) {
    smt_hash_setup();
    setup();
    return PyModule_Create(&module);
}
