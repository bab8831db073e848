"""The notebook-facing functions.

``kgrag.link``, ``kgrag.normalize``, ``kgrag.diagnose``, ``kgrag.retrieve`` and ``kgrag.build``.

The default linker and diagnoser are built once per process (on first use) and shared.
Each has its own lock, taken only while that one object is built, and never while
calling into another default: the first ``kgrag.diagnose`` builds the linker first (under
the linker's lock), then the diagnoser (under its own). A second thread asking meanwhile
waits for the object it needs and gets the same one.

Arguments are checked here, at the door: a wrong type or value raises
:class:`~kgrag.errors.InvalidRequest` naming the argument and what is expected.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgrag.errors import InvalidRequest
from kgrag.types import Candidate, Mentions

if TYPE_CHECKING:
    from kgrag.generate.llm import LLM
    from kgrag.generate.types import GroundedDiagnosis
    from kgrag.graph.base import GraphStore
    from kgrag.linking.linker import ConceptLinker
    from kgrag.pipeline.context import BuildOptions
    from kgrag.pipeline.runner import BuildReport, Recipe
    from kgrag.progress import Progress
    from kgrag.retrieval.diagnose import Diagnoser
    from kgrag.retrieval.grounded import GroundedDifferential
    from kgrag.retrieval.priors import Setting
    from kgrag.retrieval.request import CaseRequest
    from kgrag.retrieval.types import (
        DiagnosisReport,
        EvidenceBundle,
        EvidenceLevel,
        FindingInput,
        Method,
    )
    from kgrag.service import CaseService

_linker_lock = threading.Lock()
_diagnoser_lock = threading.Lock()
_filtered_lock = threading.Lock()
_filtered: dict[tuple[tuple[str, ...] | None, tuple[str, ...] | None], ConceptLinker] = {}
_linker: ConceptLinker | None = None
_diagnoser: Diagnoser | None = None
_service: CaseService | None = None


def default_linker() -> ConceptLinker:
    """The shared linker over the default concept table (diseases and findings).

    Built on first use (about 5-10 s: the concept table and the dictionary), then reused;
    safe to call from many threads at once.

    Returns:
        The process-wide :class:`~kgrag.linking.linker.ConceptLinker`.

    Raises:
        OntologyError: the shipped vocabularies cannot be read.
    """
    global _linker
    linker = _linker
    if linker is None:
        with _linker_lock:
            if _linker is None:
                from kgrag.linking.linker import ConceptLinker
                from kgrag.ontology.compiled import load_concepts

                _linker = ConceptLinker(load_concepts())
            linker = _linker
    return linker


def default_diagnoser() -> Diagnoser:
    """The shared :class:`~kgrag.retrieval.diagnose.Diagnoser` over the default knowledge base.

    It is built once per process from what ``kgrag build`` made, reusing :func:`default_linker`.

    Returns:
        The process-wide diagnoser.

    Raises:
        RetrievalNotBuilt: the default knowledge base has no retrieval artifacts.
        GraphUnavailable: the default knowledge base does not exist.
    """
    global _diagnoser
    diagnoser = _diagnoser
    if diagnoser is None:
        linker = default_linker()  # its own lock; ours is not held yet
        with _diagnoser_lock:
            if _diagnoser is None:
                from kgrag.retrieval.diagnose import Diagnoser

                _diagnoser = Diagnoser(table=linker.table, linker=linker)
            diagnoser = _diagnoser
    return diagnoser


def _forget_diagnoser() -> None:
    """Drop the shared diagnoser (after a build replaced the default knowledge base)."""
    if _service is not None:
        _service.reopen()  # calls _forget_shared_only
    else:
        _forget_shared_only()


def default_service() -> CaseService:
    """The shared :class:`~kgrag.service.CaseService` over the default knowledge base.

    Its knowledge base is :func:`default_diagnoser` (reopened after a newer build).
    """
    global _service
    service = _service
    if service is None:
        with _diagnoser_lock:
            if _service is None:
                from kgrag.service import CaseService

                _service = CaseService(factory=default_diagnoser, on_reopen=_forget_shared_only)
            service = _service
    return service


def _forget_shared_only() -> None:
    """Drop the shared diagnoser if it is stale (the service is reopening)."""
    global _diagnoser
    with _diagnoser_lock:
        _diagnoser = None


def _request(**fields: Any) -> CaseRequest:
    """One case request from the functions' arguments (validated once, one set of limits)."""
    from kgrag.retrieval.request import CaseRequest

    return CaseRequest.parse(**fields)


