"""PubTator format (NCBI-disease, BC5CDR).

Title and abstract lines, then one tab-separated annotation per mention with character offsets into
``title + " " + abstract``.

Gold ids may be composite: ``D002318|D012131`` (one mention naming two concepts) or
``D001|D002`` / ``D001+D002``; ``-1`` marks a mention without an id. MeSH ids are bare
(``D005955``, ``C535520``); OMIM ids carry their prefix (``OMIM:300048``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kgrag.errors import CorpusFormatError
from kgrag.ontology.sourcefile import iter_lines

_HEADER = re.compile(r"^(\d+)\|([ta])\|(.*)$")
_MESH = re.compile(r"^[CD]\d+$")


@dataclass(frozen=True, slots=True)
class GoldMention:
    """A gold-annotated mention: character offsets into the document text, its type and concept ids."""

    doc_id: str
    start: int
    end: int
    text: str
    type: str
    ids: tuple[str, ...]  # canonical CURIEs; empty when the corpus gives none (-1)


@dataclass(slots=True)
class PubtatorDocument:
    """A PubTator document: title, abstract and gold mentions."""

    id: str
    title: str = ""
    abstract: str = ""
    mentions: list[GoldMention] = field(default_factory=list)

    @property
    def text(self) -> str:
        """``title + " " + abstract`` (the title alone without an abstract): what the offsets index."""
        return f"{self.title} {self.abstract}" if self.abstract else self.title


def gold_ids(raw: str) -> tuple[str, ...]:
    """``"D002318|D012131"`` -> ``("MESH:D002318", "MESH:D012131")``; ``"-1"`` -> ``()``."""
    out = []
    for part in re.split(r"[|+,]", raw.strip()):
        part = part.strip()
        if not part or part == "-1":
            continue
        if _MESH.match(part):
            out.append(f"MESH:{part}")
        elif part.upper().startswith(("OMIM:", "MESH:")):
            prefix, _, local = part.partition(":")
            out.append(f"{prefix.upper()}:{local}")
        else:
            out.append(part)
    return tuple(dict.fromkeys(out))


def read_pubtator(path: str | Path) -> Iterator[PubtatorDocument]:
    """Documents in file order; a mention whose offsets do not match its text is an error."""
    path = Path(path)
    doc: PubtatorDocument | None = None
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        header = _HEADER.match(line)
        if header:
            pmid, part, text = header.groups()
            if doc is None or doc.id != pmid:
                if doc is not None:
                    yield doc
                doc = PubtatorDocument(id=pmid)
            if part == "t":
                doc.title = text
            else:
                doc.abstract = text
            continue
        fields = line.split("\t")
        if len(fields) > 1 and fields[1] == "CID":  # BC5CDR chemical-induced-disease relation
            continue
        if len(fields) < 5 or doc is None or fields[0] != doc.id:
            raise CorpusFormatError(
                path,
                lineno,
                "expected PMID<TAB>start<TAB>end<TAB>text"
                "<TAB>type[<TAB>ids], after the document's title line",
            )
        start, end = int(fields[1]), int(fields[2])
        span = doc.text[start:end]
        if span.split() != fields[3].split():  # NCBI-disease has a few whitespace slips
            raise CorpusFormatError(path, lineno, f"span {start}-{end} is {span!r}, not {fields[3]!r}")
        ids = gold_ids(fields[5]) if len(fields) > 5 else ()
        doc.mentions.append(GoldMention(doc.id, start, end, span, fields[4], ids))
    if doc is not None:
        yield doc
