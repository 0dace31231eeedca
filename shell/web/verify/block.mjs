// Headers, validator sets and commit certificates (PROTOCOL §4–§5), as ledger/block.py has
// them for a verifier: strict parsers of the binary form, block_hash = Hd(0x30, CE(HEADER)),
// validators_hash = Hd(0x40, CE(VALIDATORS)), the quorum, and `verifyQc`, the one place a QC
// is judged: it names another block, its height differs, the header is certified by another
// set, too few votes, votes unsorted or repeated or outside the set, a vote that does not
// verify over 0x31 ‖ CE({chain_id, height, view, block_hash}) — each with the Python message.

import { concat, equal, isBytes } from './bytes.mjs';
import { encode } from './ce.mjs';
import { InvalidInput, ProofError } from './errors.mjs';
import { exactMap, getBytes, getInt, getList, getStr, isInt } from './fields.mjs';
import { DIGEST_LEN, SIG_LEN } from './suites.mjs';
import * as tags from './tags.mjs';

export const MAX_VALIDATORS = 256;
const HASH_FIELDS = [
  'prev_hash', 'tx_root', 'receipts_root', 'state_root', 'validators_hash', 'next_validators_hash',
];
const HEADER_FIELDS = ['chain_id', 'height', 'time_ms', 'view', 'proposer', ...HASH_FIELDS];

/** `(n - 1) // 3`: the most faulty validators a set of n tolerates. */
export function maxFaulty(n) {
  return Math.floor((n - 1) / 3);
}

/** `(n + f) // 2 + 1` votes: 3 of 4, 4 of 5, 4 of 6, 5 of 7. */
export function quorum(n) {
  return Math.floor((n + maxFaulty(n)) / 2) + 1;
}

/** A header of the binary form, checked field by field; the result is what CE encodes. */
export function parseHeader(obj) {
  const m = exactMap(obj, 'header', HEADER_FIELDS);
  const w = 'header';
  // The order of the checks is ledger/block.py's, so the first failure is named alike.
  return {
    chain_id: getStr(m, 'chain_id', w),
    height: getInt(m, 'height', w),
    prev_hash: getBytes(m, 'prev_hash', w, DIGEST_LEN),
    time_ms: getInt(m, 'time_ms', w),
    view: getInt(m, 'view', w),
    proposer: getInt(m, 'proposer', w),
    tx_root: getBytes(m, 'tx_root', w, DIGEST_LEN),
    receipts_root: getBytes(m, 'receipts_root', w, DIGEST_LEN),
    state_root: getBytes(m, 'state_root', w, DIGEST_LEN),
    validators_hash: getBytes(m, 'validators_hash', w, DIGEST_LEN),
    next_validators_hash: getBytes(m, 'next_validators_hash', w, DIGEST_LEN),
  };
}

export function headerHash(suite, header) {
  return suite.hd(tags.BLOCK, encode(header));
}

function parseValidator(obj) {
  const m = exactMap(obj, 'validator', ['name', 'pubkey']);
  return {
    name: getStr(m, 'name', 'validator', 64),
    pubkey: getBytes(m, 'pubkey', 'validator', null, 65),
  };
}

/** A non-empty validator set of at most MAX_VALIDATORS members, no public key twice. */
export function parseValidators(obj) {
  if (!Array.isArray(obj) || obj.length === 0) {
    throw new InvalidInput('a validator set must be a non-empty array');
  }
  if (obj.length > MAX_VALIDATORS) {
    throw new InvalidInput(`a validator set has at most ${MAX_VALIDATORS} members`);
  }
  const validators = obj.map(parseValidator);
  for (let i = 0; i < validators.length; i++) {
    for (let j = 0; j < i; j++) {
      if (equal(validators[i].pubkey, validators[j].pubkey)) {
        throw new InvalidInput('a validator set lists one public key twice');
      }
    }
  }
  return validators;
}

export function validatorsHash(suite, validators) {
  return suite.hd(tags.VALIDATORS, encode(validators));
}

/** A QC of the binary form: votes are [index, 64-byte signature] pairs. */
export function parseQc(obj) {
  const m = exactMap(obj, 'qc', ['height', 'view', 'block_hash', 'votes']);
  const votes = getList(m, 'votes', 'qc', MAX_VALIDATORS).map((v) => {
    if (!(Array.isArray(v) && v.length === 2 && isInt(v[0]) && isBytes(v[1])
          && v[1].length === SIG_LEN)) {
      throw new InvalidInput('qc.votes must be [index, 64-byte signature] pairs');
    }
    return [v[0], v[1]];
  });
  return {
    height: getInt(m, 'height', 'qc'),
    view: getInt(m, 'view', 'qc'),
    block_hash: getBytes(m, 'block_hash', 'qc', DIGEST_LEN),
    votes,
  };
}

export function commitVoteBytes(chainId, height, view, blockHash) {
  const body = { chain_id: chainId, height, view, block_hash: blockHash };
  return concat(Uint8Array.of(tags.COMMIT_VOTE), encode(body));
}

// The position of the first vote that is out of order, repeated or outside the set (with its
// message), or null: the Python loop meets these in order, between signature checks.
function firstMisplacedVote(votes, setSize) {
  let last = -1;
  for (let k = 0; k < votes.length; k++) {
    const index = votes[k][0];
    if (index <= last) {
      return { at: k, message: 'QC votes are not sorted by index or list an index twice' };
    }
    if (index >= setSize) {
      return { at: k, message: `QC vote index ${index} is outside the validator set` };
    }
    last = index;
  }
  return null;
}

/** Throw ProofError unless `qc` certifies `header` under `validators` (PROTOCOL §5). */
export async function verifyQc(suite, qc, header, validators) {
  if (!equal(qc.block_hash, await headerHash(suite, header))) {
    throw new ProofError(`QC for height ${qc.height} names another block than its header`);
  }
  if (qc.height !== header.height) {
    throw new ProofError(`QC height ${qc.height} differs from header height ${header.height}`);
  }
  if (!equal(header.validators_hash, await validatorsHash(suite, validators))) {
    throw new ProofError(`header ${header.height} is certified by another validator set`);
  }
  const need = quorum(validators.length);
  if (qc.votes.length < need) {
    throw new ProofError(`QC has ${qc.votes.length} votes, below the quorum of ${need}`);
  }
  const message = commitVoteBytes(header.chain_id, qc.height, qc.view, qc.block_hash);
  const misplaced = firstMisplacedVote(qc.votes, validators.length);
  const checked = misplaced === null ? qc.votes : qc.votes.slice(0, misplaced.at);
  // Signatures are checked together (WebCrypto runs them in parallel); the verdict names
  // the first failure in vote order, as a one-by-one check would.
  const verdicts = await Promise.all(
    checked.map(([index, sig]) => suite.verify(validators[index].pubkey, message, sig)),
  );
  const failed = verdicts.indexOf(false);
  if (failed >= 0) {
    throw new ProofError(`QC vote of validator ${checked[failed][0]} does not verify`);
  }
  if (misplaced !== null) throw new ProofError(misplaced.message);
}