# --- argument checks --------------------------------------------------------------------


def _text_arg(name: str, value: object, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string, got {type(value).__name__}: {value!r:.80}")
    return value


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequest(f"{name} must be a whole number >= 1, got {value!r:.80}")
    return value


# --- the functions ----------------------------------------------------------------------


def link(
    text: str,
    *,
    vocab: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
) -> Mentions:
    """Mentions of diseases and findings in ``text``, with assertions and ranked candidates.

    Args:
        text: any clinical text (up to 5 M characters).
        vocab: keep concepts with a code in these vocabularies (e.g. ``["MESH", "OMIM"]``,
            normalization the way NCBI-disease and BC5CDR are annotated); default: all.
        kinds: keep these semantic kinds (e.g. ``["disease"]``); default: diseases and
            findings.

    Returns:
        The mentions in text order (a ``list`` that renders as a table in a notebook);
        ``mention.text == text[mention.start:mention.end]``.

    Raises:
        InvalidRequest: ``text`` is not a string.
        InputTooLarge: ``text`` is over 5 M characters (split it).

    Examples:
        >>> import kgrag
        >>> [(m.text, m.assertion.value) for m in kgrag.link("No fever but chest pain.")]
        [('fever', 'absent'), ('chest pain', 'present')]
    """
    checked = _text_arg("text", text)
    assert checked is not None
    return Mentions(linker_for(vocab, kinds).link(checked))


def normalize(
    mention: str,
    context: str | None = None,
    k: int = 5,
    *,
    vocab: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
) -> list[Candidate]:
    """The top-``k`` concepts for a mention string (``vocab`` / ``kinds``: as :func:`link`).

    Args:
        mention: the words to look up ("heart attack").
        context: the mention's document, used to expand abbreviations it defines.
        k: how many candidates at most (>= 1).
        vocab: vocabulary prefixes to keep, as in :func:`link`; None for all.
        kinds: concept kinds to keep, as in :func:`link`; None for diseases and findings.

    Returns:
        Up to ``k`` candidates, best first, each with a calibrated score in [0, 1].

    Raises:
        InvalidRequest: a wrong type, or ``k < 1``.

    Examples:
        >>> import kgrag
        >>> kgrag.normalize("heart attack", k=1)[0].name
        'myocardial infarction'
    """
    checked = _text_arg("mention", mention)
    assert checked is not None
    doc, top = _text_arg("context", context, optional=True), _positive_int("k", k)
    return linker_for(vocab, kinds).normalize(checked, doc, top)  # checked first: no linker built


def assert_spans(
    text: str,
    spans: Sequence[tuple[int, int] | dict[str, int]],
    *,
    vocab: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
) -> Mentions:
    """Assertions (and candidates) for spans your own NER found: ConText's targets mode.

    Args:
        text: the note.
        spans: character offsets into ``text``: ``(start, end)`` pairs or
            ``{"start", "end"}`` dicts.
        vocab: as :func:`link`.
        kinds: as :func:`link`.

    Returns:
        One mention per span, in the order given, each with its assertion, section and the
        candidates when the span links to a concept.

    Raises:
        InvalidRequest: ``spans`` is not a list of pairs or dicts.
        InvalidSpan: a span does not lie inside ``text``.

    Examples:
        >>> import kgrag
        >>> m = kgrag.assert_spans("Denies fever or chills.", [(7, 12), (16, 22)])
        >>> [x.assertion.value for x in m]
        ['absent', 'absent']
    """
    checked = _text_arg("text", text)
    assert checked is not None
    if isinstance(spans, (str, bytes, dict)) or not isinstance(spans, Sequence):
        raise InvalidRequest(f"spans must be a list of (start, end) pairs, got {type(spans).__name__}")
    pairs: list[tuple[int, int]] = []
    for i, span in enumerate(spans):
        try:
            start, end = (span["start"], span["end"]) if isinstance(span, dict) else span
            pairs.append((int(start), int(end)))
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidRequest(
                f"spans[{i}] = {span!r:.60} is not a (start, end) pair or a {{'start', 'end'}} dict"
            ) from e
    return Mentions(linker_for(vocab, kinds).link_targets(checked, pairs))


def linker_for(vocab: Sequence[str] | None, kinds: Sequence[str] | None) -> ConceptLinker:
    """The default linker, or one restricted to ``vocab`` prefixes / ``kinds``.

    Each combination is built once and kept.

    Args:
        vocab: vocabulary prefixes (``MESH``, ``OMIM``, ...), any case; None for all.
        kinds: semantic kinds (``disease``, ``finding``, ...); None for the default kinds.

    Returns:
        A :class:`~kgrag.linking.linker.ConceptLinker`.

    Raises:
        InvalidRequest: ``vocab`` or ``kinds`` is not a list of strings.
    """
    for name, value in (("vocab", vocab), ("kinds", kinds)):
        if value is not None and (
            isinstance(value, str) or not all(isinstance(v, str) for v in value)
        ):
            raise InvalidRequest(f"{name} must be a list of strings, got {value!r:.80}")
    if not vocab and not kinds:
        return default_linker()
    table = default_linker().table  # built under its own lock, before ours is taken
    key = (
        tuple(sorted({v.strip().upper() for v in vocab or () if v.strip()})) or None,
        tuple(sorted({k.strip().lower() for k in kinds or () if k.strip()})) or None,
    )
    with _filtered_lock:
        linker = _filtered.get(key)
        if linker is None:
            from kgrag.linking.linker import DEFAULT_KINDS, ConceptLinker

            prefixes, wanted = key
            if prefixes and wanted is None:  # every kind the vocabulary has
                linker = ConceptLinker(table, kinds=None, prefixes=prefixes)
            else:
                linker = ConceptLinker(table, kinds=wanted or DEFAULT_KINDS, prefixes=prefixes)
            if len(_filtered) >= 4:
                _filtered.pop(next(iter(_filtered)))
            _filtered[key] = linker
        return linker


def diagnose(
    text: str | None = None,
    findings: list[FindingInput | dict[str, object] | str] | None = None,
    *,
    top_k: int = 10,
    method: Method | None = None,
    evidence: EvidenceLevel = "full",
    setting: Setting | None = None,
) -> DiagnosisReport:
    """A ranked differential diagnosis with its evidence and follow-up questions.

    Args:
        text: a note; its findings are linked and assertion-tagged (absent ones count
            against the diseases that expect them).
        findings: coded findings: codes (``"HP:0001250"``), ``{"id": CODE, "absent":
            bool}`` dicts (``"excluded"`` is accepted as an alias) or
            :class:`~kgrag.retrieval.types.FindingInput`. Give ``text``, ``findings`` or both.
        top_k: how many candidate diseases (>= 1).
        method: ``graph`` (likelihood ratios, the default setting), ``ppr`` or ``fused``.
        evidence: ``full`` (citations and passages), ``summary`` (graph paths and log
            likelihood ratios, categories, follow-ups) or ``none`` (the ranking alone, for
            batches: several times faster).
        setting: the pretest probability: ``general`` (primary care / emergency: common
            diseases favoured), ``rare`` (a genetics clinic) or ``uniform`` (no prior);
            default: the ``diagnose_setting`` setting (``general``). See
            :mod:`kgrag.retrieval.priors` for the derivation.

    Returns:
        The report: candidates with probability, category path, findings evidence with
        citations, passages; category scores; follow-up questions.

    Raises:
        InvalidRequest: an argument of the wrong type or value.
        NoUsableFindings: no present finding the knowledge base knows.
        RetrievalNotBuilt: run ``kgrag build`` first.

    Examples:
        >>> import kgrag
        >>> report = kgrag.diagnose(findings=["HP:0001250", {"id": "HP:0001945", "absent": True}])
        >>> report.candidates[0].rank
        1
    """
    req = _request(
        text=text, findings=findings, top_k=top_k, method=method, evidence=evidence, setting=setting
    )
    return default_service().diagnose(req)


def retrieve(
    text: str | None = None,
    findings: list[FindingInput | dict[str, object] | str] | None = None,
    *,
    top_k: int = 10,
    passages_k: int | None = None,
    setting: Setting | None = None,
) -> EvidenceBundle:
    """The evidence alone: graph candidates with their paths, and cited passages.

    Args:
        text: a note (see :func:`diagnose`).
        findings: coded findings (see :func:`diagnose`).
        top_k: how many candidate diseases (>= 1).
        passages_k: how many passages (>= 1; default: the ``passages_k`` setting).
        setting: the pretest probability (see :func:`diagnose`).

    Returns:
        An :class:`~kgrag.retrieval.types.EvidenceBundle` for an LLM or a reader.

    Raises:
        InvalidRequest: an argument of the wrong type or value.
        NoUsableFindings: no present finding the knowledge base knows.
        RetrievalNotBuilt: run ``kgrag build`` first.

    Examples:
        >>> import kgrag
        >>> bundle = kgrag.retrieve(text="Fever and a productive cough.")
        >>> len(bundle.passages) > 0
        True
    """
    req = _request(text=text, findings=findings, top_k=top_k, passages_k=passages_k, setting=setting)
    return default_service().retrieve(req)


def build(
    recipe: str | Path | Recipe | None = None,
    store: str | Path | GraphStore | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
    *,
    wait: float = 0.0,
    allow: Sequence[str | Path] = (),
    options: BuildOptions | None = None,
) -> BuildReport:
    """Build (or update) a knowledge base from a recipe; what ``kgrag build`` runs.

    Unchanged sources are skipped, changed corpora are updated document by document, and
    a build that was killed resumes.

    Args:
        recipe: a recipe TOML path or a :class:`~kgrag.pipeline.runner.Recipe`
            (default: the shipped ``ingest/default.toml``).
        store: a directory (embedded SQLite), a ``neo4j://``/``bolt://`` URI, or an open
            :class:`~kgrag.graph.base.GraphStore` (left open). Default: the default
            knowledge base in the cache directory.
        rebuild: rebuild every source even if unchanged.
        progress: called with one line per step (a rich reporter with ``count`` also
            gets counted tasks); default: the ``kgrag.pipeline`` logger.
        wait: seconds to wait for another build of the same knowledge base to finish
            (0: fail at once with :class:`~kgrag.errors.BuildLocked`).
        allow: folders outside the recipe's own that its sources may read.
        options: how the corpus shards run (:class:`~kgrag.pipeline.context.BuildOptions`:
            engine ``local`` or ``ray``, workers, shard size); the knowledge base is the same.

    Returns:
        The :class:`~kgrag.pipeline.runner.BuildReport`; ``status`` is ``incomplete``
        when a source failed (rerun to resume).

    Raises:
        InvalidRequest: an argument of the wrong type.
        ConfigError: the recipe is missing or invalid.
        GraphUnavailable: the store cannot be opened.
        BuildLocked: another build holds the knowledge base and ``wait`` ran out.
        RecipePathRefused: a source's path lies outside the allowed folders.

    Examples:
        >>> import kgrag
        >>> report = kgrag.build("notebooks/guidelines/recipe.toml", store="/tmp/my-kb")
        >>> report.status
        'complete'
    """
    from kgrag.graph.base import GraphStore
    from kgrag.graph.stores import open_store
    from kgrag.pipeline.runner import Builder, Recipe, load_recipe

    if recipe is not None and not isinstance(recipe, (str, Path, Recipe)):
        raise InvalidRequest(f"recipe must be a path or a Recipe, got {type(recipe).__name__}")
    if not isinstance(rebuild, bool):
        raise InvalidRequest(f"rebuild must be True or False, got {rebuild!r:.80}")
    if progress is not None and not callable(progress):
        raise InvalidRequest(
            f"progress must be a callable taking one str, got {type(progress).__name__}"
        )
    spec = recipe if isinstance(recipe, Recipe) else load_recipe(recipe, allow=allow)
    owned = not isinstance(store, GraphStore)
    if owned and store is not None and not isinstance(store, (str, Path)):
        raise InvalidRequest(
            f"store must be a path, a neo4j:// URI or a GraphStore, got {type(store).__name__}"
        )
    graph: GraphStore = open_store(store) if owned else store  # type: ignore[arg-type,assignment]
    try:
        report = Builder(spec, graph, progress=progress, options=options).run(
            rebuild=rebuild, wait=wait
        )
    finally:
        if owned:
            graph.close()
    _forget_diagnoser()  # it may have read the knowledge base just rebuilt
    return report


# -- generate: grounded LLM answers ------------------------------------------------------
def answer(
    text: str | None = None,
    findings: list[FindingInput | dict[str, object] | str] | None = None,
    *,
    llm: LLM | str | None = None,
    top_k: int = 10,
    setting: Setting | None = None,
    hypotheses: Sequence[str] | None = None,
    **options: Any,
) -> GroundedDiagnosis:
    """A differential written by an LLM over the retrieved evidence, every citation verified.

    Each citation is checked against the stored source before it is returned.

    Args:
        text: a note (see :func:`diagnose`).
        findings: coded findings (see :func:`diagnose`).
        llm: an :class:`~kgrag.generate.llm.LLM`, a spec (``"openai://127.0.0.1:8080/m"``,
            a ``.gguf`` path, ``"smollm2"``, ``"none"``) or None for the ``llm`` setting
            (``KGRAG_LLM``; unset: the extractive report, no LLM).
        top_k: retrieval candidates in the evidence bundle (>= 1).
        setting: the pretest probability of the retrieval ranking (see :func:`diagnose`).
        hypotheses: a differential to ground and answer about (see :func:`ground`);
            None: the ``hypotheses_from`` option decides (``kgrag``, ``llm`` or ``both``).
        **options: :class:`~kgrag.generate.answer.GenerateOptions` fields
            (``max_tokens``, ``unsupported``, ...).

    Returns:
        A :class:`~kgrag.generate.types.GroundedDiagnosis`: diagnoses with verified
        citations and per-claim support, counts of dropped citations, or an abstention.

    Raises:
        InvalidRequest: an argument of the wrong type or value.
        RetrievalNotBuilt: run ``kgrag build`` first.

    Examples:
        >>> import kgrag
        >>> g = kgrag.answer("Fever and a productive cough. No chest pain.", llm="none")
        >>> g.verified
        True
    """
    from pydantic import ValidationError

    req = _request(text=text, findings=findings, top_k=top_k, setting=setting, hypotheses=hypotheses)
    try:
        return default_service().answer(req, llm=llm, **options)
    except ValidationError as e:
        raise InvalidRequest(f"invalid generation options: {e}") from e


def ground(
    text: str | None = None,
    findings: list[FindingInput | dict[str, object] | str] | None = None,
    *,
    hypotheses: Sequence[str],
    absent: Sequence[str] = (),
    setting: Setting | None = None,
    evidence: EvidenceLevel = "full",
    consider_also: bool = True,
) -> GroundedDifferential:
    """Ground the caller's differential: the evidence for and against each hypothesis.

    The caller (an LLM, a clinician, a question's options) brings the hypotheses; kgrag
    returns, for each, the patient's findings its knowledge base supports (facts and
    passages, every citation verified), the evidence against it, what it leaves
    unexplained, what to ask next, its coverage, and a grounding score; kgrag's own top
    candidates not among them come back as ``consider_also``. See
    :mod:`kgrag.retrieval.grounding` for the method.

    Args:
        text: a note; its findings are linked with their assertions.
        findings: coded present findings (codes, ``{"id", "absent"}`` dicts or
            :class:`~kgrag.retrieval.types.FindingInput`).
        hypotheses: the differential to ground (1-50): free-text names ("community-acquired
            pneumonia", "MI"), codes of any shipped vocabulary (``ICD10CM:J20.9``) or
            concept ids. Each comes back, resolved or ``unresolved`` with its nearest concepts.
        absent: codes of findings the patient does not have (added to ``findings``).
        setting: the pretest probability (see :func:`diagnose`).
        evidence: ``full`` (citations and passages), ``summary`` (facts without citations)
            or ``none`` (scores, support and against without citations).
        consider_also: add kgrag's own top candidates that are not among the hypotheses.

    Returns:
        A :class:`~kgrag.retrieval.grounded.GroundedDifferential`, best grounded first.

    Raises:
        InvalidRequest: an argument of the wrong type or value, or over a limit.
        NoUsableFindings: no present finding kgrag knows.
        RetrievalNotBuilt: run ``kgrag build`` first.

    Examples:
        >>> import kgrag
        >>> g = kgrag.ground("Fever and a productive cough. No chest pain.",
        ...                  hypotheses=["pneumonia", "pulmonary embolism"])
        >>> [h.concept.name for h in g.hypotheses]
        ['pneumonia', 'pulmonary embolism']
    """
    if isinstance(absent, (str, bytes)) or not isinstance(absent, Sequence):
        raise InvalidRequest(f"absent must be a list of codes, got {type(absent).__name__}")
    coded = list(findings or []) if not isinstance(findings, (str, bytes)) else findings
    if absent and isinstance(coded, list):
        coded = [*coded, *({"id": a, "absent": True} for a in absent)]
    req = _request(
        text=text, findings=coded, hypotheses=hypotheses, setting=setting, evidence=evidence,
        consider_also=consider_also,
    )  # fmt: skip
    return default_service().ground(req)
