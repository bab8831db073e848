"""``kgrag diagnose`` and ``kgrag retrieve``.

``diagnose`` prints a ranked differential with evidence; ``retrieve`` the evidence alone, for an
LLM sidecar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import RenderableType
from rich.tree import Tree

from kgrag.cli._output import (
    cli_errors,
    console,
    emit_json,
    input_option,
    jsonl_batch,
    output_option,
    safe,
    usage_error,
)
from kgrag.cli._tables import ESSENTIAL, NAME_LIMIT, Col, fit_table, shorten
from kgrag.cli.case import check_source, coded, from_record
from kgrag.retrieval.request import LIMITS, CaseRequest
from kgrag.retrieval.types import (
    EVIDENCE_LEGEND,
    DiagnosisReport,
    EvidenceBundle,
    Passage,
)

EVIDENCE = ("none", "summary", "full")
SETTING_HELP = (
    "pretest probability: general (common diseases favoured) | rare | uniform "
    "(default: general, or KGRAG_DIAGNOSE_SETTING)"
)
_METHOD_HELP = (
    "graph | ppr | fused | semantic | ensemble (ensemble: best with --setting rare; "
    "default: graph, or KGRAG_DIAGNOSE_METHOD)"
)


def diagnose(
    text: str | None = typer.Argument(None, help="a patient description"),
    finding: list[str] | None = typer.Option(None, "--finding", "-f", help="a present finding code"),
    absent: list[str] | None = typer.Option(None, "--absent", "-a", help="an absent finding code"),
    input: Path | None = input_option("JSONL: {id, text} and/or {id, findings}"),
    output: Path | None = output_option(),
    top_k: int = typer.Option(10, "--top-k", "-k", min=1, max=LIMITS["top_k"]),
    method: str | None = typer.Option(None, "--method", help=_METHOD_HELP),
    evidence: str | None = typer.Option(
        None,
        "--evidence",
        help="none (ranking only, fastest) | summary (graph paths, no citations or passages) | "
        "full (citations and passages). Default: full for one query, summary for --input batches",
    ),
    store: str | None = typer.Option(None, "--store", help="knowledge base: directory or neo4j://"),
    json: bool = typer.Option(False, "--json", help="machine-readable output"),
    setting: str | None = typer.Option(None, "--setting", help=SETTING_HELP),
    llm: str | None = typer.Option(
        None, "--llm", help="answer with an LLM, citations verified: openai://HOST:PORT/MODEL, "
        "a .gguf path, smollm2, none (extractive) or default (KGRAG_LLM)"
    ),
) -> None:
    """Rank diseases for a patient (text and/or coded findings) with cited evidence."""
    from kgrag.service import CaseService

    with cli_errors():
        findings = coded(finding, absent)
        check_source(text, findings, input)
        if evidence is not None and evidence not in EVIDENCE:
            usage_error(f"--evidence must be one of {', '.join(EVIDENCE)}")
        options = {"top_k": top_k, "method": method, "setting": setting}
        if llm is not None:  # generate: a grounded answer (kgrag/cli/generate.py)
            from kgrag.cli.generate import diagnose_with_llm

            diagnose_with_llm(store, llm, text, findings, input, output, json, **options)
            return
        with CaseService(store) as svc:
            if input is None:
                level = evidence or "full"
                req = CaseRequest.parse(text=text, findings=findings, evidence=level, **options)
                report = svc.diagnose(req)
                emit_json(report) if json else _print_report(report)
                return
            batch = {**options, "evidence": evidence or "summary"}

            def handle(lineno: int, record: dict[str, Any]) -> dict[str, Any]:
                rid, req = from_record(record, lineno, **batch)
                return {"id": rid, **svc.diagnose(req).model_dump(mode="json")}

            jsonl_batch(input, output, "diagnosing", handle)


def retrieve(
    text: str | None = typer.Argument(None, help="a patient description or question"),
    finding: list[str] | None = typer.Option(None, "--finding", "-f", help="a present finding code"),
    absent: list[str] | None = typer.Option(None, "--absent", "-a", help="an absent finding code"),
    top_k: int = typer.Option(10, "--top-k", "-k", min=1, max=LIMITS["top_k"]),
    passages: int = typer.Option(10, "--passages", min=1, max=LIMITS["passages_k"]),
    store: str | None = typer.Option(None, "--store", help="knowledge base: directory or neo4j://"),
    json: bool = typer.Option(False, "--json", help="machine-readable output"),
    setting: str | None = typer.Option(None, "--setting", help=SETTING_HELP),
) -> None:
    """The evidence bundle alone (graph paths and passages with citations), for an LLM."""
    from kgrag.service import CaseService

    with cli_errors():
        findings = coded(finding, absent)
        check_source(text, findings, None)
        req = CaseRequest.parse(
            text=text, findings=findings, top_k=top_k, passages_k=passages, setting=setting
        )
        with CaseService(store) as svc:
            bundle = svc.retrieve(req)
        emit_json(bundle) if json else _print_bundle(bundle)


def _print_query(report: DiagnosisReport | EvidenceBundle) -> None:
    q = report.query
    console.print(
        "present: "
        + (", ".join(f.name for f in q.present) or "-")
        + " | absent: "
        + (", ".join(f.name for f in q.absent) or "-"),
        highlight=False,
    )
    for note in q.ignored[:10]:
        console.print(f"[dim]ignored {note}[/dim]", highlight=False)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)


def _candidates_table(report: DiagnosisReport | EvidenceBundle, title: str) -> RenderableType:
    rows = report.candidates if isinstance(report, DiagnosisReport) else report.diseases
    columns = [
        Col("#", ESSENTIAL, "right"),
        Col("disease", ESSENTIAL),
        Col("codes", 5),
        Col("p", 8, "right"),
        Col("score", 3, "right"),
        Col("prior", 2),
        Col("category", 1),
    ]
    cells = [
        [
            str(c.rank),
            f"{shorten(c.name)}\n[dim]{c.concept_id}[/dim]",
            ", ".join(c.codes[:4]),
            f"{c.probability:.3f}",
            f"{c.score:.4g}",
            c.prior_class or "-",
            shorten(" > ".join(p.name for p in reversed(c.category_path)), 2 * NAME_LIMIT),
        ]
        for c in rows
    ]
    return fit_table(title, columns, cells)


def _passage_line(p: Passage) -> str:
    ok = "verified" if p.citation.verified else "UNVERIFIED"
    snippet = shorten(" ".join(p.text.split()), 160)
    return f"{p.title} [{p.start}:{p.end}] ({ok}, {p.score:.2f}): [dim]{snippet}[/dim]"


def _evidence_tree(report: DiagnosisReport | EvidenceBundle, top: int = 3) -> Tree:
    rows = report.candidates if isinstance(report, DiagnosisReport) else report.diseases
    tree = Tree(f"evidence  [dim]({EVIDENCE_LEGEND})[/dim]")
    for c in rows[:top]:
        node = tree.add(f"[bold]{c.rank}. {shorten(c.name, 2 * NAME_LIMIT)}[/bold]")
        for f in c.findings[:8]:
            sign = f"{f.bearing:<7}"  # for / against: never +/-, which read as present/absent
            what = "absent " if f.absent else ""
            via = f" via {f.annotated.name}" if f.annotated and f.annotated.id != f.finding.id else ""
            via += " (the disease does not show it)" if f.not_shown else ""
            where = dict.fromkeys(x.reference or f"{x.document}[{x.start}:{x.end}]" for x in f.citations)
            cites = ", ".join(list(where)[:3])  # each source once
            node.add(
                f"{sign} {what}{f.finding.name}{via}  log LR {f.log_lr:+.2f}"
                + (f"  [dim]{cites}[/dim]" if cites else ""),
            )
        for p in c.passages:
            node.add(_passage_line(p))
    return tree


def _print_report(report: DiagnosisReport) -> None:
    report = safe(report)  # names, passages and notes come from data: never markup
    _print_query(report)
    console.print(_candidates_table(report, f"differential ({report.method}, setting {report.setting})"))
    if report.categories:
        console.print(
            "categories: " + "; ".join(f"{c.name} {c.probability:.2f}" for c in report.categories[:5]),
            highlight=False,
        )
    if any(c.findings for c in report.candidates):  # `--evidence none` has none to show
        console.print(_evidence_tree(report))
    if report.follow_ups:
        console.print("[bold]ask next[/bold]")
        for q in report.follow_ups:
            console.print(
                f"  {q.question}  [dim](separates {len(q.supports)} from {len(q.against)})[/dim]"
            )


def _print_bundle(bundle: EvidenceBundle) -> None:
    bundle = safe(bundle)  # names, passages and notes come from data: never markup
    _print_query(bundle)
    console.print(_candidates_table(bundle, "graph candidates"))
    console.print(_evidence_tree(bundle))
    tree = Tree("passages")
    for p in bundle.passages:
        tree.add(_passage_line(p))
    console.print(tree)
