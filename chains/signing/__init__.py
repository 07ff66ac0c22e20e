"""Offline transaction building and signing per chain family (no node, no models)."""
