"""Prometheus metrics (``prometheus-client``), exposed at ``/metrics``.

One set per process, in the default registry. With ``--workers N`` set
``PROMETHEUS_MULTIPROC_DIR`` to an empty folder (``kgrag serve`` does) and ``/metrics``
aggregates every worker's values.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from kgrag.generate.types import GroundedDiagnosis
from kgrag.retrieval.types import DiagnosisReport, EvidenceBundle

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)

REQUESTS = Counter("kgrag_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "kgrag_http_request_duration_seconds", "HTTP request latency per route", ["route"], buckets=_LATENCY
)
STAGES = Histogram(
    "kgrag_stage_duration_seconds",
    "time per retrieval stage (findings, graph, vector, rank, evidence, total)",
    ["stage"],
    buckets=_LATENCY,
)
CITATIONS = Counter("kgrag_citations_total", "passage citations returned, by verification", ["verified"])
CITATIONS_DROPPED = Counter(
    "kgrag_citations_dropped_total",
    "citations dropped because they did not verify against the stored text",
)
LLM_PARSE_FAILURES = Counter(
    "kgrag_llm_parse_failures_total", "LLM answers that did not parse into the grounded schema"
)
ABSTENTIONS = Counter(
    "kgrag_abstentions_total", "requests answered with no differential, by reason", ["reason"]
)
REJECTED = Counter("kgrag_rejected_total", "requests refused before the handler", ["reason"])


def observe_report(report: DiagnosisReport | EvidenceBundle) -> None:
    """Stage timings and citation counts of one answer."""
    if isinstance(report, DiagnosisReport):
        for stage, ms in report.timings_ms.items():
            STAGES.labels(stage).observe(ms / 1000)
        candidates = report.candidates
    else:
        candidates = report.diseases
    verified = unverified = 0
    for c in candidates:
        for f in c.findings:
            for cit in f.citations:
                if cit.kind == "passage":
                    verified += cit.verified
                    unverified += not cit.verified
        for p in c.passages:
            verified += p.citation.verified
            unverified += not p.citation.verified
    if verified:
        CITATIONS.labels("true").inc(verified)
    if unverified:
        CITATIONS.labels("false").inc(unverified)


def observe_grounded(answer: GroundedDiagnosis) -> None:
    """Count the citations dropped, parse failures and abstentions of one grounded answer.

    Parse failures are LLM answers that did not validate, re-asked or replaced by the extractive
    report.
    """
    if answer.counts.citations_dropped:
        CITATIONS_DROPPED.inc(answer.counts.citations_dropped)
    if answer.errors:
        LLM_PARSE_FAILURES.inc(len(answer.errors))
    if answer.status == "insufficient_evidence":
        ABSTENTIONS.labels("insufficient_evidence").inc()


def exposition() -> tuple[bytes, str]:
    """The metrics text and its content type (every worker's, in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
