// Proof bundles (PROTOCOL §7 records, §8 inclusions, §9 multi-key records): their kind, their
// strict parse, and what each proves once certify.mjs has certified its header.
//
// Each kind is told by its fields: `key` (§7 BUNDLE), `tx` (§8 INCLUSION), `entries` (§9
// MULTI). The §7 parse and checks follow ledger/bundle.py step by step, so the first
// failure has the same message; §8 and §9 follow PROTOCOL in the same manner (decode the
// transaction and receipt canonically, check the signature, both paths and that the receipt
// is the transaction's; entries non-empty with distinct keys sorted by UTF-8 bytes, then
// every state proof).

import { compare, equal, toHex, utf8 } from './bytes.mjs';
import { decode } from './ce.mjs';
import { certifyHeader } from './certify.mjs';
import { InvalidInput, ProofError } from './errors.mjs';
import { exactMap, getBytes, getInt, getList, getStr, isMap } from './fields.mjs';
import { parseHeader, parseQc, parseValidators, headerHash } from './block.mjs';
import { verifyInclusion } from './merkle.mjs';
import { pyRepr } from './pytext.mjs';
import { parseProof, verifyProof } from './smt.mjs';
import { DIGEST_LEN } from './suites.mjs';
import {
  MAX_TX_BYTES, parseReceipt, parseSignedTx, receiptHash, txId, txSigningBytes,
} from './tx.mjs';

export const BUNDLE_VERSION = 1;
// A validator change is a governance act: a chain sees few. The bound stops a bundle from
// making a verifier check an unbounded number of QCs (ledger/bundle.py).
export const MAX_VALIDATOR_CHAIN = 1024;
export const MAX_KEY_LEN = 512;
export const MAX_VALUE_BYTES = 1 << 20;
export const MAX_BUNDLE_BYTES = 8 << 20;
// A block holds at most 10,000 transactions (ledger/block.py), so an audit path has at most
// 14 hashes; 64 leaves room and still bounds the work.
export const MAX_BLOCK_TXS = 10000;
export const MAX_PATH_LEN = 64;
export const MAX_RECEIPT_BYTES = 1 << 20;
export const MAX_MULTI_ENTRIES = 256;

const COMMON_FIELDS = ['version', 'chain_id', 'genesis_hash', 'header', 'qc', 'validator_chain'];
export const KINDS = Object.freeze({
  bundle: [...COMMON_FIELDS, 'key', 'value', 'proof'],
  inclusion: [...COMMON_FIELDS, 'index', 'count', 'tx', 'tx_path', 'receipt', 'receipt_path'],
  multi: [...COMMON_FIELDS, 'entries'],
});

/** 'bundle' (§7), 'inclusion' (§8), 'multi' (§9), or null when the fields say none. */
export function kindOf(obj) {
  if (!isMap(obj)) return null;
  if (Object.hasOwn(obj, 'key')) return 'bundle';
  if (Object.hasOwn(obj, 'tx')) return 'inclusion';
  if (Object.hasOwn(obj, 'entries')) return 'multi';
  return null;
}

// ---- parsing the binary form -----------------------------------------------------------

function parseVersion(m, what) {
  const version = getInt(m, 'version', what);
  if (version !== BUNDLE_VERSION) {
    throw new ProofError(`bundle version ${version} is not supported (only ${BUNDLE_VERSION})`);
  }
}

function parseChain(m, what) {
  return getList(m, 'validator_chain', what, MAX_VALIDATOR_CHAIN).map((entry, i) => {
    const e = exactMap(entry, `${what}.validator_chain[${i}]`, ['header', 'qc', 'next_validators']);
    return {
      header: parseHeader(e.header),
      qc: parseQc(e.qc),
      next_validators: parseValidators(e.next_validators),
    };
  });
}

function parseValue(m, what) {
  return m.value === null ? null : getBytes(m, 'value', what, null, MAX_VALUE_BYTES);
}

