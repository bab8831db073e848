"""The ``kgrag`` command line: a Typer app with one module per command."""

from __future__ import annotations

import logging

import typer

from kgrag.cli import build, concepts, diagnose, generate, graph, ground, info
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
app.command("ground")(ground.ground)
app.add_typer(concepts.app, name="concepts")
app.add_typer(graph.app, name="graph")
app.add_typer(generate.app, name="eval")  # generate: kgrag eval generation

# -- serve: the HTTP sidecar and the MCP server over stdio (kgrag[serve]) --
from kgrag.cli import serve as serve_cmd  # noqa: E402

app.command("serve")(serve_cmd.serve)
app.command("mcp")(serve_cmd.mcp)

# -- help without the docstrings' reStructuredText (``code``, :func:`x`): after every command --
from kgrag.cli._output import plain_help  # noqa: E402

plain_help(app)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="log progress")) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


def main() -> None:
    """Run the ``kgrag`` CLI: stdout/stderr made to survive stray surrogates, ``sys.argv`` cleaned."""
    import sys

    from kgrag.cli._output import clean_argv

    for stream in (sys.stdout, sys.stderr):  # a stray surrogate from data never crashes a print
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    sys.argv[1:] = clean_argv(sys.argv[1:])
    app()
