// Signed transactions (PROTOCOL §3) and receipts (§8) as an inclusion bundle carries them:
// strict decoding within the transaction limits (limits.mjs) and parsers with ledger/tx.py's
// messages, the transaction id Hd(0x20, CE(body)), the signing bytes 0x21 ‖ CE(body) and the
// receipt hash Hd(0x22, CE(receipt)).

import { concat } from './bytes.mjs';
import { decode, encode } from './ce.mjs';
import { EncodingError, InvalidInput, TooDeep } from './errors.mjs';
import { exactMap, getBytes, getInt, getStr, isMap } from './fields.mjs';
import { MAX_ARGS_DEPTH, MAX_TX_BYTES, TX_DEPTH, checkArgs } from './limits.mjs';
import { pyRepr } from './pytext.mjs';
import { SIG_LEN } from './suites.mjs';
import * as tags from './tags.mjs';

export const MAX_CALL_LEN = 64;
const MAX_CHAIN_ID_LEN = 256;
const MAX_SENDER_LEN = 65;
const BODY_FIELDS = ['chain_id', 'sender', 'nonce', 'call', 'args'];
const RECEIPT_FIELDS = ['tx_id', 'code', 'message', 'events'];

function parseBody(obj) {
  const m = exactMap(obj, 'tx body', BODY_FIELDS);
  checkArgs(m.args);
  const call = getStr(m, 'call', 'tx body', MAX_CALL_LEN);
  if (call.split('.').length !== 2) {
    throw new InvalidInput(`tx body.call must be 'contract.method', got ${pyRepr(call)}`);
  }
  return {
    chain_id: getStr(m, 'chain_id', 'tx body', MAX_CHAIN_ID_LEN),
    sender: getBytes(m, 'sender', 'tx body', null, MAX_SENDER_LEN),
    nonce: getInt(m, 'nonce', 'tx body'),
    call,
    args: m.args,
  };
}

/** `{body, sig}` of a signed transaction's CE bytes, decoded within the limits. */
export function decodeSignedTx(bytes) {
  let obj;
  try {
    obj = decode(bytes, MAX_TX_BYTES, TX_DEPTH);
  } catch (err) {
    if (!(err instanceof TooDeep)) throw err;
    throw new EncodingError(`transaction nested deeper than ${TX_DEPTH} levels: its args `
      + `may nest at most ${MAX_ARGS_DEPTH}`);
  }
  return parseSignedTx(obj);
}

/** `{body, sig}` of a decoded signed transaction. */
export function parseSignedTx(obj) {
  const m = exactMap(obj, 'transaction', ['body', 'sig']);
  return { body: parseBody(m.body), sig: getBytes(m, 'sig', 'transaction', SIG_LEN) };
}

/** `{tx_id, code, message, events}` of a decoded receipt. */
export function parseReceipt(obj) {
  const m = exactMap(obj, 'receipt', RECEIPT_FIELDS);
  if (!Array.isArray(m.events) || !m.events.every(isMap)) {
    throw new InvalidInput('receipt.events must be an array of maps');
  }
  return {
    tx_id: getBytes(m, 'tx_id', 'receipt', 32),
    code: getStr(m, 'code', 'receipt', 64),
    message: getStr(m, 'message', 'receipt', 4096),
    events: m.events,
  };
}

export function txId(suite, body) {
  return suite.hd(tags.TX_ID, encode(body));
}

export function txSigningBytes(body) {
  return concat(Uint8Array.of(tags.TX_SIGN), encode(body));
}

/** Hd(0x22, receipt) over the receipt's canonical bytes as the bundle carries them. */
export function receiptHash(suite, receiptBytes) {
  return suite.hd(tags.RECEIPT, receiptBytes);
}
