"""The attacks of the outside review, each written as a test: unit level where the finding
lives in a pure part (decoders, limits, pool, sealing, key files), real processes where it
needs them (``test_net_attacks.py``, with the honest rate before, during and after:
``netkit.py``); loopback only, every loop bounded in count and time."""
