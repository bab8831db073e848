"""Settings: ``KGRAG_*`` environment variables, then a TOML file, then defaults.

The file is ``$KGRAG_CONFIG`` if set, else ``./kgrag.toml`` if present. Keys are the
field names below (``cache_dir = "/data/kgrag"``).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from kgrag.errors import ConfigError

_PACKAGE_DIR = Path(__file__).resolve().parent


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kgrag"


def _default_ontologies_dir() -> Path:
    """The shipped vocabularies: beside the package in a checkout, inside it in a wheel."""
    for candidate in (_PACKAGE_DIR / "_data" / "ontologies", _PACKAGE_DIR.parent / "ontologies"):
        if (candidate / "manifest.json").is_file():
            return candidate
    return _PACKAGE_DIR.parent / "ontologies"


def config_file() -> Path | None:
    """The TOML config file: ``$KGRAG_CONFIG`` when set, else ``./kgrag.toml`` when present, else None.

    Raises:
        ConfigError: ``KGRAG_CONFIG`` names a file that does not exist.
    """
    explicit = os.environ.get("KGRAG_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"KGRAG_CONFIG points to {path}, which does not exist")
        return path
    local = Path("kgrag.toml")
    return local if local.is_file() else None


class Settings(BaseSettings):
    """Every tunable of kgrag in one place.

    ``KGRAG_*`` environment variables, then the TOML file (``$KGRAG_CONFIG``, else
    ``./kgrag.toml``), then the defaults.

    Examples:
        >>> from kgrag.config import load_settings
        >>> load_settings(cache_dir="/tmp/kgrag-cache").cache_dir.name
        'kgrag-cache'
    """

    model_config = SettingsConfigDict(env_prefix="KGRAG_", extra="forbid")

    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="compiled concept tables and built knowledge bases live here",
    )
    ontologies_dir: Path = Field(
        default_factory=_default_ontologies_dir,
        description="the shipped vocabularies and their manifest.json",
    )
    kb_dir: Path | None = Field(
        default=None, description="the embedded knowledge base (default: cache_dir/kb)"
    )
    verify_checksums: bool = Field(
        default=True, description="check shipped files against manifest.json on load"
    )
    umls_dir: Path | None = Field(
        default=None,
        description="a licensed UMLS META directory (MRCONSO.RRF, ...); never shipped",
    )
    umls_languages: tuple[str, ...] = ("ENG",)
    diagnose_method: Literal["graph", "ppr", "fused", "semantic", "ensemble"] = Field(
        default="graph",
        description="graph likelihood ratios, personalized PageRank, fused with vector hits, "
        "semantic (Phenomizer similarity) or ensemble (graph + semantic, learned; "
        "docs/rare-disease-ranking.md); passages are attached as evidence either way",
    )
    diagnose_setting: Literal["general", "rare", "uniform"] = Field(
        default="general",
        description="pretest probability of diagnose: general (primary care / emergency, common "
        "diseases favoured), rare (genetics clinic), uniform (no prior); see retrieval/priors.py",
    )
    fusion: Literal["rrf", "weighted"] = Field(
        default="rrf", description="how graph and vector candidates are fused"
    )
    fusion_graph_weight: float = Field(default=1.0, ge=0)
    fusion_vector_weight: float = Field(default=0.25, ge=0)
    rrf_k: float = Field(default=60.0, gt=0, description="reciprocal-rank fusion constant")
    passages_k: int = Field(default=20, ge=1, description="passages retrieved per query")
    vector_index: Literal["auto", "flat", "hnsw", "ivfpq", "exact", "neo4j"] = Field(
        default="auto",
        description="passage index built by `kgrag build`: auto (Neo4j's own vector index when "
        "the graph is in Neo4j, else faiss flat, or faiss IVF-PQ from vector_ivfpq_threshold "
        "passages on), faiss flat, hnsw or ivfpq, exact numpy, or neo4j",
    )
    vector_ivfpq_threshold: int = Field(
        default=200_000,
        ge=1,
        description="with vector_index = auto, passage collections of this many vectors or more "
        "get a faiss IVF-PQ index, smaller ones an exact one (docs/scaling.md)",
    )
    vector_nprobe: int = Field(
        default=32,
        ge=1,
        description="IVF lists an IVF-PQ passage index scans per query (more: better recall, "
        "slower); fixed when the index is built",
    )
    # -- stores (kgrag.graph) ------------------------------------------------------------
    neo4j_connect_timeout: float = Field(
        default=15.0,
        gt=0,
        description="seconds to open a Neo4j connection or take one from the pool",
    )
    neo4j_timeout: float = Field(
        default=300.0,
        gt=0,
        description="seconds one Neo4j statement (or one batch of streamed records) may take; "
        "past it the call ends in GraphUnavailable",
    )
    neo4j_write_workers: int = Field(
        default=2,
        ge=1,
        le=32,
        description="concurrent Neo4j write sessions of one upsert; the batches are "
        "partitioned so that no two running at once touch a node (1: serial)",
    )
    neo4j_admin: str | None = Field(
        default=None,
        description="path of the server's neo4j-admin, for a first load by `neo4j-admin "
        "database import full` (`kgrag graph neo4j-import`); unset: the batched load",
    )
    # -- faults: files of the knowledge base --
    kb_private: bool = Field(
        default=True,
        description="write knowledge base files 0600 and folders 0700 (they hold corpus text); "
        "False keeps the process umask",
    )
    # -- generate: the LLM stage (kgrag.answer, kgrag diagnose --llm) ----------------------
    llm: str | None = Field(
        default=None,
        description="the default LLM: openai://host:port/model, openais://host/model, a GGUF "
        "path, 'smollm2' (the shipped small model) or 'none' (extractive report)",
    )
    llm_api_key: SecretStr | None = Field(default=None, description="bearer key; never logged")
    llm_timeout: float = Field(default=120.0, gt=0, description="seconds per LLM request")
    llm_max_retries: int = Field(default=2, ge=0, le=10, description="HTTP retries on 429/5xx")
    llm_max_tokens: int = Field(default=768, ge=16)
    llm_temperature: float = Field(default=0.0, ge=0, le=2)
    llm_unsupported: Literal["remove", "flag"] = Field(
        default="remove", description="unsupported diagnoses: removed, or kept and flagged"
    )
    llm_abstain_log_lr: float = Field(
        default=1.0, description="abstain unless the top candidate's log LR reaches this ..."
    )
    llm_abstain_passage_score: float = Field(
        default=0.5, description="... or some passage's similarity reaches this"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order the settings sources: explicit arguments, then the environment, then the TOML file."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


# ``scheme://user:password@host``: the userinfo part of any URI in a text
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s]*)@")


def split_credentials(uri: str) -> tuple[str, tuple[str, str] | None]:
    """Take the credentials out of a store URI.

    Args:
        uri: a location such as ``bolt://neo4j:secret@host:7687`` (percent-escapes in the
            user and password are decoded).

    Returns:
        The URI without its userinfo, and ``(user, password)`` when it had one (a user
        without ``:`` gives an empty password), else None.
    """
    from urllib.parse import unquote

    m = _USERINFO.match(uri)
    if m is None:
        return uri, None
    user, _, password = m["userinfo"].partition(":")
    return m["scheme"] + uri[m.end() :], (unquote(user), unquote(password))


def redact(text: str) -> str:
    """``text`` with the userinfo of every URI in it replaced by ``***``.

    Use it on every message, log line and exception text that may hold a store location:
    ``bolt://neo4j:secret@host`` becomes ``bolt://***@host``.
    """
    return _USERINFO.sub(lambda m: f"{m['scheme']}***@", text)


def kb_dir(settings: Settings) -> Path:
    """The knowledge base folder: ``kb_dir`` when set, else ``<cache_dir>/kb``."""
    return settings.kb_dir or settings.cache_dir / "kb"


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and config file, with explicit overrides on top."""
    try:
        return Settings(**overrides)
    except ValidationError as e:
        raise ConfigError(f"invalid kgrag settings: {e}") from e
    except (OSError, ValueError) as e:  # unreadable or malformed TOML
        raise ConfigError(f"cannot read kgrag config: {e}") from e


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once (``get_settings.cache_clear()`` rereads them).

    Returns:
        The shared :class:`Settings`.

    Raises:
        ConfigError: the config file or an environment variable is invalid.

    Examples:
        >>> import kgrag
        >>> kgrag.get_settings().diagnose_method
        'graph'
    """
    return load_settings()
