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
