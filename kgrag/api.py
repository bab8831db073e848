"""The notebook-facing functions: ``kgrag.link(text)``, ``kgrag.normalize(mention)``.

The default linker is built once per process over the default concept table (diseases
and findings) and reused.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from kgrag.types import Candidate, Mention

if TYPE_CHECKING:
    from kgrag.generate.llm import LLM
    from kgrag.generate.types import GroundedDiagnosis
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


def link(text: str) -> list[Mention]:
    """Mentions of diseases and findings in ``text``, with assertion and ranked candidates.

    >>> [ (m.text, m.assertion.value) for m in kgrag.link("No fever but chest pain.") ]
    ... # doctest: +SKIP
    [('fever', 'absent'), ('chest pain', 'present')]
    """
    return default_linker().link(text)


def normalize(mention: str, context: str | None = None, k: int = 5) -> list[Candidate]:
    """The top-``k`` concepts for a mention string (``context``: its document, optional)."""
    return default_linker().normalize(mention, context, k)


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


# -- generate: grounded LLM answers ------------------------------------------------------
def answer(
    text: str | None = None,
    findings: list[FindingInput | dict[str, object] | str] | None = None,
    *,
    llm: LLM | str | None = None,
    top_k: int = 10,
    **options: Any,
) -> GroundedDiagnosis:
    """A differential written by an LLM over the retrieved evidence, every citation verified.

    ``llm``: an :class:`~kgrag.generate.llm.LLM`, a spec (``"openai://127.0.0.1:8080/m"``,
    a ``.gguf`` path, ``"smollm2"``, ``"none"``) or ``None`` for ``KGRAG_LLM`` (no LLM
    configured: the extractive report). ``options``: see
    :class:`~kgrag.generate.answer.GenerateOptions` (``max_tokens``, ``unsupported``, ...).

    >>> kgrag.answer("Infant with seizures and hypotonia. No fever.", llm="smollm2")
    ... # doctest: +SKIP
    """
    from kgrag.generate.answer import GenerateOptions, answer_with
    from kgrag.generate.backends import llm_from_spec

    dx = default_diagnoser()
    model = llm if llm is not None and not isinstance(llm, str) else llm_from_spec(llm, dx.settings)
    opts = GenerateOptions.from_settings(dx.settings, **options)
    return answer_with(dx, text, findings, llm=model, top_k=top_k, options=opts)
