"""``kgrag info``: versions, vocabulary sources and counts."""

from __future__ import annotations

from typing import Any

import typer

from kgrag import __version__
from kgrag.cli._output import ProgressReporter, cli_errors, console, emit_json, safe
from kgrag.cli._tables import ESSENTIAL, Col, fit_table
from kgrag.config import Settings, get_settings
from kgrag.ontology.compiled import compiled_path, load_concepts


def _graph_summary(settings: Settings) -> dict[str, Any] | None:
    from kgrag.config import kb_dir
    from kgrag.errors import GraphUnavailable
    from kgrag.graph.sqlite_store import SqliteGraphStore

    try:
        store = SqliteGraphStore(kb_dir(settings), read_only=True)
    except GraphUnavailable:
        return None
    try:
        from kgrag.graph.coverage import finding_coverage

        return {
            "path": str(store.directory),
            "status": store.get_meta("status") or "unknown",
            "counts": store.counts().model_dump(),
            # diseases with >= 1 finding, per source and per tier (how much of the graph can rank)
            "finding_coverage": finding_coverage(store).model_dump(),
        }
    finally:
        store.close()


def check_artifacts(settings: Settings) -> dict[str, Any]:
    """Hash every retrieval artifact of the default knowledge base against its manifest.

    Raises:
        ArtifactDamaged: a file is missing, truncated, altered or another build's.
        RetrievalNotBuilt: nothing was built.
    """
    from kgrag.config import kb_dir
    from kgrag.graph.sqlite_store import SqliteGraphStore
    from kgrag.retrieval.artifacts import META_KEY, artifacts_dir
    from kgrag.retrieval.manifest import verify

    store = SqliteGraphStore(kb_dir(settings), read_only=True)
    try:
        directory = artifacts_dir(store, settings)
        manifest = verify(directory, store.get_meta(META_KEY), rehash=True)
    finally:
        store.close()
    return {"directory": str(directory), "files": len(manifest.files), "status": "intact"}


def info(
    json: bool = typer.Option(False, "--json", help="machine-readable output"),
    rebuild: bool = typer.Option(False, "--rebuild", help="recompile the concept table"),
    check: bool = typer.Option(
        False, "--check", help="hash every knowledge-base artifact against the build's manifest"
    ),
) -> None:
    """Show kgrag's version, its vocabularies (version, license) and concept counts."""
    with cli_errors():
        settings = get_settings()
        if check:  # a damaged artifact: one line naming it, exit code 1
            result = check_artifacts(settings)
            if json:
                emit_json(result)
            else:
                console.print(
                    f"artifacts in {safe(result['directory'])}: {result['files']} files intact",
                    highlight=False,
                )
            return
        table = load_concepts(settings, rebuild=rebuild, progress=ProgressReporter(json))
        stats = table.stats()
        graph = _graph_summary(settings)
        payload = {
            "kgrag": __version__,
            "knowledge_base": graph,
            "ontologies_dir": str(settings.ontologies_dir),
            "compiled_table": str(compiled_path(settings)),
            "sources": [s.model_dump(exclude={"files", "sha256"}) for s in table.sources],
            "concepts": stats,
        }
        if json:
            emit_json(payload)
            return
        console.print(
            f"[bold]kgrag {__version__}[/bold]  concept table: {safe(payload['compiled_table'])}"
        )
        columns = [
            Col("source", ESSENTIAL),
            Col("version", 5),
            Col("license", 3),
            Col("concepts", 6, "right"),
            Col("synonyms", 2, "right"),
            Col("is_a", 1, "right"),
            Col("xrefs", 1, "right"),
        ]
        per = {c.source: c for c in stats.per_source}
        cells = []
        for s in table.sources:
            c = per.get(s.name)
            cells.append(
                [
                    safe(s.name),
                    safe(s.version),
                    safe(s.license.split(":")[0].split(";")[0]),
                    *(
                        f"{v:,}"
                        for v in ((c.concepts, c.synonyms, c.is_a_edges, c.xrefs) if c else (0, 0, 0, 0))
                    ),
                ]
            )
        sources = fit_table("Vocabularies", columns, cells)
        console.print(sources)
        console.print(
            f"unified: [bold]{stats.concepts:,}[/bold] concepts, {stats.synonyms:,} synonyms, "
            f"{stats.codes:,} codes, {stats.is_a_edges:,} is_a edges, "
            f"{stats.conflicts:,} refused merges (conflicts)"
        )
        if graph is None:
            console.print("knowledge base: none yet (run `kgrag build`)")
        else:
            graph = safe(graph)
            console.print(
                f"knowledge base {graph['path']}: {graph['status']}; nodes "
                f"{graph['counts']['nodes']}, edges {graph['counts']['edges']}",
                highlight=False,
            )
            cov = graph["finding_coverage"]
            console.print(
                f"diseases with >= 1 finding: {cov['diseases']:,}; per source: "
                + ", ".join(f"{k} {v:,}" for k, v in cov["per_source"].items())
                + "; only from one source: "
                + ", ".join(f"{k} {v:,}" for k, v in cov["only_source"].items())
                + "; per tier: "
                + ", ".join(f"{k} {v:,}" for k, v in cov["per_tier"].items()),
                highlight=False,
            )
        for s in table.sources:
            if s.attribution:
                console.print(f"[dim]{safe(s.attribution)}[/dim]", highlight=False)
