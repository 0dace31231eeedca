"""The ledger core: canonical bytes, crypto suites, Merkle roots, the state tree, blocks and
their store. Everything here follows ``PROTOCOL.md`` (shared with the other platforms)."""
