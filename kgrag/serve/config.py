"""The sidecar's settings.

``KGRAG_SERVE_*`` environment variables (or ``kgrag serve`` options), validated once at start-up.

Keys come from ``KGRAG_SERVE_API_KEYS`` (comma-separated) and/or
``KGRAG_SERVE_API_KEY_FILE`` (one key per line, ``#`` comments). A server bound to
anything but loopback refuses to start without one.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kgrag.errors import ConfigError
from kgrag.retrieval.request import LIMITS, CaseRequest

ENV_PREFIX = "KGRAG_SERVE_"
DEFAULT_PORT = 8765


class ServeConfig(BaseSettings):
    """What ``kgrag serve`` reads. Every field is also ``KGRAG_SERVE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    host: str = Field(default="127.0.0.1", description="interface to bind")
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64, description="uvicorn worker processes")
    store: str | None = Field(
        default=None, description="knowledge base: a directory or neo4j:// URI (default: KGRAG_KB_DIR)"
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="accepted keys (comma-separated in the environment)"
    )
    api_key_file: Path | None = Field(default=None, description="a file with one key per line")
    max_body_bytes: int = Field(default=1_000_000, ge=1024, description="request bodies above: 413")
    # the operator's limits: the library's one table (kgrag.retrieval.request.LIMITS) by
    # default, and only ever tighter
    max_text_chars: int = Field(
        default=LIMITS["text_chars"],
        ge=1,
        le=LIMITS["text_chars"],
        description="longer text fields: 422",
    )
    max_top_k: int = Field(
        default=LIMITS["top_k"], ge=1, le=LIMITS["top_k"], description="larger top_k: 422"
    )
    max_findings: int = Field(
        default=LIMITS["findings"], ge=1, le=LIMITS["findings"], description="more coded findings: 422"
    )
    rate_limit: str = Field(
        default="600/minute", description="per key (or client address without keys), `limits` syntax"
    )
    request_timeout_s: float = Field(default=30.0, gt=0, description="slower requests: 504")
    request_threads: int = Field(
        default=4,
        ge=1,
        le=64,
        description="library calls a worker runs at once (more wait their turn, within the "
        "timeout): Python runs one thread at a time, so a few keep the cores busy and each "
        "thread's read connection and buffers bounded",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="allowed CORS origins; empty: CORS off"
    )
    worker_healthcheck_s: int = Field(
        default=120,
        gt=0,
        description="how long uvicorn's supervisor waits for a worker's ping before replacing it; "
        "loading the knowledge base keeps a worker busy (its 5 s default restarted loading "
        "workers forever on a busy machine)",
    )
    torch_threads: int = Field(
        default=1,
        ge=0,
        description="torch CPU threads per worker for the passage encoder (0: torch's default); "
        "scale with --workers instead: on a busy 2-core machine 2 threads made a query 13x slower",
    )
    log_level: str = Field(default="INFO")
    mcp_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1:*", "localhost:*", "[::1]:*"],
        description="Host headers /mcp/ accepts when no API key is set (DNS-rebinding guard)",
    )
    readiness_probe_s: float = Field(
        default=2.0, gt=0, description="how long /readyz waits for the graph store"
    )

    def text_problem(self, value: str | None, field: str) -> tuple[str, str] | None:
        """``(code, message)`` when a text field is over ``max_text_chars``, else None."""
        if value is not None and len(value) > self.max_text_chars:
            return "text_too_long", (
                f"'{field}' has {len(value):,} characters; "
                f"at most {self.max_text_chars:,} (split the text)"
            )
        return None

    def case_problem(self, req: CaseRequest) -> tuple[str, str] | None:
        """``(code, message)`` for the first of this server's limits a case request breaks."""
        if problem := self.text_problem(req.text, "text"):
            return problem
        if req.top_k > self.max_top_k:
            return "top_k_too_large", f"top_k is {req.top_k}; at most {self.max_top_k}"
        if len(req.findings) > self.max_findings:
            return "too_many_findings", f"{len(req.findings)} findings; at most {self.max_findings}"
        return None

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, v: object) -> object:
        if isinstance(v, str):
            return [k.strip() for k in v.split(",") if k.strip()]
        return v

    @field_validator("cors_origins", "mcp_allowed_hosts", mode="before")
    @classmethod
    def _split_origins(cls, v: object) -> object:
        if isinstance(v, str):
            return [o.strip() for o in v.split(",") if o.strip()]
        return v

    def keys(self) -> list[bytes]:
        """Every accepted key (environment and file), as bytes for constant-time compares.

        Raises:
            ConfigError: the key file cannot be read.
        """
        keys = [k.get_secret_value().encode() for k in self.api_keys]
        if self.api_key_file is not None:
            try:
                lines = self.api_key_file.read_text(encoding="utf-8").splitlines()
            except OSError as e:
                raise ConfigError(f"cannot read the API key file {self.api_key_file}: {e}") from e
            keys += [ln.strip().encode() for ln in lines if ln.strip() and not ln.startswith("#")]
        return [k for k in keys if k]

    def check(self) -> None:
        """Refuse to serve beyond loopback without a key.

        Raises:
            ConfigError: bound to a non-loopback address and no key is configured.
        """
        if not is_loopback(self.host) and not self.keys():
            raise ConfigError(
                f"refusing to listen on {self.host} without an API key: set KGRAG_SERVE_API_KEYS "
                "or KGRAG_SERVE_API_KEY_FILE (or bind to 127.0.0.1)"
            )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost`` (``0.0.0.0`` and ``::`` are not)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_config(**overrides: object) -> ServeConfig:
    """Environment, then explicit overrides (``None`` values are ignored).

    Raises:
        ConfigError: a setting is invalid.
    """
    from pydantic import ValidationError

    try:
        return ServeConfig(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as e:
        raise ConfigError(f"invalid kgrag serve settings: {e}") from e
