// Error kinds of the verifier, named as in the Python ledger (ledger/errors.py).
//
// InvalidInput: bytes or values from outside that are malformed or out of bounds.
// EncodingError: input that is not canonical encoding (PROTOCOL §1); TooDeep: nested deeper
// than the bound (ledger/limits.py).
// ProofError: a state proof, Merkle path, QC or bundle that does not verify.
// Every message says what failed; verdict.mjs turns the first one met into the verdict.

export class InvalidInput extends Error {
  constructor(message) {
    super(message);
    this.name = 'InvalidInput';
  }
}

export class EncodingError extends InvalidInput {
  constructor(message) {
    super(message);
    this.name = 'EncodingError';
  }
}

/** A value nested deeper than the bound its encoder or decoder was given. */
export class TooDeep extends EncodingError {
  constructor(message) {
    super(message);
    this.name = 'TooDeep';
  }
}

export class ProofError extends InvalidInput {
  constructor(message) {
    super(message);
    this.name = 'ProofError';
  }
}
