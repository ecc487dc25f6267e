"""Entitlements between exports: snapshot series and cloud policy semantics."""
