"""Engines: who runs the shard stage: ``local`` (this process, or a process pool), ``ray``.

``local`` runs the shards in this process (``--workers 1``) or in a small process pool
(:mod:`kgrag.pipeline.pool_engine`); ``ray`` runs them on Ray Data
(:mod:`kgrag.pipeline.ray_engine`).

Every engine runs the same :class:`~kgrag.pipeline.stage.ShardWorker` on the same shards and
leaves the same parts, so the reduce and the knowledge base do not depend on the engine.
"""

from __future__ import annotations

from pathlib import Path

from kgrag.pipeline.context import BuildContext
from kgrag.pipeline.shards import Shard
from kgrag.pipeline.stage import ShardTask, ShardWorker
from kgrag.pipeline.tally import ShardTally


def run_shards(
    ctx: BuildContext, task: ShardTask, shards: list[Shard], *, limit: int | None = None
) -> list[Path]:
    """Make the part of every shard (reusing finished ones) on the context's engine.

    Args:
        ctx: the build context (its ``options.engine`` picks the engine, ``options.workers``
            the number of worker processes).
        task: the source's settings.
        shards: the plan's shards, in read order.
        limit: the source's document limit: the local engine stops once the parts made hold
            that many documents (the reduce keeps exactly the first ``limit``).

    Returns:
        The parts' folders, in the order of ``shards`` (fewer with ``limit``), each with its
        chunks' embeddings (:mod:`kgrag.pipeline.embed_stage`) unless the recipe's encoder is
        the hashing one.

    Raises:
        BuildInterrupted: a worker process of the local pool died (the finished parts are kept).
    """
    if ctx.options.engine == "ray":  # the embed stage is a stage of the Ray pipeline
        from kgrag.pipeline.ray_engine import run_shards_on_ray

        return run_shards_on_ray(ctx, task, shards)
    if ctx.options.workers > 1:
        from kgrag.pipeline.pool_engine import run_shards_in_pool

        parts = run_shards_in_pool(ctx, task, shards, limit=limit)
    else:
        parts = run_shards_locally(ctx, task, shards, limit=limit)
    from kgrag.pipeline.embed_stage import embed_parts_locally

    embed_parts_locally(ctx, task.parts_dir, parts)
    return parts


def run_shards_locally(
    ctx: BuildContext, task: ShardTask, shards: list[Shard], *, limit: int | None = None
) -> list[Path]:
    """The serial ``local`` engine: the shards one after another, with one linker.

    See :func:`run_shards`.
    """
    worker = ShardWorker(ctx.table, task, ctx.is_disease())
    tally = ShardTally(ctx, task, len(shards), limit)
    for shard in shards:
        if tally.add(*worker.run(shard)):
            break
    return tally.done()
