"""The node shell: where the pure cores (``consensus``, ``contracts``, ``ledger``) meet real I/O.

One module per concern:

- ``config``     the node's TOML config: every setting with its default and bounds; passphrases
- ``chain``      store + state tree + application + pool + verified signatures, built in one pass
- ``driver``     the one synchronous driver of a replica's effects (node and simulator alike)
- ``admission``  transactions in: decode, pre-check, known senders, verify once, pool, gossip
- ``peers``      peer links: framing, handshake, frames to replica events, the driver's transport
- ``securelink`` encrypted, mutually authenticated peer streams (``consensus.securechannel``)
- ``api``        the HTTP API: one handler per route; ``routes`` is the table OpenAPI comes from
- ``metrics``    Prometheus metrics with HELP text and labels
- ``ratelimit``  token buckets per source (requests, verifications)
- ``server``     the node's lifecycle: start, run, stop, signals
- ``client``     a typed HTTP client of the API, for the CLI and tests
- ``localnet``   local networks: ``network init`` files and the ``network up`` supervisor

``node.py`` and ``cli.py`` at the top level are thin entry points into this package.
"""
