"""`report DIR` on malformed metrics: a report or one line naming the file, never a traceback."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learned_advection.errors import UserError
from learned_advection.experiments.reports import REPORTS, rebuild, report_text

_scalars = st.none() | st.booleans() | st.integers(-(2**80), 2**80) | st.floats() | st.text(max_size=6)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=12,
)
# keys the report templates read, so that generated metrics get past the first lookup
_keys = st.sampled_from(
    [
        "preset",
        "methods",
        "summary",
        "config",
        "training",
        "seconds",
        "seconds_total",
        "parts",
        "command",
        "version",
        "machine",
        "date",
        "gaussian_test",
        "test_seeds",
        "points",
        "grid",
        "models",
        "kinds",
        "results",
        "steps",
        "front",
        "variants",
        "model_config",
    ]
)


@settings(max_examples=120, deadline=None)
@given(
    experiment=st.sampled_from(sorted(REPORTS)), fields=st.dictionaries(_keys | st.text(max_size=5), _json, max_size=6)
)
def test_any_metrics_give_a_report_or_one_line(experiment, fields):
    metrics = {**fields, "experiment": experiment}
    try:
        text = report_text(metrics, "run/metrics.json")
    except UserError as e:
        assert "\n" not in str(e) and "run/metrics.json" in str(e)
        return
    assert isinstance(text, str)


@pytest.mark.parametrize(
    "text, words",
    [
        (
            json.dumps({"experiment": "demo", "seconds": [1, 2], "parts": {}}),
            "AttributeError",
        ),  # the reproduction
        ("[" * 100_000 + "]" * 100_000, "cannot read"),  # deeper than the JSON parser recurses
        (json.dumps({"experiment": ["demo"]}), "unknown experiment ['demo']"),  # not hashable
        (
            '{"experiment": "demo", "seconds_total": ' + "9" * 5000 + "}",
            "cannot read",
        ),  # more digits than Python converts
        (json.dumps({"experiment": "demo", "seconds_total": 1.0, "seconds": {"a": "x"}, "parts": {}}), "ValueError"),
    ],
)
def test_malformed_metrics_file_is_one_line_naming_it(tmp_path, text, words):
    (tmp_path / "metrics.json").write_text(text)
    (tmp_path / "report.md").write_text("keep me")
    with pytest.raises(UserError) as info:
        rebuild(tmp_path)
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "metrics.json") in message and words in message
    assert (tmp_path / "report.md").read_text() == "keep me"
