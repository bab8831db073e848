"""Engines: who runs the shard stage. ``local`` in this process, ``ray`` on Ray Data.

Both run the same :class:`~kgrag.pipeline.stage.ShardWorker` on the same shards and leave the
same parts, so the reduce and the knowledge base do not depend on the engine.
"""

from __future__ import annotations

from pathlib import Path

from kgrag.pipeline.context import BuildContext
from kgrag.pipeline.parts import read_part
from kgrag.pipeline.shards import Shard
from kgrag.pipeline.stage import ShardTask, ShardWorker


def run_shards(
    ctx: BuildContext, task: ShardTask, shards: list[Shard], *, limit: int | None = None
) -> list[Path]:
    """Make the part of every shard (reusing finished ones) on the context's engine.

    Args:
        ctx: the build context (its ``options.engine`` picks the engine).
        task: the source's settings.
        shards: the plan's shards, in read order.
        limit: the source's document limit: the local engine stops once the parts made hold
            that many documents (the reduce keeps exactly the first ``limit``).

    Returns:
        The parts' folders, in the order of ``shards`` (fewer with ``limit``), each with its
        chunks' embeddings (:mod:`kgrag.pipeline.embed_stage`) unless the recipe's encoder is
        the hashing one.
    """
    if ctx.options.engine == "ray":  # the embed stage is a stage of the Ray pipeline
        from kgrag.pipeline.ray_engine import run_shards_on_ray

        return run_shards_on_ray(ctx, task, shards)
    parts = run_shards_locally(ctx, task, shards, limit=limit)
    from kgrag.pipeline.embed_stage import embed_parts_locally

    embed_parts_locally(ctx, task.parts_dir, parts)
    return parts


def run_shards_locally(
    ctx: BuildContext, task: ShardTask, shards: list[Shard], *, limit: int | None = None
) -> list[Path]:
    """The ``local`` engine: the shards one after another, with one linker (see :func:`run_shards`)."""
    worker = ShardWorker(ctx.table, task, ctx.is_disease())
    parts: list[Path] = []
    made = 0
    checksums: set[str] = set()  # documents read so far, a duplicate file counted once
    for k, shard in enumerate(shards, start=1):
        part, new = worker.run(shard)
        parts.append(part)
        made += new
        ctx.say(f"{task.source}: shard {k:,}/{len(shards):,} {'linked' if new else 'reused'}")
        if limit is not None:
            checksums.update(r["checksum"] for r in read_part(part, "documents") if r["checksum"])
            if len(checksums) >= limit:
                break
    ctx.say(f"{task.source}: {made:,} shards linked, {len(parts) - made:,} reused")
    return parts
