"""Reading vocabulary files: compressed or not, strict UTF-8, errors with file and line."""

from __future__ import annotations

import gzip
import hashlib
import lzma
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from kgrag.errors import OntologyFormatError, OntologySourceMissing


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if path.suffix == ".xz":
        return lzma.open(path, "rb")
    return path.open("rb")


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` without the line ending.

    Raises :class:`OntologyFormatError` for bytes that are not UTF-8 and for truncated or
    corrupt compressed files, naming the line where reading failed.
    """
    path = Path(path)
    if not path.is_file():
        raise OntologySourceMissing(path)
    lineno = 0
    try:
        with _open_binary(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise OntologyFormatError(
                        path,
                        lineno,
                        f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1}); "
                        "convert the file to UTF-8",
                    ) from e
                if lineno == 1 and text.startswith("\ufeff"):
                    text = text[1:]
                yield lineno, text.rstrip("\r\n")
    except (EOFError, gzip.BadGzipFile, lzma.LZMAError, zlib.error) as e:
        raise OntologyFormatError(
            path, lineno + 1, f"compressed file is truncated or corrupt ({e}); fetch it again"
        ) from e


def unquote(field: str) -> str:
    """``field`` without surrounding double quotes, ``""`` inside read as ``"``."""
    if len(field) >= 2 and field[0] == field[-1] == '"':
        return field[1:-1].replace('""', '"')
    return field


def iter_tsv(
    path: str | Path,
    columns: int | tuple[int, int],
    *,
    header: bool = True,
    comment: str | None = None,
    quoted: bool = False,
) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, fields)`` of a tab-separated file, checking the column count.

    ``columns`` is an exact count or an inclusive ``(min, max)`` range. A row with another
    count means a truncated or malformed file and raises :class:`OntologyFormatError`.
    Blank lines are skipped.
    """
    low, high = (columns, columns) if isinstance(columns, int) else columns
    seen_header = not header
    for lineno, line in iter_lines(path):
        if not line.strip() or (comment and line.startswith(comment)):
            continue
        if not seen_header:
            seen_header = True
            continue
        fields = line.split("\t")
        if not low <= len(fields) <= high:
            want = str(low) if low == high else f"{low}-{high}"
            raise OntologyFormatError(
                path,
                lineno,
                f"expected {want} tab-separated columns, found {len(fields)}; "
                "the file may be truncated or not a TSV",
            )
        yield lineno, [unquote(f) for f in fields] if quoted else fields


def sha256_file(path: str | Path) -> str:
    """The SHA-256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
