"""Chunks: spans of a document's text (never rewritten), at most ``max_chars`` long.

They are split at paragraph and then sentence boundaries inside each section.
"""

from __future__ import annotations

import re

from kgrag.corpus.documents import SourceDocument
from kgrag.types import BoundaryModel

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class Chunk(BoundaryModel):
    """A span ``[start:end]`` of a document's text within one section; ``text`` is that span verbatim."""

    id: str
    document: str
    start: int
    end: int
    section: str
    text: str


def _pieces(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    cursor = start
    for m in _PARAGRAPH.finditer(text, start, end):
        spans.append((cursor, m.start()))
        cursor = m.end()
    spans.append((cursor, end))
    out: list[tuple[int, int]] = []
    for s, e in spans:
        while e - s > max_chars:  # a long paragraph: cut after the last sentence that fits
            cut = None
            for m in _SENTENCE_END.finditer(text, s, s + max_chars):
                cut = m.start()
            cut = cut if cut and cut > s else s + max_chars
            out.append((s, cut))
            s = cut
            while s < e and text[s].isspace():
                s += 1
        out.append((s, e))
    return [(s, e) for s, e in out if text[s:e].strip()]


def chunk_document(doc: SourceDocument, *, max_chars: int = 1200) -> list[Chunk]:
    """Chunks covering each section; ``doc.text[c.start:c.end] == c.text`` always."""
    chunks: list[Chunk] = []
    for section in doc.sections:
        merged: list[tuple[int, int]] = []
        for s, e in _pieces(doc.text, section.start, section.end, max_chars):
            if merged and e - merged[-1][0] <= max_chars // 2:  # keep short paragraphs together
                merged[-1] = (merged[-1][0], e)
            else:
                merged.append((s, e))
        for s, e in merged:
            chunks.append(
                Chunk(
                    id=f"{doc.id}#{s}-{e}",
                    document=doc.id,
                    start=s,
                    end=e,
                    section=section.label,
                    text=doc.text[s:e],
                )
            )
    return chunks
