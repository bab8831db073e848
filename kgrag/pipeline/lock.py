"""The build lock of a knowledge base: one build at a time.

An OS file lock (``fcntl.flock``) on a file beside the knowledge base (``<kb>/build.lock``
for the embedded store, ``<cache>/locks/<digest>.lock`` for a server): the kernel releases
it when the holder exits, however it exits (``kill -9`` included), so a stale lock never
blocks a later build. The holder writes its pid into the file so a second build can say
who holds it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from pathlib import Path
from types import TracebackType

from kgrag.config import Settings, get_settings
from kgrag.errors import BuildLocked
from kgrag.graph.base import GraphStore

POLL_SECONDS = 0.2


def lock_path(store: GraphStore, settings: Settings | None = None) -> Path:
    """Where the build lock of ``store`` lives."""
    directory = getattr(store, "directory", None)
    if isinstance(directory, Path):
        return directory / "build.lock"
    where = str(getattr(store, "uri", store.name))
    digest = hashlib.sha256(where.encode()).hexdigest()[:12]
    return (settings or get_settings()).cache_dir / "locks" / f"{digest}.lock"


def holder_pid(path: Path) -> int | None:
    """The pid written by the build holding (or that last held) the lock at ``path``."""
    try:
        return int(path.read_text(encoding="ascii").strip() or "x")
    except (OSError, ValueError):
        return None


class BuildLock:
    """Hold the build lock of one knowledge base (a context manager).

    Args:
        path: the lock file (see :func:`lock_path`); its folder is made if missing.
        wait: seconds to wait for a running build to finish; 0 fails at once.

    Raises:
        BuildLocked: on entry, when another process holds the lock past ``wait``.
    """

    def __init__(self, path: Path, wait: float = 0.0) -> None:
        self.path = path
        self.wait = wait
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, waiting up to ``wait`` seconds for another build to release it.

        Raises:
            BuildLocked: another process still holds it after ``wait``.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)  # no O_TRUNC: keep the holder's pid
        deadline = time.monotonic() + max(self.wait, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    pid = holder_pid(self.path)
                    who = f"pid {pid}" if pid else "another process"
                    waited = f" after waiting {self.wait:g}s" if self.wait > 0 else ""
                    raise BuildLocked(
                        f"another build ({who}) is writing this knowledge base{waited} "
                        f"(lock {self.path}); wait for it to finish, or pass --wait SECONDS"
                    ) from None
                time.sleep(POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Release the lock (nothing when not held)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> BuildLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
