"""``learned-advection stress TARGET``: a stepper at its declared limits on the suite's flows and tracers."""

import json

import pytest

from learned_advection.cli import stress as command
from learned_advection.evaluation import stress


def test_stress_runs_a_large_step_and_writes_its_report(cli, tmp_path):
    out = tmp_path / "stress"
    code, stdout, err = cli(
        "stress", "ppm-k8", "--steps", 16, "--flows", "cellular", "--tracers", "block", "--out", out, "--quiet"
    )
    assert code == 0, err
    assert "| ppm-k8 | cellular | block | 4.000 |" in stdout  # the bounded step: no deformation cap
    assert "1 cases, 0 blow-ups, 1 refusals beyond limits (of 1 checks)" in stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(stress.OUTPUTS)
    result = json.loads((out / "stress.json").read_text())
    (row,) = result["cases"]
    assert row["blew_up_at"] is None and 0 <= row["min"] and row["max"] <= 1 + 1e-6  # FCT: in the initial range
    assert result["beyond"][0]["refused"] and "Courant number 6" in result["beyond"][0]["message"]
    assert (out / "stress.md").read_text() in stdout
    # the folder is not clobbered
    code, _, err = cli("stress", "ppm-k8", "--steps", 16, "--flows", "cellular", "--tracers", "block", "--out", out)
    assert code == 2 and "not empty" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (("nonsense",), "unknown target 'nonsense'"),
        (("ppm-k8", "--flows", "cellular,swirl"), "unknown flow(s) 'swirl'"),
        (("ppm-k8", "--tracers", ""), "unknown tracer(s)"),
        (("ppm-k8", "--steps", "0"), "--steps must be an integer from 1"),
        (("ppm-k8", "--courant-fraction", "0"), "--courant-fraction must be in (0, 1]"),
        (("ppm-k8", "--factor", "1"), "reference factor"),
        (("ppm-k8", "--variants", "fct"), "--variants applies to learned models"),
        (("pretrained:turbulence-2d", "--variants", "plain,sharp"), "unknown variant(s) 'sharp'"),
    ],
)
def test_stress_refuses_bad_input_in_one_line(cli, tmp_path, args, message):
    code, stdout, err = cli("stress", *args, "--out", tmp_path / "x", "--quiet")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x").exists() and not stdout


def test_the_listed_defaults_are_the_suite_s():
    assert command.FLOWS.split(",") == list(stress.FLOWS)
    assert command.TRACERS.split(",") == list(stress.TRACERS)
