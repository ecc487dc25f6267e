"""Independent reference evaluator of docs/semantics.md, random worlds and helpers.

The reference shares no code with ``auditkit.evaluate``: it walks the raw input records
with plain loops, so that property tests can compare the engine against it.
"""
