// The part of PROTOCOL §7 that every bundle kind (§7, §8, §9) shares: that a header is
// certified, starting from the anchor alone. In ledger/bundle.py's order and words: the
// chain id against the anchor's; the genesis hash; the anchor's set certifying block 1; each
// validator_chain entry at ascending heights below the header's, its QC valid under the set
// reached so far and its next_validators hashing to its next_validators_hash (moving to that
// set); then the header's own QC under the set reached.

import { equal } from './bytes.mjs';
import { ProofError } from './errors.mjs';
import { validatorsHash, verifyQc } from './block.mjs';
import { pyRepr } from './pytext.mjs';

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

async function walkValidatorChain(suite, b, anchor) {
  let current = anchor.validators;
  let lastHeight = 0;
  for (let i = 0; i < b.chain.length; i++) {
    const entry = b.chain[i];
    const h = entry.header;
    const where = `validator_chain[${i}] (block ${h.height})`;
    if (h.chain_id !== b.chain_id) {
      throw new ProofError(`wrong chain id in ${where}: ${pyRepr(h.chain_id)}`);
    }
    if (h.height <= lastHeight || h.height >= b.header.height) {
      throw new ProofError(`${where}: validator changes must be at ascending heights below the `
        + `record's block ${b.header.height}`);
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

/**
 * Throw ProofError unless `b.header` is certified, as seen from `anchor`. `b` holds the
 * parsed common fields: chain_id, genesis_hash, chain (validator_chain entries), header, qc.
 */
export async function certifyHeader(b, anchor) {
  const { suite } = anchor;
  if (b.chain_id !== anchor.header.chain_id) {
    throw new ProofError(`wrong chain id: the bundle is for ${pyRepr(b.chain_id)}, `
      + `the anchor for ${pyRepr(anchor.header.chain_id)}`);
  }
  if (!equal(b.genesis_hash, anchor.genesisHash)) {
    throw new ProofError("bad genesis hash: the bundle's genesis_hash is not the anchor's header");
  }
  if (!equal(await validatorsHash(suite, anchor.validators), anchor.header.next_validators_hash)) {
    throw new ProofError("the anchor's validator set does not certify block 1");
  }
  const current = await walkValidatorChain(suite, b, anchor);
  const { header } = b;
  const where = `block ${header.height}`;
  if (header.chain_id !== b.chain_id) {
    throw new ProofError(`wrong chain id in the header of ${where}: ${pyRepr(header.chain_id)}`);
  }
  if (header.height < 1) {
    throw new ProofError('a bundle proves a record after a committed block, height ≥ 1');
  }
  await checkCertified(suite, header, b.qc, current, where,
    'a validator set that validator_chain does not lead to');
}
