"""UMLS Metathesaurus in Rich Release Format, for users who hold a UMLS license.

Reads ``MRCONSO.RRF`` (names and source codes), ``MRSTY.RRF`` (semantic types) and
``MRREL.RRF`` (``PAR``/``CHD`` hierarchy) from a META directory. Every source code of a
CUI becomes an equivalence with ``UMLS:<CUI>``, so UMLS joins kgrag's open vocabularies
into its concepts. Nothing of UMLS is shipped with kgrag.
"""

from __future__ import annotations

from pathlib import Path

from kgrag.errors import OntologyFormatError, OntologySourceMissing
from kgrag.ontology.curie import canonical
from kgrag.ontology.hierarchy import back_edges
from kgrag.ontology.records import Equivalence, LoadResult, SourceConcept, SynonymRow, Warnings
from kgrag.ontology.sourcefile import iter_lines
from kgrag.types import SemanticKind, SourceInfo, SynonymScope

UMLS_LICENSE = "UMLS Metathesaurus License (user-held; not redistributed by kgrag)"
_CONSO_FIELDS = 18
_REL_FIELDS = 16
_STY_FIELDS = 6
# UMLS source abbreviation -> kgrag CURIE prefix
SAB_PREFIX = {
    "MSH": "MESH",
    "OMIM": "OMIM",
    "HPO": "HP",
    "ICD10CM": "ICD10CM",
    "ICD10": "ICD10WHO",
    "NCI": "NCIT",
    "MDR": "MEDDRA",
    "SNOMEDCT_US": "SNOMEDCT",
    "ORPHANET": "ORPHA",
    "MONDO": "MONDO",
    "DOID": "DOID",
    "ICD9CM": "ICD9CM",
}
_DISEASE_TUIS = {"T047", "T191", "T046", "T048", "T019", "T020", "T190", "T037", "T049", "T050"}
_FINDING_TUIS = {"T184", "T033", "T034"}


def _rows(path: Path, fields: int) -> list[tuple[int, list[str]]]:
    out = []
    for lineno, line in iter_lines(path):
        if not line:
            continue
        parts = line.split("|")
        if len(parts) != fields + 1 or parts[-1] != "":
            raise OntologyFormatError(
                path,
                lineno,
                f"expected {fields} '|'-terminated fields, found {len(parts) - 1}; "
                "is this a truncated or non-RRF file?",
            )
        out.append((lineno, parts[:-1]))
    return out


def _kind(tuis: set[str]) -> SemanticKind:
    if tuis & _DISEASE_TUIS:
        return SemanticKind.DISEASE
    if tuis & _FINDING_TUIS:
        return SemanticKind.FINDING
    return SemanticKind.OTHER


def load_umls_rrf(
    meta_dir: str | Path, *, languages: tuple[str, ...] = ("ENG",), version: str | None = None
) -> LoadResult:
    """Load concepts from a UMLS Metathesaurus ``META`` directory (``MRCONSO.RRF`` and friends).

    Raises:
        OntologySourceMissing: ``MRCONSO.RRF`` is not in ``meta_dir``.
    """
    meta = Path(meta_dir)
    conso = meta / "MRCONSO.RRF"
    if not conso.is_file():
        raise OntologySourceMissing(conso, "point KGRAG_UMLS_DIR at a UMLS META directory")
    warnings = Warnings("UMLS")
    names: dict[str, list[tuple[int, str, bool]]] = {}  # cui -> (rank, string, preferred)
    codes: dict[str, set[str]] = {}
    for lineno, f in _rows(conso, _CONSO_FIELDS):
        cui, lat, ts, stt, ispref, sab, code, text, suppress = (
            f[0],
            f[1],
            f[2],
            f[4],
            f[6],
            f[11],
            f[13],
            f[14],
            f[16],
        )
        if not cui.startswith("C"):
            raise OntologyFormatError(conso, lineno, f"CUI {cui!r} does not start with C")
        if lat not in languages or suppress not in ("N", ""):
            continue
        preferred = ts == "P" and stt == "PF" and ispref == "Y"
        names.setdefault(cui, []).append((0 if preferred else 1, text, preferred))
        prefix = SAB_PREFIX.get(sab)
        if prefix is None:
            warnings.add("code of an unmapped source vocabulary", f"{sab}:{code}")
            continue
        curie = canonical(code if ":" in code else f"{prefix}:{code}")
        if curie is not None and code != "NOCODE":
            codes.setdefault(cui, set()).add(curie)

    tuis: dict[str, set[str]] = {}
    sty = meta / "MRSTY.RRF"
    if sty.is_file():
        for _, f in _rows(sty, _STY_FIELDS):
            tuis.setdefault(f[0], set()).add(f[1])
    else:
        warnings.add("MRSTY.RRF missing: semantic kinds default to other", str(sty))

    edges: dict[str, list[tuple[str, int]]] = {}
    rel = meta / "MRREL.RRF"
    if rel.is_file():
        for lineno, f in _rows(rel, _REL_FIELDS):
            cui1, relation, cui2 = f[0], f[3], f[4]
            if cui1 not in names or cui2 not in names or cui1 == cui2:
                continue
            # REL is the relationship of the second concept to the first.
            if relation == "PAR":
                edges.setdefault(cui1, []).append((cui2, lineno))
            elif relation == "CHD":
                edges.setdefault(cui2, []).append((cui1, lineno))
        for child, parent, line, _cycle in back_edges(edges):
            warnings.add("is_a edge dropped to break a cycle", f"MRREL.RRF:{line} {child}->{parent}")
            edges[child] = [(p, ln) for p, ln in edges[child] if p != parent]

    concepts: list[SourceConcept] = []
    equivalences: list[Equivalence] = []
    for cui, rows in names.items():
        rows.sort(key=lambda r: r[0])
        curie = f"UMLS:{cui}"
        seen: set[str] = set()
        synonyms: list[SynonymRow] = []
        for _rank, text, _pref in rows[1:]:
            if text not in seen and text != rows[0][1]:
                seen.add(text)
                synonyms.append((text, SynonymScope.EXACT, None))
        parents = sorted({f"UMLS:{p}" for p, _ in edges.get(cui, [])})
        concepts.append(
            SourceConcept(
                id=curie,
                name=rows[0][1],
                kind=_kind(tuis.get(cui, set())),
                source="UMLS",
                synonyms=synonyms,
                parents=parents,
            )
        )
        equivalences.extend(Equivalence(curie, c, "UMLS MRCONSO") for c in sorted(codes.get(cui, ())))
    info = SourceInfo(
        name="UMLS", version=version or meta.parent.name or "unknown", license=UMLS_LICENSE
    )
    return LoadResult(info=info, concepts=concepts, equivalences=equivalences, warnings=warnings)
