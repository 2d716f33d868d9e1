"""The benchmarks' arithmetic: the growth exponent of a known power law."""

import sys

import pytest

from tests.conftest import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
from scale_sweep import growth_exponents  # noqa: E402


def test_growth_exponent_recovers_a_power_law_and_skips_incomplete_runs():
    rows = [{"n_images": n, "pipeline_seconds": 2.0 * n, "wall_seconds": 3.0 * n**1.2,
             "stages": {"a": {"seconds": n**0.5}, "b": {"seconds": 1.0}}}
            for n in (1000, 10000, 100000)]
    rows.insert(1, {"n_images": 5000, "pipeline_seconds": 1.0, "wall_seconds": 1.0,
                    "stages": {"a": {"seconds": 1.0}}})  # stopped after one stage
    exponents = growth_exponents(rows)
    assert exponents["pipeline"] == pytest.approx(1.0)
    assert exponents["wall"] == pytest.approx(1.2)
    assert exponents["a"] == pytest.approx(0.5)
    assert exponents["pipeline_last_two"] == pytest.approx(1.0)
