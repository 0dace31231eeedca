// The digests the suites need (SHA-256, SHA-512; PROTOCOL §2), through WebCrypto when the
// page has it and through sha2.mjs when it has not (crypto.subtle exists only in secure
// contexts). WebCrypto's digest is asynchronous, so every digest here returns a Promise.

import { sha256 as jsSha256, sha512 as jsSha512 } from './sha2.mjs';

/** The SubtleCrypto of this page or process, or null when there is none. */
export function defaultWebCrypto() {
  const c = globalThis.crypto;
  return c !== undefined && c.subtle !== undefined ? c.subtle : null;
}

/** `{sha256, sha512, path}`: digests through `webCrypto`, or plain JS when it is null. */
export function makeDigests(webCrypto) {
  if (webCrypto === null) {
    return {
      sha256: async (data) => jsSha256(data),
      sha512: async (data) => jsSha512(data),
      path: 'js',
    };
  }
  return {
    sha256: async (data) => new Uint8Array(await webCrypto.digest('SHA-256', data)),
    sha512: async (data) => new Uint8Array(await webCrypto.digest('SHA-512', data)),
    path: 'webcrypto',
  };
}
