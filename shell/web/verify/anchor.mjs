// The verifier's trust anchor (ledger/genesis.py, class Anchor): the genesis header and the
// validator set that certifies block 1, in the anchor file's JSON form
// {"suite", "genesis_header", "validators"} (bytes as lowercase hex). Loading checks that the
// header is a genesis header (height 0, zero prev_hash), that the set hashes to its
// validators_hash, and that every public key is one of the suite.

import { equal } from './bytes.mjs';
import { InvalidInput } from './errors.mjs';
import { exactMap, getStr } from './fields.mjs';
import { ANCHOR, fromJson } from './json.mjs';
import { headerHash, parseHeader, parseValidators, validatorsHash } from './block.mjs';
import { makeSuite } from './suites.mjs';

const ZERO = new Uint8Array(32);

/**
 * `{suite, header, validators, genesisHash}` from the anchor file's JSON (an object or its
 * text); `suiteOptions` go to makeSuite. InvalidInput says what is wrong with the anchor.
 */
export async function loadAnchor(anchorJson, suiteOptions = {}) {
  const parsed = typeof anchorJson === 'string' ? parseJsonText(anchorJson) : anchorJson;
  const fields = ['suite', 'genesis_header', 'validators'];
  const m = exactMap(fromJson(parsed, ANCHOR, 'anchor'), 'anchor', fields);
  const suite = await makeSuite(getStr(m, 'suite', 'anchor', 32), suiteOptions);
  const header = parseHeader(m.genesis_header);
  const validators = parseValidators(m.validators);
  if (header.height !== 0 || !equal(header.prev_hash, ZERO)) {
    throw new InvalidInput('anchor header is not a genesis header (height 0, zero prev_hash)');
  }
  if (!equal(header.validators_hash, await validatorsHash(suite, validators))) {
    throw new InvalidInput('anchor validators do not hash to the genesis validators_hash');
  }
  validators.forEach((v, i) => {
    try {
      suite.checkPubkey(v.pubkey);
    } catch (err) {
      throw new InvalidInput(`anchor.validators[${i}].pubkey: ${err.message}`);
    }
  });
  return { suite, header, validators, genesisHash: await headerHash(suite, header) };
}

function parseJsonText(text) {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidInput(`anchor file is not valid JSON: ${err.message}`);
  }
}
