"""``kgrag link``: link one text, or a JSONL batch of texts / mentions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

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
from kgrag.cli._tables import ESSENTIAL, Col, fit_table, shorten


def _line_result(linker: Any, record: dict[str, Any], lineno: int, k: int) -> dict[str, Any]:
    """One output record for one input object; problems become an ``error`` field."""
    rid = record.get("id", lineno)
    if isinstance(record.get("text"), str) and "targets" in record:
        return _targets_result(linker, record, rid)
    if isinstance(record.get("text"), str):
        mentions = linker.link(record["text"])
        return {"id": rid, "mentions": [m.model_dump(mode="json") for m in mentions]}
    if isinstance(record.get("mention"), str):
        context = record.get("context")
        if context is not None and not isinstance(context, str):
            return {"id": rid, "error": "'context' must be a string"}
        cands = linker.normalize(record["mention"], context, k)
        return {
            "id": rid,
            "mention": record["mention"],
            "candidates": [c.model_dump(mode="json") for c in cands],
        }
    return {"id": rid, "error": "expected a 'text' or a 'mention' string field"}


def _targets_result(linker: Any, record: dict[str, Any], rid: Any) -> dict[str, Any]:
    """Targets mode: one mention per ``{"start", "end"}`` of ``record["targets"]``."""
    from kgrag.errors import KgragError

    targets = record["targets"]
    if not isinstance(targets, list) or not all(
        isinstance(t, dict) and isinstance(t.get("start"), int) and isinstance(t.get("end"), int)
        for t in targets
    ):
        return {"id": rid, "error": "'targets' must be a list of {\"start\": int, \"end\": int}"}
    try:
        mentions = linker.link_targets(record["text"], [(t["start"], t["end"]) for t in targets])
    except KgragError as e:
        return {"id": rid, "error": str(e)}
    return {"id": rid, "mentions": [m.model_dump(mode="json") for m in mentions]}


def _split(values: list[str]) -> list[str]:
    """``["MESH,OMIM", "HP"]`` -> ``["MESH", "OMIM", "HP"]``."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def link(
    text: str | None = typer.Argument(None, help="text to link (or use --input)"),
    input: Path | None = input_option(
        "JSONL: {id, text}, {id, text, targets: [{start, end}]} (one mention per target) "
        "or {id, mention, context}"
    ),
    output: Path | None = output_option(),
    top_k: int = typer.Option(5, "--top-k", "-k", min=1, max=50),
    training: list[Path] = typer.Option(
        [],
        "--training",
        "-t",
        exists=True,
        dir_okay=False,
        help="annotated PubTator corpus to adapt to: its mentions join the dictionary, "
        "keys its annotators rarely marked are not detected (repeatable)",
    ),
    json: bool = typer.Option(False, "--json", help="machine-readable output"),
    vocab: list[str] = typer.Option(
        [],
        "--vocab",
        help="only concepts with a code in these vocabularies, e.g. MESH,OMIM (how "
        "NCBI-disease and BC5CDR are annotated); every kind unless --kinds is given",
    ),
    kinds: list[str] = typer.Option(
        [], "--kinds", help="only these kinds, e.g. disease,finding (default: disease,finding)"
    ),
) -> None:
    """Find disease and finding mentions (with assertion) and rank their concepts."""
    from kgrag.api import linker_for
    from kgrag.types import SemanticKind

    with cli_errors():
        if (text is None) == (input is None):
            usage_error("give a TEXT argument or --input FILE, not both")
        vocabs, kind_names = _split(vocab), _split(kinds)
        bad = [k for k in kind_names if k.lower() not in {x.value for x in SemanticKind}]
        if bad:
            known = ", ".join(x.value for x in SemanticKind)
            usage_error(f"unknown kind {bad[0]!r}; use one of {known}")
        if training:
            from kgrag.linking.linker import DEFAULT_KINDS, ConceptLinker
            from kgrag.linking.training import train_linker
            from kgrag.ontology.compiled import load_concepts

            linker = ConceptLinker(  # its own: the shared one stays as it is
                load_concepts(),
                kinds=kind_names or (None if vocabs else DEFAULT_KINDS),
                prefixes=[v.upper() for v in vocabs] or None,
            )
            report = train_linker(linker, training)
            if not json:
                console.print(
                    f"adapted to {report.documents:,} training documents: "
                    f"{report.dictionary_entries:,} dictionary entries, "
                    f"{report.rejected_keys:,} keys not detected"
                )
        else:
            linker = linker_for(vocabs, kind_names)
        linker = linker.with_top_k(top_k)  # a copy: the shared linker keeps its own top_k
        if text is not None:
            mentions = linker.link(text)
            if json:
                emit_json(mentions)
                return
            _print_mentions(mentions)
            return
        assert input is not None
        jsonl_batch(input, output, "linking", lambda n, r: _line_result(linker, r, n, top_k))


def _print_mentions(mentions: list[Any]) -> None:
    if not mentions:
        console.print("no mentions found")
        return
    mentions = safe(mentions)
    columns = [
        Col("span", 4),
        Col("text", ESSENTIAL),
        Col("assertion", 7),
        Col("concept", ESSENTIAL),
        Col("name", 6),
        Col("score", 3, "right"),
        Col("via", 2),
    ]
    cells = []
    for m in mentions:
        best = m.candidates[0]
        cells.append(
            [
                f"{m.start}-{m.end}",
                shorten(m.text),
                m.assertion.value,
                best.concept_id,
                shorten(best.name),
                f"{best.score:.2f}",
                best.method,
            ]
        )
    out = fit_table("mentions", columns, cells)
    console.print(out)
