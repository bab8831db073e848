"""Human Disease Ontology from its TSV reports, with synonyms from its OBO files.

``HumanDO.tsv`` gives ids, labels and parents (by label); ``allXREFinDO.tsv`` the xrefs;
``facets_id_name_definition.tsv.gz`` definitions; the subset OBOs (current) and the 2016
full OBO give synonyms and retired ids. ``disease-symptom.tsv`` links diseases to
Symptom Ontology terms, which become finding concepts. CC0 1.0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kgrag.ontology.curie import canonical
from kgrag.ontology.hierarchy import check_acyclic
from kgrag.ontology.obo import parse_obo
from kgrag.ontology.records import LoadResult, SourceConcept, Warnings
from kgrag.ontology.sourcefile import iter_tsv
from kgrag.ontology.xrefs import one_to_one_equivalences
from kgrag.types import SemanticKind, SourceInfo, SynonymScope

DO_ROOT = "DOID:4"
DO_LICENSE = "CC0 1.0"
_EQUIVALENCE_PREFIXES = ("UMLS", "MESH", "OMIM", "ORPHA", "ICD10CM", "NCIT", "GARD")


@dataclass(frozen=True, slots=True)
class DiseaseSymptom:
    """A Disease Ontology disease -> symptom pair (DOID -> SYMP ids)."""

    disease_id: str
    symptom_id: str


@dataclass(frozen=True, slots=True)
class DoFiles:
    """The Disease Ontology files to load: labels and parents, xrefs, and the optional extras."""

    human_do: Path
    xrefs: Path
    definitions: Path | None = None
    disease_symptom: Path | None = None
    obo_files: tuple[Path, ...] = ()  # newest first: their synonyms win


@dataclass(slots=True)
class DoLoadResult(LoadResult):
    """The Disease Ontology's concepts plus its disease -> symptom pairs (when read)."""

    disease_symptom: list[DiseaseSymptom] = field(default_factory=list)


def load_disease_ontology(files: DoFiles, version: str) -> DoLoadResult:
    """Load the Disease Ontology from ``files`` (TSV exports, then synonyms from the OBO files)."""
    warnings = Warnings("DOID")
    labels: dict[str, str] = {}
    parent_labels: dict[str, list[tuple[str, int]]] = {}
    for lineno, (doid, label, parent) in iter_tsv(files.human_do, 3, quoted=True):
        if labels.get(doid, label) != label:
            warnings.add("id with two labels", f"line {lineno}: {doid}")
        labels[doid] = label
        if parent:
            parent_labels.setdefault(doid, []).append((parent, lineno))
    by_label: dict[str, set[str]] = {}
    for doid, label in labels.items():
        by_label.setdefault(label, set()).add(doid)
    by_label.setdefault("disease", {DO_ROOT})
    labels.setdefault(DO_ROOT, "disease")

    edges: dict[str, list[tuple[str, int]]] = {}
    for doid, plist in parent_labels.items():
        for plabel, lineno in plist:
            ids = by_label.get(plabel, set())
            if len(ids) != 1:
                warnings.add("parent label missing or ambiguous", f"line {lineno}: {plabel!r}")
                continue
            edges.setdefault(doid, []).append((next(iter(ids)), lineno))
    check_acyclic(edges, files.human_do)

    xrefs: dict[str, list[str]] = {}
    for lineno, (doid, _label, code) in iter_tsv(files.xrefs, 3, quoted=True):
        for part in code.split(","):
            canon = canonical(part)
            if canon is None:
                warnings.add("xref with unknown prefix", f"line {lineno}: {part.strip()}")
            else:
                xrefs.setdefault(doid, []).append(canon)

    definitions: dict[str, str] = {}
    if files.definitions is not None:
        for _, f in iter_tsv(files.definitions, 6, quoted=True):
            if f[2]:
                definitions.setdefault(f[0], f[2])

    synonyms: dict[str, list[tuple[str, SynonymScope, str | None]]] = {}
    aliases: dict[str, str] = {}
    for obo in files.obo_files:
        doc = parse_obo(obo, warnings, id_filter=lambda i: i.startswith("DOID:"))
        for alias, target in doc.aliases().items():
            if target in labels and alias not in labels:
                aliases.setdefault(alias, target)
        for term in doc.live_terms():
            if term.id in labels and term.id not in synonyms:
                synonyms[term.id] = term.synonyms

    concepts = [
        SourceConcept(
            id=doid,
            name=label,
            source="DOID",
            kind=SemanticKind.CATEGORY if doid == DO_ROOT else SemanticKind.DISEASE,
            synonyms=synonyms.get(doid, []),
            definition=definitions.get(doid),
            parents=[p for p, _ in edges.get(doid, [])],
            xrefs=xrefs.get(doid, []),
        )
        for doid, label in labels.items()
    ]
    result = DoLoadResult(
        info=SourceInfo(name="DOID", version=version, license=DO_LICENSE),
        concepts=concepts,
        aliases=aliases,
        warnings=warnings,
        equivalences=one_to_one_equivalences(concepts, _EQUIVALENCE_PREFIXES, "DOID xref (1:1)"),
    )
    if files.disease_symptom is not None:
        _add_symptoms(result, files.disease_symptom, labels, warnings)
    return result


def _add_symptoms(
    result: DoLoadResult, path: Path, diseases: dict[str, str], warnings: Warnings
) -> None:
    symptoms: dict[str, str] = {}
    pairs: list[DiseaseSymptom] = []
    for lineno, (doid, _dlabel, symp, slabel) in iter_tsv(path, 4):
        if doid not in diseases or not symp.startswith("SYMP:"):
            warnings.add("disease-symptom row with unknown ids", f"line {lineno}: {doid} {symp}")
            continue
        symptoms.setdefault(symp, slabel)
        pairs.append(DiseaseSymptom(doid, symp))
    result.concepts.extend(
        SourceConcept(id=s, name=label, kind=SemanticKind.FINDING, source="SYMP")
        for s, label in symptoms.items()
    )
    result.disease_symptom = pairs


def load_definitions(ontologies_dir: Path) -> list[SourceConcept]:
    """The shipped Disease Ontology's concepts that have a textual definition.

    Args:
        ontologies_dir: the shipped vocabularies' folder (``Settings.ontologies_dir``).

    Returns:
        Concepts in file order; ``definition`` is the text of ``facets_id_name_definition``.
    """
    d = ontologies_dir / "disease_ontology"
    do = load_disease_ontology(
        DoFiles(
            d / "HumanDO.tsv.gz",
            d / "allXREFinDO.tsv.gz",
            definitions=d / "facets_id_name_definition.tsv.gz",
        ),
        "",
    )
    return [c for c in do.concepts if c.definition]
