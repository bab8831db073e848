"""The ``local`` engine with ``--workers N`` (N > 1): the shard stage in a small process pool.

A :class:`concurrent.futures.ProcessPoolExecutor` of ``N`` processes (started with ``spawn``:
the driver may hold threads, and a fresh interpreter behaves the same on Linux, macOS and
Windows) each builds one :class:`~kgrag.pipeline.stage.ShardWorker`, and so one concept
linker, in its initializer. The concept table reaches a worker the cheaper of two ways: a
table the build loaded from the compiled cache is loaded again from that file in the worker
(about 1 s for the default table), any other table is pickled once by the driver and sent
to each worker (the default table would be 75 MB and 2.4 s to pickle, plus ~1 s to unpickle).

The driver skips finished parts itself, starts the pool at the first unfinished shard (a
build whose parts are all there, or whose ``limit`` is reached before, starts no process),
sends only the unfinished shards (at most ``2 N`` ahead of the one it waits for) and takes
the results in read order, so the progress lines, the ``limit`` and the parts handed to the
reduce are those of the serial engine.

Workers write parts and never the store, and end when the driver does (a killed driver
included). A worker process that dies (killed, out of memory) breaks the pool: the driver
waits for nothing more, keeps every finished part and raises
:class:`~kgrag.errors.BuildInterrupted`; rerunning the build links only the shards without a
part.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import multiprocessing
import multiprocessing.connection
import os
import pickle
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from kgrag.errors import BuildInterrupted
from kgrag.graph.schema import Tier
from kgrag.pipeline.context import BuildContext
from kgrag.pipeline.parts import is_part
from kgrag.pipeline.shards import Shard
from kgrag.pipeline.stage import ShardTask, ShardWorker, disease_tier
from kgrag.pipeline.tally import ShardTally

START_METHOD = "spawn"
AHEAD = 2  # shards sent per worker beyond those taken: keeps workers busy, bounds work past a limit

_worker: ShardWorker | None = None  # this worker process's, made by _start_worker


def _exit_with_the_driver() -> None:
    """End this worker process as soon as the driver that started it is gone.

    A pool's worker waits on its task queue, which never closes when the driver is killed
    (SIGKILL runs no clean-up): without this, each orphan would keep its linker (~0.7 GB)
    forever. The parent's sentinel becomes ready when the parent exits, on every platform.
    """
    parent = multiprocessing.parent_process()
    if parent is None:  # pragma: no cover - always set in a pool's process
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)  # the driver is gone: nobody takes this worker's parts any more

    threading.Thread(target=watch, name="kgrag-driver-watch", daemon=True).start()


def _exit_now() -> None:
    """Leave the worker process without the interpreter's teardown (an ``atexit`` hook).

    The teardown frees the table and the linker object by object: 2.4 s of CPU for the
    default table here (15 s of wall time on a loaded machine), spent after the last part is
    written, with the driver waiting. Everything a worker makes is on disk by then.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def _start_worker(
    worker_class: type[ShardWorker], table_source: Path | bytes, task: ShardTask, tiers: list[Tier]
) -> None:
    """The pool's initializer: build this process's :class:`ShardWorker`.

    Args:
        worker_class: the worker class (pickled by reference).
        table_source: the compiled cache file to load the table from, or the pickled table.
        task: the source's settings.
        tiers: the tier of every row of the table (computed once, by the driver).
    """
    from kgrag._gc import paused_gc
    from kgrag.ontology.table import ConceptTable

    global _worker
    _exit_with_the_driver()
    atexit.register(_exit_now)
    with paused_gc():  # millions of small objects: the collector would triple the load time
        if isinstance(table_source, bytes):
            table: ConceptTable = pickle.loads(table_source)
        else:
            from kgrag.ontology.compiled import from_bytes

            table = ConceptTable(from_bytes(table_source.read_bytes(), str(table_source)))
    _worker = worker_class(table, task, disease_tier(table, tiers))


def _run_shard(shard: Shard) -> tuple[Path, bool]:
    """Make one shard's part in a worker process (see :meth:`ShardWorker.run`)."""
    if _worker is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("the shard worker process was not initialised")
    return _worker.run(shard)


def _table_source(ctx: BuildContext) -> Path | bytes:
    """The compiled cache file the build's table came from, else the table pickled once."""
    if ctx.table_file is not None and ctx.table_file.is_file():
        return ctx.table_file
    return pickle.dumps(ctx.table, protocol=pickle.HIGHEST_PROTOCOL)


def run_shards_in_pool(
    ctx: BuildContext, task: ShardTask, shards: list[Shard], *, limit: int | None = None
) -> list[Path]:
    """Make every shard's part in ``ctx.options.workers`` processes (see the module docstring).

    Args:
        ctx: the build context.
        task: the source's settings.
        shards: the plan's shards, in read order.
        limit: the source's document limit (the parts returned stop where the serial engine's
            do).

    Returns:
        The parts' folders, in the order of ``shards`` (fewer with ``limit``).

    Raises:
        BuildInterrupted: a worker process died; the finished parts are kept for a rerun.
    """
    parts_dir = Path(task.parts_dir)
    tally = ShardTally(ctx, task, len(shards), limit)
    todo = [k for k, s in enumerate(shards) if not is_part(parts_dir / s.fingerprint)]
    workers = max(1, min(ctx.options.workers, len(todo)))
    queue = iter(todo)
    pending: dict[int, Future[tuple[Path, bool]]] = {}
    pool: ProcessPoolExecutor | None = None  # started at the first shard to link, if any
    broken: BrokenProcessPool | None = None
    try:
        for k, shard in enumerate(shards):
            if pool is None and todo and k >= todo[0]:
                ctx.say(f"{task.source}: linking {len(todo):,} shards in {workers} worker processes")
                pool = ProcessPoolExecutor(
                    max_workers=workers,
                    mp_context=multiprocessing.get_context(START_METHOD),
                    initializer=_start_worker,
                    initargs=(ShardWorker, _table_source(ctx), task, ctx.tiers()),
                )
            if pool is not None:
                for i in itertools.islice(queue, max(0, AHEAD * workers - len(pending))):
                    pending[i] = pool.submit(_run_shard, shards[i])
            future = pending.pop(k, None)  # every unfinished shard up to k has been sent
            part, new = future.result() if future else (parts_dir / shard.fingerprint, False)
            if tally.add(part, new):
                break
    except BrokenProcessPool as e:
        broken = e
    finally:  # shards already running finish (their parts are kept); the rest are dropped
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    if broken is not None:
        finished = sum(is_part(parts_dir / s.fingerprint) for s in shards)
        raise BuildInterrupted(
            f"{task.source}: a shard worker process died (killed, or out of memory: each of the "
            f"{workers} holds a concept linker; fewer --workers use less) with {finished:,} of "
            f"{len(shards):,} shards finished; their parts are kept: rerun `kgrag build` to "
            "resume (it links only the unfinished shards)"
        ) from broken
    return tally.done()
