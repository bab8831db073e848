"""The local engines' bookkeeping of a shard stage: read order, progress lines, ``limit``.

The serial engine (:func:`kgrag.pipeline.engines.run_shards_locally`) and the process pool
(:mod:`kgrag.pipeline.pool_engine`) both hand every shard's part to one :class:`ShardTally`
in read order, so both say the same lines and stop after the same shard.
"""

from __future__ import annotations

from pathlib import Path

from kgrag.pipeline.context import BuildContext
from kgrag.pipeline.parts import read_part
from kgrag.pipeline.stage import ShardTask


class ShardTally:
    """The local engines' bookkeeping: shards taken in read order, progress, and ``limit``.

    Args:
        ctx: the build context (its progress reporter).
        task: the source's settings.
        total: shards in the plan.
        limit: the source's document limit (None: every shard).
    """

    def __init__(self, ctx: BuildContext, task: ShardTask, total: int, limit: int | None) -> None:
        self.ctx, self.task, self.total, self.limit = ctx, task, total, limit
        self.parts: list[Path] = []
        self.made = 0
        self._checksums: set[str] = set()  # documents read so far, a duplicate file counted once

    def add(self, part: Path, new: bool) -> bool:
        """Take the next shard's part (in read order) and say so.

        Returns:
            Whether the parts taken so far hold ``limit`` documents (no further shard is needed).
        """
        self.parts.append(part)
        self.made += new
        k = len(self.parts)
        self.ctx.say(f"{self.task.source}: shard {k:,}/{self.total:,} {'linked' if new else 'reused'}")
        if self.limit is None:
            return False
        self._checksums.update(r["checksum"] for r in read_part(part, "documents") if r["checksum"])
        return len(self._checksums) >= self.limit

    def done(self) -> list[Path]:
        """Say how many shards were linked and reused; the parts taken, in read order."""
        made = self.made
        self.ctx.say(f"{self.task.source}: {made:,} shards linked, {len(self.parts) - made:,} reused")
        return self.parts
