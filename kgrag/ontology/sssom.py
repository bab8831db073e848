"""SSSOM mapping sets (MONDO's exact matches to OMIM, Orphanet, DOID, ICD-10-CM, MeSH, UMLS, NCIt, ...).

``skos:exactMatch`` rows become equivalences; other predicates become related xrefs. Subject and
object labels become names so that, for example, OMIM ids known only through MONDO still resolve by
name.
"""

from __future__ import annotations

from pathlib import Path

from kgrag.errors import OntologyFormatError
from kgrag.ontology.curie import canonical
from kgrag.ontology.hierarchy import check_acyclic
from kgrag.ontology.records import Equivalence, LoadResult, SourceConcept, Warnings
from kgrag.ontology.sourcefile import iter_lines, iter_tsv
from kgrag.types import SemanticKind, SourceInfo, SynonymScope

MONDO_ROOT = "MONDO:0000001"
EXACT = "skos:exactMatch"
_REQUIRED = ("subject_id", "predicate_id", "object_id")


def load_sssom(
    paths: list[Path],
    *,
    name: str = "MONDO",
    version: str,
    license: str = "CC BY 4.0",
    subclass_edges: Path | None = None,
) -> LoadResult:
    """Load MONDO concepts and their exact mappings from SSSOM files as equivalences.

    ``subclass_edges`` (optional) adds MONDO's IS_A edges.
    """
    warnings = Warnings(name)
    concepts: dict[str, SourceConcept] = {}
    equivalences: list[Equivalence] = []

    def concept(curie: str, label: str) -> None:
        existing = concepts.get(curie)
        if existing is None:
            prefix = curie.partition(":")[0]
            kind = SemanticKind.CATEGORY if curie == MONDO_ROOT else SemanticKind.DISEASE
            concepts[curie] = SourceConcept(id=curie, name=label, kind=kind, source=prefix)
        elif label and label != existing.name:
            existing.synonyms.append((label, SynonymScope.EXACT, None))

    for path in paths:
        header: list[str] | None = None
        columns: dict[str, int] = {}
        for lineno, line in iter_lines(path):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if header is None:
                header = fields
                columns = {c: i for i, c in enumerate(header)}
                missing = [c for c in _REQUIRED if c not in columns]
                if missing:
                    raise OntologyFormatError(path, lineno, f"SSSOM header lacks {missing}")
                continue
            if len(fields) != len(header):
                raise OntologyFormatError(
                    path,
                    lineno,
                    f"expected {len(header)} columns, found {len(fields)} (truncated file?)",
                )
            subj = canonical(fields[columns["subject_id"]])
            obj = canonical(fields[columns["object_id"]])
            if subj is None or obj is None:
                bad = fields[columns["subject_id" if subj is None else "object_id"]]
                warnings.add("mapping with unknown prefix", f"{path.name}:{lineno} {bad}")
                continue
            s_label = fields[columns["subject_label"]] if "subject_label" in columns else ""
            o_label = fields[columns["object_label"]] if "object_label" in columns else ""
            if s_label.startswith("obsolete ") or o_label.startswith("obsolete "):
                warnings.add("mapping of an obsolete term", f"{path.name}:{lineno} {subj}")
                continue
            concept(subj, s_label or subj)
            if o_label:
                concept(obj, o_label)
            if fields[columns["predicate_id"]] == EXACT:
                equivalences.append(Equivalence(subj, obj, f"{name} SSSOM exactMatch"))
            elif subj in concepts:
                concepts[subj].xrefs.append(obj)

    if subclass_edges is not None:
        _add_subclass_edges(subclass_edges, concepts, warnings)
    info = SourceInfo(name=name, version=version, license=license)
    return LoadResult(
        info=info, concepts=list(concepts.values()), equivalences=equivalences, warnings=warnings
    )


def _add_subclass_edges(path: Path, concepts: dict[str, SourceConcept], warnings: Warnings) -> None:
    edges: dict[str, list[tuple[str, int]]] = {}
    for lineno, f in iter_tsv(path, 6):
        if f[2] != "biolink:subclass_of":
            continue
        child, parent = canonical(f[1]), canonical(f[3])
        if child is None or parent is None:
            warnings.add("edge with unknown prefix", f"line {lineno}: {f[1]} {f[3]}")
            continue
        edges.setdefault(child, []).append((parent, lineno))
    check_acyclic(edges, path)
    for child, parents in edges.items():
        for parent, _ in parents:
            for curie in (child, parent):
                if curie not in concepts:
                    concepts[curie] = SourceConcept(
                        id=curie, name="", kind=SemanticKind.DISEASE, source="MONDO"
                    )
                    warnings.add("MONDO id with no label", curie)
            concepts[child].parents.append(parent)
