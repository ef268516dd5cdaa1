"""``bench --vs-jax-cfd``: 2-D Van Leer set against jax-cfd's, ours also as a steady run takes it (prepared once)."""

import json

import pytest


def test_bench_vs_jax_cfd_quick_json(cli):
    code, out, err = cli("bench", "--vs-jax-cfd", "--quick", "--json")
    assert code == 0, err
    report = json.loads(out)
    ours = [r for r in report["results"] if r["implementation"] == "learned-advection" and r["scheme"] == "vanleer"]
    assert {(r["ndim"], r["n"]) for r in ours} == {(2, 64)}
    assert {r["velocity"] for r in ours} == {"input", "constant", "steady"}
    widths = {None, 512} if report["environment"]["avx512"] else {None}
    modes = ("input", "constant", "steady")
    assert {(r["velocity"], r["vector_width"]) for r in ours} == {(v, w) for v in modes for w in widths}
    # the same reconstruction stepped unsplit, as jax-cfd steps its own: the like-for-like timing
    unsplit = [r for r in report["results"] if r["scheme"] == "vanleer-unsplit"]
    assert {(r["velocity"], r["vector_width"]) for r in unsplit} == {
        (v, w) for v in ("input", "constant") for w in widths
    }
    # what the unsplit step costs in accuracy: on a diagonal translation our Lin & Rood step is the more accurate
    # at both Courant numbers and makes no new maximum; the unsplit steps' error is several times larger
    accuracy = {(a["scheme"], a["courant_per_axis"]): a for a in report["diagonal_accuracy"]}
    for courant in (0.25, 0.4):
        ours_lr = accuracy[("vanleer (lin-rood)", courant)]
        assert ours_lr["max"] <= 1.0 and ours_lr["relative_l1"] < 0.5
        others = [a for (name, cr), a in accuracy.items() if cr == courant and name != "vanleer (lin-rood)"]
        assert others and all(a["relative_l1"] > 2 * ours_lr["relative_l1"] for a in others)
    for r in report["results"]:
        assert r["mcups"] == pytest.approx(r["cells"] / r["us_per_step"])
    if report["jax_cfd"]["available"]:  # each of ours against jax-cfd's input or closed-over velocity
        pairs = {(c["scheme"], c["velocity"], c["jax_cfd_velocity"]) for c in report["vanleer_vs_jax_cfd"]}
        assert pairs == {
            ("vanleer", "input", "input"),
            ("vanleer", "constant", "constant"),
            ("vanleer", "steady", "constant"),
            ("vanleer-unsplit", "input", "input"),
            ("vanleer-unsplit", "constant", "constant"),
        }
        for c in report["vanleer_vs_jax_cfd"]:
            assert c["speedup"] == pytest.approx(c["ours_mcups"] / c["jax_cfd_mcups"])
    else:
        assert report["vanleer_vs_jax_cfd"] == []


def test_bench_vs_jax_cfd_table(cli):
    code, out, err = cli("bench", "--vs-jax-cfd", "--quick")
    assert code == 0, err
    assert "[velocity steady]" in out


def test_bench_vs_jax_cfd_kernels(cli):
    """``--kernels``: the time per step of every compiled kernel, from the profiler, for ours (and jax-cfd's)."""
    code, out, err = cli("bench", "--vs-jax-cfd", "--quick", "--kernels", "--json")
    assert code == 0, err
    report = json.loads(out)
    impls = {p["implementation"] for p in report["kernels"]}
    assert impls == ({"learned-advection", "jax-cfd"} if report["jax_cfd"]["available"] else {"learned-advection"})
    for p in report["kernels"]:
        assert p["n"] == 64 and p["kernels"] and p["threads"] >= 1
        times = [k["us_per_step"] for k in p["kernels"]]
        assert all(t > 0 for t in times) and times == sorted(times, reverse=True)
        # kernels on one thread do not overlap: their sum is at most the wall time on every thread that ran one
        assert sum(times) <= p["wall_us_per_step"] * p["threads"] * 1.01
    ours = next(p for p in report["kernels"] if p["implementation"] == "learned-advection")
    assert any("fusion" in k["kernel"] for k in ours["kernels"])


def test_bench_kernels_needs_vs_jax_cfd(cli):
    code, out, err = cli("bench", "--kernels")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--vs-jax-cfd" in err
