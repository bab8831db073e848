"""The notebook-facing functions: ``kgrag.link(text)``, ``kgrag.normalize(mention)``.

The default linker is built once per process over the default concept table (diseases
and findings) and reused.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from kgrag.types import Candidate, Mention

if TYPE_CHECKING:
    from kgrag.linking.linker import ConceptLinker
    from kgrag.retrieval.diagnose import Diagnoser
    from kgrag.retrieval.types import DiagnosisReport, EvidenceBundle, FindingInput, Method

_lock = threading.Lock()


@lru_cache(maxsize=1)
def default_linker() -> ConceptLinker:
    """The shared :class:`~kgrag.linking.linker.ConceptLinker` (built on first use)."""
    from kgrag.linking.linker import ConceptLinker
    from kgrag.ontology.compiled import load_concepts

    with _lock:
        return ConceptLinker(load_concepts())


def link(
    text: str,
    *,
    vocab: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
) -> list[Mention]:
    """Mentions of diseases and findings in ``text``, with assertion and ranked candidates.

    ``vocab`` (e.g. ``["MESH", "OMIM"]``) keeps concepts with a code in those vocabularies
    (normalization the way NCBI-disease and BC5CDR are annotated); ``kinds`` (e.g.
    ``["disease"]``) the semantic kinds.

    >>> [ (m.text, m.assertion.value) for m in kgrag.link("No fever but chest pain.") ]
    ... # doctest: +SKIP
    [('fever', 'absent'), ('chest pain', 'present')]
    """
    return linker_for(vocab, kinds).link(text)


def normalize(
    mention: str,
    context: str | None = None,
    k: int = 5,
    *,
    vocab: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
) -> list[Candidate]:
    """The top-``k`` concepts for a mention string (``context``: its document, optional;
    ``vocab`` / ``kinds``: as :func:`link`)."""
    return linker_for(vocab, kinds).normalize(mention, context, k)


# -- targets mode and target vocabularies (issue 13) ---------------------------------------
def assert_spans(
    text: str,
    spans: Sequence[tuple[int, int] | dict[str, int]],
    *,
    vocab: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
) -> list[Mention]:
    """Assertions (and candidates) for spans your own NER found: one mention per span.

    >>> m = kgrag.assert_spans("Denies fever or chills.", [(7, 12), (16, 22)])  # doctest: +SKIP
    >>> [x.assertion.value for x in m]  # doctest: +SKIP
    ['absent', 'absent']
    """
    pairs = [(int(s["start"]), int(s["end"])) if isinstance(s, dict) else (s[0], s[1]) for s in spans]
    return linker_for(vocab, kinds).link_targets(text, pairs)


def linker_for(vocab: Sequence[str] | None, kinds: Sequence[str] | None) -> ConceptLinker:
    """The default linker, or one restricted to ``vocab`` prefixes / ``kinds`` (cached)."""
    if not vocab and not kinds:
        return default_linker()
    return _filtered_linker(
        tuple(sorted({v.strip().upper() for v in vocab or () if v.strip()})) or None,
        tuple(sorted({k.strip().lower() for k in kinds or () if k.strip()})) or None,
    )


@lru_cache(maxsize=4)
def _filtered_linker(vocab: tuple[str, ...] | None, kinds: tuple[str, ...] | None) -> ConceptLinker:
    from kgrag.linking.linker import DEFAULT_KINDS, ConceptLinker

    table = default_linker().table
    with _lock:
        if vocab and kinds is None:
            return ConceptLinker(table, kinds=None, prefixes=vocab)  # every kind the vocabulary has
        return ConceptLinker(table, kinds=kinds or DEFAULT_KINDS, prefixes=vocab)


@lru_cache(maxsize=1)
def default_diagnoser() -> Diagnoser:
    """The shared :class:`~kgrag.retrieval.diagnose.Diagnoser` over the default knowledge
    base (``kgrag build`` makes it), reusing the default linker."""
    from kgrag.retrieval.diagnose import Diagnoser

    with _lock:
        linker = default_linker()
        return Diagnoser(table=linker.table, linker=linker)


def diagnose(
    text: str | None = None,
    findings: list[FindingInput | dict[str, object] | str] | None = None,
    *,
    top_k: int = 10,
    method: Method | None = None,
) -> DiagnosisReport:
    """A ranked differential diagnosis with its evidence and follow-up questions.

    >>> report = kgrag.diagnose(findings=["HP:0001250", {"id": "HP:0001945", "excluded": True}])
    ... # doctest: +SKIP
    >>> report.candidates[0].name, report.candidates[0].findings[0].citations  # doctest: +SKIP
    """
    return default_diagnoser().diagnose(text, findings, top_k=top_k, method=method)


def retrieve(
    text: str | None = None,
    findings: list[FindingInput | dict[str, object] | str] | None = None,
    *,
    top_k: int = 10,
    passages_k: int | None = None,
) -> EvidenceBundle:
    """The evidence bundle alone (graph candidates with paths, passages with citations)."""
    return default_diagnoser().retrieve(text, findings, top_k=top_k, passages_k=passages_k)
