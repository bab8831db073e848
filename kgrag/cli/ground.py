"""``kgrag ground``: the evidence for and against each diagnosis of a differential.

One case (TEXT and/or ``--finding``/``--absent``, with ``-H`` hypotheses) prints a table of
the hypotheses, best grounded first, an evidence tree (support, against, unexplained, what
to ask, each with its citations) and kgrag's own "consider also" candidates; ``--json``
prints the :class:`~kgrag.retrieval.grounded.GroundedDifferential`. ``--input`` reads JSONL
lines ``{id, text|findings, hypotheses}`` and writes one JSON line per case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.tree import Tree

from kgrag.cli._output import (
    cli_errors,
    console,
    emit_json,
    input_option,
    jsonl_batch,
    output_option,
    safe,
)
from kgrag.cli._tables import ESSENTIAL, Col, fit_table, shorten
from kgrag.cli.case import check_source, coded, from_record
from kgrag.cli.diagnose import EVIDENCE, SETTING_HELP
from kgrag.retrieval.grounded import GroundedDifferential, GroundedFinding
from kgrag.retrieval.request import CaseRequest
from kgrag.retrieval.types import citation_line


def ground(
    text: str | None = typer.Argument(None, help="a patient description"),
    hypothesis: list[str] | None = typer.Option(
        None, "--hypothesis", "-H", help="a diagnosis to ground: a name or a code (repeat for each)"
    ),
    finding: list[str] | None = typer.Option(None, "--finding", "-f", help="a present finding code"),
    absent: list[str] | None = typer.Option(None, "--absent", "-a", help="an absent finding code"),
    input: Path | None = input_option("JSONL: {id, text|findings, hypotheses}"),
    output: Path | None = output_option(),
    setting: str | None = typer.Option(None, "--setting", help=SETTING_HELP),
    evidence: str = typer.Option(
        "full", "--evidence", help="none | summary | full (citations, passages)"
    ),
    consider_also: bool = typer.Option(
        True,
        "--consider-also/--no-consider-also",
        help="add kgrag's own top candidates (second opinion)",
    ),
    store: str | None = typer.Option(None, "--store", help="knowledge base: directory or neo4j://"),
    json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Ground a differential: evidence for and against each hypothesis, every citation verified."""
    from kgrag.cli._output import usage_error
    from kgrag.service import CaseService

    with cli_errors():
        findings = coded(finding, absent)
        check_source(text, findings, input)
        if evidence not in EVIDENCE:
            usage_error(f"--evidence must be one of {', '.join(EVIDENCE)}")
        if input is None and not hypothesis:
            usage_error(
                'give at least one hypothesis: -H "community-acquired pneumonia" -H ICD10CM:J20.9'
            )
        options: dict[str, Any] = {
            "setting": setting,
            "evidence": evidence,
            "consider_also": consider_also,
        }
        with CaseService(store) as svc:
            if input is None:
                req = CaseRequest.parse(text=text, findings=findings, hypotheses=hypothesis, **options)
                grounded = svc.ground(req)
                emit_json(grounded) if json else print_grounding(grounded)
                return

            def handle(lineno: int, record: dict[str, Any]) -> dict[str, Any]:
                rid, req = from_record(record, lineno, **options)
                return {"id": rid, **svc.ground(req).model_dump(mode="json")}

            jsonl_batch(input, output, "grounding", handle)


def _item(f: GroundedFinding, side: str) -> str:
    what = f"{'absent ' if f.absent else ''}{f.finding.name}"
    how = {"fact": "fact", "passage": "passage", "not_shown": "the disease does not show it"}[f.basis]
    freq = f", frequency {f.frequency:.2f}" if f.frequency is not None else ""
    llr = f", log LR {f.log_lr:+.2f}" if f.log_lr is not None else ""
    return f"{side:<8}{what} [dim]({how}{freq}{llr})[/dim]"


def print_grounding(g: GroundedDifferential) -> None:
    """The grounded differential for a terminal: a table, the evidence tree, consider-also."""
    g = safe(g)  # names and quotes come from data: never markup
    q = g.query
    console.print(
        "present: " + (", ".join(f.name for f in q.present) or "-")
        + " | absent: " + (", ".join(f.name for f in q.absent) or "-"),
        highlight=False,
    )  # fmt: skip
    columns = [
        Col("#", ESSENTIAL, "right"),
        Col("hypothesis", ESSENTIAL),
        Col("concept", 6),
        Col("score", 3, "right"),
        Col("p", 8, "right"),
        Col("coverage", 2),
        Col("for", 4, "right"),
        Col("against", 4, "right"),
    ]
    cells = []
    for h in g.hypotheses:
        concept = (
            f"{shorten(h.concept.name)}\n[dim]{h.concept.id}[/dim]"
            if h.concept
            else "[yellow]unresolved[/yellow]"
        )
        if h.resolution.status == "ambiguous":
            concept += "\n[dim](ambiguous)[/dim]"
        cov = h.coverage
        coverage = f"{cov.level}: {cov.facts} facts, {cov.passages} passages"
        cells.append(
            [
                str(h.rank), shorten(h.hypothesis), concept,
                "-" if h.score is None else f"{h.score:+.2f}", f"{h.probability:.2f}",
                coverage, str(len(h.support)), str(len(h.against)),
            ]
        )  # fmt: skip
    table = fit_table(f"grounded differential (setting {g.setting})", columns, cells)
    console.print(table)
    tree = Tree("evidence  [dim](for / against the hypothesis; each citation verified)[/dim]")
    for h in g.hypotheses:
        node = tree.add(f"[bold]{h.rank}. {h.hypothesis}[/bold]")
        if h.concept is None:
            near = ", ".join(a.name for a in h.resolution.alternatives) or "none"
            node.add(f"[yellow]unresolved[/yellow]: nearest concepts {near}")
            continue
        if h.coverage.level == "nothing":
            node.add(
                "the knowledge base holds no facts or passages about it "
                "(no evidence, not evidence against)"
            )
        for f, side in [*((x, "for") for x in h.support), *((x, "against") for x in h.against)]:
            leaf = node.add(_item(f, side))
            for c in f.citations[:2]:
                leaf.add(f"[dim]{citation_line(c)}[/dim]")
        if h.unexplained:
            node.add("unexplained: " + ", ".join(u.name for u in h.unexplained))
        if h.to_ask:
            node.add("ask: " + ", ".join(a.finding.name for a in h.to_ask))
    console.print(tree)
    if g.consider_also:
        console.print(
            "[bold]consider also[/bold] (kgrag's own ranking; margin vs the best hypothesis, nats)"
        )
        for other in g.consider_also:
            console.print(
                f"  {other.rank}. {other.name} [dim]{other.concept_id}[/dim]"
                f"  margin {other.margin:+.2f}",
                highlight=False,
            )
    for w in g.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
