"""The seeded deterministic simulator of a credchain cluster (network, faults, checker)."""