function parseRecord(obj) {
  const m = exactMap(obj, 'bundle', KINDS.bundle);
  parseVersion(m, 'bundle');
  const value = parseValue(m, 'bundle');
  const chain = parseChain(m, 'bundle');
  return {
    chain_id: getStr(m, 'chain_id', 'bundle', 64),
    genesis_hash: getBytes(m, 'genesis_hash', 'bundle', DIGEST_LEN),
    key: getStr(m, 'key', 'bundle', MAX_KEY_LEN),
    value,
    proof: parseProof(m.proof),
    header: parseHeader(m.header),
    qc: parseQc(m.qc),
    chain,
  };
}

function parsePath(m, key, what) {
  return getList(m, key, what, MAX_PATH_LEN).map((h, i) => {
    if (!(h instanceof Uint8Array) || h.length !== DIGEST_LEN) {
      throw new InvalidInput(`${what}.${key}[${i}] must be ${DIGEST_LEN} bytes`);
    }
    return h;
  });
}

function decodeCarried(m, key, what, maxBytes) {
  const raw = getBytes(m, key, what, null, maxBytes);
  try {
    return { raw, value: decode(raw, maxBytes) };
  } catch (err) {
    if (err instanceof InvalidInput) throw new InvalidInput(`${what}.${key}: ${err.message}`);
    throw err;
  }
}

function parseInclusion(obj) {
  const w = 'inclusion';
  const m = exactMap(obj, w, KINDS.inclusion);
  parseVersion(m, w);
  const chain = parseChain(m, w);
  const count = getInt(m, 'count', w, 1);
  if (count > MAX_BLOCK_TXS) throw new InvalidInput(`${w}.count is above ${MAX_BLOCK_TXS}`);
  const tx = decodeCarried(m, 'tx', w, MAX_TX_BYTES);
  const receipt = decodeCarried(m, 'receipt', w, MAX_RECEIPT_BYTES);
  return {
    chain_id: getStr(m, 'chain_id', w, 64),
    genesis_hash: getBytes(m, 'genesis_hash', w, DIGEST_LEN),
    index: getInt(m, 'index', w),
    count,
    tx: parseSignedTx(tx.value),
    tx_path: parsePath(m, 'tx_path', w),
    receipt: parseReceipt(receipt.value),
    receipt_bytes: receipt.raw,
    receipt_path: parsePath(m, 'receipt_path', w),
    header: parseHeader(m.header),
    qc: parseQc(m.qc),
    chain,
  };
}

function parseEntries(m, what) {
  const raw = getList(m, 'entries', what, MAX_MULTI_ENTRIES);
  if (raw.length === 0) throw new InvalidInput(`${what}.entries must not be empty`);
  let previous = null;
  return raw.map((entry, i) => {
    const where = `${what}.entries[${i}]`;
    const e = exactMap(entry, where, ['key', 'value', 'proof']);
    const key = getStr(e, 'key', where, MAX_KEY_LEN);
    let keyBytes;
    try {
      keyBytes = utf8(key);
    } catch {
      throw new InvalidInput(`${where}.key is not valid UTF-8 text`);
    }
    if (previous !== null) {
      const order = compare(previous.bytes, keyBytes);
      if (order === 0) throw new InvalidInput(`${where}: key ${pyRepr(key)} appears twice`);
      if (order > 0) {
        throw new InvalidInput(`${where}: key ${pyRepr(key)} sorts before ${pyRepr(previous.key)}; `
          + 'entries must be sorted by the UTF-8 bytes of their keys');
      }
    }
    previous = { key, bytes: keyBytes };
    return { key, value: parseValue(e, where), proof: parseProof(e.proof) };
  });
}

function parseMulti(obj) {
  const w = 'multi';
  const m = exactMap(obj, w, KINDS.multi);
  parseVersion(m, w);
  const chain = parseChain(m, w);
  return {
    chain_id: getStr(m, 'chain_id', w, 64),
    genesis_hash: getBytes(m, 'genesis_hash', w, DIGEST_LEN),
    entries: parseEntries(m, w),
    header: parseHeader(m.header),
    qc: parseQc(m.qc),
    chain,
  };
}

const PARSERS = { bundle: parseRecord, inclusion: parseInclusion, multi: parseMulti };

