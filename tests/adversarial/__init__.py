"""Attacks from outside, each written as the attack with the honest rate before, during and
after it (``tests/adversarial/netkit.py``); real processes where the finding needs them,
loopback only, every loop bounded in count and time."""
