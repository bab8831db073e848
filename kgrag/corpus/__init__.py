"""Corpus readers: documents with character offsets into their original text."""
