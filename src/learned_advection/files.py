"""Atomic file and folder writes (the one place every output of the package goes through).

A file is written to a temporary sibling and renamed over the destination (``os.replace``) only
once it is complete and flushed, so a failed or interrupted write leaves the old file (or nothing)
and no temporary file behind.  A folder (a checkpoint) is written into a temporary sibling folder,
the old one renamed aside, the new one renamed into place and the aside copy removed; the renames
run with Ctrl-C held back.  Files get the usual permissions (``0o666`` less the umask).

Write failures the user can fix (a full disk, a read-only folder) become one-line
:class:`~learned_advection.errors.UserError`\\ s.  Imports only the standard library and
:mod:`learned_advection.errors`, so any layer may use it.
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
def atomic_path(path, suffix: str = "") -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces ``path`` when the block completes.

    The block writes the file at the yielded path (``suffix`` ends its name, for writers that infer
    the format from it).  On success the file is flushed, given the usual permissions and renamed
    over ``path``; on any error it is removed and the error re-raised, an ``OSError`` as a
    :class:`UserError` (``cannot write PATH: reason``).
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
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise UserError(f"cannot write {path}: {e.strerror or _first_line(e)}") from None
        raise


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, creating its folder; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_json_atomic(path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON (and a final newline) to ``path`` atomically; returns the path."""
    return write_text_atomic(path, json.dumps(obj, indent=2) + "\n")


def replace_dir_atomic(target, write: Callable[[Path], None], aside: str = ".old") -> Path:
    """Write a folder atomically: ``write(tmp)`` fills a temporary sibling, which then replaces ``target``.

    The old ``target`` is renamed to ``target + aside`` first and removed last (a reader that finds
    only the aside copy, after a crash between the renames, can use it); the renames run with
    Ctrl-C held back (:func:`interrupts_deferred`).
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


def check_output_path(path, overwrite: bool = False) -> Path:
    """Validate an output file path before any work: its folder exists and is writable, and it does
    not exist yet (unless ``overwrite``).  Returns the path."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UserError(f"output is a folder: {path}")
    if not folder.is_dir():
        raise UserError(f"output folder does not exist: {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"output folder is not writable: {folder}")
    if path.exists() and not overwrite:
        raise UserError(f"output file exists: {path} (use --overwrite to replace it)")
    return path
