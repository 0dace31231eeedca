// SM2 signature verification (GB/T 32918.2-2016 §7.1) on the recommended 256-bit curve
// (GB/T 32918.5-2017), with SM3 and Z_A for the default user ID "1234567812345678", BigInt
// arithmetic in Jacobian coordinates. Public keys are 65 bytes 04‖X‖Y, signatures 64 bytes
// r‖s big-endian (PROTOCOL §2).
//
// The checks, in the standard's order: r and s in [1, n-1] (B1, B2); e = SM3(Z_A ‖ M) (B3,
// B4); t = (r + s) mod n, refused when 0 (B5); (x1, y1) = [s]G + [t]P_A, refused at infinity
// (B6); accepted iff (e + x1) mod n = r (B7). A public key must be an uncompressed point with
// both coordinates below p and on the curve; the cofactor is 1, so that is the whole group.

import { bigFromBytesBE, bigToBytesBE, concat, utf8 } from './bytes.mjs';
import { doubleScalarMult as straus, mod, modInvPrime } from './modular.mjs';
import { sm3 } from './sm3.mjs';

export const CURVE = Object.freeze({
  p: 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFFn,
  a: 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFCn,
  b: 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93n,
  n: 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123n,
  gx: 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7n,
  gy: 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0n,
});
export const DEFAULT_ID = '1234567812345678';
const { p: P, n: N } = CURVE;
const G = [CURVE.gx, CURVE.gy, 1n];
const INFINITY = Object.freeze([1n, 1n, 0n]);

// Jacobian (X, Y, Z): x = X/Z², y = Y/Z³; Z = 0 is the point at infinity. a = p - 3, so
// doubling uses the a = -3 formula 3(X - Z²)(X + Z²).
function double([x1, y1, z1]) {
  if (z1 === 0n || y1 === 0n) return INFINITY;
  const delta = (z1 * z1) % P;
  const gamma = (y1 * y1) % P;
  const beta = (x1 * gamma) % P;
  const alpha = (3n * (x1 - delta) * (x1 + delta)) % P;
  const x3 = mod(alpha * alpha - 8n * beta, P);
  const z3 = mod((y1 + z1) * (y1 + z1) - gamma - delta, P);
  const y3 = mod(alpha * (4n * beta - x3) - 8n * ((gamma * gamma) % P), P);
  return [x3, y3, z3];
}

function add(p1, p2) {
  const [x1, y1, z1] = p1;
  const [x2, y2, z2] = p2;
  if (z1 === 0n) return p2;
  if (z2 === 0n) return p1;
  const z1z1 = (z1 * z1) % P;
  const z2z2 = (z2 * z2) % P;
  const u1 = (x1 * z2z2) % P;
  const u2 = (x2 * z1z1) % P;
  const s1 = (((y1 * z2) % P) * z2z2) % P;
  const s2 = (((y2 * z1) % P) * z1z1) % P;
  const h = mod(u2 - u1, P);
  const r = mod(s2 - s1, P);
  if (h === 0n) return r === 0n ? double(p1) : INFINITY;
  const hh = (h * h) % P;
  const hhh = (h * hh) % P;
  const v = (u1 * hh) % P;
  const x3 = mod(r * r - hhh - 2n * v, P);
  const y3 = mod(r * (v - x3) - s1 * hhh, P);
  const z3 = (((z1 * z2) % P) * h) % P;
  return [x3, y3, z3];
}

function affineX([x, , z]) {
  const zInv = modInvPrime(z, P);
  return (x * ((zInv * zInv) % P)) % P;
}

const GROUP = Object.freeze({ add, double, identity: INFINITY });

/** [a]p + [b]q (Straus: one pass of doublings over both scalars). */
function doubleScalarMult(a, p, b, q) {
  return straus(a, p, b, q, GROUP);
}

export function isOnCurve(x, y) {
  return mod(y * y - (x * x * x + CURVE.a * x + CURVE.b), P) === 0n;
}

/** The affine point of a 65-byte public key 04‖X‖Y, or null when it is not one. */
export function decodePublicKey(pubkey) {
  if (pubkey.length !== 65 || pubkey[0] !== 0x04) return null;
  const x = bigFromBytesBE(pubkey.subarray(1, 33));
  const y = bigFromBytesBE(pubkey.subarray(33));
  if (x >= P || y >= P || !isOnCurve(x, y)) return null;
  return [x, y, 1n];
}

/** Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A) (GB/T 32918.2 §5.5),
 * where ENTL_A is the bit length of ID_A as two big-endian bytes. */
export function zA(pubkey, id = DEFAULT_ID) {
  const idBytes = utf8(id);
  const bits = idBytes.length * 8;
  const fields = [CURVE.a, CURVE.b, CURVE.gx, CURVE.gy].map((v) => bigToBytesBE(v, 32));
  return sm3(concat(new Uint8Array([bits >> 8, bits & 0xff]), idBytes, ...fields,
    pubkey.subarray(1, 33), pubkey.subarray(33, 65)));
}

// Decoding a key and its Z_A cost two SM3 blocks and a curve check: validators sign again
// and again, so keep them per key (bounded, as everything from outside is).
const KEY_CACHE_MAX = 1024;
const keyCache = new Map();

function loadKey(pubkey) {
  const hex = Array.from(pubkey, (b) => b.toString(16).padStart(2, '0')).join('');
  let entry = keyCache.get(hex);
  if (entry === undefined) {
    const point = decodePublicKey(pubkey);
    entry = point === null ? null : { point, z: zA(pubkey) };
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value);
    keyCache.set(hex, entry);
  }
  return entry;
}

/** Whether `signature` (r‖s) is `pubkey`'s SM2 signature of `message`, default ID. */
export function verifySm2(pubkey, message, signature) {
  if (pubkey.length !== 65 || signature.length !== 64) return false;
  const r = bigFromBytesBE(signature.subarray(0, 32));
  const s = bigFromBytesBE(signature.subarray(32));
  if (r < 1n || r >= N || s < 1n || s >= N) return false;
  const key = loadKey(pubkey);
  if (key === null) return false;
  const e = bigFromBytesBE(sm3(concat(key.z, message)));
  const t = (r + s) % N;
  if (t === 0n) return false;
  const point = doubleScalarMult(s, G, t, key.point);
  if (point[2] === 0n) return false;
  return (e + affineX(point)) % N === r;
}

/** Whether `pubkey` is a valid SM2 public key (Python's check_pubkey). */
export function isPublicKey(pubkey) {
  return decodePublicKey(pubkey) !== null;
}

