"""The periodic programs' fingerprints: deterministic, and different for different programs."""

from __future__ import annotations

from learned_advection.evaluation.program_fingerprints import fingerprints


def test_fingerprints_are_the_same_in_every_call_and_tell_the_programs_apart():
    first, second = fingerprints(), fingerprints()
    assert first == second and len(first) == 20
    assert len(set(first.values())) == len(first)  # every scheme, size and step a program of its own
