"""Human Phenotype Ontology: ``hp.obo`` terms and ``phenotype.hpoa`` disease annotations.

HPO license: free use with acknowledgement of the HPO Consortium and the version shown;
the shipped files are unmodified (only gzip-compressed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kgrag.errors import OntologyFormatError
from kgrag.ontology.curie import canonical
from kgrag.ontology.hierarchy import descendants, invert
from kgrag.ontology.obo import parse_obo
from kgrag.ontology.records import LoadResult, SourceConcept, Warnings
from kgrag.ontology.sourcefile import iter_lines, iter_tsv
from kgrag.ontology.xrefs import one_to_one_equivalences
from kgrag.types import SemanticKind, SourceInfo, SynonymScope

PHENOTYPIC_ABNORMALITY = "HP:0000118"
_MODIFIER_ROOTS = ("HP:0000005", "HP:0012823", "HP:0040279", "HP:0032223", "HP:0032443")
HPO_LICENSE = "HPO license (free use; acknowledge the HPO Consortium; show the version)"
HPO_ATTRIBUTION = (
    "This product uses the Human Phenotype Ontology (version {version}). "
    "Find out more at https://hpo.jax.org"
)

# HPO frequency terms -> the midpoint of the range they stand for
FREQUENCY_TERMS = {
    "HP:0040280": 1.0,  # Obligate
    "HP:0040281": 0.895,  # Very frequent 80-99%
    "HP:0040282": 0.545,  # Frequent 30-79%
    "HP:0040283": 0.17,  # Occasional 5-29%
    "HP:0040284": 0.025,  # Very rare 1-4%
    "HP:0040285": 0.0,  # Excluded
}


def _info(name: str, version: str) -> SourceInfo:
    return SourceInfo(
        name=name,
        version=version,
        license=HPO_LICENSE,
        attribution=HPO_ATTRIBUTION.format(version=version),
    )


def load_hpo(path: str | Path) -> LoadResult:
    """Load the Human Phenotype Ontology's phenotypic abnormalities from ``hp.obo`` as findings."""
    warnings = Warnings("HP")
    doc = parse_obo(path, warnings, id_filter=lambda i: i.startswith("HP:"))
    live = doc.live_terms()
    parents = {t.id: [p for p, _ in t.parents] for t in live}
    children = invert(parents)
    findings = descendants(children, PHENOTYPIC_ABNORMALITY)
    modifiers: set[str] = set()
    for root in _MODIFIER_ROOTS:
        modifiers |= descendants(children, root)
    concepts = []
    for t in live:
        assert t.name is not None  # parse_obo guarantees a name on live terms
        if t.id == PHENOTYPIC_ABNORMALITY or not parents[t.id]:
            kind = SemanticKind.CATEGORY
        elif t.id in findings:
            kind = SemanticKind.FINDING
        elif t.id in modifiers:
            kind = SemanticKind.MODIFIER
        else:
            kind = SemanticKind.OTHER
        concepts.append(
            SourceConcept(
                id=t.id,
                name=t.name,
                kind=kind,
                source="HP",
                synonyms=t.synonyms,
                definition=t.definition,
                parents=parents[t.id],
                xrefs=t.xrefs,
            )
        )
    version = (doc.data_version or "unknown").rsplit("/", 1)[-1]
    return LoadResult(
        info=_info("HP", version),
        concepts=concepts,
        aliases=doc.aliases(),
        warnings=warnings,
        equivalences=one_to_one_equivalences(concepts, ("UMLS", "MESH"), "HP xref (1:1)"),
    )


@dataclass(frozen=True, slots=True)
class DiseasePhenotype:
    """One row of ``phenotype.hpoa``."""

    disease_id: str
    phenotype_id: str
    negated: bool
    frequency: float | None
    frequency_raw: str
    onset: str | None
    evidence: str
    reference: str
    aspect: str
    sex: str | None


@dataclass(slots=True)
class HpoaResult:
    """The diseases of HPO's annotation file and their disease -> phenotype annotations."""

    version: str
    diseases: LoadResult
    annotations: list[DiseasePhenotype]


_HPOA_COLUMNS = (
    "database_id",
    "disease_name",
    "qualifier",
    "hpo_id",
    "reference",
    "evidence",
    "onset",
    "frequency",
    "sex",
    "modifier",
    "aspect",
    "biocuration",
)


def parse_frequency(raw: str) -> float | None:
    """``"3/7"`` -> 0.43, ``"45%"`` -> 0.45, ``"HP:0040281"`` -> 0.895, ``""`` -> None."""
    raw = raw.strip()
    if not raw:
        return None
    if raw in FREQUENCY_TERMS:
        return FREQUENCY_TERMS[raw]
    try:
        if raw.endswith("%"):
            return max(0.0, min(1.0, float(raw[:-1]) / 100))
        if "/" in raw:
            num, den = raw.split("/", 1)
            return int(num) / int(den) if int(den) > 0 else None
    except ValueError:
        return None
    return None


def load_hpoa(path: str | Path) -> HpoaResult:
    """Disease concepts (OMIM, ORPHA, DECIPHER, with names) and their phenotype annotations."""
    path = Path(path)
    warnings = Warnings("HPOA")
    version = "unknown"
    for _, line in iter_lines(path):
        if not line.startswith("#"):
            break
        if line.startswith("#version:"):
            version = line.split(":", 1)[1].strip()
    names: dict[str, str] = {}
    annotations: list[DiseasePhenotype] = []
    header_checked = False
    for lineno, f in iter_tsv(path, len(_HPOA_COLUMNS), header=False, comment="#"):
        if not header_checked:
            header_checked = True
            if f[0] == "database_id":
                if tuple(f) != _HPOA_COLUMNS:
                    raise OntologyFormatError(path, lineno, f"unexpected header {f}")
                continue
        disease = canonical(f[0])
        if disease is None or not f[3].startswith("HP:"):
            warnings.add("row with unknown disease prefix or phenotype id", f"line {lineno}: {f[0]}")
            continue
        names.setdefault(disease, f[1])
        frequency = parse_frequency(f[7])
        if f[7] and frequency is None:
            warnings.add("unparseable frequency", f"line {lineno}: {f[7]}")
        annotations.append(
            DiseasePhenotype(
                disease_id=disease,
                phenotype_id=f[3],
                negated=f[2].upper() == "NOT",
                frequency=frequency,
                frequency_raw=f[7],
                onset=f[6] or None,
                evidence=f[5],
                reference=f[4],
                aspect=f[10],
                sex=f[8] or None,
            )
        )
    concepts = [
        SourceConcept(
            id=d,
            name=n,
            kind=SemanticKind.DISEASE,
            source=d.partition(":")[0],
            synonyms=[(n, SynonymScope.PREFERRED, None)],
        )
        for d, n in names.items()
    ]
    return HpoaResult(
        version=version,
        annotations=annotations,
        diseases=LoadResult(info=_info("HPOA", version), concepts=concepts, warnings=warnings),
    )
