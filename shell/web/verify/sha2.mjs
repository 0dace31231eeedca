// SHA-256 and SHA-512 in plain JS (FIPS 180-4 §6.2 and §6.4), for where WebCrypto is absent:
// crypto.subtle exists only in secure contexts, so a portal page served over plain HTTP,
// or opened from a file, has none. Synchronous; hash.mjs prefers WebCrypto when present.

const K256 = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const H256 = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

// SHA-512 constants as [high, low] 32-bit halves.
const K512 = new Uint32Array([
  0x428a2f98, 0xd728ae22, 0x71374491, 0x23ef65cd, 0xb5c0fbcf, 0xec4d3b2f, 0xe9b5dba5, 0x8189dbbc,
  0x3956c25b, 0xf348b538, 0x59f111f1, 0xb605d019, 0x923f82a4, 0xaf194f9b, 0xab1c5ed5, 0xda6d8118,
  0xd807aa98, 0xa3030242, 0x12835b01, 0x45706fbe, 0x243185be, 0x4ee4b28c, 0x550c7dc3, 0xd5ffb4e2,
  0x72be5d74, 0xf27b896f, 0x80deb1fe, 0x3b1696b1, 0x9bdc06a7, 0x25c71235, 0xc19bf174, 0xcf692694,
  0xe49b69c1, 0x9ef14ad2, 0xefbe4786, 0x384f25e3, 0x0fc19dc6, 0x8b8cd5b5, 0x240ca1cc, 0x77ac9c65,
  0x2de92c6f, 0x592b0275, 0x4a7484aa, 0x6ea6e483, 0x5cb0a9dc, 0xbd41fbd4, 0x76f988da, 0x831153b5,
  0x983e5152, 0xee66dfab, 0xa831c66d, 0x2db43210, 0xb00327c8, 0x98fb213f, 0xbf597fc7, 0xbeef0ee4,
  0xc6e00bf3, 0x3da88fc2, 0xd5a79147, 0x930aa725, 0x06ca6351, 0xe003826f, 0x14292967, 0x0a0e6e70,
  0x27b70a85, 0x46d22ffc, 0x2e1b2138, 0x5c26c926, 0x4d2c6dfc, 0x5ac42aed, 0x53380d13, 0x9d95b3df,
  0x650a7354, 0x8baf63de, 0x766a0abb, 0x3c77b2a8, 0x81c2c92e, 0x47edaee6, 0x92722c85, 0x1482353b,
  0xa2bfe8a1, 0x4cf10364, 0xa81a664b, 0xbc423001, 0xc24b8b70, 0xd0f89791, 0xc76c51a3, 0x0654be30,
  0xd192e819, 0xd6ef5218, 0xd6990624, 0x5565a910, 0xf40e3585, 0x5771202a, 0x106aa070, 0x32bbd1b8,
  0x19a4c116, 0xb8d2d0c8, 0x1e376c08, 0x5141ab53, 0x2748774c, 0xdf8eeb99, 0x34b0bcb5, 0xe19b48a8,
  0x391c0cb3, 0xc5c95a63, 0x4ed8aa4a, 0xe3418acb, 0x5b9cca4f, 0x7763e373, 0x682e6ff3, 0xd6b2b8a3,
  0x748f82ee, 0x5defb2fc, 0x78a5636f, 0x43172f60, 0x84c87814, 0xa1f0ab72, 0x8cc70208, 0x1a6439ec,
  0x90befffa, 0x23631e28, 0xa4506ceb, 0xde82bde9, 0xbef9a3f7, 0xb2c67915, 0xc67178f2, 0xe372532b,
  0xca273ece, 0xea26619c, 0xd186b8c7, 0x21c0c207, 0xeada7dd6, 0xcde0eb1e, 0xf57d4f7f, 0xee6ed178,
  0x06f067aa, 0x72176fba, 0x0a637dc5, 0xa2c898a6, 0x113f9804, 0xbef90dae, 0x1b710b35, 0x131c471b,
  0x28db77f5, 0x23047d84, 0x32caab7b, 0x40c72493, 0x3c9ebe0a, 0x15c9bebc, 0x431d67c4, 0x9c100d4c,
  0x4cc5d4be, 0xcb3e42b6, 0x597f299c, 0xfc657e2a, 0x5fcb6fab, 0x3ad6faec, 0x6c44198c, 0x4a475817,
]);
const H512 = [
  0x6a09e667, 0xf3bcc908, 0xbb67ae85, 0x84caa73b, 0x3c6ef372, 0xfe94f82b, 0xa54ff53a, 0x5f1d36f1,
  0x510e527f, 0xade682d1, 0x9b05688c, 0x2b3e6c1f, 0x1f83d9ab, 0xfb41bd6b, 0x5be0cd19, 0x137e2179,
];

