"""Ingest recipes: loading a recipe TOML file and validating it.

A recipe names the sources to build (ontologies, a corpus folder, a mapping), the
linker's kinds and the passage encoder. :func:`load_recipe` reads one, and
:meth:`Recipe.confined` keeps every path it names inside the folders it may read.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kgrag.corpus.documents import DEFAULT_MAX_CHARS, READERS
from kgrag.errors import ConfigError, RecipePathRefused

_PACKAGE = Path(__file__).resolve().parents[1]

SourceKind = Literal["vocabularies", "hpoa", "ddxplus", "do_disease_symptom", "do_definitions", "corpus"]


class SourceSpec(BaseModel):
    """One source of an ingest recipe: an ontology, a corpus folder or a mapping, with its options."""

    model_config = ConfigDict(extra="forbid")
    kind: SourceKind
    name: str | None = Field(default=None, description="provenance name; defaults to kind")
    path: str | None = Field(default=None, description="corpus folder, relative to the recipe")
    format: str | None = Field(default=None, description="corpus format: medquad, text, ...")
    limit: int | None = Field(default=None, description="at most this many documents")
    max_chars: int = Field(
        default=DEFAULT_MAX_CHARS,
        gt=0,
        description="corpus documents longer than this (characters, after decompression) are skipped",
    )

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str | None) -> str | None:
        if value not in (None, "auto", *READERS):
            raise ValueError(
                f"format must be auto or one of {', '.join(sorted(READERS))}, got {value!r}"
            )
        return value


class Recipe(BaseModel):
    """An ingest recipe (a TOML file): the sources to build, the linker's kinds, the passage encoder."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    sources: list[SourceSpec]
    linker_kinds: list[str] = ["disease", "finding"]
    encoder: str = Field(
        default="auto",
        description="passage encoder: auto (offline MiniLM if installed), hashing, or a model name",
    )
    base_dir: Path = Path(".")
    allowed_roots: tuple[Path, ...] = Field(
        default=(),
        description="folders besides base_dir the recipe may read (given by the user, never "
        "by the recipe file)",
    )

    @model_validator(mode="after")
    def _distinct_names(self) -> Recipe:
        names = [s.name or s.kind for s in self.sources]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(
                f"two sources are named {', '.join(map(repr, twice))}: give each its own name "
                "(name = ...), which is its provenance in the graph"
            )
        return self

    @property
    def digest(self) -> str:
        """A SHA-256 hex digest of the recipe's settings (paths resolved at load time left out)."""
        return hashlib.sha256(
            self.model_dump_json(exclude={"base_dir", "allowed_roots"}).encode()
        ).hexdigest()

    def allowed(self) -> list[Path]:
        """The folders this recipe may read, symbolic links resolved."""
        return [p.resolve() for p in (self.base_dir, *self.allowed_roots)]

    def confined(self, relative: str) -> Path:
        """``relative`` (a path in the recipe) resolved, if it lies in an allowed folder.

        Raises:
            RecipePathRefused: it resolves elsewhere (``..``, an absolute path, a link).
        """
        from kgrag.corpus.documents import inside

        path = (self.base_dir / relative).resolve()
        allowed = self.allowed()
        if not inside(path, allowed):
            raise RecipePathRefused(
                f"recipe {self.name!r}: refused to read {relative!r} (resolves to {path}), outside "
                f"the recipe's folder {allowed[0]}; move it there or allow its folder "
                "explicitly (`kgrag build RECIPE --allow FOLDER`)"
            )
        return path


def default_recipe_path() -> Path:
    """The shipped default recipe (``ingest/default.toml`` in a checkout, packaged data in a wheel).

    Raises:
        ConfigError: neither file exists.
    """
    for candidate in (
        Path(__file__).resolve().parents[2] / "ingest" / "default.toml",
        _PACKAGE / "_data" / "ingest" / "default.toml",
    ):
        if candidate.is_file():
            return candidate
    raise ConfigError("the default recipe ingest/default.toml is missing; pass a recipe path")


def load_recipe(path: str | Path | None = None, *, allow: Iterable[str | Path] = ()) -> Recipe:
    """The recipe at ``path`` (default: the shipped ``ingest/default.toml``).

    Args:
        path: a recipe TOML file, or the name of a shipped recipe (``full``).
        allow: folders outside the recipe's own that it may read (a shipped recipe, one in
            the folder of ``ingest/default.toml``, may read the project folder that holds
            ``ingest/`` and ``corpora/``).

    Raises:
        ConfigError: missing or invalid recipe.
    """
    default = default_recipe_path()
    shipped_dir = default.parent.resolve()
    path = Path(path) if path else default
    if not path.suffix and not path.exists() and (shipped_dir / f"{path}.toml").is_file():
        path = shipped_dir / f"{path}.toml"  # a shipped recipe by name: `kgrag build full`
    shipped = path.resolve().parent == shipped_dir
    roots = tuple(Path(a) for a in allow) + ((shipped_dir.parent,) if shipped else ())
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return Recipe(**data, base_dir=path.parent, allowed_roots=roots)
    except FileNotFoundError as e:
        names = sorted(p.stem for p in shipped_dir.glob("*.toml"))
        raise ConfigError(
            f"no recipe at {path}; give a recipe TOML file or a shipped recipe: {', '.join(names)}"
        ) from e
    except (tomllib.TOMLDecodeError, ValidationError, TypeError) as e:
        raise ConfigError(f"invalid recipe {path}: {e}") from e
