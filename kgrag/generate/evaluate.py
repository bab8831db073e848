"""The generation harness (``kgrag eval generation``, ``benchmarks/generation.py``).

Run an LLM over a case file through retrieval and the verifier, and measure what the verifier
guarantees and what the model does.

Case file: JSONL, one ``{"id", "text"}`` and/or ``{"id", "findings"}`` per line, with an
optional ``"gold"`` list of codes of the right diagnosis (any code kgrag knows).

Metrics (shares in %):

- ``json_valid_first`` / ``json_valid_after_reasks``: replies of the required shape at
  the first request / within the re-asks (cases where the LLM was asked and answered);
- ``citation_validity``: citations in the final reports that re-verify against the
  stored text (:func:`~kgrag.generate.verify.check_report`; the guarantee: 100);
- ``supported_share``: the model's diagnoses that the verifier finds supported — the
  ALCE-style *citation recall* (a statement counts when its citations support it);
- ``citation_precision``: the model's citations that verify *and* are about the disease
  they are cited for, over all it returned (ALCE-style precision);
- ``abstention_rate``, ``fallback_rate`` (extractive answers after an LLM failure,
  invalid replies or no supported claim);
- ``top1`` / ``top10``: the final answer's differential against the gold diagnosis, beside
  the retrieval ranking's on the same cases (``retrieval_top1`` / ``retrieval_top10``);
- ``latency_ms_p50`` / ``_p99``: retrieval, generation and verification per case.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from kgrag.errors import CorpusFormatError, NoUsableFindings
from kgrag.generate.answer import GenerateOptions, abstain, ground, hypotheses_first
from kgrag.generate.llm import LLM
from kgrag.generate.types import GroundedDiagnosis, GroundingCounts
from kgrag.generate.verify import StoreDocuments, check_report
from kgrag.retrieval.diagnose import Diagnoser
from kgrag.retrieval.types import EvidenceBundle, FindingInput


class GenerationCase(BaseModel):
    """One case of a generation case file: free text and/or coded findings, and the gold diagnoses."""

    model_config = ConfigDict(extra="ignore")

    id: str
    text: str | None = None
    findings: list[FindingInput] = Field(default_factory=list)
    gold: list[str] = Field(default_factory=list)
    hypotheses: list[str] = Field(
        default_factory=list, description="a differential to ground and answer about (optional)"
    )

    @field_validator("findings", mode="before")
    @classmethod
    def _codes(cls, value: Any) -> Any:
        """Plain codes are present findings."""
        return [{"id": v} if isinstance(v, str) else v for v in value or []]


class CaseResult(BaseModel):
    """What the harness recorded for one case: the answer's status, source and verifier counts."""

    model_config = ConfigDict(extra="forbid")

    id: str
    status: str
    source: str
    asked: bool
    valid_first: bool
    valid_final: bool
    citations: int
    citations_valid: int
    model: GroundingCounts
    gold_rank: int | None = None
    retrieval_gold_rank: int | None = None
    latency_ms: float
    reason: str | None = None


