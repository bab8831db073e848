"""The ``ray`` engine: the shard stage as a Ray Data pipeline (``pip install 'kgrag[scale]'``).

The shards become a Ray Dataset of one row each; ``map_batches`` runs them through an actor
pool of :class:`~kgrag.pipeline.stage.ShardWorker` (each actor builds its linker once), with
``options.workers`` actors of one CPU each, then through the embed stage's actor pool
(:func:`~kgrag.pipeline.embed_stage.with_ray_embed_stage`: one GPU per actor where there is
one). Workers write their parts (and the parts' embeddings) to ``parts_dir`` and return the
part names; they never write to the store. Without ``ray_address`` Ray starts in
this process's machine (a laptop: local mode); with one (``ray://head:10001``, ``auto`` in a
KubeRay pod) it runs on that cluster, whose workers must see ``parts_dir`` and the corpus
folder at the same paths (a shared file system).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kgrag.errors import BuildInterrupted, ConfigError, MissingExtraError
from kgrag.pipeline.context import BuildContext
from kgrag.pipeline.embed_stage import with_ray_embed_stage
from kgrag.pipeline.parts import is_part
from kgrag.pipeline.shards import Shard
from kgrag.pipeline.stage import ShardTask, ShardWorker


class _RayShardWorker:
    """One Ray actor: a :class:`ShardWorker` applied to batches of shard rows."""

    def __init__(self, table: Any, task: str) -> None:
        import ray

        if isinstance(table, ray.ObjectRef):  # the table is put in the object store once
            table = ray.get(table)
        self.worker = ShardWorker(table, ShardTask.model_validate_json(task))

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        names = []
        for raw in batch["shard"]:
            part, _ = self.worker.run(Shard.model_validate_json(str(raw)))
            names.append(part.name)
        return {"part": names}


def run_shards_on_ray(ctx: BuildContext, task: ShardTask, shards: list[Shard]) -> list[Path]:
    """Make every shard's part on Ray Data (see the module docstring).

    Returns:
        The parts' folders, in the order of ``shards``.

    Raises:
        MissingExtraError: Ray is not installed.
    """
    try:
        import ray
        import ray.data
    except ImportError as e:
        raise MissingExtraError("ray", "scale", "Building with --engine ray") from e
    options = ctx.options
    started = not ray.is_initialized()
    if started:
        kwargs: dict[str, Any] = (
            {"address": options.ray_address}
            if options.ray_address
            else {
                "num_cpus": options.workers,
                "include_dashboard": False,
            }
        )
        try:
            ray.init(log_to_driver=False, **kwargs)
        except Exception as e:  # a bad address, a cluster down, ray[client] missing for ray://
            raise ConfigError(
                f"cannot start Ray{' at ' + options.ray_address if options.ray_address else ''}: "
                f"{type(e).__name__}: {e} (a ray:// address needs pip install 'ray[client]'; "
                "without --ray-address a local Ray starts)"
            ) from e
    try:
        table = ray.put(ctx.table)
        ds = ray.data.from_items([{"shard": s.model_dump_json()} for s in shards])
        out = ds.map_batches(
            _RayShardWorker,
            fn_constructor_kwargs={"table": table, "task": task.model_dump_json()},
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=options.workers),
            num_cpus=1,
        )
        out = with_ray_embed_stage(out, ctx, task.parts_dir)
        try:
            made = {str(row["part"]) for row in out.take_all()}
        except ray.exceptions.RayError as e:  # an actor died past its restarts, a task failed
            done = sum(is_part(Path(task.parts_dir) / s.fingerprint) for s in shards)
            raise BuildInterrupted(
                f"{task.source}: the ray pipeline failed with {done:,} of {len(shards):,} shards "
                f"finished ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                "their parts are kept: rerun `kgrag build` to resume"
            ) from e
    finally:
        if started:
            ray.shutdown()
    parts = Path(task.parts_dir)
    missing = [s.fingerprint for s in shards if s.fingerprint not in made]
    if missing:
        raise BuildInterrupted(
            f"{task.source}: the ray engine returned no part for {len(missing):,} shards; "
            "rerun `kgrag build` to resume"
        )
    ctx.say(f"{task.source}: {len(shards):,} shards on ray ({options.workers} workers)")
    return [parts / s.fingerprint for s in shards]