/** `data` followed by FIPS 180-4 padding for a block of `blockBytes` and a length field of
 * `lengthBytes` (the message length in bits, big-endian). */
export function mdPad(data, blockBytes, lengthBytes) {
  const total = Math.ceil((data.length + 1 + lengthBytes) / blockBytes) * blockBytes;
  const out = new Uint8Array(total);
  out.set(data);
  out[data.length] = 0x80;
  const view = new DataView(out.buffer);
  // Bit length as 2^32 * high + low; inputs here are far below 2^53 bits.
  const bits = data.length * 8;
  view.setUint32(total - 8, Math.floor(bits / 0x100000000));
  view.setUint32(total - 4, bits >>> 0);
  return out;
}

function rotr(x, n) {
  return (x >>> n) | (x << (32 - n));
}

export function sha256(data) {
  const padded = mdPad(data, 64, 8);
  const view = new DataView(padded.buffer);
  const h = Int32Array.from(H256);
  const w = new Uint32Array(64);
  for (let block = 0; block < padded.length; block += 64) {
    for (let t = 0; t < 16; t++) w[t] = view.getUint32(block + 4 * t);
    for (let t = 16; t < 64; t++) {
      const s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >>> 3);
      const s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
    }
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (let t = 0; t < 64; t++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g))
        + K256[t] + w[t]) | 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g; g = f; f = e; e = (d + t1) | 0;
      d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
    h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + hh) | 0;
  }
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) outView.setUint32(4 * i, h[i] >>> 0);
  return out;
}

// ---- SHA-512 on 64-bit words held as (high, low) 32-bit halves ------------------------------
// Sums of halves are exact in doubles (a few terms below 2^35); `| 0` takes them mod 2^32 and
// the low sum's carry goes into the high half. No arrays per round: this is the Ed25519
// fallback's hash, run once per signature.

const TWO_32 = 4294967296;

// Right rotation of the 64-bit word (hi, lo) by n, 0 < n < 64: the high half of the result.
function rotrHi(hi, lo, n) {
  return n < 32 ? (hi >>> n) | (lo << (32 - n)) : (lo >>> (n - 32)) | (hi << (64 - n));
}

function rotrLo(hi, lo, n) {
  return n < 32 ? (lo >>> n) | (hi << (32 - n)) : (hi >>> (n - 32)) | (lo << (64 - n));
}

// Message schedule W[16..79] (FIPS 180-4 §6.4.2 step 1), W[t] at w[2t] (high), w[2t+1] (low).
function schedule512(w) {
  for (let t = 16; t < 80; t++) {
    const xh = w[2 * t - 30];
    const xl = w[2 * t - 29];
    const yh = w[2 * t - 4];
    const yl = w[2 * t - 3];
    const s0h = rotrHi(xh, xl, 1) ^ rotrHi(xh, xl, 8) ^ (xh >>> 7);
    const s0l = rotrLo(xh, xl, 1) ^ rotrLo(xh, xl, 8) ^ ((xl >>> 7) | (xh << 25));
    const s1h = rotrHi(yh, yl, 19) ^ rotrHi(yh, yl, 61) ^ (yh >>> 6);
    const s1l = rotrLo(yh, yl, 19) ^ rotrLo(yh, yl, 61) ^ ((yl >>> 6) | (yh << 26));
    const lo = (s1l >>> 0) + (w[2 * t - 13] >>> 0) + (s0l >>> 0) + (w[2 * t - 31] >>> 0);
    w[2 * t] = (s1h + w[2 * t - 14] + s0h + w[2 * t - 32] + Math.floor(lo / TWO_32)) | 0;
    w[2 * t + 1] = lo | 0;
  }
}

