"""kgrag: knowledge-graph RAG for clinical text.

``import kgrag`` is cheap: heavy modules (torch, faiss, neo4j, spacy) and even the
concept layer load on first use through module ``__getattr__``.

Two tiers, as httpx has ``httpx.get`` beside ``httpx.Client``:

- functions over shared defaults: :func:`link`, :func:`normalize`, :func:`diagnose`,
  :func:`retrieve`, :func:`ground`, :func:`answer`, :func:`build`, :func:`load_concepts`;
- the objects they are built on, for control: :class:`ConceptLinker`,
  :class:`Diagnoser`, :func:`open_store` returning a :class:`GraphStore`.

Examples:
    >>> import kgrag
    >>> kgrag.link("No fever.")[0].assertion.value
    'absent'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kgrag._version import __version__

__all__ = [
    "Assertion",
    "BoundaryModel",
    "BuildReport",
    "Candidate",
    "Concept",
    "ConceptLinker",
    "ConceptMatch",
    "ConceptNotFound",
    "ConceptTable",
    "Diagnoser",
    "DiagnosisReport",
    "EvidenceBundle",
    "FindingInput",
    "GraphStore",
    "GroundedDiagnosis",
    "GroundedDifferential",
    "InvalidRequest",
    "KgragError",
    "Mention",
    "Mentions",
    "SemanticKind",
    "Settings",
    "__version__",
    "answer",
    "assert_spans",
    "build",
    "diagnose",
    "get_settings",
    "ground",
    "link",
    "load_concepts",
    "normalize",
    "open_store",
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
    "assert_spans": "kgrag.api",
    "DiagnosisReport": "kgrag.retrieval.types",
    "EvidenceBundle": "kgrag.retrieval.types",
    "FindingInput": "kgrag.retrieval.types",
    # the control tier: what the convenience functions are built on
    "BoundaryModel": "kgrag.types",
    "Mentions": "kgrag.types",
    "InvalidRequest": "kgrag.errors",
    "build": "kgrag.api",
    "BuildReport": "kgrag.pipeline.report",
    "Diagnoser": "kgrag.retrieval.diagnose",
    "GraphStore": "kgrag.graph.base",
    "open_store": "kgrag.graph.stores",
    # the generation stage: grounded answers with verified citations
    "answer": "kgrag.api",
    "GroundedDiagnosis": "kgrag.generate.types",
    # grounding the caller's differential
    "ground": "kgrag.api",
    "GroundedDifferential": "kgrag.retrieval.grounded",
}

if TYPE_CHECKING:
    # the control tier
    from kgrag.api import answer, assert_spans, build, diagnose, ground, link, normalize, retrieve
    from kgrag.config import Settings, get_settings
    from kgrag.errors import ConceptNotFound, InvalidRequest, KgragError
    from kgrag.generate.types import GroundedDiagnosis
    from kgrag.graph.base import GraphStore
    from kgrag.graph.stores import open_store
    from kgrag.linking.linker import ConceptLinker
    from kgrag.ontology.compiled import load_concepts
    from kgrag.ontology.table import ConceptTable
    from kgrag.pipeline.report import BuildReport
    from kgrag.retrieval.diagnose import Diagnoser
    from kgrag.retrieval.grounded import GroundedDifferential
    from kgrag.retrieval.types import DiagnosisReport, EvidenceBundle, FindingInput
    from kgrag.types import (
        Assertion,
        BoundaryModel,
        Candidate,
        Concept,
        ConceptMatch,
        Mention,
        Mentions,
        SemanticKind,
    )


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
