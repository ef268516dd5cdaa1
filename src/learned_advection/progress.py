"""Progress bars: the one place every progress bar of the package is made (tqdm, on stderr).

On a terminal a bar redraws a few times a second.  When stderr is not a terminal (a log file, a
pipe, a batch job) it is rewritten at most every :data:`LOG_INTERVAL` seconds, so a log gets a
line every few seconds instead of thousands.  ``enabled=False`` (the commands' ``--quiet``) shows
nothing.  Imports only the standard library (and tqdm when a bar is made), so any layer may use it.
"""

from __future__ import annotations

import sys

# Seconds between redraws on a terminal, and at least between writes when stderr is not a terminal.
TERMINAL_INTERVAL = 0.1
LOG_INTERVAL = 5.0


def is_terminal(stream) -> bool:
    """Whether ``stream`` is an interactive terminal (a closed or odd stream is not).

    Parameters
    ----------
    stream : file-like
        Any object; its ``isatty()`` is asked, and a missing or failing ``isatty`` counts as not a terminal.

    Returns
    -------
    bool
        ``True`` only when ``stream.isatty()`` returns a true value.
    """
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def progress_bar(iterable=None, *, enabled: bool = True, file=None, **options):
    """A tqdm progress bar on stderr (or ``file``), throttled when that is not a terminal.

    ``options`` are tqdm's (``total``, ``desc``, ``unit``, ``initial``, ``leave``, ...); ``mininterval``
    defaults to :data:`TERMINAL_INTERVAL` on a terminal and :data:`LOG_INTERVAL` elsewhere.  A disabled
    bar (``enabled=False``) still iterates ``iterable`` and accepts ``update`` calls, silently.

    Parameters
    ----------
    iterable : iterable, optional
        What to iterate over; ``None`` (default) for a bar driven by ``update`` calls.
    enabled : bool, default True
        ``False`` shows nothing (the commands' ``--quiet``).
    file : file-like, optional
        Stream to draw on; ``None`` (default) is ``sys.stderr``.
    **options
        Passed to ``tqdm``; ``mininterval`` and ``maxinterval`` get throttled defaults when not given.

    Returns
    -------
    tqdm.tqdm
        The bar (iterable, and usable as a context manager).
    """
    from tqdm.auto import tqdm

    stream = sys.stderr if file is None else file
    interval = TERMINAL_INTERVAL if is_terminal(stream) else LOG_INTERVAL
    options.setdefault("mininterval", interval)
    options.setdefault("maxinterval", max(10.0, 2 * options["mininterval"]))
    return tqdm(iterable, file=stream, disable=not enabled, **options)
