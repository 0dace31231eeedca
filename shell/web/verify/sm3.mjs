// SM3 (GB/T 32905-2016): the hash of the sm2-sm3 suite (PROTOCOL §2), in plain JS.
// 512-bit blocks, the same padding as SHA-256 (§5.2), message expansion (§5.3.2) and the
// 64-round compression function (§5.3.3). Synchronous: no browser ships SM3 in WebCrypto.

import { mdPad } from './sha2.mjs';

const IV = [
  0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e,
];
// T_j rotated left by j mod 32, as the compression function uses it (§4.2, §5.3.3).
const T_ROTATED = new Int32Array(64);
for (let j = 0; j < 64; j++) T_ROTATED[j] = rotl(j < 16 ? 0x79cc4519 : 0x7a879d8a, j % 32);

function rotl(x, n) {
  return n === 0 ? x | 0 : (x << n) | (x >>> (32 - n));
}

function p0(x) {
  return x ^ rotl(x, 9) ^ rotl(x, 17);
}

function p1(x) {
  return x ^ rotl(x, 15) ^ rotl(x, 23);
}

function compress(v, view, offset, w) {
  for (let j = 0; j < 16; j++) w[j] = view.getInt32(offset + 4 * j);
  for (let j = 16; j < 68; j++) {
    w[j] = p1(w[j - 16] ^ w[j - 9] ^ rotl(w[j - 3], 15)) ^ rotl(w[j - 13], 7) ^ w[j - 6];
  }
  let a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], h = v[7];
  for (let j = 0; j < 64; j++) {
    const a12 = rotl(a, 12);
    const ss1 = rotl((a12 + e + T_ROTATED[j]) | 0, 7);
    const ss2 = ss1 ^ a12;
    const ff = j < 16 ? a ^ b ^ c : (a & b) | (a & c) | (b & c);
    const gg = j < 16 ? e ^ f ^ g : (e & f) | (~e & g);
    const tt1 = (ff + d + ss2 + (w[j] ^ w[j + 4])) | 0;
    const tt2 = (gg + h + ss1 + w[j]) | 0;
    d = c;
    c = rotl(b, 9);
    b = a;
    a = tt1;
    h = g;
    g = rotl(f, 19);
    f = e;
    e = p0(tt2);
  }
  v[0] ^= a; v[1] ^= b; v[2] ^= c; v[3] ^= d; v[4] ^= e; v[5] ^= f; v[6] ^= g; v[7] ^= h;
}

/** The 32-byte SM3 digest of `data`. */
export function sm3(data) {
  const padded = mdPad(data, 64, 8);
  const view = new DataView(padded.buffer);
  const v = Int32Array.from(IV);
  const w = new Int32Array(68);
  for (let offset = 0; offset < padded.length; offset += 64) compress(v, view, offset, w);
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) outView.setInt32(4 * i, v[i]);
  return out;
}
