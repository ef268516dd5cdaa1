"""Determinism: the same command with the same seed gives bit-identical metrics on the same machine."""

import json

from learned_advection.cli import main

VOLATILE = {"seconds", "seconds_total", "date", "command"}


def _stable(obj):
    """Metrics without wall-clock times, dates and the command line (which names the output folder)."""
    if isinstance(obj, dict):
        return {k: _stable(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_stable(v) for v in obj]
    return obj


def _run(argv):
    try:
        main(argv)
    except SystemExit as e:  # main exits only on errors
        raise AssertionError(f"{argv} exited with {e.code}") from None


def test_advection_1d_smoke_twice_is_bit_identical(tmp_path):
    metrics = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        _run(
            [
                "reproduce",
                "advection-1d",
                "--preset",
                "smoke",
                "--out",
                str(out),
                "--test-seeds",
                "700-701",
                "--train-seed",
                "3",
                "--quiet",
            ]
        )
        metrics.append(_stable(json.loads((out / "metrics.json").read_text())))
    assert metrics[0] == metrics[1]  # exact equality of every float, JSON-serialised
    assert (tmp_path / "run0" / "model" / "best" / "weights.eqx").read_bytes() == (
        tmp_path / "run1" / "model" / "best" / "weights.eqx"
    ).read_bytes()
