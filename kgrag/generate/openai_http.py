"""An OpenAI-compatible chat endpoint over HTTP with httpx.

Servers: vLLM, llama.cpp's server, Ollama's ``/v1``, OpenAI.

Structured output: ``response_format`` ``json_schema`` (strict) first; a server that
refuses it (400, 422, or llama-cpp-python's 500, naming ``response_format``) is asked
again with ``json_object`` (plus the schema, which llama.cpp's server turns into a grammar), and the
choice is remembered. Replies are validated by the caller either way.

Retries: 429, 5xx and connection errors and timeouts are retried at most
``max_retries`` times with exponential backoff (``backoff`` seconds, doubled each time,
``Retry-After`` honoured up to ``max_backoff``). The API key is sent as a bearer header
and never logged or shown in ``repr``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from kgrag.errors import LLMTimeout, LLMUnavailable
from kgrag.generate.types import Completion, Message

logger = logging.getLogger(__name__)
ResponseFormat = Literal["json_schema", "json_object", "none"]
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def _format_refused(response: httpx.Response) -> bool:
    """A refusal of ``response_format`` itself.

    400, 422 (FastAPI) or, from llama-cpp-python's server, 500 with the validation error; not worth
    a retry.
    """
    return response.status_code in (400, 422, 500) and "response_format" in response.text


class OpenAICompatibleLLM:
    """A chat model behind ``{base_url}/chat/completions``.

    Args:
        base_url: the API root, e.g. ``http://127.0.0.1:8080/v1``.
        model: the model name the server expects.
        api_key: bearer key (``KGRAG_LLM_API_KEY``), optional for local servers.
        response_format: how to ask for JSON (see the module docstring).
        max_retries: retries after the first try on 429/5xx/connection errors/timeouts.
        backoff: first wait in seconds between tries (doubles each retry).
        max_backoff: the longest wait, ``Retry-After`` included.
        transport: an httpx transport (tests); default a real connection.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | SecretStr | None = None,
        response_format: ResponseFormat = "json_schema",
        max_retries: int = 2,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{model}"
        self._key = api_key if isinstance(api_key, SecretStr) or api_key is None else SecretStr(api_key)
        self.response_format: ResponseFormat = response_format
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._client = httpx.Client(transport=transport)

    def __repr__(self) -> str:
        return f"OpenAICompatibleLLM({self.base_url!r}, {self.model!r})"

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def _format(self, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is None or self.response_format == "none":
            return None
        if self.response_format == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": "answer", "strict": True, "schema": schema},
            }
        return {"type": "json_object", "schema": schema}

    def _post(self, body: dict[str, Any], timeout: float) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if self._key is not None:
            headers["Authorization"] = f"Bearer {self._key.get_secret_value()}"
        url = f"{self.base_url}/chat/completions"
        wait = self.backoff
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                response = self._client.post(url, json=body, headers=headers, timeout=timeout)
            except httpx.TimeoutException as e:
                if last:
                    raise LLMTimeout(
                        f"{url}: no answer within {timeout:.0f} s "
                        f"({self.max_retries + 1} tries); raise KGRAG_LLM_TIMEOUT"
                    ) from e
                logger.warning("LLM %s timed out, retrying", url)
            except httpx.TransportError as e:
                if last:
                    raise LLMUnavailable(
                        f"cannot reach the LLM at {url} ({type(e).__name__}); is the server running?"
                    ) from e
                logger.warning("LLM %s: %s, retrying", url, type(e).__name__)
            else:
                if response.status_code not in RETRY_STATUS or last or _format_refused(response):
                    return response
                retry_after = response.headers.get("retry-after", "")
                if retry_after.replace(".", "", 1).isdigit():
                    wait = max(wait, float(retry_after))
                logger.warning("LLM %s answered HTTP %d, retrying", url, response.status_code)
            time.sleep(min(wait, self.max_backoff))
            wait *= 2
        raise AssertionError("unreachable")  # pragma: no cover

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
            LLMUnavailable: unreachable, or an HTTP error after the retries.
            LLMTimeout: no answer within ``timeout`` seconds, after the retries.
        """
        started = time.perf_counter()
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [m.model_dump() for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        fmt = self._format(schema)
        if fmt is not None:
            body["response_format"] = fmt
        response = self._post(body, timeout)
        if fmt is not None and fmt["type"] == "json_schema" and _format_refused(response):
            logger.info("LLM %s refuses json_schema; using json_object", self.base_url)
            self.response_format = "json_object"
            body["response_format"] = self._format(schema)
            response = self._post(body, timeout)
        if response.status_code != 200:
            raise LLMUnavailable(
                f"the LLM at {self.base_url} answered HTTP {response.status_code}: {response.text[:200]}"
            )
        try:
            data = response.json()
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
            usage = data.get("usage") or {}
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
            raise LLMUnavailable(f"the LLM at {self.base_url} sent no chat completion: {e}") from e
        return Completion(
            text=text,
            finish_reason=str(choice.get("finish_reason") or "stop"),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            model=str(data.get("model") or self.model),
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
        )
