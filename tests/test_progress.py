"""Progress reporting: counted tasks reach their totals; plain step reporters get a line
when a task finishes; the CLI reporter stays silent in JSON mode."""

from __future__ import annotations

from kgrag.cli._output import ProgressReporter
from kgrag.progress import CountingProgress, counted, report_count


class Recorder:
    def __init__(self) -> None:
        self.steps: list[str] = []
        self.counts: list[tuple[str, int, int | None]] = []

    def __call__(self, step: str) -> None:
        self.steps.append(step)

    def count(self, task: str, done: int, total: int | None) -> None:
        self.counts.append((task, done, total))


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
