// Ed25519 signature verification (RFC 8032 §5.1.7) with BigInt, for where WebCrypto has no
// Ed25519; and the checks that both paths make first.
//
// The Python node verifies with libsodium (pynacl), whose rules are stricter than RFC 8032's
// minimum: S must be below L, the public key's y below p, and neither the public key nor R
// may be a point of small order. WebCrypto (OpenSSL, browsers) does not refuse small-order
// keys or R, so a signer could make a vote that one verifier accepts and the other refuses.
// `precheck` applies libsodium's rules before either path, so both paths and the Python
// verifier agree. The equation checked is libsodium's and OpenSSL's cofactorless one:
// encode([S]B - [k]A) must equal the R bytes of the signature.

import { bigFromBytesLE, bigToBytesLE, concat, equal } from './bytes.mjs';
import { doubleScalarMult as straus, mod, modInvPrime, modPow } from './modular.mjs';

const P = (1n << 255n) - 19n;
export const L = (1n << 252n) + 27742317777372353535851937790883648493n;
const D = mod(-121665n * modInvPrime(121666n, P), P);
const D2 = (2n * D) % P;
const SQRT_M1 = modPow(2n, (P - 1n) / 4n, P);
const Y_MASK = (1n << 255n) - 1n;
// The y of the points of order 8 are ±ORDER8_Y (the test suite checks that they have order
// 8); with y = 0 (order 4), y = 1 (order 1) and y = -1 (order 2) they are every y of a
// point of small order.
export const ORDER8_Y =
  2707385501144840649318225287225658788936804267575313519463743609750303402022n;
const SMALL_ORDER_Y = new Set([0n, 1n, P - 1n, ORDER8_Y, P - ORDER8_Y]);

// Points in extended coordinates (X, Y, Z, T) with x = X/Z, y = Y/Z, xy = T/Z.
const IDENTITY = Object.freeze([0n, 1n, 1n, 0n]);

function add([x1, y1, z1, t1], [x2, y2, z2, t2]) {
  const a = ((y1 - x1) * (y2 - x2)) % P;
  const b = ((y1 + x1) * (y2 + x2)) % P;
  const c = (((t1 * D2) % P) * t2) % P;
  const d = (2n * z1 * z2) % P;
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return [mod(e * f, P), mod(g * h, P), mod(f * g, P), mod(e * h, P)];
}

function double([x1, y1, z1]) {
  const a = (x1 * x1) % P;
  const b = (y1 * y1) % P;
  const c = (2n * z1 * z1) % P;
  const dd = P - a; // a·X² with a = -1
  const e = ((x1 + y1) * (x1 + y1) - a - b) % P;
  const g = dd + b;
  const f = g - c;
  const h = dd - b;
  return [mod(e * f, P), mod(g * h, P), mod(f * g, P), mod(e * h, P)];
}

function negate([x, y, z, t]) {
  return [mod(-x, P), y, z, mod(-t, P)];
}

function encodePoint([x, y, z]) {
  const zInv = modInvPrime(z, P);
  const ax = (x * zInv) % P;
  const ay = (y * zInv) % P;
  return bigToBytesLE(ay | ((ax & 1n) << 255n), 32);
}

/** The point encoded by 32 bytes (RFC 8032 §5.1.3), or null if there is none. */
export function decodePoint(bytes) {
  const raw = bigFromBytesLE(bytes);
  const y = raw & Y_MASK;
  const sign = raw >> 255n;
  if (y >= P) return null;
  const yy = (y * y) % P;
  const u = mod(yy - 1n, P);
  const v = (D * yy + 1n) % P;
  const v3 = (v * v * v) % P;
  let x = (u * v3 * modPow(u * v3 * v3 * v, (P - 5n) / 8n, P)) % P;
  const vxx = (v * x * x) % P;
  if (vxx !== u) {
    if (vxx !== mod(-u, P)) return null;
    x = (x * SQRT_M1) % P;
  }
  if (x === 0n && sign === 1n) return null;
  if ((x & 1n) !== sign) x = P - x;
  return [x, y, 1n, (x * y) % P];
}

const BASE = decodePoint(bigToBytesLE(mod(4n * modInvPrime(5n, P), P), 32));

/** Whether the 32 bytes name a point of small order, the sign bit ignored and y taken mod p
 * (libsodium's has_small_order). */
export function hasSmallOrder(bytes) {
  return SMALL_ORDER_Y.has((bigFromBytesLE(bytes) & Y_MASK) % P);
}

/** libsodium's refusals, shared by the WebCrypto and the BigInt path. */
export function precheck(pubkey, signature) {
  if (pubkey.length !== 32 || signature.length !== 64) return false;
  if (bigFromBytesLE(signature.subarray(32)) >= L) return false;
  if (hasSmallOrder(signature.subarray(0, 32))) return false;
  if ((bigFromBytesLE(pubkey) & Y_MASK) >= P) return false;
  return !hasSmallOrder(pubkey);
}

const GROUP = Object.freeze({ add, double, identity: IDENTITY });

/** [a]P + [b]Q (Straus: one pass of doublings over both scalars). */
function doubleScalarMult(a, p, b, q) {
  return straus(a, p, b, q, GROUP);
}

/** RFC 8032 verification in BigInt after `precheck`; `sha512` is async (WebCrypto or JS). */
export async function verifyEd25519(pubkey, message, signature, sha512) {
  if (!precheck(pubkey, signature)) return false;
  const a = decodePoint(pubkey);
  if (a === null) return false;
  const rBytes = signature.subarray(0, 32);
  const s = bigFromBytesLE(signature.subarray(32));
  const k = bigFromBytesLE(await sha512(concat(rBytes, pubkey, message))) % L;
  const check = doubleScalarMult(s, BASE, k, negate(a));
  return equal(encodePoint(check), rBytes);
}

/** [k]B encoded: the public key of the clamped secret scalar k (used by the tests). */
export function scalarMultBase(k) {
  return encodePoint(doubleScalarMult(k, BASE, 0n, IDENTITY));
}

/** [k]P for the point P encoded by `bytes` (used by the tests to check small orders). */
export function scalarMultEncoded(k, bytes) {
  const point = decodePoint(bytes);
  if (point === null) return null;
  return encodePoint(doubleScalarMult(k, point, 0n, IDENTITY));
}
