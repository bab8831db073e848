"""Source documents with exact character offsets, and readers for common formats.

Every reader returns the document's text as kgrag stores it; chunk and mention spans index
that text, and the Document node keeps it, so every citation resolves to its characters.
Formats: plain text and Markdown (the file's text, unchanged), HTML (visible text, block
elements on their own lines), PDF (pypdf text, pages separated by a blank line) and
MedQuAD XML (each question and its answer, one section per question type).

Reading is bounded and isolated per file: a document longer than ``max_chars`` characters
(after decompression) is skipped with its reason, ``.gz`` files are decompressed only up
to that bound, and any failure reading or parsing one file becomes a :class:`ReadFailure`
for that file. The folder walk follows symbolic links only where they stay inside the
allowed folders, and reports links that loop, dangle or point elsewhere, and entries that
are not regular files (FIFOs, sockets, devices), instead of skipping them silently.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import logging
import os
import re
import stat
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from kgrag.errors import CorpusFormatError, DocumentTooLarge, MissingExtraError
from kgrag.types import BoundaryModel

logger = logging.getLogger(__name__)

DEFAULT_MAX_CHARS = 2_000_000
"""Longest document read (characters after decompression): about 700 printed pages."""
_BYTES_PER_CHAR = 4  # the most bytes UTF-8 spends on one character


class Section(BoundaryModel):
    """A labelled span ``text[start:end]`` of a document (a MedQuAD answer, or the whole body)."""

    start: int
    end: int
    label: str = Field(description="e.g. 'symptoms' (MedQuAD question type) or 'body'")


class SourceDocument(BoundaryModel):
    """A document read from a corpus folder: its text, title, sections and provenance."""

    id: str
    title: str
    text: str
    source: str = Field(description="collection name, e.g. medquad/NIDDK")
    version: str = ""
    path: str = ""
    checksum: str = Field(description="sha256 of the file's bytes")
    sections: tuple[Section, ...] = ()
    focus: str | None = Field(default=None, description="the disease a page is about")
    focus_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReadFailure:
    """A file (or folder entry) that was not read.

    ``kind`` groups the reasons for the build report (unreadable, too large, duplicate, not a
    regular file, symlink loop, broken symlink, outside the allowed folders).
    """

    path: str
    reason: str
    kind: str = "unreadable"


def _read_bytes(path: Path, max_chars: int = DEFAULT_MAX_CHARS) -> bytes:
    """The file's bytes (decompressed for ``.gz``), never more than ``max_chars`` x 4 bytes in memory.

    A larger file or a larger expansion raises :class:`DocumentTooLarge`.

    Raises:
        DocumentTooLarge: over the limit (checked before reading, or while decompressing).
        CorpusFormatError: a truncated or corrupt ``.gz``.
    """
    cap = max_chars * _BYTES_PER_CHAR
    if path.suffix != ".gz":
        if path.stat().st_size > cap:
            raise DocumentTooLarge(path, f"{path.stat().st_size:,} bytes", max_chars)
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            data = f.read(cap + 1)
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise CorpusFormatError(path, None, f"truncated or corrupt gzip file: {e}") from e
    if len(data) > cap:
        raise DocumentTooLarge(path, f"expands beyond {cap:,} bytes", max_chars)
    return data


def _check_size(path: Path, text: str, max_chars: int) -> str:
    if len(text) > max_chars:
        raise DocumentTooLarge(path, f"{len(text):,} characters", max_chars)
    return text


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise CorpusFormatError(path, line, "not valid UTF-8; convert the file") from e


def _doc_id(root: Path, path: Path) -> str:
    """The file's path under the corpus folder (without ``.gz``): unique and stable."""
    return path.relative_to(root).as_posix().removesuffix(".gz")


