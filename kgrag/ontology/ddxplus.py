"""The DDXPlus knowledge base (Fansi Tchango et al., NeurIPS 2022; CC BY 4.0).

49 conditions (``DDX:<slug>``) with ICD-10 codes, severity, symptoms and antecedents, and
223 evidences (``DDXE:E_91``) with their question text and value meanings. ICD-10 codes
are corrected through a declared mapping (the release gives SLE ``M34``, systemic
sclerosis; SLE is ``M32``), never by editing the file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from kgrag._text import normalize
from kgrag.errors import OntologyFormatError
from kgrag.ontology.records import LoadResult, SourceConcept, SynonymRow, Warnings
from kgrag.ontology.sourcefile import iter_lines
from kgrag.types import SemanticKind, SourceInfo, SynonymScope

DDXPLUS_LICENSE = "CC BY 4.0"
DDXPLUS_ATTRIBUTION = (
    "DDXPlus knowledge base, Fansi Tchango A. et al., 'DDXPlus: A New Dataset For "
    "Automatic Medical Diagnosis', NeurIPS 2022 Datasets and Benchmarks (CC BY 4.0)"
)
_CODE = re.compile(r"^[A-Z]\d{2}(\.[0-9A-Z]{1,4})?$")


@dataclass(frozen=True, slots=True)
class DdxEvidence:
    """One DDXPlus evidence (question): its id, text, whether it is an antecedent, type and values."""

    id: str
    question: str
    is_antecedent: bool
    data_type: str
    values: dict[str, str] = field(default_factory=dict)  # value code -> English meaning


@dataclass(frozen=True, slots=True)
class DdxCondition:
    """One DDXPlus condition: its name, ICD-10 codes, severity, symptoms and antecedents."""

    id: str
    name: str
    icd10: tuple[str, ...]
    severity: int
    symptoms: tuple[str, ...]
    antecedents: tuple[str, ...]


def condition_id(name: str) -> str:
    """The concept id of a DDXPlus condition: ``DDX:`` and its normalized name, spaces as ``_``."""
    return "DDX:" + normalize(name).replace(" ", "_")


def _read_json(path: Path) -> dict[str, dict[str, object]]:
    text = "\n".join(line for _, line in iter_lines(path))  # strict UTF-8, file:line errors
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise OntologyFormatError(path, e.lineno, f"invalid JSON: {e.msg}") from e
    if not isinstance(data, dict):
        raise OntologyFormatError(path, 1, "expected a JSON object keyed by name")
    return data


def load_corrections(path: Path | None) -> dict[str, dict[str, str]]:
    """Corrections to DDXPlus conditions, by condition name.

    Each maps ``field``, ``from``, ``to`` and ``reason``, e.g.
    ``{"field": "icd10-id", "from": "M34", "to": "M32", "reason": ...}``; no path, no corrections.
    """
    if path is None:
        return {}
    data = _read_json(path)
    return {k: {str(a): str(b) for a, b in v.items()} for k, v in data.items()}


def _icd_codes(raw: str, valid: set[str] | None) -> list[str]:
    out = []
    for part in raw.split(","):
        code = part.strip().upper()
        if not _CODE.match(code):
            continue
        prefix = "ICD10CM" if valid is None or code in valid else "ICD10WHO"
        out.append(f"{prefix}:{code}")
    return out


@dataclass(slots=True)
class DdxLoadResult(LoadResult):
    """DDXPlus's concepts plus its conditions and evidences (for the graph's edges)."""

    conditions: list[DdxCondition] = field(default_factory=list)
    evidences: list[DdxEvidence] = field(default_factory=list)


def load_ddxplus(
    conditions_path: Path,
    evidences_path: Path,
    corrections_path: Path | None = None,
    *,
    icd10cm_codes: set[str] | None = None,
    version: str = "release (NeurIPS 2022)",
) -> DdxLoadResult:
    """Load DDXPlus conditions and evidences as concepts.

    Args:
        conditions_path: ``release_conditions.json``.
        evidences_path: ``release_evidences.json``.
        corrections_path: Corrections to apply (see :func:`load_corrections`).
        icd10cm_codes: Valid ICD-10-CM codes, to check the conditions' codes against.
        version: The release recorded as the source's version.

    Raises:
        OntologyFormatError: a file is not the expected JSON.
    """
    warnings = Warnings("DDX")
    conditions_raw = _read_json(conditions_path)
    evidences_raw = _read_json(evidences_path)
    corrections = load_corrections(corrections_path)

    evidences: dict[str, DdxEvidence] = {}
    concepts: list[SourceConcept] = []
    for key, ev in evidences_raw.items():
        question = str(ev.get("question_en") or "").strip()
        if not question:
            raise OntologyFormatError(evidences_path, None, f"evidence {key} has no question_en")
        meanings = ev.get("value_meaning") or {}
        values = (
            {str(v): str(m.get("en", "")) for v, m in meanings.items()}
            if isinstance(meanings, dict)
            else {}
        )
        evidence = DdxEvidence(
            id=f"DDXE:{key}",
            question=question,
            is_antecedent=bool(ev.get("is_antecedent")),
            data_type=str(ev.get("data_type", "B")),
            values=values,
        )
        evidences[key] = evidence
        concepts.append(
            SourceConcept(
                id=evidence.id,
                name=question,
                source="DDXE",
                kind=SemanticKind.RISK_FACTOR if evidence.is_antecedent else SemanticKind.FINDING,
            )
        )

    conditions: list[DdxCondition] = []
    for key, cond in conditions_raw.items():
        raw_icd = str(cond.get("icd10-id", ""))
        fix = corrections.get(key)
        if fix and fix.get("field") == "icd10-id":
            if raw_icd.upper() != fix["from"].upper():
                warnings.add("correction no longer applies", f"{key}: file has {raw_icd}")
            else:
                raw_icd = fix["to"]
        codes = _icd_codes(raw_icd, icd10cm_codes)
        if not codes:
            warnings.add("condition without a usable ICD-10 code", f"{key}: {raw_icd!r}")
        linked: dict[str, tuple[str, ...]] = {}
        for part in ("symptoms", "antecedents"):
            ids = []
            listed = cond.get(part) or {}
            for ev_key in listed if isinstance(listed, dict) else ():
                if ev_key in evidences:
                    ids.append(evidences[ev_key].id)
                else:
                    warnings.add("unknown evidence in a condition", f"{key}: {ev_key}")
            linked[part] = tuple(ids)
        name = str(cond.get("cond-name-eng") or cond.get("condition_name") or key)
        condition = DdxCondition(
            id=condition_id(key),
            name=name,
            icd10=tuple(codes),
            severity=int(str(cond.get("severity", 0))),
            symptoms=linked["symptoms"],
            antecedents=linked["antecedents"],
        )
        conditions.append(condition)
        synonyms: list[SynonymRow] = [(key, SynonymScope.EXACT, None)] if key != name else []
        concepts.append(
            SourceConcept(
                id=condition.id,
                name=name,
                kind=SemanticKind.DISEASE,
                source="DDX",
                synonyms=synonyms,
                parents=[c for c in codes if c.startswith("ICD10CM:")],
                xrefs=list(codes),
            )
        )
    info = SourceInfo(
        name="DDX", version=version, license=DDXPLUS_LICENSE, attribution=DDXPLUS_ATTRIBUTION
    )
    return DdxLoadResult(
        info=info,
        concepts=concepts,
        warnings=warnings,
        conditions=conditions,
        evidences=list(evidences.values()),
    )


# -- DDXPlus evidences joined to the shared finding layer ---------------------------------
EVIDENCE_FINDINGS_FILE = "evidence_findings.tsv"
_MAPPING_COLUMNS = (
    "evidence",
    "value",
    "data_type",
    "role",
    "subject",
    "question",
    "codes",
    "code_names",
    "relation",
    "note",
)
MAPPING_RELATIONS = frozenset({"exact", "broader", "narrower", "value-specific", "unmapped"})


@dataclass(frozen=True, slots=True)
class EvidenceFinding:
    """One reviewed row of ``ontologies/ddxplus/evidence_findings.tsv``.

    ``relation`` says how the mapped codes relate to the evidence: ``exact``; ``broader``
    (the code is more general than the question); ``narrower`` (more specific);
    ``value-specific`` (the row holds for one answer ``value`` of a categorical or
    multi-choice evidence); ``unmapped`` (no code: scales, exposures, medications).
    ``subject`` is ``patient``, ``family`` or ``patient or family``.
    """

    evidence: str  # "E_91"
    value: str  # "" or a value code ("V_29")
    role: str  # "symptom" | "antecedent"
    subject: str
    question: str
    codes: tuple[str, ...]
    relation: str
    note: str


def load_evidence_findings(path: Path) -> list[EvidenceFinding]:
    """Read the curated DDXPlus evidence -> finding mapping (tab-separated, header row).

    Args:
        path: ``evidence_findings.tsv`` (columns ``_MAPPING_COLUMNS``).

    Returns:
        One :class:`EvidenceFinding` per row, in file order.

    Raises:
        OntologyFormatError: a wrong header, column count or relation, naming the line.
    """
    rows: list[EvidenceFinding] = []
    for lineno, line in iter_lines(path):
        cells = line.rstrip("\n").split("\t")
        if lineno == 1:
            if tuple(cells) != _MAPPING_COLUMNS:
                expected = " | ".join(_MAPPING_COLUMNS)
                raise OntologyFormatError(path, lineno, f"header must be the tab-separated {expected}")
            continue
        if not line.strip():
            continue
        if len(cells) != len(_MAPPING_COLUMNS):
            raise OntologyFormatError(
                path, lineno, f"{len(cells)} columns, expected {len(_MAPPING_COLUMNS)}"
            )
        row = dict(zip(_MAPPING_COLUMNS, cells, strict=True))
        if row["relation"] not in MAPPING_RELATIONS:
            raise OntologyFormatError(path, lineno, f"unknown relation {row['relation']!r}")
        codes = tuple(c for c in row["codes"].split(";") if c)
        if bool(codes) == (row["relation"] == "unmapped"):
            raise OntologyFormatError(path, lineno, "codes are required unless the relation is unmapped")
        rows.append(
            EvidenceFinding(
                evidence=row["evidence"],
                value=row["value"],
                role=row["role"],
                subject=row["subject"],
                question=row["question"],
                codes=codes,
                relation=row["relation"],
                note=row["note"],
            )
        )
    return rows
