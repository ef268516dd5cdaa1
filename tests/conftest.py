import subprocess
from pathlib import Path

import jax
import pytest
from hypothesis import is_hypothesis_test, settings

import tiers
from learned_advection.cli import main

# --------------------------------------------------------------------------- test tiers (tests/tiers.py)
# Hypothesis profiles: "full" (loaded for every run) keeps hypothesis's defaults (100 examples for a test that
# names no budget); "fast" is the fast tier's budget: a property test there runs at most this many examples.
settings.register_profile("full", max_examples=100)
settings.register_profile("fast", max_examples=10)
settings.load_profile("full")

BUDGET = "_hypothesis_budget"  # the parameter that splits a fast property test into its two tiers


def pytest_generate_tests(metafunc):
    """A property test of the fast tier is collected twice: ``[examples-fast]`` (fast tier) and ``[examples-full]``."""
    if not is_hypothesis_test(metafunc.function):
        return
    definition = metafunc.definition
    name = definition.nodeid.split("::", 1)[1]
    if tiers.tier(definition.path.parts, name, slow=definition.get_closest_marker("slow") is not None) != tiers.FAST:
        return
    metafunc.fixturenames.append(BUDGET)
    metafunc.parametrize(BUDGET, [tiers.FAST, tiers.FULL_TIER], ids=["examples-fast", "examples-full"])


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item):
    """Runs an ``[examples-fast]`` property test with at most the fast tier's number of examples."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or callspec.params.get(BUDGET) != tiers.FAST:
        return (yield)
    test = getattr(item.obj, "__func__", item.obj)
    own = test._hypothesis_internal_use_settings  # hypothesis reads it at each call of the test
    name = item.nodeid.split("::", 1)[1]
    budget = tiers.fast_examples(item.path.name, name, settings.get_profile("fast").max_examples)
    test._hypothesis_internal_use_settings = settings(own, max_examples=min(own.max_examples, budget))
    try:
        return (yield)
    finally:
        test._hypothesis_internal_use_settings = own


def pytest_addoption(parser):
    parser.addoption("--tiers", action="store_true", help="print each collected test's tier (tests/tiers.py)")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by these markers
def pytest_collection_modifyitems(config, items):
    """Marks every test ``fast`` or ``full`` (tests/tiers.py); fails the run if one is marked otherwise by hand."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = dict(callspec.indices) if callspec is not None else {}
        if BUDGET in params:
            tier = callspec.params[BUDGET]
        else:
            name = item.nodeid.split("::", 1)[1]
            slow = item.get_closest_marker("slow") is not None
            tier = tiers.tier(item.path.parts, name, slow, first_case=not any(params.values()))
        marked = {m.name for m in item.iter_markers() if m.name in (tiers.FAST, tiers.FULL_TIER)}
        if marked - {tier}:
            raise pytest.UsageError(f"{item.nodeid} is marked {sorted(marked)} but tests/tiers.py puts it in {tier}")
        item.add_marker(tier)
        if config.getoption("tiers"):
            print(f"\n{tier} {item.nodeid}")


@pytest.fixture
def x64_mode():
    """Switch float64 on or off for one test; restores the previous setting afterwards."""
    previous = jax.config.jax_enable_x64

    def set_mode(enable: bool) -> None:
        jax.config.update("jax_enable_x64", bool(enable))

    yield set_mode
    jax.config.update("jax_enable_x64", previous)


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process: returns ``(exit code, stdout, stderr)``; restores the float64 setting."""

    def run(*args):
        previous = jax.config.jax_enable_x64
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        finally:
            jax.config.update("jax_enable_x64", previous)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def run_checked():
    """Run a command from the repository root; fail the test with its output unless it exits 0."""

    def run(args, what: str, timeout: int = 300) -> subprocess.CompletedProcess:
        root = Path(__file__).resolve().parents[1]
        result = subprocess.run([str(a) for a in args], cwd=root, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            pytest.fail(f"{what} failed:\n{result.stdout}\n{result.stderr}", pytrace=False)
        return result

    return run
