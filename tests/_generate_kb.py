"""A small real knowledge base (embedded store, hashing encoder) and a scripted LLM for the
generate tests. Helper module, not a test file."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kgrag.config import Settings, load_settings
from kgrag.generate.types import MARKER, Completion, GroundedDiagnosis, Message
from kgrag.graph.schema import Claim, Edge, EdgeType, Label, Node, Tier
from kgrag.graph.sqlite_store import SqliteGraphStore
from kgrag.retrieval.artifacts import build_artifacts
from kgrag.retrieval.diagnose import Diagnoser

FINDINGS = {
    "F_ROOT": "phenotypic abnormality",
    "F_SEIZ": "seizures",
    "F_HYPO": "hypotonia",
    "F_RASH": "rash",
    "F_FEVER": "fever",
    "F_COUGH": "cough",
}
DISEASES = {
    "D_EPI": "epileptic encephalopathy",
    "D_MYO": "congenital myopathy",
    "D_DERM": "dermatitis x",
    "D_PNEU": "pneumonia",
}
ANNOTATIONS = [  # disease, finding, frequency, reference
    ("D_EPI", "F_SEIZ", 0.9, "PMID:1"),
    ("D_EPI", "F_HYPO", 0.6, "PMID:1"),
    ("D_MYO", "F_HYPO", 0.9, "PMID:2"),
    ("D_MYO", "F_SEIZ", 0.2, "PMID:2"),
    ("D_DERM", "F_RASH", 0.8, "PMID:3"),
    ("D_DERM", "F_FEVER", 0.5, "PMID:3"),
    ("D_PNEU", "F_COUGH", 0.9, "PMID:4"),
    ("D_PNEU", "F_FEVER", 0.8, "PMID:4"),
]
PATIENT: list[str | dict[str, Any]] = ["F_SEIZ", "F_HYPO", {"id": "F_FEVER", "excluded": True}]
"""The patient of the generate tests: two present findings and an absent one."""
DOCS = {  # id: (title, focus, text)
    "doc:epi": (
        "Epileptic encephalopathy",
        "D_EPI",
        "Epileptic encephalopathy\n\nSymptoms: infants have frequent seizures and marked "
        "hypotonia. Development stalls early in life.\n",
    ),
    "doc:myo": (
        "Congenital myopathy",
        "D_MYO",
        "Congenital myopathy\n\nSigns: babies are floppy with hypotonia and weak muscles "
        "from birth. Seizures are unusual.\n",
    ),
    "doc:derm": (
        "Dermatitis X",
        "D_DERM",
        "Dermatitis X\n\nSymptoms: an itchy rash and fever are common in children.\n",
    ),
}


def _node(i: str, tier: Tier, name: str) -> Node:
    return Node(id=i, label=Label.CONCEPT, name=name, tier=tier, codes=(i,), sources=("t",))


def _isa(child: str, parent: str) -> Edge:
    return Edge(src=child, type=EdgeType.IS_A, dst=parent, claims=(Claim(source="t"),))


def build_kb(path: Path) -> SqliteGraphStore:
    """Write the graph, compile the model and index the passages (hashing encoder)."""
    store = SqliteGraphStore(path)
    nodes = [_node(f, Tier.FINDING, n) for f, n in FINDINGS.items()]
    nodes += [_node(d, Tier.DISEASE, n) for d, n in DISEASES.items()]
    nodes += [_node("G_ALL", Tier.GROUP, "all diseases"), _node("C_ALL", Tier.CATEGORY, "everything")]
    edges = [_isa(f, "F_ROOT") for f in FINDINGS if f != "F_ROOT"]
    edges += [_isa(d, "G_ALL") for d in DISEASES] + [_isa("G_ALL", "C_ALL")]
    for d, f, freq, ref in ANNOTATIONS:
        edges.append(
            Edge(
                src=d,
                type=EdgeType.HAS_FINDING,
                dst=f,
                props={"polarity": "present"},
                claims=(
                    Claim(
                        source="hpoa", reference=ref, props={"frequency": freq, "polarity": "present"}
                    ),
                ),
            )
        )
    for doc, (title, focus, text) in DOCS.items():
        start = text.index("\n\n") + 2
        chunk = f"chunk:{doc[4:]}/0"
        nodes.append(
            Node(
                id=doc,
                label=Label.DOCUMENT,
                name=title,
                sources=("c",),
                props={"text": text, "focus": focus},
            )
        )
        nodes.append(
            Node(
                id=chunk,
                label=Label.CHUNK,
                name=title,
                sources=("c",),
                props={
                    "text": text[start:],
                    "start": start,
                    "end": len(text),
                    "document": doc,
                    "section": "symptoms",
                },
            )
        )
        edges.append(
            Edge(
                src=chunk,
                type=EdgeType.MENTIONS,
                dst=focus,
                claims=(
                    Claim(
                        source="c",
                        reference=chunk,
                        start=0,
                        end=len(title),
                        props={"assertion": "present"},
                    ),
                ),
            )
        )
    store.upsert_nodes(nodes)
    store.upsert_edges(edges)
    build_artifacts(store, fingerprint="fp-generate", encoder="hashing")
    return store


def diagnoser(path: Path) -> Diagnoser:
    settings: Settings = load_settings(cache_dir=path / "cache")
    return Diagnoser(build_kb(path / "kb"), settings=settings)


Reply = str | Completion | Exception | Callable[[Sequence[Message], dict[str, Any] | None], str]


@dataclass
class ScriptedLLM:
    """An LLM that replies from a script, for what a real model cannot be made to do on
    demand (invented ids, wrong quotes, malformed JSON, failures). The last reply repeats."""

    replies: list[Reply]
    name: str = "scripted"
    calls: list[list[Message]] = field(default_factory=list)

    def complete(
        self,
        messages: Sequence[Message],
        schema: dict[str, Any] | None = None,
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        timeout: float = 60.0,
    ) -> Completion:
        self.calls.append(list(messages))
        reply = self.replies[min(len(self.calls) - 1, len(self.replies) - 1)]
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, Completion):
            return reply
        text = reply if isinstance(reply, str) else reply(messages, schema)
        return Completion(text=text, finish_reason="stop", completion_tokens=len(text) // 4)


def answer_json(
    *diagnoses: tuple[str, str, list[tuple[str, str]]],
    rationale: str = "fits",
    insufficient: bool = False,
) -> str:
    """An answer in the output contract: (id, name, [(evidence, quote), ...]) per diagnosis."""
    return json.dumps(
        {
            "insufficient_evidence": insufficient,
            "diagnoses": [
                {
                    "id": i,
                    "name": n,
                    "likelihood": "high",
                    "rationale": rationale,
                    "citations": [{"evidence": e, "quote": q} for e, q in cites],
                }
                for i, n, cites in diagnoses
            ],
        }
    )


@dataclass
class HttpScript:
    """A real HTTP server on 127.0.0.1 answering ``/v1/chat/completions`` from a script of
    ``(status, body, headers, delay_s)``; the last entry repeats. Records request bodies
    and headers."""

    script: list[tuple[int, Any, dict[str, str], float]]
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


def chat_body(text: str, finish: str = "stop") -> dict[str, Any]:
    return {
        "model": "m",
        "choices": [
            {"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": text}}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5},
    }


def serve(script: HttpScript) -> Iterator[str]:
    """Run the server for a ``with``/fixture; yields its base URL (``http://127.0.0.1:P/v1``)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            n = len(script.requests)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            script.requests.append(body)
            script.headers.append(dict(self.headers))
            status, payload, headers, delay = script.script[min(n, len(script.script) - 1)]
            time.sleep(delay)
            data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
            try:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def assert_grounded(report: GroundedDiagnosis, dx: Diagnoser) -> None:
    """Every citation reads verbatim from its stored source; markers and citations match."""
    for c in report.citations:
        if c.kind == "passage":
            node = dx.store.get_node(str(c.document))
            assert node is not None and str(node.props["text"])[c.start : c.end] == c.quote
    used = {int(n) for n in MARKER.findall(report.body)}
    assert used == {c.n for c in report.citations}
    if report.status == "insufficient_evidence":
        assert not report.citations and not report.diagnoses
