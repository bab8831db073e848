"""Source kind ``corpus``: a folder of documents, sharded, linked into parts, reduced and loaded.

The driver plans the shards, the engine (:mod:`kgrag.pipeline.engines`) makes the missing
parts, the reduce merges them and the load writes them: the only step that touches the store.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel

from kgrag.errors import ConfigError, CorpusFormatError, GraphWriteError
from kgrag.graph.base import GraphStore
from kgrag.graph.schema import Label
from kgrag.ontology.records import Warnings
from kgrag.pipeline.context import BuildContext
from kgrag.pipeline.recipe import SourceSpec
from kgrag.pipeline.reduce import Reduced
from kgrag.pipeline.report import SourceReport
from kgrag.progress import Progress


def build(
    ctx: BuildContext, spec: SourceSpec, name: str, warnings: Warnings, *, incremental: bool = False
) -> SourceReport:
    """Documents, chunks, mentions and facts (see :class:`SourceBuilder` and :func:`build_corpus`)."""
    update = build_corpus(ctx, spec, name, warnings, incremental=incremental)
    return SourceReport(
        name=name,
        status="built",
        nodes=update.nodes,
        edges=update.edges,
        warnings=dict(warnings.counts),
        examples=dict(warnings.examples),
        documents=update.model_dump(include={"added", "changed", "unchanged", "removed"}),
    )


class CorpusUpdate(BaseModel):
    """What one corpus build did, document by document."""

    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    nodes: int = 0
    edges: int = 0


def _stored_checksums(store: GraphStore, source: str) -> dict[str, str | None]:
    """The stored checksum of every document of ``source``, by node id.

    None marks a document whose write did not finish.
    """
    return {
        n.id: (str(n.props["checksum"]) if n.props.get("checksum") else None)
        for n in store.iter_nodes(Label.DOCUMENT)
        if source in n.sources
    }


def parts_dir(ctx: BuildContext, name: str) -> Path:
    """Where the parts of source ``name`` live: beside an embedded store, else in the cache."""
    directory = getattr(ctx.store, "directory", None)
    if isinstance(directory, Path):
        return directory / "parts" / name
    digest = hashlib.sha256(ctx.store.location.encode()).hexdigest()[:12]
    return ctx.settings.cache_dir / "parts" / digest / name


def build_corpus(
    ctx: BuildContext, spec: SourceSpec, name: str, warnings: Warnings, *, incremental: bool = False
) -> CorpusUpdate:
    """Read, link and write every document of a corpus source, shard by shard.

    The folder is split into shards (:func:`~kgrag.pipeline.shards.plan_shards`); each shard
    not already done becomes a part (:class:`~kgrag.pipeline.stage.ShardWorker`, on the
    context's engine); the parts are reduced (:func:`~kgrag.pipeline.reduce.reduce_parts`) and
    loaded into the store part by part in bulk (:func:`load`), replacing what the source
    held. A killed build keeps its finished parts; an edited file changes one shard's
    fingerprint, so only that shard is linked again.

    ``incremental``: the store holds an earlier build of this source with the same code, so
    the report counts documents added, changed, unchanged and removed against it.

    Raises:
        ConfigError: the source has no path, or no readable document.
    """
    from kgrag.pipeline.engines import run_shards
    from kgrag.pipeline.parts import remove_parts
    from kgrag.pipeline.reduce import reduce_parts
    from kgrag.pipeline.shards import plan_shards
    from kgrag.pipeline.stage import ShardTask

    if not spec.path:
        raise ConfigError(f"corpus source {name!r} needs a path")
    folder = ctx.recipe.confined(spec.path)
    if not folder.is_dir():
        raise CorpusFormatError(folder, None, "corpus folder not found")
    options = ctx.options
    base = hashlib.sha256(
        repr(
            (
                name,
                spec.model_dump(exclude={"limit"}),
                ctx.table_digest,
                ctx.recipe.linker_kinds,
                ctx.code,
            )
        ).encode()
    ).hexdigest()
    plan = plan_shards(
        folder,
        base=base,
        format=spec.format,
        allowed=ctx.recipe.allowed(),
        shard_docs=options.shard_docs,
    )
    task = ShardTask(
        folder=str(folder),
        format=spec.format,
        source=name,
        max_chars=spec.max_chars,
        parts_dir=str(parts_dir(ctx, name)),
        linker_kinds=tuple(ctx.recipe.linker_kinds),
    )
    if ctx.rebuild:  # `--rebuild`: link every shard again
        remove_parts(Path(task.parts_dir), keep=[])
    ctx.say(f"{name}: {sum(len(s.files) for s in plan.shards):,} files in {len(plan.shards):,} shards")
    done = run_shards(ctx, task, list(plan.shards), limit=spec.limit)
    reduced = reduce_parts(done, folder, limit=spec.limit, walk_failures=plan.failures)
    for kind, example in reduced.warnings:
        warnings.add(kind, example)
    if not reduced.documents:
        raise ConfigError(f"corpus source {name!r}: no readable document under {folder}")
    update = CorpusUpdate()
    if incremental:
        stored = _stored_checksums(ctx.store, name)
        for doc, checksum in reduced.documents.items():
            if doc not in stored:
                update.added += 1
            elif stored[doc] == checksum:
                update.unchanged += 1
            else:
                update.changed += 1
        update.removed = sum(1 for d in stored if d not in reduced.documents)
    else:
        update.added = len(reduced.documents)
    update.nodes, update.edges = load(ctx.store, name, reduced, say=ctx.say)
    remove_parts(Path(task.parts_dir), keep=[p.name for p in done])
    return update


def load(
    store: GraphStore, name: str, reduced: Reduced, *, say: Progress | None = None
) -> tuple[int, int]:
    """Replace what source ``name`` holds in ``store`` with ``reduced``, streaming part by part.

    One writer, bulk upserts; each part's nodes, then its edges (an edge's endpoints are its
    part's chunks and documents, or concepts the vocabularies wrote). The upserts merge an
    edge that several parts hold as the reduce merges it within a part, so the result is the
    same as loading everything merged at once, in one part's memory. Loading the same parts
    twice leaves the same graph. The store's documents of the source are read back and
    compared with the parts' (ids and checksums).

    Returns:
        Distinct nodes and distinct edges ``(src, type, dst)`` loaded.

    Raises:
        GraphWriteError: the store does not hold what the parts do.
    """
    store.delete_source(name)
    nodes: set[int] = set()  # hashes of ids and keys: counts without holding the strings
    edges: set[int] = set()
    for k, (part_nodes, part_edges) in enumerate(reduced.batches(), start=1):
        store.upsert_nodes(part_nodes)
        store.upsert_edges(part_edges)
        nodes.update(hash(n.id) for n in part_nodes)
        edges.update(hash((e.src, e.type, e.dst)) for e in part_edges)
        if say is not None:
            done = f"{len(nodes):,} nodes, {len(edges):,} edges"
            say(f"{name}: loaded part {k:,}/{len(reduced.parts):,} ({done})")
    stored = _stored_checksums(store, name)
    if stored != reduced.documents:
        wrong = sorted(set(stored.items()) ^ set(reduced.documents.items()))
        raise GraphWriteError(
            f"loading {name!r}: the store holds {len(stored):,} documents, the parts "
            f"{len(reduced.documents):,} ({len(wrong):,} differ, e.g. {wrong[0][0]!r}); "
            "rerun the build to load again"
        )
    return len(nodes), len(edges)
