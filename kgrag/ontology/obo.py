"""OBO 1.2/1.4 flat-file parser (HPO ``hp.obo``, Disease Ontology OBO files).

Only what a concept table needs is read: id, name, def, synonym, xref, is_a, alt_id,
is_obsolete, replaced_by, subset. Obsolete terms are not concepts; their
``replaced_by`` (or a single ``consider``) and every ``alt_id`` become aliases so old
codes still resolve.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kgrag.errors import OntologyFormatError
from kgrag.ontology.curie import canonical
from kgrag.ontology.hierarchy import check_acyclic
from kgrag.ontology.records import SynonymRow, Warnings
from kgrag.ontology.sourcefile import iter_lines
from kgrag.types import SynonymScope

_SYNONYM = re.compile(r'^"((?:[^"\\]|\\.)*)"\s+(EXACT|RELATED|BROAD|NARROW)\b\s*([^\s\[]*)')
_DEF = re.compile(r'^"((?:[^"\\]|\\.)*)"')
_ESCAPE = re.compile(r"\\(.)")
_SCOPES = {s.value.upper(): s for s in SynonymScope}


@dataclass(slots=True)
class OboTerm:
    """One ``[Term]`` stanza of an OBO file, with the line it starts on."""

    id: str
    line: int
    name: str | None = None
    definition: str | None = None
    synonyms: list[SynonymRow] = field(default_factory=list)
    xrefs: list[str] = field(default_factory=list)
    parents: list[tuple[str, int]] = field(default_factory=list)  # (parent id, line)
    alt_ids: list[str] = field(default_factory=list)
    obsolete: bool = False
    replaced_by: list[str] = field(default_factory=list)
    consider: list[str] = field(default_factory=list)
    subsets: list[str] = field(default_factory=list)


@dataclass(slots=True)
class OboDocument:
    """A parsed OBO file: its ``data-version`` and its terms by id."""

    path: Path
    data_version: str | None
    terms: dict[str, OboTerm]

    def live_terms(self) -> list[OboTerm]:
        """The terms not marked obsolete."""
        return [t for t in self.terms.values() if not t.obsolete]

    def aliases(self) -> dict[str, str]:
        """Alt ids and obsolete ids -> the live id that replaces them."""
        out: dict[str, str] = {}
        for term in self.terms.values():
            if term.obsolete:
                target = term.replaced_by or (term.consider if len(term.consider) == 1 else [])
                if target and target[0] in self.terms and not self.terms[target[0]].obsolete:
                    out[term.id] = target[0]
            else:
                for alt in term.alt_ids:
                    out[alt] = term.id
        return out


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def _value(raw: str) -> str:
    """A tag value without its trailing ``! comment`` and ``{qualifiers}``."""
    value = raw.split(" !", 1)[0]
    if value.endswith("}") and " {" in value:
        value = value[: value.rindex(" {")]
    return value.strip()


def parse_obo(
    path: str | Path,
    warnings: Warnings,
    *,
    id_filter: Callable[[str], bool] | None = None,
) -> OboDocument:
    """Parse an OBO file; malformed stanzas raise :class:`OntologyFormatError`."""
    path = Path(path)
    terms: dict[str, OboTerm] = {}
    data_version: str | None = None
    current: OboTerm | None = None
    in_term = False
    stanza_line = 0
    saw_header = False

    def close(lineno: int) -> None:
        nonlocal current
        if in_term:
            if current is None:
                raise OntologyFormatError(path, stanza_line, "[Term] stanza has no id: line")
            if current.name is None and not current.obsolete:
                raise OntologyFormatError(
                    path, current.line, f"term {current.id} has no name: line (truncated file?)"
                )
        current = None

    for lineno, line in iter_lines(path):
        stripped = line.strip()
        if not stripped or stripped.startswith("!"):
            continue
        if stripped.startswith("["):
            close(lineno)
            in_term = stripped == "[Term]"
            stanza_line = lineno
            saw_header = True
            continue
        tag, sep, raw = stripped.partition(":")
        if not sep:
            raise OntologyFormatError(path, lineno, f"expected 'tag: value', got {stripped[:60]!r}")
        raw = raw.strip()
        if not saw_header:
            if tag == "data-version":
                data_version = raw
            continue
        if not in_term:
            continue
        if tag == "id":
            if current is not None:
                raise OntologyFormatError(path, lineno, "second id: line in one [Term] stanza")
            term_id = _value(raw)
            if term_id in terms:
                raise OntologyFormatError(
                    path,
                    lineno,
                    f"duplicate id {term_id} (first defined at line {terms[term_id].line})",
                )
            current = OboTerm(id=term_id, line=lineno)
            terms[term_id] = current
            continue
        if current is None:
            raise OntologyFormatError(path, lineno, f"'{tag}:' before the stanza's id: line")
        _apply_tag(current, tag, raw, path, lineno, warnings)
    close(0)
    if id_filter is not None:
        terms = {k: v for k, v in terms.items() if id_filter(k)}
    edges = {t.id: [p for p in t.parents] for t in terms.values() if not t.obsolete}
    check_acyclic(edges, path)
    return OboDocument(path=path, data_version=data_version, terms=terms)


def _apply_tag(term: OboTerm, tag: str, raw: str, path: Path, lineno: int, warnings: Warnings) -> None:
    if tag == "name":
        term.name = _unescape(_value(raw))
    elif tag == "def":
        m = _DEF.match(raw)
        if not m:
            raise OntologyFormatError(path, lineno, "def: value must start with a quoted string")
        term.definition = _unescape(m.group(1))
    elif tag == "synonym":
        m = _SYNONYM.match(raw)
        if not m:
            raise OntologyFormatError(
                path, lineno, 'synonym: expected "text" EXACT|RELATED|BROAD|NARROW [TYPE] [xrefs]'
            )
        text = _unescape(m.group(1)).strip()
        if text:
            term.synonyms.append((text, _SCOPES[m.group(2)], m.group(3) or None))
    elif tag == "xref":
        code = _value(raw).split(" ", 1)[0]
        canon = canonical(code)
        if canon is None:
            warnings.add("xref with unknown prefix", f"{path.name}:{lineno} {code}")
        else:
            term.xrefs.append(canon)
    elif tag == "is_a":
        term.parents.append((_value(raw).split(" ", 1)[0], lineno))
    elif tag == "alt_id":
        term.alt_ids.append(_value(raw))
    elif tag == "is_obsolete":
        term.obsolete = _value(raw).lower() == "true"
    elif tag == "replaced_by":
        term.replaced_by.append(_value(raw))
    elif tag == "consider":
        term.consider.append(_value(raw))
    elif tag == "subset":
        term.subsets.append(_value(raw))
