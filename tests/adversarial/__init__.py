"""The attacks of the outside review, each written as a test (unit level here; the
multi-process versions against the node shell live beside them when they need processes)."""
