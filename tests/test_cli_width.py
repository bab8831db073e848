"""The CLI's tables fit the terminal without breaking a code or a word.

Two layers: :func:`fit_table` on generated rows of codes and names at every width from 24 to
160 columns (hypothesis), and the main commands (``diagnose``, ``retrieve``, ``link``,
``concepts search``, ``ground``) on the real default knowledge base at 60, 80 and 120 columns, in process
and in a subprocess writing to a pipe. Every code of a command's ``--json`` output that the
text shows must show whole, and every word of a name shown must show whole.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _interpreter import PYTHON, child_env
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

from kgrag.cli import _output, app
from kgrag.cli._tables import NAME_LIMIT, Col, fit_table, shorten
from kgrag.config import Settings, get_settings

REPO = Path(__file__).resolve().parent.parent
CODE = re.compile(r"^[A-Z][A-Za-z0-9_]*:[A-Za-z0-9][\w.\-]*$")
BOX = "│┃┏┓┗┛┳┻┣┫╋━─┡┩╇└┘┴┬├┤┼└├"
PATIENT = (
    "A 40-year-old with fever, productive cough, shortness of breath and pleuritic chest pain; no rash"
)
NOTE = (
    "Patient denies fever. Father had X-linked intellectual disability-psychosis-macroorchidism "
    "syndrome; she reports shortness of breath and chest pain."
)
COMMANDS = {
    "diagnose": ["diagnose", PATIENT, "-k", "6"],
    "retrieve": ["retrieve", PATIENT, "-k", "5", "--passages", "3"],
    "link": ["link", NOTE],
    "concepts search": ["concepts", "search", "encephalopathy", "-n", "12"],
    "ground": [
        "ground",
        PATIENT,
        "-H",
        "pneumonia",
        "-H",
        "X-linked intellectual disability-psychosis-macroorchidism syndrome",
        "-H",
        "asthma",
    ],
}


def tokens(text: str) -> list[str]:
    """The whitespace-separated words of rendered text, box lines and edge punctuation removed."""
    table = str.maketrans(dict.fromkeys(BOX, " "))
    return [w.strip(",;()") for w in text.translate(table).split()]


def codes_in(value: Any) -> set[str]:
    """Every string in a JSON value that is a code (``PREFIX:local``)."""
    if isinstance(value, str):
        return {value} if CODE.match(value) else set()
    if isinstance(value, dict):
        return set().union(*(codes_in(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(codes_in(v) for v in value)) if value else set()
    return set()


def assert_fits(text: str, width: int, known: set[str], whole: set[str], names: list[str]) -> None:
    """``text`` fits ``width``; codes in it are whole codes; ``whole`` codes and name words show whole.

    Args:
        text: the command's output.
        width: the columns it was rendered for.
        known: every code of the command's JSON output.
        whole: the codes that must be printed (essential columns), each as a whole token.
        names: names that must be printed (shortened as the table shortens them).
    """
    for line in text.splitlines():
        assert cell_len(line) <= width, f"{cell_len(line)} > {width}: {line!r}"
    prefixes = {c.split(":")[0] + ":" for c in known}
    words = tokens(text)
    for w in words:
        if any(w.startswith(p) for p in prefixes) and CODE.match(w):
            assert w in known, f"a code broken or unknown: {w!r}\n{text}"
    present = set(words)
    for code in whole:
        assert code in present, f"{code} is not printed whole at {width} columns\n{text}"
    for name in names:
        for word in shorten(name).split():
            assert word.strip(",;()") in present, f"{word!r} of {name!r} broken at {width}\n{text}"


def shows_codes(text: str) -> bool:
    """Whether a table left its ``codes`` column in (the caption names the hidden columns)."""
    hidden = re.search(r"not shown:(.*?)\(narrow", text, re.S)
    return not (hidden and "codes" in re.findall(r"[a-z_#]+", hidden.group(1)))


# --- the layout itself, on generated rows ---------------------------------------------------
_code = st.from_regex(r"[A-Z]{2,7}:[A-Z0-9]{1,3}[0-9.]{1,9}", fullmatch=True)
_word = st.from_regex(r"[a-z][a-z\-]{0,20}", fullmatch=True)
_name = st.lists(_word, min_size=1, max_size=9).map(" ".join)


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(st.tuples(_code, _name, st.lists(_code, max_size=5), _name), min_size=1, max_size=6),
    width=st.integers(min_value=24, max_value=160),
)
def test_a_table_never_breaks_a_code_or_a_word(
    rows: list[tuple[str, str, list[str], str]], width: int
) -> None:
    columns = [Col("id", 9), Col("name", 9), Col("codes", 5), Col("category", 1)]
    longest = max(
        len(w) for row in rows for part in (row[0], row[1], *row[2], row[3]) for w in part.split()
    )
    assume(width > longest + len("category") + 2)  # below that, no layout keeps the longest word whole
    cells = [[c, shorten(n), ", ".join(cs), shorten(cat, 2 * NAME_LIMIT)] for c, n, cs, cat in rows]
    console = Console(width=width, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(fit_table("generated", columns, cells))
    text = console.export_text()
    known = {c for c, _, cs, _ in rows for c in [c, *cs]}
    whole = {c for c, *_ in rows} | (
        {c for _, _, cs, _ in rows for c in cs} if shows_codes(text) else set()
    )
    assert_fits(text, width, known, whole, [n for _, n, _, _ in rows])


def test_shorten_cuts_at_a_word_and_marks_the_cut() -> None:
    for limit in range(8, 70):
        name = "X-linked intellectual disability-psychosis-macroorchidism syndrome"
        out = shorten(name, limit)
        assert len(out) <= limit
        assert out == name or (out.endswith("…") and name.startswith(out[:-1]))


# --- the commands, on the real default knowledge base ---------------------------------------
def kb_variables(kb: Settings) -> dict[str, str]:
    return {"KGRAG_CACHE_DIR": str(kb.cache_dir), "KGRAG_ONTOLOGIES_DIR": str(kb.ontologies_dir)}


@pytest.fixture(scope="module")
def outputs_json(default_kb: Settings) -> dict[str, Any]:
    """Each command's --json output (module-scoped: the JSON does not depend on the width)."""
    runner = CliRunner()
    env = {
        "KGRAG_CACHE_DIR": str(default_kb.cache_dir),
        "KGRAG_ONTOLOGIES_DIR": str(default_kb.ontologies_dir),
    }
    out = {}
    get_settings.cache_clear()
    for name, argv in COMMANDS.items():
        result = runner.invoke(app, [*argv, "--json"], env=env)
        assert result.exit_code == 0, result.output
        out[name] = json.loads(result.stdout)
    get_settings.cache_clear()
    return out


