"""Atomic file and folder writes (the one place every output of the package goes through).

A file is written to a temporary sibling and renamed over the destination (``os.replace``) only
once it is complete and flushed, so a failed or interrupted write leaves the old file (or nothing)
and no temporary file behind.  A folder (a checkpoint) is written into a temporary sibling folder,
the old one renamed aside, the new one renamed into place and the aside copy removed; the renames
run with Ctrl-C held back.  Files get the usual permissions (``0o666`` less the umask).

Write failures the user can fix (a full disk, a read-only folder) become one-line
:class:`~learned_advection.errors.UserError`\\ s; :func:`check_output_path` (an existing output, even
a dangling link; the input itself) and :func:`check_free_space` refuse before any work.  Imports only
the standard library and :mod:`learned_advection.errors`, so any layer may use it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from learned_advection.errors import UserError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold back SIGINT/SIGTERM while the block runs, so Ctrl-C cannot leave a swap half done.

    A signal that arrives meanwhile is delivered as soon as the block ends.  Only the main thread
    can do this (elsewhere the block is a no-op: signals are handled in the main thread anyway).
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextmanager
def interrupts_at_checkpoints() -> Iterator[Callable[[], None]]:
    """Let Ctrl-C (SIGINT) take effect only where the block says it is safe: yields ``check()``, which
    raises ``KeyboardInterrupt`` if Ctrl-C was pressed since the block began.

    For loops of compiled computations: a ``KeyboardInterrupt`` raised in the middle of JAX's tracing,
    compilation or dispatch can leave the runtime in a state that crashes the interpreter at exit, so
    the block calls ``check()`` between two computations instead.  A second Ctrl-C raises at once.
    Outside the main thread, or when SIGINT is not handled by Python's default handler (e.g. ignored),
    nothing changes and ``check()`` does nothing.

    Yields
    ------
    Callable[[], None]
        ``check()``: raises ``KeyboardInterrupt`` when Ctrl-C was pressed since the block began.
    """
    pending = []

    def check() -> None:
        if pending:
            raise KeyboardInterrupt

    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield check
        return

    def record(signum, frame):
        if pending:  # pressed again: stop now
            raise KeyboardInterrupt
        pending.append(signum)

    previous = signal.signal(signal.SIGINT, record)
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, previous)
    check()  # one that arrived after the last check


@contextmanager
def atomic_path(path, suffix: str = "", overwrite: bool = True) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces ``path`` when the block completes.

    The block writes the file at the yielded path (``suffix`` ends its name, for writers that infer
    the format from it).  On success the file is flushed, given the usual permissions and renamed
    over ``path`` (with Ctrl-C held back); on any error, Ctrl-C included, it is removed and the error
    re-raised, an ``OSError`` as a :class:`UserError` (``cannot write PATH: reason``).  With
    ``overwrite=False`` an entry that appeared at ``path`` meanwhile (another run) is never replaced:
    that is a :class:`UserError` and the new file is dropped.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file; its folder must exist.
    suffix : str, default ""
        Ending of the temporary file's name (e.g. ``".nc"``).
    overwrite : bool, default True
        Whether to replace an entry that exists at ``path`` when the block completes.

    Yields
    ------
    pathlib.Path
        The temporary path to write.

    Raises
    ------
    UserError
        If the file cannot be written, or (``overwrite=False``) ``path`` exists by the time it is renamed.
    """
    path = Path(path)
    folder = path.parent
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=f".tmp{suffix}")
    except OSError as e:
        raise UserError(f"cannot write to {folder}: {e.strerror or _first_line(e)}") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _fsync(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; give it the usual permissions
        with interrupts_deferred():
            if overwrite:
                os.replace(tmp, path)
            else:
                _rename_no_clobber(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise UserError(f"cannot write {path}: {e.strerror or _first_line(e)}") from None
        raise


def _rename_no_clobber(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` to ``path`` unless something (even a dangling link) is there: a hard link fails if
    the name exists, atomically; where links are not supported, check and rename."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise UserError(
            f"output file exists: {path} (it appeared while running; use --overwrite to replace it)"
        ) from None
    except OSError:  # no hard links on this file system
        if os.path.lexists(path):
            raise UserError(
                f"output file exists: {path} (it appeared while running; use --overwrite to replace it)"
            ) from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, creating its folder; returns the path.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file; an existing file is replaced.
    text : str
        The whole content.

    Returns
    -------
    pathlib.Path
        ``path`` as a ``Path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_json_atomic(path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON (and a final newline) to ``path`` atomically; returns the path.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file; an existing file is replaced.
    obj : Any
        JSON-serialisable value.

    Returns
    -------
    pathlib.Path
        ``path`` as a ``Path``.
    """
    return write_text_atomic(path, json.dumps(obj, indent=2) + "\n")


def replace_dir_atomic(target, write: Callable[[Path], None], aside: str = ".old") -> Path:
    """Write a folder atomically: ``write(tmp)`` fills a temporary sibling, which then replaces ``target``.

    The old ``target`` is renamed to ``target + aside`` first and removed last (a reader that finds
    only the aside copy, after a crash between the renames, can use it); the renames run with
    Ctrl-C held back (:func:`interrupts_deferred`).

    Parameters
    ----------
    target : str or os.PathLike
        The folder to (re)write; its parent is created when missing.
    write : Callable[[pathlib.Path], None]
        Fills the empty temporary folder it is given (files directly inside it).
    aside : str, default ".old"
        Suffix of the name the old ``target`` is renamed to while it is replaced.

    Returns
    -------
    pathlib.Path
        ``target`` as a ``Path``.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; the result is an ordinary folder
        write(tmp)
        for f in tmp.iterdir():  # flush file contents before the renames make them visible
            _fsync(f)
        old = target.with_name(target.name + aside)
        with interrupts_deferred():
            if old.exists():
                shutil.rmtree(old)
            if target.exists():
                os.replace(target, old)
            os.replace(tmp, target)
            if old.exists():
                shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def same_file(a, b) -> bool:
    """Whether paths ``a`` and ``b`` name the same file: the same path after resolving links, or (both
    existing) the same inode, as a hard link.

    Parameters
    ----------
    a, b : str or os.PathLike
        The two paths; either may not exist.
    """
    a, b = Path(a), Path(b)
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (or cannot be examined)
        return False


def check_output_path(path, overwrite: bool = False, inputs=()) -> Path:
    """Validate an output file path before any work: its folder exists and is writable, nothing is at
    the path yet (unless ``overwrite``; a dangling symbolic link counts as something), and it is none
    of the files the command reads (``inputs``), even with ``overwrite``.  Returns the path.

    Parameters
    ----------
    path : str or os.PathLike
        The output file to be written.
    overwrite : bool, default False
        Allow an existing entry at ``path``.
    inputs : iterable of path, default ()
        Files the command reads; ``None`` entries are skipped.

    Returns
    -------
    pathlib.Path
        ``path`` as a ``Path``.

    Raises
    ------
    UserError
        If any of the conditions above fails.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    for source in inputs:
        if source is not None and same_file(path, source):
            raise UserError(f"output {path} is the input file {source}; choose another output path")
    if path.is_dir():
        raise UserError(f"output is a folder: {path}")
    if not folder.is_dir():
        raise UserError(f"output folder does not exist: {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"output folder is not writable: {folder}")
    if os.path.lexists(path) and not overwrite:
        what = " (a symbolic link)" if path.is_symlink() else ""
        raise UserError(f"output file exists{what}: {path} (use --overwrite to replace it)")
    return path


def format_bytes(n: float) -> str:
    """``n`` bytes in binary units, e.g. ``"1.5 GiB"``.

    Parameters
    ----------
    n : float
        A number of bytes.
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def available_memory() -> int | None:
    """Bytes of memory this process may still allocate, or ``None`` when it cannot be told.

    The smallest of the system's available memory (``MemAvailable`` in ``/proc/meminfo``, else the
    free pages from ``sysconf``) and the room left under a cgroup (container) memory limit.
    """
    found = []
    try:
        with open("/proc/meminfo") as f:
            found += [int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:")]
    except (OSError, ValueError, IndexError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
        except (AttributeError, ValueError, OSError):
            pass
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            with open(limit_file) as f:
                limit = f.read().strip()
            with open(usage_file) as f:
                usage = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 2**60:  # "max" or a huge number: no limit
            found.append(max(int(limit) - usage, 0))
    return min(found) if found else None


def free_bytes(folder) -> int:
    """Bytes free (for this user) on the file system of ``folder``.

    Parameters
    ----------
    folder : str or os.PathLike
        An existing path on the file system to ask about.
    """
    return shutil.disk_usage(folder).free


def check_free_space(folder, needed: int, what: str) -> None:
    """Refuse (:class:`UserError`, one line) when the file system of ``folder`` has less than ``needed``
    bytes free; ``what`` says what needs them (e.g. ``"the output (1000 frames of 64 cells)"``).

    When the free space cannot be determined nothing is checked.

    Parameters
    ----------
    folder : str or os.PathLike
        Where the data will be written; ``""`` is the current folder.
    needed : int
        Bytes the write needs.
    what : str
        What needs the bytes, for the message.

    Raises
    ------
    UserError
        If fewer than ``needed`` bytes are free.
    """
    folder = Path(folder) if str(folder) else Path(".")
    try:
        free = free_bytes(folder)
    except OSError:  # cannot tell: the write itself will report a full disk
        return
    if needed > free:
        raise UserError(f"{what} needs {format_bytes(needed)} of disk but {format_bytes(free)} is free in {folder}")