class GenerationMetrics(BaseModel):
    """The generation metrics over a case file (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    backend: str
    cases: int
    asked: int
    json_valid_first: float | None
    json_valid_after_reasks: float | None
    citation_validity: float | None
    citations_returned_final: int
    supported_share: float | None
    citation_precision: float | None
    abstention_rate: float
    fallback_rate: float
    gold_cases: int
    top1: float | None
    top10: float | None
    retrieval_top1: float | None
    retrieval_top10: float | None
    latency_ms_p50: float
    latency_ms_p99: float


def load_cases(path: Path, limit: int | None = None) -> list[GenerationCase]:
    """Cases from a JSONL file (``.gz`` too).

    Raises:
        CorpusFormatError: a line is not a JSON object with an ``id``.
    """
    opener: Any = gzip.open if path.suffix == ".gz" else open
    out: list[GenerationCase] = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                record["id"] = str(record.get("id", n))
                out.append(GenerationCase.model_validate(record))
            except (ValueError, TypeError, AttributeError) as e:
                raise CorpusFormatError(path, n, f"not a case: {e}") from e
            if limit and len(out) >= limit:
                break
    return out


def _pct(num: float, den: float) -> float | None:
    return round(100.0 * num / den, 1) if den else None


def _rank(ids: Sequence[str | None], gold: set[str]) -> int | None:
    return next((r for r, i in enumerate(ids, start=1) if i is not None and i in gold), None)


def evaluate_case(
    dx: Diagnoser, case: GenerationCase, llm: LLM | None, options: GenerateOptions, top_k: int = 10
) -> tuple[CaseResult, GroundedDiagnosis]:
    """One case through retrieval, the LLM and the verifier, with the report re-checked."""
    started = time.perf_counter()
    known = dx.model.disease_index  # concept ids need no look-up (nor the concept table)
    gold = set(case.gold)
    gold |= {c for g in case.gold if g not in known and (c := dx.table.resolve(g)) is not None}
    bundle: EvidenceBundle | None = None
    try:
        bundle = dx.retrieve(case.text, case.findings, top_k=top_k)
    except NoUsableFindings as e:
        report = abstain(f"no present finding: {e}", started=started)
    if bundle is not None:
        bundle = hypotheses_first(
            dx, bundle, case.text, case.findings, llm, options, None, case.hypotheses
        )
        report = ground(bundle, StoreDocuments(dx.store), llm, options)
    citations_valid = 0
    if bundle is not None and report.citations:
        pack = options.pack(bundle)
        problems = check_report(report.body, report.citations, pack, StoreDocuments(dx.store))
        bad = {int(p.split("]")[0].split("[")[1]) for p in problems if p.startswith("citation [")}
        citations_valid = sum(c.n not in bad for c in report.citations)
    asked = report.attempts > 0 and not (report.reason or "").startswith("the LLM failed")
    model_counts = report.model_counts or (
        report.counts if report.source == "llm" else GroundingCounts()
    )
    result = CaseResult(
        id=case.id,
        status=report.status,
        source=report.source,
        asked=asked,
        valid_first=asked and not report.errors,
        valid_final=asked and len(report.errors) < report.attempts,
        citations=len(report.citations),
        citations_valid=citations_valid,
        model=model_counts,
        gold_rank=_rank([c.concept_id for c in report.diagnoses], gold) if gold else None,
        retrieval_gold_rank=(
            _rank([d.concept_id for d in bundle.diseases], gold) if gold and bundle else None
        ),
        latency_ms=round((time.perf_counter() - started) * 1000, 1),
        reason=report.reason,
    )
    return result, report


def summarize(backend: str, results: Sequence[CaseResult], gold_cases: int) -> GenerationMetrics:
    """The metrics of the module docstring over per-case results."""
    asked = [r for r in results if r.asked]
    returned = sum(r.model.claims_returned for r in results)
    cites = sum(r.model.citations_returned for r in results)
    with_gold = [r for r in results if r.retrieval_gold_rank is not None or r.gold_rank is not None]
    n_gold = gold_cases or 1
    lat = np.asarray([r.latency_ms for r in results] or [0.0])
    return GenerationMetrics(
        backend=backend,
        cases=len(results),
        asked=len(asked),
        json_valid_first=_pct(sum(r.valid_first for r in asked), len(asked)),
        json_valid_after_reasks=_pct(sum(r.valid_final for r in asked), len(asked)),
        citation_validity=_pct(
            sum(r.citations_valid for r in results), sum(r.citations for r in results)
        ),
        citations_returned_final=sum(r.citations for r in results),
        supported_share=_pct(sum(r.model.claims_supported for r in results), returned),
        citation_precision=_pct(sum(r.model.citations_on_topic for r in results), cites),
        abstention_rate=_pct(sum(r.status == "insufficient_evidence" for r in results), len(results))
        or 0.0,
        fallback_rate=_pct(
            sum(r.source == "extractive" and r.status == "answered" and r.asked for r in results),
            len(results),
        )
        or 0.0,
        gold_cases=gold_cases,
        top1=_pct(sum(r.gold_rank == 1 for r in with_gold), n_gold) if gold_cases else None,
        top10=_pct(sum(r.gold_rank is not None and r.gold_rank <= 10 for r in with_gold), n_gold)
        if gold_cases
        else None,
        retrieval_top1=_pct(sum(r.retrieval_gold_rank == 1 for r in with_gold), n_gold)
        if gold_cases
        else None,
        retrieval_top10=_pct(
            sum(r.retrieval_gold_rank is not None and r.retrieval_gold_rank <= 10 for r in with_gold),
            n_gold,
        )
        if gold_cases
        else None,
        latency_ms_p50=round(float(np.percentile(lat, 50)), 1),
        latency_ms_p99=round(float(np.percentile(lat, 99)), 1),
    )


def evaluate(
    dx: Diagnoser,
    cases: Sequence[GenerationCase],
    llm: LLM | None,
    options: GenerateOptions | None = None,
    *,
    top_k: int = 10,
    on_case: Callable[[CaseResult, GroundedDiagnosis], None] | None = None,
) -> tuple[GenerationMetrics, list[CaseResult]]:
    """Run ``llm`` (``None``: the extractive report) over ``cases``.

    Args:
        dx: retrieval over a built knowledge base.
        cases: the cases (see :func:`load_cases`).
        llm: the model under test.
        options: generate options (default: from settings).
        top_k: retrieval candidates per case.
        on_case: called after each case (progress, per-case output).

    Returns:
        The metrics and the per-case results.
    """
    options = options or GenerateOptions.from_settings(dx.settings)
    results = []
    for case in cases:
        result, report = evaluate_case(dx, case, llm, options, top_k)
        results.append(result)
        if on_case is not None:
            on_case(result, report)
    gold_cases = sum(bool(c.gold) for c in cases)
    return summarize(llm.name if llm else "extractive", results, gold_cases), results
