"""kgrag: knowledge-graph RAG for clinical text.

``import kgrag`` is cheap: heavy modules (torch, faiss, neo4j, spacy) and even the
concept layer load on first use through module ``__getattr__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kgrag._version import __version__

__all__ = [
    "Assertion",
    "Candidate",
    "Concept",
    "ConceptLinker",
    "ConceptMatch",
    "ConceptNotFound",
    "ConceptTable",
    "DiagnosisReport",
    "EvidenceBundle",
    "FindingInput",
    "GroundedDiagnosis",
    "KgragError",
    "Mention",
    "SemanticKind",
    "Settings",
    "__version__",
    "answer",
    "diagnose",
    "get_settings",
    "link",
    "load_concepts",
    "normalize",
    "retrieve",
]

_LAZY = {
    "Concept": "kgrag.types",
    "ConceptMatch": "kgrag.types",
    "SemanticKind": "kgrag.types",
    "ConceptNotFound": "kgrag.errors",
    "KgragError": "kgrag.errors",
    "Settings": "kgrag.config",
    "get_settings": "kgrag.config",
    "ConceptTable": "kgrag.ontology.table",
    "load_concepts": "kgrag.ontology.compiled",
    "Assertion": "kgrag.types",
    "Candidate": "kgrag.types",
    "Mention": "kgrag.types",
    "ConceptLinker": "kgrag.linking.linker",
    "link": "kgrag.api",
    "normalize": "kgrag.api",
    "diagnose": "kgrag.api",
    "retrieve": "kgrag.api",
    "DiagnosisReport": "kgrag.retrieval.types",
    "EvidenceBundle": "kgrag.retrieval.types",
    "FindingInput": "kgrag.retrieval.types",
    "answer": "kgrag.api",
    "GroundedDiagnosis": "kgrag.generate.types",
}

if TYPE_CHECKING:
    from kgrag.api import answer, diagnose, link, normalize, retrieve
    from kgrag.config import Settings, get_settings
    from kgrag.errors import ConceptNotFound, KgragError
    from kgrag.generate.types import GroundedDiagnosis
    from kgrag.linking.linker import ConceptLinker
    from kgrag.ontology.compiled import load_concepts
    from kgrag.ontology.table import ConceptTable
    from kgrag.retrieval.types import DiagnosisReport, EvidenceBundle, FindingInput
    from kgrag.types import Assertion, Candidate, Concept, ConceptMatch, Mention, SemanticKind


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kgrag' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