def _whole(path: Path, root: Path, source: str, data: bytes, text: str, title: str) -> SourceDocument:
    """A document that is one ``body`` section."""
    return SourceDocument(
        id=_doc_id(root, path),
        title=title[:200],
        text=text,
        source=source,
        path=str(path),
        checksum=hashlib.sha256(data).hexdigest(),
        sections=(Section(start=0, end=len(text), label="body"),),
    )


def read_text(
    path: Path, root: Path, source: str, *, max_chars: int = DEFAULT_MAX_CHARS
) -> SourceDocument:
    """Read a plain-text or Markdown file; the title is its first non-blank line (``#`` stripped).

    Args:
        path: The file (``.gz`` is decompressed).
        root: The corpus folder, for the document's id.
        source: The collection name recorded as provenance.
        max_chars: The largest text accepted.

    Raises:
        DocumentTooLarge: the file or its text is over ``max_chars``.
    """
    data = _read_bytes(path, max_chars)
    text = _check_size(path, _decode(path, data), max_chars)
    title = next((ln.strip("# ").strip() for ln in text.splitlines() if ln.strip()), path.name)
    return _whole(path, root, source, data, text, title)


class _TextExtractor(HTMLParser):
    _BLOCK: ClassVar[set[str]] = {
        "p",
        "div",
        "br",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "section",
        "article",
        "ul",
        "ol",
        "table",
        "title",
    }
    _SKIP: ClassVar[set[str]] = {"script", "style", "noscript"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skip += 1
        if tag == "title":
            self._in_title = True
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self.skip:
            self.skip -= 1
        if tag == "title":
            self._in_title = False
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if not self.skip:
            self.parts.append(data)


def read_html(
    path: Path, root: Path, source: str, *, max_chars: int = DEFAULT_MAX_CHARS
) -> SourceDocument:
    """Read an HTML file as text (scripts and styles dropped); the title from ``<title>``.

    Arguments and errors as :func:`read_text`.
    """
    data = _read_bytes(path, max_chars)
    parser = _TextExtractor()
    parser.feed(_decode(path, data))
    text = re.sub(r"[ \t]*\n[ \t\n]*", "\n\n", "".join(parser.parts)).strip()
    text = _check_size(path, re.sub(r"[ \t]{2,}", " ", text), max_chars)
    return _whole(path, root, source, data, text, parser.title.strip() or path.name)


def read_pdf(
    path: Path, root: Path, source: str, *, max_chars: int = DEFAULT_MAX_CHARS
) -> SourceDocument:
    """Read a PDF's text page by page with pypdf (the ``corpus`` extra); the title is the file stem.

    Arguments as :func:`read_text`.

    Raises:
        MissingExtraError: pypdf is not installed.
        DocumentTooLarge: the text passes ``max_chars``.
        CorpusFormatError: pypdf cannot read the file.
    """
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as e:
        raise MissingExtraError("pypdf", "corpus", "Reading PDF files") from e
    data = _read_bytes(path, max_chars)
    pages: list[str] = []
    total = 0
    try:
        import io

        for page in PdfReader(io.BytesIO(data)).pages:  # pypdf bounds each stream's expansion
            pages.append(page.extract_text() or "")
            total += len(pages[-1]) + 2
            if total > max_chars:
                raise DocumentTooLarge(path, f"within its first {len(pages)} pages", max_chars)
    except (PdfReadError, ValueError, KeyError) as e:
        if isinstance(e, DocumentTooLarge):
            raise
        raise CorpusFormatError(path, None, f"unreadable PDF: {e}") from e
    text = "\n\n".join(pages)
    return _whole(path, root, source, data, text, path.stem)


def read_medquad(
    path: Path, root: Path, source: str, *, max_chars: int = DEFAULT_MAX_CHARS
) -> SourceDocument:
    """Read one MedQuAD XML document: each question's answer becomes a section labelled by its type.

    Arguments as :func:`read_text`.

    Raises:
        CorpusFormatError: the XML does not parse or lacks the expected elements.
    """
    data = _read_bytes(path, max_chars)
    try:
        doc = ET.fromstring(data)
    except ET.ParseError as e:
        raise CorpusFormatError(path, e.position[0], f"malformed XML: {e}") from e
    focus = (doc.findtext("Focus") or "").strip()
    cuis = tuple(f"UMLS:{c.text.strip()}" for c in doc.iter("CUI") if c.text)
    parts: list[str] = []
    sections: list[Section] = []
    offset = 0
    for pair in doc.iter("QAPair"):
        question = " ".join((pair.findtext("Question") or "").split())
        answer = html.unescape((pair.findtext("Answer") or "").strip())
        answer = re.sub(r"[ \t]*\n[ \t]*\n\s*", "\n\n", answer)
        if not answer:
            continue
        question_el = pair.find("Question")
        qtype = question_el.get("qtype", "other") if question_el is not None else "other"
        block = f"{question}\n{answer}\n\n"
        sections.append(
            Section(
                start=offset + len(question) + 1,
                end=offset + len(question) + 1 + len(answer),
                label=qtype,
            )
        )
        parts.append(block)
        offset += len(block)
    if not sections:
        raise CorpusFormatError(path, None, "MedQuAD document without answers", kind="no answers")
    collection = doc.get("source", "")
    return SourceDocument(
        id=_doc_id(root, path),
        title=focus or path.stem,
        text=_check_size(path, "".join(parts), max_chars),
        source=f"{source}/{collection}" if collection else source,
        path=str(path),
        version=doc.get("url", ""),
        checksum=hashlib.sha256(data).hexdigest(),
        sections=tuple(sections),
        focus=focus or None,
        focus_codes=cuis,
    )


READERS = {
    "text": read_text,
    "markdown": read_text,
    "html": read_html,
    "pdf": read_pdf,
    "medquad": read_medquad,
}
_BY_SUFFIX = {
    ".txt": "text",
    ".md": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".xml": "medquad",
}


def format_of(path: Path, default: str | None = None) -> str | None:
    """The corpus format a file's suffix names (``.gz`` looked through), else ``default``."""
    suffix = path.suffixes[-2] if path.suffix == ".gz" and len(path.suffixes) > 1 else path.suffix
    return _BY_SUFFIX.get(suffix.lower(), default)


def inside(path: Path, roots: Sequence[Path]) -> bool:
    """Whether ``path`` (resolved) lies in one of ``roots`` (resolved)."""
    return any(path == r or path.is_relative_to(r) for r in roots)


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a device or other special file"


def walk_files(root: Path, allowed: Sequence[Path]) -> Iterator[Path | ReadFailure]:
    """Regular files under ``root``, following only links that resolve inside ``allowed``.

    Sorted by name, folder by folder; what is not followed comes back as a
    :class:`ReadFailure` saying why (loop, broken link, outside, not a regular file).
    """
    seen: set[Path] = set()

    def visit(folder: Path) -> Iterator[Path | ReadFailure]:
        real = folder.resolve()
        if real in seen:
            yield ReadFailure(str(folder), f"symlink loop: {real} was already read", "symlink loop")
            return
        seen.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            yield ReadFailure(str(folder), f"cannot list the folder: {e.strerror}")
            return
        for entry in entries:
            path = Path(entry.path)
            try:
                if entry.is_symlink():
                    try:
                        target = path.resolve(strict=True)
                    except RuntimeError:  # Python < 3.13 reports a loop so
                        yield ReadFailure(str(path), "symlink loop", "symlink loop")
                        continue
                    except OSError as e:
                        kind = "symlink loop" if "loop" in str(e).lower() else "broken symlink"
                        yield ReadFailure(str(path), f"{kind}: {e.strerror}", kind)
                        continue
                    if not inside(target, allowed):
                        yield ReadFailure(
                            str(path),
                            f"refused: links to {target}, outside the allowed folders "
                            f"({', '.join(map(str, allowed))})",
                            "outside the allowed folders",
                        )
                        continue
                mode = path.stat().st_mode
            except OSError as e:
                yield ReadFailure(str(path), f"cannot stat: {e.strerror}")
                continue
            if stat.S_ISDIR(mode):
                yield from visit(path)
            elif stat.S_ISREG(mode):
                if not entry.name.startswith("."):
                    yield path
            else:
                yield ReadFailure(
                    str(path), f"not a regular file ({_file_kind(mode)}); skipped", "not a regular file"
                )

    yield from visit(root)


def _failure(path: Path, e: Exception) -> ReadFailure:
    if isinstance(e, DocumentTooLarge):
        return ReadFailure(str(path), str(e), "too large")
    if isinstance(e, CorpusFormatError):
        return ReadFailure(str(path), str(e), e.kind)
    if isinstance(e, MissingExtraError):
        return ReadFailure(str(path), str(e))
    return ReadFailure(str(path), f"{path}: {type(e).__name__}: {e}")


def reads(path: Path, format: str | None = None) -> str | None:
    """The reader :func:`read_corpus` uses for ``path`` (``format``: as there), or None: not read.

    MedQuAD XML and other documents are never read as each other.
    """
    fmt = format_of(path) if format in (None, "auto") else format
    if fmt is None or fmt not in READERS:
        return None
    if (fmt == "medquad") != (format_of(path) == "medquad"):
        return None
    return fmt


def read_file(
    path: Path,
    root: Path,
    *,
    format: str | None = None,
    source: str = "corpus",
    max_chars: int = DEFAULT_MAX_CHARS,
) -> SourceDocument | ReadFailure | None:
    """One file of a corpus folder, as :func:`read_corpus` reads it (duplicates aside).

    Args:
        path: the file.
        root: the corpus folder (for the document's id).
        format: a reader name; ``None``/``auto``: by suffix.
        source: provenance name recorded on the document.
        max_chars: larger documents fail as too large.

    Returns:
        The document, a :class:`ReadFailure` saying why it was not read, or None when no
        reader of ``format`` reads such a file.
    """
    fmt = reads(path, format)
    if fmt is None:
        return None
    try:
        return READERS[fmt](path, root, source, max_chars=max_chars)
    except Exception as e:  # one bad file, of any kind, never ends a corpus
        return _failure(path, e)


def read_corpus(
    folder: str | Path,
    *,
    format: str | None = None,
    source: str = "corpus",
    limit: int | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
    allowed: Sequence[Path] | None = None,
) -> Iterator[SourceDocument | ReadFailure]:
    """Every readable document under ``folder`` (sorted, recursive).

    Unreadable, too large and duplicate files, and entries the walk does not follow, come back as
    :class:`ReadFailure` so the build can report them. One file's failure, of any kind, never ends
    the iteration.

    Args:
        folder: the corpus folder.
        format: a reader name (``text``, ``html``, ...); ``None``/``auto``: by suffix.
        source: provenance name recorded on each document.
        limit: at most this many documents.
        max_chars: skip documents longer than this (characters, after decompression).
        allowed: folders symbolic links may point into (default: ``folder`` itself).

    Raises:
        CorpusFormatError: ``folder`` is not a folder.
    """
    root = Path(folder)
    if not root.is_dir():
        raise CorpusFormatError(root, None, "corpus folder not found")
    roots = [Path(a).resolve() for a in allowed] if allowed is not None else [root.resolve()]
    seen: dict[str, str] = {}
    count = 0
    for path in walk_files(root, roots):
        if isinstance(path, ReadFailure):
            yield path
            continue
        doc = read_file(path, root, format=format, source=source, max_chars=max_chars)
        if doc is None:
            continue
        if isinstance(doc, ReadFailure):
            yield doc
            continue
        if doc.checksum in seen:
            yield ReadFailure(str(path), f"duplicate of {seen[doc.checksum]}", "duplicate")
            continue
        seen[doc.checksum] = str(path)
        yield doc
        count += 1
        if limit is not None and count >= limit:
            return
