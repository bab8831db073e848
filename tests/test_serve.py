"""``kgrag serve``: the REST API, its keys, limits, metrics and logs, and the MCP tools,
in process against a small knowledge base built by a real recipe into a real store
(``tests/serve_kb.py``)."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import serve_kb
from fastapi.testclient import TestClient

from kgrag.errors import ConfigError
from kgrag.retrieval.diagnose import Diagnoser
from kgrag.retrieval.grounded import GroundedDifferential
from kgrag.retrieval.types import DiagnosisReport, EvidenceBundle
from kgrag.serve.app import create_app
from kgrag.serve.config import ServeConfig, is_loopback
from kgrag.serve.models import LinkResponse, SpanResponse
from kgrag.serve.service import KnowledgeService
from kgrag.types import Concept

KEY = "s3cret-test-key-4242"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def kb_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("serve-kb")
    serve_kb.build(root)
    return root


def service(root: Path) -> KnowledgeService:
    return KnowledgeService(str(root / "kb"), settings=serve_kb.settings_for(root))


def wait_ready(client: TestClient, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"not ready: {client.get('/readyz').json()}")


@pytest.fixture(scope="module")
def client(kb_root: Path) -> Iterator[TestClient]:
    app = create_app(ServeConfig(api_keys=KEY, rate_limit="100000/minute"), service(kb_root))
    with TestClient(app) as c:
        wait_ready(c)
        yield c


def test_routes_answer_with_the_library_models(client: TestClient) -> None:
    r = client.post("/v1/link", json={"text": serve_kb.CASE}, headers=AUTH)
    mentions = LinkResponse.model_validate(r.json()).mentions
    assert {(m.text, m.assertion.value) for m in mentions} >= {
        ("seizures", "present"),
        ("cough", "absent"),
    }

    r = client.post("/v1/diagnose", json={"text": serve_kb.CASE, "top_k": 3}, headers=AUTH)
    assert r.status_code == 200
    report = DiagnosisReport.model_validate(r.json())
    assert report.candidates[0].name == "Dravet syndrome"
    assert [c.name for c in report.candidates[0].category_path] == [
        "nervous system disease",
        "disease of anatomical entity",
    ]
    assert report.candidates[0].passages and report.candidates[0].passages[0].citation.verified

    r = client.post(
        "/v1/retrieve", json={"findings": [{"id": "HP:0012735"}, {"id": "HP:0001945"}]}, headers=AUTH
    )
    bundle = EvidenceBundle.model_validate(r.json())
    assert {d.name for d in bundle.diseases[:2]} == {"influenza", "pneumonia"}
    cit = bundle.passages[0].citation

    r = client.get(
        f"/v1/documents/{cit.document}/span", params={"start": cit.start, "end": cit.end}, headers=AUTH
    )
    assert SpanResponse.model_validate(r.json()).text == cit.quote

    r = client.post("/v1/normalize", json={"mention": "pyrexia"}, headers=AUTH)
    assert r.json()["candidates"][0]["concept_id"] == "HP:0001945"
    assert (
        Concept.model_validate(client.get("/v1/concepts/HP:0001250", headers=AUTH).json()).name
        == "Seizure"
    )
    r = client.get("/v1/concepts", params={"q": "asthma", "kind": "disease"}, headers=AUTH)
    assert r.json()["matches"][0]["concept_id"] == "DOID:2841"


def test_ground_route(client: TestClient) -> None:
    body = {"text": serve_kb.CASE, "hypotheses": ["Dravet syndrome", "influenza", "Zorblax syndrome"]}
    r = client.post("/v1/ground", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    g = GroundedDifferential.model_validate(r.json())
    h = {x.hypothesis: x for x in g.hypotheses}
    assert h["Dravet syndrome"].rank == 1
    assert any(s.finding.name == "Seizure" for s in h["Dravet syndrome"].support)
    assert h["Zorblax syndrome"].resolution.status == "unresolved"
    for bad in ({"text": serve_kb.CASE}, {"text": serve_kb.CASE, "hypotheses": []},
                {"text": serve_kb.CASE, "hypotheses": ["x"] * 51}, {"hypotheses": ["flu"]}):  # fmt: skip
        r = client.post("/v1/ground", json=bad, headers=AUTH)
        assert r.status_code == 422 and r.json()["error"] == "invalid_request", (bad, r.text)
    assert "/v1/ground" in client.get("/openapi.json").json()["paths"]


def test_errors_are_clear(client: TestClient) -> None:
    r = client.get("/v1/concepts/HP:9999999", headers=AUTH)
    assert r.status_code == 404 and "no concept" in r.json()["message"]
    r = client.get("/v1/documents/doc:nope/span", headers=AUTH)
    assert r.status_code == 404
    r = client.get("/v1/documents/doc:dravet.md/span", params={"start": 5, "end": 99999}, headers=AUTH)
    assert r.status_code == 422 and "outside" in r.json()["message"]
    r = client.post("/v1/diagnose", json={"text": "The weather was nice."}, headers=AUTH)
    assert r.status_code == 422 and r.json()["error"] == "no_usable_findings"
    r = client.post("/v1/diagnose", json={}, headers=AUTH)
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    r = client.post("/v1/diagnose", json={"text": serve_kb.CASE, "llm": True}, headers=AUTH)
    assert r.status_code == 501 and r.json()["error"] == "llm_unavailable"


def test_keys(client: TestClient, kb_root: Path, tmp_path: Path) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"X-API-Key": KEY + "x"}):
        r = client.post("/v1/link", json={"text": "fever"}, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert client.post("/v1/link", json={"text": "fever"}, headers={"X-API-Key": KEY}).status_code == 200
    for public in ("/healthz", "/readyz", "/", "/openapi.json", "/docs", "/static/app.js"):
        assert client.get(public).status_code == 200, public
    assert client.get("/metrics").status_code == 401

    # a key file; refusing to bind beyond loopback without any key
    keys = tmp_path / "keys"
    keys.write_text("# team keys\nfile-key-1\n\nfile-key-2\n")
    assert ServeConfig(api_key_file=keys).keys() == [b"file-key-1", b"file-key-2"]
    with pytest.raises(ConfigError, match="without an API key"):
        create_app(ServeConfig(host="0.0.0.0"), service(kb_root))
    create_app(ServeConfig(host="0.0.0.0", api_key_file=keys), service(kb_root))
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and not is_loopback("::")


def test_limits(kb_root: Path) -> None:
    config = ServeConfig(max_body_bytes=4096, max_text_chars=500, max_top_k=20, rate_limit="8/minute")
    with TestClient(create_app(config, service(kb_root))) as c:
        wait_ready(c)
        r = c.post(
            "/v1/link",
            content=b'{"text": "' + b"a" * 5000 + b'"}',
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 413 and r.json()["error"] == "body_too_large"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
            yield b'{"text": "'
            for _ in range(10):
                yield b"b" * 1000
            yield b'"}'

        r = c.post("/v1/link", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
        r = c.post("/v1/diagnose", json={"text": "fever " * 100})
        assert r.status_code == 422 and r.json()["error"] == "text_too_long"
        r = c.post("/v1/diagnose", json={"text": "fever", "top_k": 21})
        assert r.status_code == 422 and r.json()["error"] == "top_k_too_large"
        codes = [c.get("/v1/concepts", params={"q": "fever"}).status_code for _ in range(8)]
        assert codes[-1] == 429 and 200 in codes
        r = c.get("/v1/concepts", params={"q": "fever"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert c.get("/healthz").status_code == 200  # probes are never rate limited
        metrics = c.get("/metrics")
        assert metrics.status_code == 429


class SlowDiagnoser(Diagnoser):
    """The real diagnoser with a delay added to diagnose (to exercise the case service's timeout)."""

    def diagnose(self, *args: Any, **kwargs: Any) -> DiagnosisReport:
        time.sleep(1.5)
        return super().diagnose(*args, **kwargs)


class FaultyDiagnoser(Diagnoser):
    """The real diagnoser whose diagnose fails with a fault that is not the caller's."""

    def diagnose(self, *args: Any, **kwargs: Any) -> DiagnosisReport:
        raise ValueError("an internal bug, not the request's fault")


def test_a_fault_that_is_not_the_callers_is_a_500_with_a_request_id(kb_root: Path) -> None:
    svc = KnowledgeService(
        factory=lambda: FaultyDiagnoser(str(kb_root / "kb"), settings=serve_kb.settings_for(kb_root))
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger("kgrag").addHandler(handler)
    try:
        with TestClient(create_app(ServeConfig(), svc), raise_server_exceptions=False) as c:
            wait_ready(c)
            r = c.post("/v1/diagnose", json={"text": serve_kb.CASE})
    finally:
        logging.getLogger("kgrag").removeHandler(handler)
    assert r.status_code == 500 and r.json()["error"] == "internal_error"
    request_id = r.headers["x-request-id"]
    assert request_id in r.json()["message"]
    log = stream.getvalue()
    assert "unexpected error" in log and "seizures" not in log  # logged, without patient text


def test_timeout_cors_and_loading(kb_root: Path) -> None:
    slow = KnowledgeService(
        factory=lambda: SlowDiagnoser(str(kb_root / "kb"), settings=serve_kb.settings_for(kb_root)),
        timeout_s=0.3,
    )
    with TestClient(create_app(ServeConfig(request_timeout_s=0.3), slow)) as c:
        wait_ready(c)
        started = time.monotonic()
        r = c.post("/v1/diagnose", json={"text": serve_kb.CASE})
        assert r.status_code == 504 and time.monotonic() - started < 1.4
        r = c.options(
            "/v1/link",
            headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in r.headers  # CORS off by default

    with TestClient(create_app(ServeConfig(cors_origins="https://example.org"), service(kb_root))) as c:
        r = c.options(
            "/v1/link",
            headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"},
        )
        assert r.headers["access-control-allow-origin"] == "https://example.org"

    # /readyz says 503 until the knowledge base is loaded; requests get a clear 503
    gate = threading.Event()
    real = service(kb_root)

    def factory() -> Any:
        gate.wait(30)
        from kgrag.retrieval.diagnose import Diagnoser

        return Diagnoser(str(kb_root / "kb"), settings=serve_kb.settings_for(kb_root))

    real.factory = factory
    with TestClient(create_app(ServeConfig(), real)) as c:
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["status"] == "loading"
        r = c.post("/v1/diagnose", json={"text": serve_kb.CASE})
        assert r.status_code == 503 and r.json()["error"] == "not_ready" and "retry-after" in r.headers
        assert c.get("/healthz").status_code == 200
        gate.set()
        wait_ready(c)


def test_metrics(client: TestClient) -> None:
    client.post("/v1/diagnose", json={"text": serve_kb.CASE}, headers=AUTH)
    client.post("/v1/diagnose", json={"text": "nothing known here"}, headers=AUTH)
    text = client.get("/metrics", headers=AUTH).text
    assert 'kgrag_http_requests_total{method="POST",route="/v1/diagnose",status="200"}' in text
    assert 'kgrag_http_request_duration_seconds_bucket{le="0.1",route="/v1/diagnose"}' in text
    assert 'kgrag_stage_duration_seconds_count{stage="graph"}' in text
    assert 'kgrag_abstentions_total{reason="no_usable_findings"}' in text
    assert 'kgrag_citations_total{verified="true"}' in text
    for name in ("kgrag_citations_dropped_total", "kgrag_llm_parse_failures_total"):
        assert name in text


def test_logs_are_json_without_patient_text_or_key(kb_root: Path) -> None:
    from kgrag.serve.logs import configure

    stream = io.StringIO()
    names = ("kgrag", "uvicorn", "uvicorn.error", "uvicorn.access", "")
    saved = {
        n: (
            logging.getLogger(n or None).handlers[:],
            logging.getLogger(n or None).level,
            logging.getLogger(n or None).propagate,
            logging.getLogger(n or None).disabled,
        )
        for n in names
    }
    configure("INFO", stream)
    secret_case = "Zebulon Quixby, 34, has prolonged seizures and fever. No cough."
    try:
        with TestClient(create_app(ServeConfig(api_keys=KEY), service(kb_root))) as c:
            wait_ready(c)
            for path, body in (
                ("/v1/link", {"text": secret_case}),
                ("/v1/diagnose", {"text": secret_case}),
                ("/v1/retrieve", {"text": secret_case}),
                ("/v1/normalize", {"mention": "Quixby fever"}),
            ):
                assert c.post(path, json=body, headers=AUTH).status_code == 200
            c.post("/v1/diagnose", json={"text": "Zebulon Quixby alone"}, headers=AUTH)  # 422
            c.post("/v1/diagnose", json={"text": secret_case}, headers={"X-API-Key": "wrong-" + KEY})
            c.get("/v1/concepts", params={"q": "Quixby"}, headers=AUTH)
    finally:
        for n, (handlers, level, propagate, disabled) in saved.items():
            log = logging.getLogger(n or None)
            log.handlers, log.level, log.propagate, log.disabled = handlers, level, propagate, disabled
    lines = [ln for ln in stream.getvalue().splitlines() if ln.strip()]
    records = [json.loads(ln) for ln in lines]  # every line is one JSON object
    assert sum(r.get("route") == "/v1/diagnose" for r in records) >= 3
    for line, rec in zip(lines, records, strict=True):
        if logging.getLevelName(rec["level"]) >= logging.INFO:
            for secret in ("Zebulon", "Quixby", "seizures", KEY):
                assert secret not in line, line


@pytest.mark.parametrize(
    "extra",
    [
        {"color_message": "Started server process [\x1b[36m%d\x1b[0m]"},  # uvicorn's own
        {"color_message": "\x1b[32mINFO\x1b[0m: ready", "other": 1},
    ],
)
def test_log_lines_carry_no_terminal_colour_codes(extra: dict[str, object]) -> None:
    """Uvicorn adds ``color_message`` (its message with ANSI codes) to its records."""
    from kgrag.serve.logs import JsonFormatter

    record = logging.LogRecord("uvicorn.error", logging.INFO, "x.py", 1, "Started %d", (7,), None)
    record.__dict__.update(extra)
    line = JsonFormatter().format(record)
    assert "\x1b" not in line and "\\u001b" not in line
    assert json.loads(line)["msg"] == "Started 7"


def test_mcp_tools_in_process(kb_root: Path) -> None:
    import anyio
    from mcp import Client

    from kgrag.serve.mcp_server import build_mcp

    svc = service(kb_root)
    svc.load()
    server = build_mcp(svc)

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with Client(server) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == {
                "link",
                "retrieve_evidence",
                "diagnose",
                "ground",
                "lookup_concept",
                "get_span",
            }
            assert all(t.output_schema for t in tools.values())
            calls = {
                "link": {"text": serve_kb.CASE},
                "retrieve_evidence": {"text": serve_kb.CASE, "top_k": 3},
                "diagnose": {"findings": [{"id": "HP:0001250"}, {"id": "HP:0001945", "excluded": True}]},
                "lookup_concept": {"code": "DOID:8469"},
                "get_span": {"document": "doc:influenza.md", "start": 2, "end": 11},
                "ground": {"text": serve_kb.CASE, "hypotheses": ["Dravet syndrome", "Zorblax syndrome"]},
            }
            for name, args in calls.items():
                result = await client.call_tool(name, args)
                assert not result.is_error, (name, result.content)
                out[name] = result.structured_content
            bad = await client.call_tool("diagnose", {"text": "nothing known"})
            assert bad.is_error
            over = await client.call_tool("ground", {"text": serve_kb.CASE, "hypotheses": ["x"] * 51})
            assert over.is_error
        return out

    out = anyio.run(main)
    svc.close()
    assert LinkResponse.model_validate(out["link"]).mentions
    assert EvidenceBundle.model_validate(out["retrieve_evidence"]).passages
    assert DiagnosisReport.model_validate(out["diagnose"]).candidates[0].name == "epilepsy"
    assert Concept.model_validate(out["lookup_concept"]).name == "influenza"
    assert SpanResponse.model_validate(out["get_span"]).text == "Influenza"
    grounded = GroundedDifferential.model_validate(out["ground"])
    assert [h.hypothesis for h in grounded.hypotheses] == ["Dravet syndrome", "Zorblax syndrome"]


def test_mcp_over_http_behind_the_key(client: TestClient) -> None:
    accept = {"accept": "application/json, text/event-stream"}
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "lookup_concept", "arguments": {"code": "HP:0001250"}},
    }
    assert client.post("/mcp/", json=call, headers=accept).status_code == 401
    r = client.post("/mcp/", json=call, headers={**accept, **AUTH})
    assert r.status_code == 200, r.text
    assert r.json()["result"]["structuredContent"]["name"] == "Seizure"
