"""Vocabulary loaders, unification and the compiled concept table."""
