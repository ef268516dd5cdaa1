"""Pieces every experiment pipeline shares: output-folder rules, seed ranges, provenance."""

from __future__ import annotations

import datetime
import os
import platform
import shutil
from pathlib import Path

import jax

from learned_advection._version import __version__
from learned_advection.errors import UserError, parse_names  # noqa: F401 (parse_names: re-exported)

MAX_SEED = 2**32 - 1  # seeds are 32-bit: numpy's legacy seeding and jax.random.PRNGKey (which wraps larger ones)
MAX_TEST_SEEDS = 10_000  # samples in one --test-seeds range


def parse_seed_range(text: str) -> list[int]:
    """``"A-B"`` (inclusive) or ``"A"`` -> list of seeds, ``0 <= A <= B <= MAX_SEED`` and at most
    ``MAX_TEST_SEEDS`` of them (one test sample each).

    Parameters
    ----------
    text : str
        ``"A-B"`` or ``"A"``.

    Returns
    -------
    list of int
        The seeds ``A`` to ``B``.

    Raises
    ------
    UserError
        If ``text`` does not parse or the range is out of bounds or too long.
    """
    try:
        parts = [int(p) for p in text.split("-")] if not text.startswith("-") else None
    except ValueError:  # not a number, or more digits than Python converts
        parts = None
    if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1] < parts[0]) or parts[0] < 0:
        raise UserError(f"test seeds must look like A-B with 0 <= A <= B (e.g. 1000-1031), got {_short(text)}")
    if parts[-1] > MAX_SEED:
        raise UserError(f"test seeds must be at most {MAX_SEED} (32-bit), got {_short(text)}")
    count = parts[-1] - parts[0] + 1
    if count > MAX_TEST_SEEDS:
        raise UserError(f"test seeds {_short(text)} are {count:,} seeds; at most {MAX_TEST_SEEDS:,} in one run")
    return list(range(parts[0], parts[-1] + 1))


def _short(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:57] + "...")


def check_output_folder(out: Path, overwrite: bool, outputs, resume: bool = False) -> None:
    """The refusals of :func:`prepare_output`, touching nothing: an experiment that writes its results only at
    the end checks its folder before the work and prepares it after.

    Parameters
    ----------
    out : pathlib.Path
        The output folder.
    overwrite : bool
        Allow a non-empty folder.
    outputs : iterable of str
        Names of the files and folders the experiment writes in ``out``.
    resume : bool, default False
        Allow a non-empty folder and keep everything in it.

    Raises
    ------
    UserError
        If ``out`` is a file or is not empty (without ``overwrite`` or ``resume``).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"output {out} exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not resume and not overwrite:
        hint = " (or --resume to continue training)" if "model" in outputs else ""
        raise UserError(f"output folder {out} is not empty; pass --overwrite to replace it{hint}")


def prepare_output(out: Path, overwrite: bool, outputs, resume: bool = False) -> None:
    """Refuse a non-empty output folder unless ``overwrite`` (or ``resume``); with ``overwrite`` remove
    only the experiment's own ``outputs`` (other files are left alone); create ``out/figures``.

    Parameters
    ----------
    out : pathlib.Path
        The output folder; created when missing.
    overwrite : bool
        Allow a non-empty folder, removing the entries named in ``outputs``.
    outputs : iterable of str
        Names of the files and folders the experiment writes in ``out``.
    resume : bool, default False
        Allow a non-empty folder and keep everything in it.

    Raises
    ------
    UserError
        If ``out`` is a file, is not empty (without ``overwrite`` or ``resume``), or cannot be written.
    """
    out = Path(out)
    check_output_folder(out, overwrite, outputs, resume)
    if out.exists() and any(out.iterdir()) and not resume:
        for name in outputs:
            p = out / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    try:
        (out / "figures").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot write to {out}: {e.strerror}") from None


def provenance(command: str) -> dict:
    """Package version, command, machine and date for metrics.json and reports.

    Parameters
    ----------
    command : str
        The command line that produced the results.

    Returns
    -------
    dict
        ``version``, ``command``, ``machine`` (architecture, JAX backend and device, cores) and ``date`` (ISO).
    """
    dev = jax.devices()[0]
    machine = f"{platform.machine()} {platform.processor() or ''} {jax.default_backend()} ({dev.device_kind}), {os.cpu_count()} cores"
    return {
        "version": __version__,
        "command": command,
        "machine": " ".join(machine.split()),
        "date": datetime.date.today().isoformat(),
    }
