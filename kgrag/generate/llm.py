"""The ``LLM`` Protocol: one method, implemented by every backend.

Backends: :class:`~kgrag.generate.openai_http.OpenAICompatibleLLM` (vLLM, llama.cpp's
server, Ollama's ``/v1``, OpenAI), :class:`~kgrag.generate.llama_cpp.LlamaCppLLM` (a GGUF
file in process). With no LLM, :mod:`kgrag.generate.extractive` answers from the bundle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from kgrag.generate.types import Completion, Message


@runtime_checkable
class LLM(Protocol):
    """A chat model.

    ``complete`` sends ``messages`` and returns the model's reply. With ``schema`` (a JSON
    schema) the backend asks for JSON in that shape, as far as it can enforce it; callers
    validate the reply anyway. Raises :class:`~kgrag.errors.LLMError` subclasses for
    transport failures (unreachable, timed out, refused).
    """

    name: str

    def complete(
        self,
        messages: Sequence[Message],
        schema: dict[str, Any] | None = None,
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        timeout: float = 60.0,
    ) -> Completion:
        """Send ``messages`` and return the model's reply text (JSON in ``schema``'s shape when given).

        Raises:
            LLMError: a transport failure (unreachable, timed out, refused).
        """
