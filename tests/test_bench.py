"""The benchmarks' arithmetic: the growth exponent of a known power law."""

import importlib
import sys

import pytest

from tests.conftest import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
from run_all import README_END, README_START, markdown, write_readme_table  # noqa: E402
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


def test_bench_table_replaces_only_the_marked_block_of_the_readme(tmp_path):
    host = {"cpu": "CPU X", "cores": 2, "memory_gib": 8.0, "python": "3.11", "torch": "2",
            "torch_threads": 2, "load_average_1_5_15": [0.1, 0.1, 0.1]}
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_START}\nold table\n{README_END}\noutro\n")
    write_readme_table(markdown({"dp_ratio": 2.0, "kedro_help_seconds": 1.5}, host, extras=False),
                       readme)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith(f"{README_END}\noutro\n")
    assert "old table" not in text and "CPU X, 2 cores" in text
    assert "| DP-SGD / non-private seconds per epoch, same model and batch | 2 | <= 1.5 | no |" in text
    assert "| `kedro --help` (s) | 1.5 | < 2 | yes |" in text


@pytest.mark.parametrize("script", sorted(p.stem for p in (PROJECT_ROOT / "bench").glob("*.py")))
def test_every_bench_script_imports(script):
    """`make bench` is not part of `make test`; this catches a script left behind by a
    rename in the package (privacy_tradeoff.py was, and `make bench` failed on a fresh clone)."""
    importlib.import_module(script)
