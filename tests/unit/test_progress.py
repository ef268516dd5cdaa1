"""Progress bars: throttled to one write every few seconds when stderr is not a terminal, none when disabled,
and made in one place (no other module of the package imports tqdm)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import tqdm.std

from learned_advection import progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def clock(monkeypatch):
    """tqdm's clock, advanced by one second at every reading; no monitor thread (it reads the real clock)."""
    now = [0.0]

    def tick():
        now[0] += 1.0
        return now[0]

    monkeypatch.setattr(tqdm.std, "time", tick)
    monkeypatch.setattr(tqdm.std.tqdm, "monitor_interval", 0)
    return now


def _writes(stream, updates: int = 200, **options) -> int:
    with progress.progress_bar(total=updates, file=stream, **options) as bar:
        for _ in range(updates):
            bar.update(1)
    return len(re.findall(r"\d+/\d+", stream.getvalue()))


def test_log_output_is_throttled_terminal_output_is_not(clock):
    """Over 200 updates one simulated second apart: a terminal gets about one redraw per update, a log at
    most one per LOG_INTERVAL seconds (tqdm's own default would write every update)."""
    terminal, log = Terminal(), io.StringIO()
    on_terminal = _writes(terminal)
    start = clock[0]
    in_log = _writes(log)
    elapsed = clock[0] - start
    assert on_terminal >= 150
    assert 2 <= in_log <= elapsed / progress.LOG_INTERVAL + 2
    assert "200/200" in log.getvalue()  # the final state is always written


def test_disabled_bar_writes_nothing_and_still_iterates(clock):
    stream = io.StringIO()
    assert list(progress.progress_bar(range(5), enabled=False, file=stream)) == [0, 1, 2, 3, 4]
    assert _writes(stream, enabled=False) == 0 and stream.getvalue() == ""


def test_every_progress_bar_is_made_by_the_helper():
    package = Path(progress.__file__).parent
    users = [
        p.relative_to(package).as_posix()
        for p in package.rglob("*.py")
        if re.search(r"^\s*(from tqdm|import tqdm)", p.read_text(encoding="utf-8"), re.M)
    ]
    assert users == ["progress.py"]
