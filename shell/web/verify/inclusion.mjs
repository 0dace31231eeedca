// §8 inclusion bundles: a signed transaction and its receipt, proven in a certified block
// (ledger/inclusion.py's verifier side). In PROTOCOL §8's order, naming the first failure in
// the Python words: the envelope (certify.mjs); the canonical decoding of `tx` and `receipt`;
// the signature over 0x21 ‖ CE(body) under body.sender; tx_path for leaf Hd(0x20, CE(body))
// in header.tx_root; the receipt's tx_id; receipt_path for leaf Hd(0x22, receipt) in
// header.receipts_root, both at `index` of `count`. A header does not commit to `count`: a
// valid bundle proves that the transaction and its receipt are in the block, not its size.
//
// INCLUSION = {"version": 1, "chain_id", "genesis_hash", "index": int, "count": int,
//              "tx": bin, "tx_path": PATH, "receipt": bin, "receipt_path": PATH,
//              "header", "qc", "validator_chain"}

import { equal, isBytes, toHex } from './bytes.mjs';
import { decode } from './ce.mjs';
import { ENVELOPE_FIELDS, parseCertified, verifyCertified } from './certify.mjs';
import { InvalidInput, ProofError } from './errors.mjs';
import { exactMap, getBytes, getInt, getList } from './fields.mjs';
import { MAX_PATH_LEN, verifyInclusion } from './merkle.mjs';
import { DIGEST_LEN } from './suites.mjs';
import { MAX_TX_BYTES } from './limits.mjs';
import { decodeSignedTx, parseReceipt, receiptHash, txId, txSigningBytes } from './tx.mjs';

export const WHAT = 'inclusion bundle';
// A receipt carries a message (≤ 4 KiB) and the events of one transaction.
export const MAX_RECEIPT_BYTES = 1 << 20;
const FIELDS = [...ENVELOPE_FIELDS, 'index', 'count', 'tx', 'tx_path', 'receipt', 'receipt_path'];

function parsePath(m, name) {
  return getList(m, name, WHAT, MAX_PATH_LEN).map((item, i) => {
    if (!isBytes(item) || item.length !== DIGEST_LEN) {
      throw new InvalidInput(`${WHAT}.${name}[${i}] must be ${DIGEST_LEN} bytes`);
    }
    return item;
  });
}

function parse(obj) {
  try {
    const m = exactMap(obj, WHAT, FIELDS);
    return {
      certified: parseCertified(m, WHAT),
      index: getInt(m, 'index', WHAT),
      count: getInt(m, 'count', WHAT),
      tx: getBytes(m, 'tx', WHAT, null, MAX_TX_BYTES),
      tx_path: parsePath(m, 'tx_path'),
      receipt: getBytes(m, 'receipt', WHAT, null, MAX_RECEIPT_BYTES),
      receipt_path: parsePath(m, 'receipt_path'),
    };
  } catch (err) {
    if (err instanceof InvalidInput && !(err instanceof ProofError)) {
      throw new ProofError(`malformed ${WHAT}: ${err.message}`);
    }
    throw err;
  }
}

// `read(bytes)`, a strict decode and parse; a failure says which field and why.
function decodeCarried(bytes, read, what) {
  try {
    return read(bytes);
  } catch (err) {
    if (err instanceof InvalidInput) {
      throw new ProofError(`malformed ${WHAT}: ${what}: ${err.message}`);
    }
    throw err;
  }
}

// The audit path of `leaf` at index of count in the header's `rootName` root.
async function checkPath(suite, b, header, pathName, rootName, leaf) {
  try {
    await verifyInclusion(suite, leaf, b.index, b.count, b[pathName], header[rootName]);
  } catch (err) {
    if (err instanceof ProofError) {
      throw new ProofError(`${pathName} in block ${header.height}'s ${rootName}: ${err.message}`);
    }
    throw err;
  }
}

/** Verify a binary-form §8 bundle against a loaded anchor: {certified, index, count, tx,
 * tx_id, receipt}. */
export async function verifyInclusionBundle(obj, anchor) {
  const b = parse(obj);
  const header = await verifyCertified(b.certified, anchor);
  const tx = decodeCarried(b.tx, decodeSignedTx, 'tx is not a canonical transaction');
  const readReceipt = (bytes) => parseReceipt(decode(bytes, MAX_RECEIPT_BYTES));
  const receipt = decodeCarried(b.receipt, readReceipt, 'receipt is not a canonical receipt');
  const { suite } = anchor;
  if (!(await suite.verify(tx.body.sender, txSigningBytes(tx.body), tx.sig))) {
    throw new ProofError("the transaction's signature does not verify under its sender");
  }
  const id = await txId(suite, tx.body);
  await checkPath(suite, b, header, 'tx_path', 'tx_root', id);
  if (!equal(receipt.tx_id, id)) {
    throw new ProofError(`the receipt is for another transaction (${toHex(receipt.tx_id)}, `
      + `not ${toHex(id)})`);
  }
  await checkPath(suite, b, header, 'receipt_path', 'receipts_root',
    await receiptHash(suite, b.receipt));
  return { certified: b.certified, index: b.index, count: b.count, tx, tx_id: id, receipt };
}
