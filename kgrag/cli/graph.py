"""``kgrag graph``: look at the built knowledge graph."""

from __future__ import annotations

import typer

from kgrag.cli._output import cli_errors, console, emit_json, err_console, safe
from kgrag.cli._tables import ESSENTIAL, Col, fit_table, shorten

app = typer.Typer(help="Query the built knowledge graph.", no_args_is_help=True)


def _resolve(query: str) -> tuple[str, str]:
    """A concept id for a code or a name (best disease match)."""
    from kgrag.errors import ConceptNotFound
    from kgrag.ontology.compiled import load_concepts

    table = load_concepts()
    uid = table.resolve(query.strip())
    if uid is not None:
        return uid, table.get(uid).name
    hits = table.search(query, limit=1, kinds=["disease", "category"])
    if not hits:
        raise ConceptNotFound(query)
    return hits[0].concept_id, hits[0].name


@app.command("findings")
def findings(
    concept: str = typer.Argument(
        ..., help="a disease name or code, e.g. 'type 2 diabetes mellitus' or OMIM:125853"
    ),
    store: str | None = typer.Option(None, "--store", help="knowledge base (default: kb/)"),
    limit: int = typer.Option(25, "--limit", "-n", min=1),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """The findings the graph links to a disease, most frequent first, with their sources."""
    from kgrag.graph.schema import EdgeType
    from kgrag.graph.stores import open_store

    with cli_errors():
        uid, name = _resolve(concept)
        graph = open_store(store, read_only=True)
        try:
            status = graph.get_meta("status")
            rows = graph.neighbours(uid, types=[EdgeType.HAS_FINDING], limit=10_000)
        finally:
            graph.close()
        rows.sort(key=lambda en: (-(en[0].props.get("frequency") or 0), en[1].name))
        if json:
            emit_json(
                {
                    "concept": uid,
                    "name": name,
                    "status": status,
                    "findings": [{"id": n.id, "name": n.name, "edge": e} for e, n in rows[:limit]],
                }
            )
            return
        if status != "complete":
            err_console.print(f"[yellow]the knowledge base is {safe(str(status))}[/yellow]")
        rows, name = safe(rows), safe(name)
        columns = [
            Col("finding", ESSENTIAL),
            Col("id", ESSENTIAL),
            Col("frequency", 5, "right"),
            Col("polarity", 4),
            Col("sources", 2),
        ]
        cells = []
        for e, n in rows[:limit]:
            freq = e.props.get("frequency")
            cells.append(
                [
                    shorten(n.name),
                    n.id,
                    f"{freq:.2f}" if isinstance(freq, float) else "",
                    str(e.props.get("polarity", "")),
                    ", ".join(sorted({c.source for c in e.claims})),
                ]
            )
        out = fit_table(f"findings of {shorten(name)} ({uid}): {len(rows)}", columns, cells)
        console.print(out)
        if not rows:
            err_console.print(
                "no findings of its own in the graph; a disease named above 3 or more annotated "
                "subtypes is scored with the findings most of them share (`kgrag diagnose` shows them)"
            )


@app.command("ancestors")
def ancestors(
    concept: str = typer.Argument(..., help="a concept name or code"),
    store: str | None = typer.Option(None, "--store"),
    depth: int = typer.Option(5, "--depth", min=1, max=30),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """The IS_A ancestors of a concept with their tier (category > group > disease)."""
    from kgrag.graph.stores import open_store

    with cli_errors():
        uid, name = _resolve(concept)
        graph = open_store(store, read_only=True)
        try:
            up = graph.ancestors(uid, max_depth=depth)
        finally:
            graph.close()
        if json:
            emit_json(
                {
                    "concept": uid,
                    "ancestors": [
                        {"id": n.id, "name": n.name, "tier": n.tier, "depth": d} for n, d in up
                    ],
                }
            )
            return
        console.print(f"[bold]{safe(name)}[/bold] ({safe(uid)})")
        for n, d in safe(up):
            console.print(
                f"{'  ' * d}↑ {n.name} ({n.id}, {n.tier.value if n.tier else '-'})", highlight=False
            )


@app.command("neo4j-import")
def neo4j_import(
    out: str = typer.Option(..., "--out", help="folder for the import's CSV files"),
    store: str | None = typer.Option(
        None, "--store", help="the knowledge base to export (default: kb/)"
    ),
    admin: str | None = typer.Option(
        None,
        "--admin",
        help="the server's neo4j-admin (default: the neo4j_admin setting); without one the "
        "files are written and the command to run is printed",
    ),
    database: str = typer.Option("neo4j", "--database", help="the database to import into"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace the (stopped) database"),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """Bulk-load a knowledge base into Neo4j with ``neo4j-admin database import full``.

    Writes the graph of ``--store`` (every node, every edge with all its claims) as the
    admin tool's CSV files and, given ``--admin``, runs it (the database must be stopped or
    absent; ``NEO4J_HOME``/``NEO4J_CONF`` from the environment). Start the server after it;
    kgrag creates its constraints and indexes on first connecting. Incremental loads go
    through ``kgrag build --store neo4j://...`` (the batched path).
    """
    from pathlib import Path

    from kgrag.config import get_settings
    from kgrag.errors import ConfigError
    from kgrag.graph.neo4j_import import import_command, run_import, write_import_files
    from kgrag.graph.stores import open_store

    with cli_errors():
        admin = admin or get_settings().neo4j_admin
        if Path(out).exists() and not Path(out).is_dir():
            raise ConfigError(f"--out {out} is a file: give a folder for the import's CSV files")
        graph = open_store(store, read_only=True)
        try:
            files = write_import_files(graph.iter_nodes(), graph.iter_edges(), Path(out))
        finally:
            graph.close()
        report: dict[str, object] = {"files": files}
        if admin:
            report["import"] = run_import(admin, files, database=database, overwrite=overwrite)
        command = import_command("neo4j-admin", files, database=database, overwrite=overwrite)
        if not admin:
            report["command"] = command
        if json:
            emit_json(report)
            return
        console.print(
            f"wrote {files.graph_nodes} nodes, {files.edges} edges and {files.claims} claims "
            f"to {safe(str(files.directory))} in {files.seconds:.1f} s",
            highlight=False,
        )
        if admin:
            console.print(f"imported into database {safe(database)}; start the server now")
        else:
            import shlex

            console.print(
                "stop the server, then run (add --overwrite-destination=true where the database "
                "already exists, as a server's default database does):",
                highlight=False,
            )
            # one line, never wrapped: it is pasted into a shell
            console.print(shlex.join(command), soft_wrap=True, markup=False, highlight=False)
