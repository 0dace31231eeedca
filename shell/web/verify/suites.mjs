// The two crypto suites of PROTOCOL §2 behind one interface, as ledger/crypto.py has them:
// `hash`, `hd(tag, data) = H(tag ‖ data)`, `verify(pubkey, message, signature)` (all async),
// `pubkeyLen` and `checkPubkey`.
//
// ed25519-sha256: SHA-256 and Ed25519 through WebCrypto when the page has them (Ed25519 is
// probed once: many browsers still lack it), else sha2.mjs and the BigInt ed25519.mjs; the
// libsodium prechecks run on both paths. sm2-sm3: SM3 and SM2 in plain JS (no browser ships
// them in WebCrypto).

import { concat, toHex } from './bytes.mjs';
import { verifyEd25519, precheck } from './ed25519.mjs';
import { InvalidInput } from './errors.mjs';
import { defaultWebCrypto, makeDigests } from './hash.mjs';
import { pyRepr } from './pytext.mjs';
import { isPublicKey, verifySm2 } from './sm2.mjs';
import { sm3 } from './sm3.mjs';

export const SUITE_NAMES = Object.freeze(['ed25519-sha256', 'sm2-sm3']);
export const SIG_LEN = 64;
export const DIGEST_LEN = 32;
const ED25519 = { name: 'Ed25519' };
// The Ed25519 base point's encoding: a key every implementation that has Ed25519 imports.
const PROBE_KEY = new Uint8Array(32).fill(0x66);
PROBE_KEY[0] = 0x58;
const KEY_CACHE_MAX = 1024;

async function webCryptoHasEd25519(webCrypto) {
  if (webCrypto === null) return false;
  try {
    await webCrypto.importKey('raw', PROBE_KEY, ED25519, false, ['verify']);
    return true;
  } catch {
    return false;
  }
}

function ed25519WebCryptoVerifier(webCrypto) {
  // Importing a key is async and not free; validators sign every block, so keep them.
  const keys = new Map();
  return async (pubkey, message, signature) => {
    if (!precheck(pubkey, signature)) return false;
    const hex = toHex(pubkey);
    try {
      let key = keys.get(hex);
      if (key === undefined) {
        key = await webCrypto.importKey('raw', pubkey, ED25519, false, ['verify']);
        if (keys.size >= KEY_CACHE_MAX) keys.delete(keys.keys().next().value);
        keys.set(hex, key);
      }
      return await webCrypto.verify(ED25519, key, signature, message);
    } catch {
      // Support was probed when the suite was made: a failure here is this key or
      // signature being unusable, which is a signature that does not verify.
      return false;
    }
  };
}

async function makeEd25519Sha256(webCrypto, forceBigInt) {
  const digests = makeDigests(webCrypto);
  const native = !forceBigInt && (await webCryptoHasEd25519(webCrypto));
  const verify = native
    ? ed25519WebCryptoVerifier(webCrypto)
    : (pubkey, message, signature) => verifyEd25519(pubkey, message, signature, digests.sha512);
  return {
    name: 'ed25519-sha256',
    pubkeyLen: 32,
    paths: { hash: digests.path, signature: native ? 'webcrypto' : 'bigint' },
    hash: digests.sha256,
    hd: (tag, data) => digests.sha256(concat(Uint8Array.of(tag), data)),
    verify,
    checkPubkey(pubkey) {
      if (pubkey.length !== 32) {
        throw new InvalidInput(`Ed25519 public key must be 32 bytes, got ${pubkey.length}`);
      }
    },
  };
}

function makeSm2Sm3() {
  return {
    name: 'sm2-sm3',
    pubkeyLen: 65,
    paths: { hash: 'js', signature: 'bigint' },
    hash: async (data) => sm3(data),
    hd: async (tag, data) => sm3(concat(Uint8Array.of(tag), data)),
    verify: async (pubkey, message, signature) => verifySm2(pubkey, message, signature),
    checkPubkey(pubkey) {
      if (pubkey.length !== 65) {
        throw new InvalidInput(`SM2 public key must be 65 bytes, got ${pubkey.length}`);
      }
      if (!isPublicKey(pubkey)) {
        throw new InvalidInput('SM2 public key is not a point on the curve: '
          + 'not an uncompressed point (04‖X‖Y) with X, Y below p on the curve');
      }
    },
  };
}

/**
 * The suite called `name`. Options: `webCrypto`, a SubtleCrypto or null for plain JS only
 * (default: this page's, if any); `ed25519BigInt: true` to verify Ed25519 in BigInt even
 * where WebCrypto has it (tests and benchmarks of the fallback).
 */
export async function makeSuite(name, options = {}) {
  const { webCrypto = defaultWebCrypto(), ed25519BigInt = false } = options;
  if (name === 'ed25519-sha256') return makeEd25519Sha256(webCrypto, ed25519BigInt);
  if (name === 'sm2-sm3') return makeSm2Sm3();
  throw new InvalidInput(
    `unknown crypto suite ${pyRepr(name)}; known: ${pyRepr([...SUITE_NAMES])}`);
}
