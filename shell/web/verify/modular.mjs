// Modular arithmetic on BigInt, shared by the two curves (ed25519.mjs, sm2.mjs): reduction
// into [0, m), exponentiation by squaring, inversion by Fermat (every modulus used is prime).

export function mod(a, m) {
  const r = a % m;
  return r < 0n ? r + m : r;
}

export function modPow(base, exponent, m) {
  let result = 1n;
  let b = mod(base, m);
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return result;
}

/** The inverse of `a` modulo the prime `p` (a not divisible by p). */
export function modInvPrime(a, p) {
  return modPow(a, p - 2n, p);
}

/** Bits of `k` from the most significant down, as numbers 0/1 (`width` of them). */
export function bitsMsbFirst(k, width) {
  const out = new Array(width);
  let v = k;
  for (let i = width - 1; i >= 0; i--) {
    out[i] = Number(v & 1n);
    v >>= 1n;
  }
  return out;
}

/**
 * [a]p + [b]q on a curve group by one pass of doublings over both scalars (Straus), for
 * 256-bit scalars. `group` gives the curve's `add`, `double` and `identity`.
 */
export function doubleScalarMult(a, p, b, q, group) {
  const { add, double, identity } = group;
  const both = add(p, q);
  const aBits = bitsMsbFirst(a, 256);
  const bBits = bitsMsbFirst(b, 256);
  let acc = identity;
  for (let i = 0; i < 256; i++) {
    acc = double(acc);
    if (aBits[i] && bBits[i]) acc = add(acc, both);
    else if (aBits[i]) acc = add(acc, p);
    else if (bBits[i]) acc = add(acc, q);
  }
  return acc;
}