// The 80 rounds over one block (§6.4.2 steps 2-4), adding the result into h.
function compress512(h, w) {
  let ah = h[0], al = h[1], bh = h[2], bl = h[3], ch = h[4], cl = h[5], dh = h[6], dl = h[7];
  let eh = h[8], el = h[9], fh = h[10], fl = h[11], gh = h[12], gl = h[13], hh = h[14], hl = h[15];
  for (let t = 0; t < 80; t++) {
    const bigSigma1h = rotrHi(eh, el, 14) ^ rotrHi(eh, el, 18) ^ rotrHi(eh, el, 41);
    const bigSigma1l = rotrLo(eh, el, 14) ^ rotrLo(eh, el, 18) ^ rotrLo(eh, el, 41);
    const chooseh = (eh & fh) ^ (~eh & gh);
    const choosel = (el & fl) ^ (~el & gl);
    const t1lo = (hl >>> 0) + (bigSigma1l >>> 0) + (choosel >>> 0) + K512[2 * t + 1]
      + (w[2 * t + 1] >>> 0);
    const t1h = (hh + bigSigma1h + chooseh + K512[2 * t] + w[2 * t]
      + Math.floor(t1lo / TWO_32)) | 0;
    const t1l = t1lo | 0;
    const bigSigma0h = rotrHi(ah, al, 28) ^ rotrHi(ah, al, 34) ^ rotrHi(ah, al, 39);
    const bigSigma0l = rotrLo(ah, al, 28) ^ rotrLo(ah, al, 34) ^ rotrLo(ah, al, 39);
    const majh = (ah & bh) ^ (ah & ch) ^ (bh & ch);
    const majl = (al & bl) ^ (al & cl) ^ (bl & cl);
    const t2lo = (bigSigma0l >>> 0) + (majl >>> 0);
    const t2h = (bigSigma0h + majh + Math.floor(t2lo / TWO_32)) | 0;
    const t2l = t2lo | 0;
    hh = gh; hl = gl; gh = fh; gl = fl; fh = eh; fl = el;
    const elo = (dl >>> 0) + (t1l >>> 0);
    eh = (dh + t1h + Math.floor(elo / TWO_32)) | 0;
    el = elo | 0;
    dh = ch; dl = cl; ch = bh; cl = bl; bh = ah; bl = al;
    const alo = (t1l >>> 0) + (t2l >>> 0);
    ah = (t1h + t2h + Math.floor(alo / TWO_32)) | 0;
    al = alo | 0;
  }
  const out = [ah, al, bh, bl, ch, cl, dh, dl, eh, el, fh, fl, gh, gl, hh, hl];
  for (let i = 0; i < 16; i += 2) {
    const lo = (h[i + 1] >>> 0) + (out[i + 1] >>> 0);
    h[i] = (h[i] + out[i] + Math.floor(lo / TWO_32)) | 0;
    h[i + 1] = lo | 0;
  }
}

export function sha512(data) {
  const padded = mdPad(data, 128, 16);
  const view = new DataView(padded.buffer);
  const h = Int32Array.from(H512);
  const w = new Int32Array(160);
  for (let block = 0; block < padded.length; block += 128) {
    for (let i = 0; i < 32; i++) w[i] = view.getInt32(block + 4 * i);
    schedule512(w);
    compress512(h, w);
  }
  const out = new Uint8Array(64);
  const outView = new DataView(out.buffer);
  for (let i = 0; i < 16; i++) outView.setInt32(4 * i, h[i]);
  return out;
}