@pytest.fixture()
def kb_env(monkeypatch: pytest.MonkeyPatch, default_kb: Settings) -> Iterator[dict[str, str]]:
    env = {
        "KGRAG_CACHE_DIR": str(default_kb.cache_dir),
        "KGRAG_ONTOLOGIES_DIR": str(default_kb.ontologies_dir),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def expectations(name: str, data: Any) -> tuple[set[str], list[str], list[str]]:
    """(codes that must print whole, codes that print whole when the codes column shows, names)."""
    if name in ("diagnose", "retrieve"):
        rows = data["candidates"] if name == "diagnose" else data["diseases"]
        return (
            {r["concept_id"] for r in rows},
            [c for r in rows for c in r["codes"][:4]],
            [r["name"] for r in rows],
        )
    if name == "ground":
        rows = [h for h in data["hypotheses"] if h["concept"]]
        return {h["concept"]["id"] for h in rows}, [], [h["hypothesis"] for h in data["hypotheses"]]
    if name == "link":
        return {m["candidates"][0]["concept_id"] for m in data}, [], [m["text"] for m in data]
    return {m["concept_id"] for m in data}, [], [m["name"] for m in data]


def check(name: str, text: str, width: int, data: Any) -> None:
    known = codes_in(data)
    whole, optional, names = expectations(name, data)
    assert whole, f"{name} printed no rows to check"
    if shows_codes(text):
        whole |= set(optional)
    assert_fits(text, width, known, whole, names)


@pytest.mark.slow
@pytest.mark.parametrize("width", [60, 80, 120])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_main_commands_print_codes_whole(
    name: str,
    width: int,
    kb_env: dict[str, str],
    outputs_json: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_output.console, "_width", width)  # the rich console's width, as a terminal's
    result = CliRunner().invoke(app, COMMANDS[name])
    assert result.exit_code == 0, result.output
    check(name, result.stdout, width, outputs_json[name])


@pytest.mark.slow
@pytest.mark.parametrize(("name", "columns"), [("diagnose", None), ("diagnose", 60), ("link", 120)])
def test_a_pipe_gets_whole_codes(
    name: str, columns: int | None, kb_env: dict[str, str], outputs_json: dict[str, Any]
) -> None:
    """In a subprocess writing to a pipe: ``COLUMNS`` when set, else rich's 80."""
    env = child_env(**kb_env, PYTHONPATH=str(REPO))
    env.pop("COLUMNS", None)
    if columns:
        env["COLUMNS"] = str(columns)
    out = subprocess.run(
        [PYTHON, "-m", "kgrag.cli", *COMMANDS[name]],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    check(name, out.stdout, columns or 80, outputs_json[name])
