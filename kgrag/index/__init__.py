"""Encoders and vector indexes (one Protocol each, with real in-repo implementations)."""
