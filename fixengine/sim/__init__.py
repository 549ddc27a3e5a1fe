"""Counterparties built on the public API: ``fixengine sim --profile NAME``."""
