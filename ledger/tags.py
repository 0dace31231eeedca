"""Every domain-separation tag of the system (PROTOCOL §2), named once.

``Hd(tag, data) = H(tag ‖ data)``. The ``0x50``–``0x5f`` range belongs to consensus messages
and ``0x60``–``0x6f`` to contract commitments; this project's assignments are listed here so
that no two uses can share a tag.
"""

TX_LEAF = 0x00
TX_NODE = 0x01
STATE_LEAF = 0x10
STATE_NODE = 0x11
STATE_VALUE = 0x12
STATE_PATH = 0x13
TX_ID = 0x20
TX_SIGN = 0x21
RECEIPT = 0x22
BLOCK = 0x30
COMMIT_VOTE = 0x31
VALIDATORS = 0x40

# Consensus messages other than commit votes (consensus/messages.py documents each body).
PRE_PREPARE = 0x50
PREPARE = 0x51
VIEW_CHANGE = 0x52
NEW_VIEW = 0x53
PEER_HANDSHAKE = 0x5A
# Secure peer links (consensus/securechannel.py documents both byte layouts):
SECURE_LINK_AUTH = 0x5B  # a node's signature over a session's challenge, side and role
SECURE_LINK_TRANSCRIPT = 0x5C  # the hash of a session's version, suite, ephemeral keys, chain
API_REQUEST = 0x5D  # a reader's signed HTTP request (shell/readers.py)

# Contract-level commitments (contracts/ documents each encoding).
BID_COMMITMENT = 0x60
BID_SLOT = 0x61  # a bid's state slot: Hd(0x61, header ‖ bidder secret), contracts/sealing.py
# The validators' commit-reveal beacon (contracts/beacon.py documents each encoding):
BEACON_COMMIT = 0x62  # a validator's commitment to its value for one request
BEACON_SEED = 0x63  # the seed: the request's subject hashed with every reveal
BEACON_VALUE = 0x64  # a validator's value, HMAC of its secret key over the request (off chain)
DRAW_STREAM = 0x65  # the k-th number drawn from a seed (committee draws, random selections)
# A bidder's enrolment: the commitment to its bidder secret (contracts/sealing.py).
BID_SECRET = 0x66
# An entity's key lets a one-time agent key send one sealed bid call (contracts/agents.py).
BID_AGENT = 0x67
# A validator's new key signs its rotation into the set (contracts/membership.py).
VALIDATOR_ROTATION = 0x6E
# A new key co-signs its own binding when an entity rotates a key (contracts/identity.py).
KEY_ROTATION = 0x6F
