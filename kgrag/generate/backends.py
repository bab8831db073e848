"""Choosing an LLM from a spec string (``--llm SPEC``, ``KGRAG_LLM``).

=====================================  ==============================================
``none`` / ``extractive`` / empty       no LLM: the extractive report
``openai://HOST:PORT/MODEL``            OpenAI-compatible server at ``http://HOST:PORT/v1``
``openais://HOST/MODEL``                the same over HTTPS
``...?format=json_object``              ask for ``json_object`` (+ schema) instead of
                                        ``json_schema`` (llama.cpp's server, Ollama)
``smollm2``                             the shipped SmolLM2-135M GGUF, in process
a path ending ``.gguf``                 that GGUF file, in process
``default``                             ``KGRAG_LLM`` (or none)
=====================================  ==============================================
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import parse_qs, urlsplit

from kgrag.config import Settings, get_settings
from kgrag.errors import ConfigError
from kgrag.generate.llm import LLM

NONE = frozenset({"", "none", "extractive", "off"})


@lru_cache(maxsize=4)
def _llama(path: str) -> LLM:
    from kgrag.generate.llama_cpp import LlamaCppLLM

    return LlamaCppLLM(path)


def llm_from_spec(spec: str | None, settings: Settings | None = None) -> LLM | None:
    """The LLM a spec names (see the module table); ``None`` for no LLM.

    In-process models are loaded once per process and shared.

    Raises:
        ConfigError: the spec is not one of the forms above.
    """
    settings = settings or get_settings()
    if spec is None or spec.strip().lower() == "default":
        spec = settings.llm or ""
    spec = spec.strip()
    if spec.lower() in NONE:
        return None
    if spec.lower() == "smollm2":
        from kgrag.generate.llama_cpp import smollm2_path

        return _llama(str(smollm2_path()))
    if spec.startswith(("openai://", "openais://")):
        parts = urlsplit(spec)
        model = parts.path.strip("/")
        if not parts.netloc or not model:
            raise ConfigError(f"LLM spec {spec!r}: expected openai://HOST:PORT/MODEL")
        fmt = parse_qs(parts.query).get("format", ["json_schema"])[0]
        if fmt not in ("json_schema", "json_object", "none"):
            raise ConfigError(f"LLM spec {spec!r}: format must be json_schema, json_object or none")
        from kgrag.generate.openai_http import OpenAICompatibleLLM

        scheme = "https" if parts.scheme == "openais" else "http"
        return OpenAICompatibleLLM(
            f"{scheme}://{parts.netloc}/v1",
            model,
            api_key=settings.llm_api_key,
            response_format=fmt,  # type: ignore[arg-type]
            max_retries=settings.llm_max_retries,
        )
    if spec.lower().endswith(".gguf"):
        return _llama(spec)
    raise ConfigError(
        f"unknown LLM spec {spec!r}: use openai://HOST:PORT/MODEL, a .gguf path, 'smollm2' or 'none'"
    )
