"""The fast and full test tiers (tests/tiers.py) split the suite: every test in exactly one, every pattern in use."""

import subprocess
import sys
from collections import Counter
from pathlib import Path

import tiers

ROOT = Path(__file__).resolve().parents[2]


def _tiers() -> list[tuple[str, str]]:
    """``(tier, node id)`` of every test, as ``pytest --collect-only -m "" --tiers`` (tests/conftest.py) prints them."""
    args = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", "", "--tiers"]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    tiered = [tuple(line.split(" ", 1)) for line in lines if line.startswith(("fast tests/", "full tests/"))]
    ids = [line for line in lines if line.startswith("tests/") and "::" in line]
    assert ids and len(set(ids)) == len(ids)
    assert Counter(n for _, n in tiered) == Counter(ids), "a test with no tier, or two"  # each test exactly once
    return tiered


def _key(node_id: str) -> tuple[str, str]:
    path, name = node_id.split("::", 1)
    return Path(path).name, name


def test_fast_and_full_tiers_split_the_suite_exactly_once():
    tiered = _tiers()
    fast = [n for t, n in tiered if t == tiers.FAST]
    full = [n for t, n in tiered if t == tiers.FULL_TIER]
    assert fast and full and len(fast) + len(full) == len(tiered)
    # every pattern of tests/tiers.py still names a test (a renamed test would otherwise change tier silently)
    keys = [_key(n) for _, n in tiered]
    patterns = [*tiers.FULL, *tiers.ONE_CASE, *tiers.FAST_E2E, *tiers.FAST_EXAMPLES]
    unused = [p for p in patterns if not any(tiers.matches([p], f, name) for f, name in keys)]
    assert not unused, f"patterns of tests/tiers.py that match no test: {unused}"
    # property tests are in both tiers, at two budgets; every FAST_E2E pattern selects a fast test
    assert any(n.endswith("[examples-fast]") for n in fast) and any(n.endswith("[examples-full]") for n in full)
    assert not [n for n in fast if n.endswith("[examples-full]")]
    assert not [n for n in full if n.endswith("[examples-fast]")]
    fast_keys = [_key(n) for n in fast]
    assert all(any(tiers.matches([p], f, name) for f, name in fast_keys) for p in tiers.FAST_E2E)


def test_slow_and_unknown_end_to_end_tests_are_full_and_new_unit_tests_fast():
    assert tiers.tier(("tests", "unit", "numerics", "test_new.py"), "test_x[1]", slow=True) == tiers.FULL_TIER
    assert tiers.tier(("tests", "e2e", "test_new.py"), "test_x") == tiers.FULL_TIER
    assert tiers.tier(("tests", "unit", "moved", "test_new.py"), "test_x[a-b]") == tiers.FAST
    assert tiers.tier(("tests", "project", "test_new.py"), "test_x") == tiers.FAST
