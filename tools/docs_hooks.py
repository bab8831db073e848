"""MkDocs hooks: the reference pages generated from the code when the site is built.

A page holds a marker comment where generated Markdown goes:

- ``<!-- docs:cli -->``: the ``--help`` of every ``kgrag`` command, walked from the Typer app;
- ``<!-- docs:http -->``: every route of the sidecar from its OpenAPI document (made by
  ``kgrag.serve.app.create_app()``, which loads no knowledge base), whose JSON is also
  added to the site as ``reference/openapi.json``;
- ``<!-- docs:sources -->``: the shipped vocabularies from ``ontologies/manifest.json``.

``mkdocs.yml`` names this file under ``hooks:``; MkDocs imports it by path.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _commands(command: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    """Every (path, command) below ``command``, groups before their subcommands.

    Typer has its own click-like commands: a group is a command with ``commands``.
    """
    out = [(path, command)]
    if isinstance(getattr(command, "commands", None), dict):
        for name in sorted(command.commands):
            out += _commands(command.commands[name], [*path, name])
    return out


@cache
def cli_reference() -> str:
    """Markdown: one section per command with its ``--help`` as rendered for an 88-column pipe."""
    import typer
    from typer.testing import CliRunner

    from kgrag.cli import app

    root = typer.main.get_command(app)
    runner = CliRunner()
    parts = []
    for path, command in _commands(root, []):
        if getattr(command, "hidden", False):
            continue
        result = runner.invoke(
            app, [*path, "--help"], env={"COLUMNS": "88", "NO_COLOR": "1"}, color=False
        )
        if result.exit_code != 0:
            raise RuntimeError(f"kgrag {' '.join(path)} --help failed: {result.output}")
        title = " ".join(["kgrag", *path])
        level = "#" * min(2 + len(path), 4) if path else "##"
        parts += [f"{level} `{title}`", "", "```text", result.output.rstrip(), "```", ""]
    return "\n".join(parts)


@cache
def openapi() -> dict[str, Any]:
    """The sidecar's OpenAPI document (``create_app()`` builds the routes; nothing loads)."""
    from kgrag.serve.app import create_app

    return create_app().openapi()


def _schema_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref") or next(
        (s.get("$ref") for s in schema.get("anyOf", []) + schema.get("allOf", []) if "$ref" in s), None
    )
    if ref:
        return f"`{ref.rsplit('/', 1)[-1]}`"
    return f"`{schema.get('type', 'object')}`"


def http_reference() -> str:
    """Markdown: a table of the routes, then each route with its body, parameters and answers."""
    doc = openapi()
    rows = ["| method | path | summary |", "|---|---|---|"]
    sections = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            summary = op.get("summary", "")
            rows.append(f"| `{method.upper()}` | `{path}` | {summary} |")
            lines = [f"### `{method.upper()} {path}`", ""]
            if op.get("description"):
                lines += [op["description"].strip(), ""]
            params = op.get("parameters", [])
            if params:
                lines += ["| parameter | in | type | required | description |", "|---|---|---|---|---|"]
                for p in params:
                    desc = " ".join(str(p.get("description", "")).split())
                    req = "yes" if p.get("required") else "no"
                    lines.append(
                        f"| `{p['name']}` | {p['in']} | {_schema_name(p.get('schema', {}))} | {req} | {desc} |"
                    )
                lines.append("")
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                lines += [f"Request body: {_schema_name(body['schema'])} (JSON).", ""]
            answers = []
            for status, resp in op.get("responses", {}).items():
                content = resp.get("content", {}).get("application/json", {})
                shape = f" {_schema_name(content['schema'])}" if "schema" in content else ""
                answers.append(f"`{status}`{shape} {resp.get('description', '')}".strip())
            lines += ["Answers: " + "; ".join(answers) + ".", ""]
            sections += lines
    schemas = sorted(doc.get("components", {}).get("schemas", {}))
    tail = [
        "## Schemas",
        "",
        "The request and response models (pydantic, the same as the Python API's): "
        + ", ".join(f"`{s}`" for s in schemas)
        + ". Their fields are in [openapi.json](openapi.json).",
    ]
    return "\n".join([*rows, "", "## Routes", "", *sections, *tail])


def sources_table() -> str:
    """Markdown: one row per shipped vocabulary (name, version, licence, attribution, files)."""
    manifest = json.loads((ROOT / "ontologies" / "manifest.json").read_text())
    rows = ["| source | version | licence | attribution | files |", "|---|---|---|---|---:|"]
    for s in manifest["sources"]:
        size = sum(f["bytes"] for f in s["files"]) / 1e6
        rows.append(
            f"| {s['name']} | {s['version']} | {s['license']} | {s['attribution']} | "
            f"{len(s['files'])} ({size:.1f} MB) |"
        )
    return "\n".join(rows)


MARKERS = {"<!-- docs:cli -->": cli_reference, "<!-- docs:http -->": http_reference}
MARKERS["<!-- docs:sources -->"] = sources_table


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace each marker of a page with its generated Markdown."""
    for marker, render in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, render())
    return markdown


def on_files(files: Any, config: Any, **_: Any) -> Any:
    """Add the OpenAPI document to the site, next to the HTTP reference page."""
    from mkdocs.structure.files import File

    files.append(
        File.generated(config, "reference/openapi.json", content=json.dumps(openapi(), indent=2) + "\n")
    )
    return files


os.environ.setdefault("KGRAG_SERVE_HOST", "127.0.0.1")  # create_app() checks its bind settings
