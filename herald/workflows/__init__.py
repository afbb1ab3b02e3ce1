"""Deterministic workflow code: it decides; activities do the side effects."""
