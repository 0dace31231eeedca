"""The ``credchain`` commands, one module per group (``cli.py`` assembles them):

- ``keys``     key files
- ``network``  ``network init``, ``network up``, ``node init``, ``node start``, ``node resync``
- ``chain``    ``status``, ``tx send``, ``proof``, ``verify``, ``eligibility``
- ``bid``      the bidder's ``seal``, ``replace``, ``withdraw``, ``status``, ``reveal``, ``prove``
- ``tender``   the platform's ``tender open`` (``bid.open``) and ``tender close`` (``bid.close``)
- ``audit``    ``audit replay``, ``audit export``
- ``history``  ``history``: an entity's history, a tender's timeline (from an export)
- ``gov``      ``gov propose|vote|list|show``
- ``committee`` ``committee check``: recompute a drawn evaluation committee from proofs
- ``watch``    ``watch``: follow the event stream, print, verify, forward as webhooks
- ``demo``     a local network with the trading story
- ``common``   what they share: one-line failures, passphrases, keys, options
"""
