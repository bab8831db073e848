"""The ``kgrag`` command line: a Typer app with one module per command."""

from __future__ import annotations

import logging

import typer

from kgrag.cli import build, concepts, diagnose, generate, graph, info
from kgrag.cli import link as link_cmd

app = typer.Typer(
    name="kgrag",
    help="Knowledge-graph RAG for clinical text: concepts, graph, retrieval, diagnosis.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.command("info")(info.info)
app.command("build")(build.build)
app.command("link")(link_cmd.link)
app.command("diagnose")(diagnose.diagnose)
app.command("retrieve")(diagnose.retrieve)
app.add_typer(concepts.app, name="concepts")
app.add_typer(graph.app, name="graph")
app.add_typer(generate.app, name="eval")  # generate: kgrag eval generation


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="log progress")) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


def main() -> None:
    app()
