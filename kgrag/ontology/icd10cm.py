"""ICD-10-CM (CDC, public domain) from the ``simple-icd-10-cm`` package.

Hierarchy: chapter > block > category > subcategory > code. Chapters get ids
``ICD10CM:CH01``..``ICD10CM:CH22``; blocks keep their range (``ICD10CM:E08-E13``).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

from kgrag.errors import MissingExtraError
from kgrag.ontology.records import LoadResult, SourceConcept, SynonymRow
from kgrag.types import SemanticKind, SourceInfo, SynonymScope

ICD10CM_LICENSE = "public domain (CDC/NCHS)"
_FINDING_CHAPTER = "18"  # R00-R99 symptoms, signs and abnormal findings
_OTHER_CHAPTERS = ("20", "21", "22")  # external causes, health-status factors, special codes


def chapter_id(chapter: str) -> str:
    """The concept id of an ICD-10-CM chapter: ``ICD10CM:CH`` and its two-digit number."""
    return f"ICD10CM:CH{int(chapter):02d}"


def _module() -> Any:
    try:
        import simple_icd_10_cm
    except ImportError as e:  # a core dependency, but say what to do if it is absent
        raise MissingExtraError("simple-icd-10-cm", "core", "ICD-10-CM") from e
    return simple_icd_10_cm


def icd10cm_release() -> str:
    """The release carried by the installed package, e.g. ``April-2026``.

    Found without importing the package: its import parses the whole tabular XML.
    """
    spec = importlib.util.find_spec("simple_icd_10_cm")
    if spec is None or spec.origin is None:
        raise MissingExtraError("simple-icd-10-cm", "core", "ICD-10-CM")
    data = Path(spec.origin).parent / "data"
    for f in sorted(data.glob("code-list-*.txt")):
        m = re.match(r"code-list-(.+)\.txt", f.name)
        if m:
            return m.group(1)
    return "unknown"


def load_icd10cm() -> LoadResult:
    """Load ICD-10-CM from the ``simple-icd-10-cm`` package: chapters and blocks as categories, codes."""
    cm = _module()
    concepts: list[SourceConcept] = []
    chapter_of: dict[str, str] = {}
    for code in cm.get_all_codes(with_dots=True):
        if cm.is_chapter(code):
            curie, kind = chapter_id(code), SemanticKind.CATEGORY
            chapter_of[code] = code
        else:
            chapter = cm.get_ancestors(code)[-1]
            chapter_of[code] = chapter
            if cm.is_block(code):
                kind = SemanticKind.CATEGORY
            elif chapter == _FINDING_CHAPTER:
                kind = SemanticKind.FINDING
            elif chapter in _OTHER_CHAPTERS:
                kind = SemanticKind.OTHER
            else:
                kind = SemanticKind.DISEASE
            curie = f"ICD10CM:{code}"
        parent = cm.get_parent(code)
        parents = (
            [] if not parent else [chapter_id(parent) if cm.is_chapter(parent) else f"ICD10CM:{parent}"]
        )
        synonyms: list[SynonymRow] = [
            (t, SynonymScope.NARROW, "inclusion_term") for t in cm.get_inclusion_term(code)
        ]
        concepts.append(
            SourceConcept(
                id=curie,
                name=cm.get_description(code),
                kind=kind,
                source="ICD10CM",
                synonyms=synonyms,
                parents=parents,
            )
        )
    info = SourceInfo(
        name="ICD10CM",
        version=icd10cm_release(),
        license=ICD10CM_LICENSE,
        files=("simple-icd-10-cm package",),
    )
    return LoadResult(info=info, concepts=concepts)
