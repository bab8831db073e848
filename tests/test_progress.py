"""Progress reporting: counted tasks reach their totals; plain step reporters get a line
when a task finishes; the CLI reporter stays silent in JSON mode."""

from __future__ import annotations

import time

from _recorder import Recorder

from kgrag.cli._output import ProgressReporter
from kgrag.progress import CountingProgress, counted, report_count


def test_counted_reports_the_final_count() -> None:
    rec = Recorder()
    assert isinstance(rec, CountingProgress)
    assert list(counted(range(5), rec, "items", total=10, interval=0.0)) == list(range(5))
    assert rec.counts[-1] == ("items", 5, 5)  # fewer than expected: the bar still completes
    assert [d for _, d, _ in rec.counts[:-1]] == [1, 2, 3, 4, 5]


def test_plain_reporter_gets_one_line_per_finished_task() -> None:
    lines: list[str] = []
    list(counted(range(3), lines.append, "docs", interval=0.0))
    assert lines == ["docs: 3"]
    report_count(lines.append, "embedding", 5, 10)
    assert lines == ["docs: 3"]
    report_count(None, "nothing", 1, 1)  # no reporter: no error


def test_cli_reporter(capsys) -> None:  # type: ignore[no-untyped-def]
    with ProgressReporter(json_mode=True) as quiet:
        quiet("a step")
        quiet.count("task", 1, 1)
    with ProgressReporter() as loud:  # not a terminal under pytest: lines, not bars
        loud("a step")
        loud.count("task", 1, 2)
        loud.count("task", 2, 2)
        loud.count("task", 2, 2)
    err = capsys.readouterr().err
    assert err.count("a step") == 1 and err.count("task: 2") == 1


def test_cli_reporter_without_a_terminal_prints_lines_while_a_task_runs(capsys) -> None:  # type: ignore[no-untyped-def]
    """A long task piped to a log (no terminal) is not silent until it ends: a line with the
    count every ``line_every`` seconds, then the final one; none more often than that."""
    with ProgressReporter(line_every=0.05) as piped:  # not a terminal under pytest
        piped.count("passages: embedding", 0, 1000)  # the task starts
        for done in range(1, 5):
            time.sleep(0.06)
            piped.count("passages: embedding", done * 250, 1000)
        piped.count("documents", 0, None)
        for done in range(1, 4):
            time.sleep(0.06)
            piped.count("documents", done, None)  # total unknown
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert lines == [
        "… passages: embedding: 250 of 1,000 (25%)",
        "… passages: embedding: 500 of 1,000 (50%)",
        "… passages: embedding: 750 of 1,000 (75%)",
        "… passages: embedding: 1,000",
        "… documents: 1 so far",
        "… documents: 2 so far",
        "… documents: 3 so far",
    ]
    with ProgressReporter() as slow:  # the default: at most one line every 30 s per task
        for done in range(1, 101):
            slow.count("linking", done, 100)
    assert capsys.readouterr().err.strip() == "… linking: 100"