/** The parsed bundle of `kind`; a wrong shape is a ProofError, as in ledger/bundle.py. */
export function parseBundle(obj, kind) {
  try {
    return PARSERS[kind](obj);
  } catch (err) {
    if (err instanceof ProofError) throw err;
    if (err instanceof InvalidInput) throw new ProofError(`malformed bundle: ${err.message}`);
    throw err;
  }
}

// ---- what each kind proves ---------------------------------------------------------------

/** What a proven record says: present or not, its CE bytes and their decoded value. */
export function describeRecord(key, value) {
  if (value === null) return { key, present: false, value: null, value_ce: null };
  const out = { key, present: true, value_ce: toHex(value) };
  try {
    out.value = decode(value);
  } catch (err) {
    // The proof covers the bytes whatever they are; the chain writes CE, so this is news.
    if (!(err instanceof InvalidInput)) throw err;
    out.value_error = `the proven value is not canonical CE: ${err.message}`;
  }
  return out;
}

async function checkStateProof(suite, header, key, proof, value) {
  try {
    await verifyProof(suite, header.state_root, key, proof, value);
  } catch (err) {
    if (err instanceof ProofError) {
      const where = `state proof of ${pyRepr(key)} at block ${header.height}`;
      throw new ProofError(`${where}: ${err.message}`);
    }
    if (err instanceof InvalidInput) throw new ProofError(`malformed state proof: ${err.message}`);
    throw err;
  }
}

async function proveRecord(suite, b) {
  await checkStateProof(suite, b.header, b.key, b.proof, b.value);
  return describeRecord(b.key, b.value);
}

async function checkPath(suite, what, leaf, b, path, root) {
  try {
    await verifyInclusion(suite, leaf, b.index, b.count, path, root);
  } catch (err) {
    if (err instanceof ProofError) {
      throw new ProofError(`${what} at index ${b.index} of ${b.count} in block ${b.header.height}: `
        + err.message);
    }
    throw err;
  }
}

async function proveInclusion(suite, b) {
  const { body, sig } = b.tx;
  if (body.chain_id !== b.chain_id) {
    throw new ProofError(`the transaction is for chain ${pyRepr(body.chain_id)}, `
      + `not ${pyRepr(b.chain_id)}`);
  }
  if (body.sender.length !== suite.pubkeyLen) {
    throw new ProofError(`transaction signature: ${suite.name} public key must be `
      + `${suite.pubkeyLen} bytes`);
  }
  if (!(await suite.verify(body.sender, txSigningBytes(body), sig))) {
    throw new ProofError('transaction signature: signature does not verify');
  }
  const id = await txId(suite, body);
  await checkPath(suite, 'transaction path', id, b, b.tx_path, b.header.tx_root);
  if (!equal(b.receipt.tx_id, id)) {
    throw new ProofError('the receipt is of another transaction: '
      + "its tx_id is not the transaction's id");
  }
  const leaf = await receiptHash(suite, b.receipt_bytes);
  await checkPath(suite, 'receipt path', leaf, b, b.receipt_path, b.header.receipts_root);
  return {
    index: b.index,
    count: b.count,
    tx_id: toHex(id),
    tx: b.tx,
    receipt: b.receipt,
    code: b.receipt.code,
    events: b.receipt.events,
  };
}

async function proveMulti(suite, b) {
  const entries = [];
  for (const entry of b.entries) {
    await checkStateProof(suite, b.header, entry.key, entry.proof, entry.value);
    entries.push(describeRecord(entry.key, entry.value));
  }
  return { entries };
}

const PROVERS = { bundle: proveRecord, inclusion: proveInclusion, multi: proveMulti };

/**
 * Verify the binary-form bundle `obj` of `kind` against a loaded anchor: the fields of what
 * it proves, or a ProofError naming the first check that failed.
 */
export async function verifyParsed(obj, kind, anchor) {
  const b = parseBundle(obj, kind);
  await certifyHeader(b, anchor);
  const proven = await PROVERS[kind](anchor.suite, b);
  return {
    kind,
    suite: anchor.suite.name,
    chain_id: b.chain_id,
    height: b.header.height,
    time_ms: b.header.time_ms,
    block_hash: toHex(await headerHash(anchor.suite, b.header)),
    validator_changes: b.chain.map((e) => e.header.height),
    ...proven,
  };
}
