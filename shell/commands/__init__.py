"""The ``credchain`` commands, one module per group (``cli.py`` assembles them):

- ``keys``     key files
- ``network``  ``network init``, ``network up``, ``node start``
- ``chain``    ``status``, ``tx send``, ``proof``, ``verify``
- ``bid``      the bidder's ``seal``, ``reveal``, ``prove``
- ``audit``    ``audit replay``
- ``demo``     a local network with the trading story
- ``common``   what they share: one-line failures, passphrases, keys, options
"""
