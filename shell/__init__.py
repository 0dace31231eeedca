"""The node shell: where the pure cores (``consensus``, ``contracts``, ``ledger``) meet real I/O.

One module per concern:

The node
- ``config``     the node's TOML config: every setting with its default and bounds; passphrases
- ``chain``      store + state tree + application + pool + verified signatures, built in one pass
- ``driver``     the one synchronous driver of a replica's effects (node and simulator alike)
- ``server``     the node's lifecycle: start, run, stop, signals; gossiping waiting transactions
- ``admission``  transactions in: decode, pre-check, known senders, verify once, pool, gossip
- ``peers``      peer links: framing, handshake, frames to replica events, the driver's transport
- ``securelink`` encrypted, mutually authenticated peer streams (``consensus.securechannel``)
- ``proposals``  compact proposals: a block travels as its header and transaction ids
- ``statesync``  an empty node starts from a recent certified height; ``retention``: the
                 oldest height served; ``resync``: set a damaged store aside and start again
- ``beacon``     a validator's part in the draw beacon (commit, reveal)
- ``metrics``    Prometheus metrics with HELP text and labels; ``ratelimit``: token buckets

The HTTP API
- ``api``        one handler per route; ``ROUTES`` is the table OpenAPI comes from
- ``apikit``     what a route is made of (``Route``, errors, parameters, the reader)
- ``apischema``  the OpenAPI 3.1 document and its JSON Schemas (``API.md``: the conventions)
- ``readers``    reader identity: signed requests, checked against keys the chain knows
- ``httpguard``  connection limits for the HTTP listener
- ``api_events`` the event routes; ``events``: the event hub (commit order, cursors, privacy);
                 ``eventkit``: cursors, items, filters; ``notices``: deadline reminders;
                 ``eventproof``: each item with its proof; ``eventdoc``: ``EVENTS.md``
- ``portal``     the public disclosure portal (server-rendered pages; ``web/``: the browser's
                 files and the JavaScript verifier)

For the CLI and its users
- ``client``     a typed HTTP client of the API; ``sse``: following the event stream;
                 ``webhook``: notices forwarded as signed webhooks
- ``localnet``   local networks: ``network init`` files and the ``network up`` supervisor
- ``demo``       the trading story over a running network
- ``bidding``, ``sealedfile``  the bidder's side: checks before a reveal, proving a bid, the
                 sealed-bid file
- ``auditsrc``, ``auditrun``, ``progress``  the auditor's replay: sources, runs, progress;
                 ``export``, ``parquet``, ``history``: the history in SQLite or Parquet, and
                 questions asked of it
- ``commands``   the click commands, one module per group

``node.py`` and ``cli.py`` at the top level are thin entry points into this package.
"""
