"""The build context: what every source stage of one build shares.

One :class:`BuildContext` is made per :class:`~kgrag.pipeline.runner.Builder` and handed
to each source kind (:mod:`kgrag.pipeline.sources`) explicitly, so a stage reads its recipe,
store, concept table and settings from its argument rather than from the runner.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field

from kgrag.config import Settings
from kgrag.errors import ConfigError
from kgrag.graph.base import GraphStore
from kgrag.graph.schema import Edge, Node, Tier
from kgrag.ontology.table import ConceptTable
from kgrag.pipeline.recipe import Recipe
from kgrag.progress import Progress, counted
from kgrag.types import BoundaryModel

Engine = Literal["local", "ray"]


class BuildOptions(BoundaryModel):
    """How a build runs its shard stages (not what it builds: the knowledge base is the same)."""

    engine: Engine = Field(default="local", description="local: in this process; ray: Ray Data")
    workers: int = Field(
        default=1, ge=1, description="parallel shard workers (local: processes of a pool; ray: actors)"
    )
    ray_address: str | None = Field(
        default=None, description="a Ray cluster (ray://host:10001, auto); None: a local Ray"
    )
    shard_docs: int = Field(default=5000, ge=1, description="documents (files) per corpus shard")
    embed_gpus: float | None = Field(
        default=None,
        ge=0,
        description="GPUs per embed actor on Ray (None: 1 when torch sees CUDA in the driver, else 0)",
    )

    def check(self) -> None:
        """Refuse more workers than this machine can run, where they would all run on it.

        Every worker holds a concept linker (~0.7 GB) and takes a CPU: the local engine's
        pool and a local Ray (no ``ray_address``) get at most this machine's CPUs (at least 2).

        Raises:
            ConfigError: ``workers`` is past that limit.
        """
        most = max(2, local_cpus())
        if self.ray_address is None and self.workers > most:
            raise ConfigError(
                f"--workers {self.workers} is more than this machine runs at once ({most}): every "
                f"worker takes a CPU and holds a concept linker (~0.7 GB); use --workers {most} or "
                "fewer here, or --engine ray --ray-address ADDR to run them on a cluster"
            )


def local_cpus() -> int:
    """The CPUs this process may run on (its affinity where the platform says, else all)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


@dataclass
class BuildContext:
    """The recipe, store, concept table, settings and progress reporter of one build.

    Attributes:
        recipe: the recipe being built.
        store: the graph store written to.
        table: the concept table every linker and builder reads.
        settings: the settings (ontology folder, cache, privacy).
        say: the progress reporter (one line per step).
        options: the engine and shard size.
        table_digest: names the concept table (part of every fingerprint).
        code: a digest of the code that writes the graph (part of every fingerprint).
        rebuild: this build rebuilds every source (finished parts are not reused).
        table_file: the compiled cache file ``table`` was loaded from, if it was (a worker
            process loads the table from it rather than receiving it pickled).
    """

    recipe: Recipe
    store: GraphStore
    table: ConceptTable
    settings: Settings
    say: Progress
    options: BuildOptions = field(default_factory=BuildOptions)
    table_digest: str = ""
    code: str = ""
    rebuild: bool = False
    table_file: Path | None = None
    _tiers: list[Tier] | None = field(default=None, repr=False)

    def tiers(self) -> list[Tier]:
        """The tier of every row of the concept table (computed once per build)."""
        if self._tiers is None:
            from kgrag.graph.tiers import assign_tiers

            self._tiers = assign_tiers(self.table)
        return self._tiers

    def is_disease(self) -> Callable[[str], bool]:
        """Whether a concept id is a disease-tier concept of the table.

        Groups and categories such as "infection" or "lung disease" are not the X of a fact.
        """
        from kgrag.pipeline.stage import disease_tier

        return disease_tier(self.table, self.tiers())

    def write(
        self,
        name: str,
        nodes: Iterable[Node],
        edges: Iterable[Edge],
        *,
        n_nodes: int | None = None,
        n_edges: int | None = None,
    ) -> tuple[int, int]:
        """Upsert, counting on the progress reporter (``n_*``: the expected totals).

        Returns:
            Nodes written, and distinct edges ``(src, type, dst)`` written: an edge two of the
            source's builders both yield (their claims merge into one) counts once.
        """
        seen: set[tuple[str, str, str]] = set()

        def distinct(edges: Iterable[Edge]) -> Iterator[Edge]:
            for edge in edges:
                seen.add((edge.src, edge.type.value, edge.dst))
                yield edge

        n = self.store.upsert_nodes(counted(nodes, self.say, f"{name}: nodes", n_nodes)) if nodes else 0
        self.store.upsert_edges(distinct(counted(edges, self.say, f"{name}: edges", n_edges)))
        return n, len(seen)
