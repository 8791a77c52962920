"""Hypothesis is deterministic in the README test command and in CI (issue 15 item 8)."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


def test_profiles():
    assert settings.get_profile("ci").derandomize is True
    assert settings.get_profile("ci").database is None
    thorough = settings.get_profile("thorough")
    assert thorough.derandomize is False and thorough.max_examples >= 1000


def test_the_default_profile_repeats_itself(request: pytest.FixtureRequest):
    chosen = request.config.getoption("hypothesis_profile", None) or (
        "ci" if os.environ.get("CI") == "true" else os.environ.get("HYPOTHESIS_PROFILE", "ci"))
    if chosen != "ci":
        pytest.skip(f"profile {chosen} chosen")
    assert settings.default.derandomize is True

    def run() -> list[int]:
        drawn: list[int] = []

        @settings(max_examples=20)
        @given(st.integers())
        def collect(value: int) -> None:
            drawn.append(value)

        collect()
        return drawn

    assert run() == run()
