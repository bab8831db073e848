"""Private knowledge-base files: folders 0700 and files 0600."""

from __future__ import annotations

from pathlib import Path


def make_private(folder: Path, *, only: tuple[str, ...] | None = None) -> None:
    """``folder`` 0700, and in it folders 0700 and files 0600, recursively (links untouched).

    ``only``: of ``folder``'s direct entries just those whose names start so (a store folder the
    user named may hold other files).
    """
    if not folder.is_dir():
        return
    folder.chmod(0o700)
    for entry in folder.iterdir():
        if entry.is_symlink() or (only is not None and not entry.name.startswith(only)):
            continue
        if entry.is_dir():
            make_private(entry)
        elif entry.is_file():
            entry.chmod(0o600)
