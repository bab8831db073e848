"""One request boundary: every entry point that takes a case builds the one ``CaseRequest``
and calls the one ``CaseService``.

The entry points are enumerated from the code (the API's case functions, the CLI commands
that take a case, the REST routes whose body is a case, the MCP tools that take one), so a
new entry point that bypasses the boundary fails here. Each is called with a valid case
while the service's request methods are replaced by a recorder (no knowledge base is
needed: the recorder answers with an ``InvalidRequest``, which each entry point must turn
into its own clear refusal), and with a case over a limit of the one table, which each must
refuse with the same words.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

import kgrag.api
from kgrag.errors import InvalidRequest
from kgrag.retrieval.request import LIMITS, CaseRequest
from kgrag.service import CaseService

CASE = "Fever and a productive cough. No chest pain."
SERVICE_METHODS = ("diagnose", "retrieve", "ground", "answer")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, CaseRequest]]]:
    seen: list[tuple[str, CaseRequest]] = []
    for name in SERVICE_METHODS:

        def record(self: CaseService, req: CaseRequest, *args: Any, _name: str = name, **kw: Any) -> Any:
            assert isinstance(req, CaseRequest)
            seen.append((_name, req))
            raise InvalidRequest("the boundary was reached")

        monkeypatch.setattr(CaseService, name, record)
    yield seen


def api_case_functions() -> dict[str, Any]:
    return {
        name: fn
        for name, fn in vars(kgrag.api).items()
        if inspect.isfunction(fn)
        and not name.startswith("_")
        and {"text", "findings"} <= set(inspect.signature(fn).parameters)
    }


def test_the_api_case_functions_are_the_ones_expected() -> None:
    assert set(api_case_functions()) == {"diagnose", "retrieve", "ground", "answer"}


@pytest.mark.parametrize("name", ["diagnose", "retrieve", "ground", "answer"])
def test_api_functions_go_through_the_boundary(name: str, calls: list[tuple[str, CaseRequest]]) -> None:
    fn = api_case_functions()[name]
    kwargs: dict[str, Any] = {"hypotheses": ["pneumonia"]} if name == "ground" else {}
    if name == "answer":
        kwargs["llm"] = "none"
    with pytest.raises(InvalidRequest, match="boundary"):
        fn(CASE, **kwargs)
    assert calls and calls[0][1].text == CASE
    with pytest.raises(InvalidRequest, match=f"at most {LIMITS['text_chars']}"):
        fn("x" * (LIMITS["text_chars"] + 1), **kwargs)


def cli_case_commands() -> dict[str, list[str]]:
    """Every CLI command with a ``--finding`` option takes a case: its extra arguments."""
    from kgrag.cli import app

    out = {}
    for cmd in app.registered_commands:
        params = inspect.signature(cmd.callback).parameters  # type: ignore[arg-type]
        if "finding" in params:
            name = cmd.name or cmd.callback.__name__  # type: ignore[union-attr]
            out[name] = ["-H", "pneumonia"] if "hypothesis" in params else []
    return out


def test_the_cli_case_commands_are_the_ones_expected() -> None:
    assert set(cli_case_commands()) == {"diagnose", "retrieve", "ground"}


@pytest.mark.parametrize("command", ["diagnose", "retrieve", "ground", "diagnose --llm none"])
def test_cli_commands_go_through_the_boundary(
    command: str, calls: list[tuple[str, CaseRequest]]
) -> None:
    from kgrag.cli import app

    name, *rest = command.split()
    args = [name, CASE, *cli_case_commands()[name], *rest]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 2 and "boundary" in out.output, out.output
    assert calls and calls[0][1].text == CASE


def test_rest_case_routes_take_the_one_request() -> None:
    from fastapi.routing import APIRoute

    from kgrag.serve.app import create_app
    from kgrag.serve.config import ServeConfig

    app = create_app(ServeConfig())
    bodies = {
        r.path: r.body_field.field_info.annotation  # type: ignore[union-attr]
        for r in app.routes
        if isinstance(r, APIRoute) and r.body_field is not None
    }
    case_routes = {p for p, t in bodies.items() if isinstance(t, type) and issubclass(t, CaseRequest)}
    assert case_routes == {"/v1/retrieve", "/v1/diagnose", "/v1/ground"}
    # the other bodies are not cases (no text+findings)
    for path, t in bodies.items():
        if path not in case_routes:
            assert not {"text", "findings"} <= set(t.model_fields), path


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/retrieve", {"text": CASE}),
        ("/v1/diagnose", {"text": CASE}),
        ("/v1/diagnose", {"text": CASE, "llm": True}),
        ("/v1/ground", {"text": CASE, "hypotheses": ["pneumonia"]}),
    ],
)
def test_rest_routes_go_through_the_boundary(
    path: str,
    body: dict[str, Any],
    calls: list[tuple[str, CaseRequest]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastapi.testclient import TestClient

    from kgrag.serve.app import create_app
    from kgrag.serve.config import ServeConfig
    from kgrag.serve.service import KnowledgeService

    svc = KnowledgeService("/nonexistent-kb-for-the-boundary-test")
    monkeypatch.setattr(KnowledgeService, "_llm", lambda self: None)  # no LLM needed to reach it
    with TestClient(create_app(ServeConfig(), svc)) as c:
        r = c.post(path, json=body)
        assert r.status_code == 422 and "boundary" in r.json()["message"], r.text
        over = c.post(path, json={**body, "text": "x" * (LIMITS["text_chars"] + 1)})
        assert over.status_code == 422, over.text
    assert calls and calls[0][1].text == CASE


def test_mcp_case_tools_go_through_the_boundary(calls: list[tuple[str, CaseRequest]]) -> None:
    import anyio
    from mcp import Client

    from kgrag.serve.mcp_server import build_mcp
    from kgrag.serve.service import KnowledgeService

    server = build_mcp(KnowledgeService("/nonexistent-kb-for-the-boundary-test"))

    async def main() -> dict[str, list[bool]]:
        out: dict[str, list[bool]] = {}
        async with Client(server) as client:
            tools = (await client.list_tools()).tools
            case_tools = [t for t in tools if {"text", "findings"} <= set(t.input_schema["properties"])]
            assert {t.name for t in case_tools} == {"retrieve_evidence", "diagnose", "ground"}
            for t in case_tools:
                args: dict[str, Any] = {"text": CASE}
                if "hypotheses" in t.input_schema["properties"]:
                    args["hypotheses"] = ["pneumonia"]
                ok = await client.call_tool(t.name, args)
                over = await client.call_tool(t.name, {**args, "text": "x" * (LIMITS["text_chars"] + 1)})
                out[t.name] = [ok.is_error, over.is_error]
        return out

    out = anyio.run(main)
    assert all(a and b for a, b in out.values()), out
    assert {name for name, _ in calls} == {"retrieve", "diagnose", "ground"}
