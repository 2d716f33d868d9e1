"""Benchmark: worst-group test accuracy with and without group reweighting.

Run after a default ``kedro run`` (it reads ``data/05_model_input/model_input.npz``)::

    python bench/fairness_mitigation.py [--seeds 0 1 2] [--minority 90]

Two training sets: the default split (site B about 25 %) and the same split with site B cut
to ``--minority`` training images. Each is trained with ``fairness_mitigation: none`` and
``reweight_groups`` (the parameters of conf/base), for every seed; the table gives test
accuracy per site and the worst-group accuracy.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from kedro.config import OmegaConfigLoader

from tai_project.pipelines.model_engineering.nodes import train_classifier
from tai_project.pipelines.model_evaluation.nodes import predict_test_split

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--minority", type=int, default=90)
    args = parser.parse_args()
    with np.load(ROOT / "data/05_model_input/model_input.npz") as data:
        model_input = {key: data[key] for key in data.files}
    params = OmegaConfigLoader(str(ROOT / "conf"), base_env="base", default_run_env="local")[
        "parameters"]   # resolved: data_schema derives from the dataset description (globals)
    schema = params["data_schema"]
    setup = params["model_engineering"]["training_setup"] | {"device": "cpu"}
    b_rows = np.flatnonzero(model_input["train_groups"] == "B")
    kept = np.concatenate([np.flatnonzero(model_input["train_groups"] != "B"),
                           np.random.default_rng(0).choice(b_rows, args.minority, replace=False)])
    scenarios = {
        f"default (B {len(b_rows)} of {len(model_input['train_groups'])})": model_input,
        f"B cut to {args.minority}": model_input | {
            f"train_{k}": model_input[f"train_{k}"][kept] for k in ("pixels", "labels", "groups")
        },
    }
    out = sys.stdout
    out.write("| training set | mitigation | seed | acc A | acc B | worst-group | train s |\n")
    out.write("|---|---|---|---|---|---|---|\n")
    for name, data in scenarios.items():
        for mitigation in ("none", "reweight_groups"):
            for seed in args.seeds:
                start = time.perf_counter()
                network, _ = train_classifier(
                    data, setup | {"fairness_mitigation": mitigation}, schema, seed
                )
                seconds = time.perf_counter() - start
                predictions = predict_test_split(network, data, {"batch_size": 1024,
                                                                  "device": "cpu"})
                right = predictions["probabilities"].argmax(axis=1) == predictions["labels"]
                by_site = {g: right[predictions["groups"] == g].mean() for g in ("A", "B")}
                out.write(f"| {name} | {mitigation} | {seed} | {by_site['A']:.4f} | "
                          f"{by_site['B']:.4f} | {min(by_site.values()):.4f} | {seconds:.1f} |\n")
                out.flush()


if __name__ == "__main__":
    main()
