"""``kgrag diagnose --llm SPEC`` and ``kgrag eval generation``.

The first gives a grounded answer with verified citations, the second runs the generation harness.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from kgrag.cli._output import cli_errors, console, emit_json, err_console, jsonl_batch
from kgrag.cli.case import from_record
from kgrag.generate.types import GroundedDiagnosis
from kgrag.retrieval.request import CaseRequest

app = typer.Typer(help="Measure kgrag's stages on case files.", no_args_is_help=True)


def print_grounded(report: GroundedDiagnosis) -> None:
    """The answer, its verified citations and the verifier's counts, for a terminal."""
    if report.present or report.absent:
        console.print(
            f"present: {', '.join(report.present) or '-'} | absent: {', '.join(report.absent) or '-'}",
            highlight=False,
        )
    console.print(report.body, highlight=False, markup=False)
    for c in report.citations:
        where = f"{c.document} [{c.start}:{c.end}]" if c.kind == "passage" else "graph fact"
        refs = f" ({', '.join(c.references[:3])})" if c.references else ""
        fixed = " [re-anchored]" if c.reanchored else ""
        console.print(
            f'[{c.n}] {c.evidence}, {where}{refs}{fixed}: "{c.quote}"', highlight=False, markup=False
        )
    n = report.counts
    state = "[green]verified[/green]" if report.verified else "[yellow]not fully verified[/yellow]"
    who = f"{report.source}" + (f" ({report.model})" if report.model else "")
    console.print(
        f"{who}, {state}: {n.citations_verified}/{n.citations_returned} citations verified, "
        f"{n.claims_supported}/{n.claims_returned} diagnoses supported"
        + (f", {n.claims_removed} removed" if n.claims_removed else ""),
        highlight=False,
    )
    for r in report.rejected[:10]:
        console.print(f"[dim]rejected {r.evidence} for {r.claim}: {r.reason}[/dim]", highlight=False)
    if report.reason:
        console.print(f"[dim]{report.reason}[/dim]", highlight=False)


def diagnose_with_llm(
    store: str | None,
    llm_spec: str,
    text: str | None,
    findings: list[dict[str, Any]],
    input: Path | None,
    output: Path | None,
    json: bool,
    **options: Any,
) -> None:
    """``kgrag diagnose ... --llm SPEC``: one case, or a JSONL batch (``options``: the case's)."""
    from kgrag.service import CaseService

    with cli_errors(), CaseService(store) as svc:
        llm = llm_spec
        case = {k: v for k, v in options.items() if k != "method"}
        if input is None:
            report = svc.answer(CaseRequest.parse(text=text, findings=findings, **case), llm=llm)
            emit_json(report) if json else print_grounded(report)
            return

        def handle(lineno: int, record: dict[str, Any]) -> dict[str, Any]:
            rid, req = from_record(record, lineno, **case)
            return {"id": rid, **svc.answer(req, llm=llm).model_dump(mode="json")}

        jsonl_batch(input, output, "answering", handle)


@app.command("generation")
def generation(
    cases: Path = typer.Option(..., "--cases", exists=True, dir_okay=False, help="JSONL cases"),
    llm: str = typer.Option("default", "--llm", help="openai://HOST:PORT/MODEL, a .gguf, smollm2, none"),
    output: Path | None = typer.Option(None, "--output", "-o", help="metrics JSON (default stdout)"),
    per_case: Path | None = typer.Option(None, "--per-case", help="JSONL of per-case results"),
    limit: int | None = typer.Option(None, "--limit", min=1, help="first N cases only"),
    top_k: int = typer.Option(10, "--top-k", "-k", min=1, max=500),
    store: str | None = typer.Option(None, "--store", help="knowledge base: directory or neo4j://"),
    hypotheses_from: str = typer.Option(
        "kgrag",
        "--hypotheses-from",
        help="the differential the answer is written over: kgrag (its own ranking), llm (the LLM "
        "proposes names from the case alone, kgrag grounds them) or both",
    ),
) -> None:
    """Run an LLM over a case file ({id, text|findings, gold?, hypotheses?}) and write the metrics.

    JSON validity, citation validity, support, abstention, top-k, latency.
    """
    import orjson

    from kgrag.cli._output import usage_error
    from kgrag.generate.answer import GenerateOptions
    from kgrag.generate.backends import llm_from_spec
    from kgrag.generate.evaluate import evaluate, load_cases
    from kgrag.retrieval.diagnose import Diagnoser

    if hypotheses_from not in ("kgrag", "llm", "both"):
        usage_error("--hypotheses-from must be one of kgrag, llm, both")
    with cli_errors(), Diagnoser(store) as dx:
        model = llm_from_spec(llm, dx.settings)
        options = GenerateOptions.from_settings(dx.settings, hypotheses_from=hypotheses_from)
        items = load_cases(cases, limit)
        sink = per_case.open("wb") if per_case else None
        done = [0]

        def on_case(result: Any, _report: Any) -> None:
            done[0] += 1
            if sink is not None:
                sink.write(orjson.dumps(result.model_dump(mode="json")) + b"\n")
            err_console.print(f"[dim]{done[0]}/{len(items)} {result.id}: {result.source}[/dim]")

        try:
            metrics, _ = evaluate(dx, items, model, options, top_k=top_k, on_case=on_case)
        finally:
            if sink is not None:
                sink.close()
        if output is not None:
            output.write_bytes(orjson.dumps(metrics.model_dump(mode="json"), option=orjson.OPT_INDENT_2))
            err_console.print(f"wrote {output}")
        else:
            emit_json(metrics)
