// The envelope every bundle kind shares (PROTOCOL §7, used by §8 and §9 alike), as
// ledger/bundle.py has it: `version`, `chain_id`, `genesis_hash`, `header`, `qc` and
// `validator_chain`. `parseCertified` reads it strictly; `verifyCertified` is the one check
// that a header is certified starting from the anchor alone, in the Python order and words:
// the chain id against the anchor's; the genesis hash; the anchor's set certifying block 1;
// each validator_chain entry at ascending heights below the header's, its QC valid under
// the set reached so far and its next_validators hashing to its next_validators_hash (moving
// to that set); then the header's own QC under the set reached.

import { equal } from './bytes.mjs';
import { ProofError } from './errors.mjs';
import { exactMap, getBytes, getInt, getList, getStr } from './fields.mjs';
import { parseHeader, parseQc, parseValidators, validatorsHash, verifyQc } from './block.mjs';
import { pyRepr } from './pytext.mjs';
import { DIGEST_LEN } from './suites.mjs';

export const BUNDLE_VERSION = 1;
// A validator change is a governance act: a chain sees few. The bound stops a bundle from
// making a verifier check an unbounded number of QCs.
export const MAX_VALIDATOR_CHAIN = 1024;
export const MAX_CHAIN_ID_LEN = 64;
export const ENVELOPE_FIELDS = Object.freeze(
  ['version', 'chain_id', 'genesis_hash', 'header', 'qc', 'validator_chain']);

/** The envelope fields of the bundle map `m` (binary form): a wrong shape is an InvalidInput
 * naming the field, a version other than 1 a ProofError. */
export function parseCertified(m, what) {
  const version = getInt(m, 'version', what);
  if (version !== BUNDLE_VERSION) {
    throw new ProofError(`${what} version ${version} is not supported (only ${BUNDLE_VERSION})`);
  }
  const chain = getList(m, 'validator_chain', what, MAX_VALIDATOR_CHAIN).map((entry, i) => {
    const e = exactMap(entry, `${what}.validator_chain[${i}]`, ['header', 'qc', 'next_validators']);
    return {
      header: parseHeader(e.header),
      qc: parseQc(e.qc),
      next_validators: parseValidators(e.next_validators),
    };
  });
  return {
    chain_id: getStr(m, 'chain_id', what, MAX_CHAIN_ID_LEN),
    genesis_hash: getBytes(m, 'genesis_hash', what, DIGEST_LEN),
    header: parseHeader(m.header),
    qc: parseQc(m.qc),
    chain,
  };
}

async function checkCertified(suite, header, qc, current, where, unreached) {
  if (!equal(header.validators_hash, await validatorsHash(suite, current))) {
    throw new ProofError(`missing validator change: ${where} is certified by ${unreached}`);
  }
  try {
    await verifyQc(suite, qc, header, current);
  } catch (err) {
    if (err instanceof ProofError) throw new ProofError(`${where}: ${err.message}`);
    throw err;
  }
}

async function walkValidatorChain(suite, c, anchor) {
  let current = anchor.validators;
  let lastHeight = 0;
  for (let i = 0; i < c.chain.length; i++) {
    const entry = c.chain[i];
    const h = entry.header;
    const where = `validator_chain[${i}] (block ${h.height})`;
    if (h.chain_id !== c.chain_id) {
      throw new ProofError(`wrong chain id in ${where}: ${pyRepr(h.chain_id)}`);
    }
    if (h.height <= lastHeight || h.height >= c.header.height) {
      throw new ProofError(`${where}: validator changes must be at ascending heights below the `
        + `bundle's block ${c.header.height}`);
    }
    lastHeight = h.height;
    await checkCertified(suite, h, entry.qc, current, where,
      'a set the chain before it does not reach');
    if (!equal(await validatorsHash(suite, entry.next_validators), h.next_validators_hash)) {
      throw new ProofError(`${where}: next_validators do not hash to next_validators_hash`);
    }
    current = entry.next_validators;
  }
  return current;
}

/** Throw ProofError unless the envelope's header is certified, as seen from `anchor`;
 * returns the header. */
export async function verifyCertified(c, anchor) {
  const { suite } = anchor;
  if (c.chain_id !== anchor.header.chain_id) {
    throw new ProofError(`wrong chain id: the bundle is for ${pyRepr(c.chain_id)}, `
      + `the anchor for ${pyRepr(anchor.header.chain_id)}`);
  }
  if (!equal(c.genesis_hash, anchor.genesisHash)) {
    throw new ProofError("bad genesis hash: the bundle's genesis_hash is not the anchor's header");
  }
  if (!equal(await validatorsHash(suite, anchor.validators), anchor.header.next_validators_hash)) {
    throw new ProofError("the anchor's validator set does not certify block 1");
  }
  const current = await walkValidatorChain(suite, c, anchor);
  const { header } = c;
  const where = `block ${header.height}`;
  if (header.chain_id !== c.chain_id) {
    throw new ProofError(`wrong chain id in the header of ${where}: ${pyRepr(header.chain_id)}`);
  }
  if (header.height < 1) {
    throw new ProofError('a bundle proves something about a committed block, height ≥ 1');
  }
  await checkCertified(suite, header, c.qc, current, where,
    'a validator set that validator_chain does not lead to');
  return header;
}
