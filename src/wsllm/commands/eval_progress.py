"""The progress bar of `wsllm eval`: on a terminal's stderr, counting passes, failures and
errors as results arrive."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from wsllm.evals.results import TestResult


@contextmanager
def progress_bar(total: int, show: bool) -> Iterator[Counter]:
    """A counter of results, drawn as a bar when `show`."""
    counter = Counter(total, show)
    if not show:
        yield counter
        return
    columns = (
        TextColumn("[bold]eval"), BarColumn(), MofNCompleteColumn(),
        TextColumn("[green]{task.fields[passed]} pass [red]{task.fields[failed]} fail "
                   "{task.fields[errors]} error"),
        TimeElapsedColumn(),
    )  # fmt: skip
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        counter.attach(bar)
        yield counter


class Counter:
    """Receives each finished result; moves the progress bar when there is one."""

    def __init__(self, total: int, show: bool) -> None:
        self.total = total
        self.counts = {"pass": 0, "fail": 0, "error": 0}
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def attach(self, bar: Progress) -> None:
        """Draw on `bar` from now on."""
        self._bar = bar
        self._task = bar.add_task("eval", total=self.total, passed=0, failed=0, errors=0)

    def __call__(self, result: TestResult) -> None:
        self.counts[result.status] += 1
        if self._bar is not None and self._task is not None:
            c = self.counts
            self._bar.update(
                self._task, advance=1, passed=c["pass"], failed=c["fail"], errors=c["error"]
            )
