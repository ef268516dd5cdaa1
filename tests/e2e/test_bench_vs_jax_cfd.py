"""``bench --vs-jax-cfd``: 2-D Van Leer set against jax-cfd's, ours also as a steady run takes it (prepared once)."""

import json

import pytest


def test_bench_vs_jax_cfd_quick_json(cli):
    code, out, err = cli("bench", "--vs-jax-cfd", "--quick", "--json")
    assert code == 0, err
    report = json.loads(out)
    ours = [r for r in report["results"] if r["implementation"] == "learned-advection"]
    assert {(r["scheme"], r["ndim"], r["n"]) for r in ours} == {("vanleer", 2, 64)}
    assert {r["velocity"] for r in ours} == {"input", "constant", "steady"}
    widths = {None, 512} if report["environment"]["avx512"] else {None}
    modes = ("input", "constant", "steady")
    assert {(r["velocity"], r["vector_width"]) for r in ours} == {(v, w) for v in modes for w in widths}
    for r in report["results"]:
        assert r["mcups"] == pytest.approx(r["cells"] / r["us_per_step"])
    if report["jax_cfd"]["available"]:  # each of ours against jax-cfd's input or closed-over velocity
        pairs = {(c["velocity"], c["jax_cfd_velocity"]) for c in report["vanleer_vs_jax_cfd"]}
        assert pairs == {("input", "input"), ("constant", "constant"), ("steady", "constant")}
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
