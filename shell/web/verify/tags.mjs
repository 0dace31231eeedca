// The domain-separation tags of PROTOCOL §2 that a verifier meets, named once
// (ledger/tags.py holds the whole table). Hd(tag, data) = H(tag ‖ data).

export const TX_LEAF = 0x00;
export const TX_NODE = 0x01;
export const STATE_LEAF = 0x10;
export const STATE_NODE = 0x11;
export const STATE_VALUE = 0x12;
export const STATE_PATH = 0x13;
export const TX_ID = 0x20;
export const TX_SIGN = 0x21;
export const RECEIPT = 0x22;
export const BLOCK = 0x30;
export const COMMIT_VOTE = 0x31;
export const VALIDATORS = 0x40;
