"""Privacy-utility trade-off: train at epsilon in {1, 3, 8, inf} and measure what it costs.

For each epsilon, in one process on one machine: test accuracy, worst-group accuracy
(fairlearn), ECE (torchmetrics, 15 bins, L1), the strongest membership-inference attack's
AUC and TPR at 1 % FPR (``trust/privacy.py``), and seconds per training epoch. Finite
epsilons use the shipped DP settings (``model_engineering.training_setup.privacy``) with
only ``target_epsilon`` changed. ``inf`` is trained twice: with the shipped non-private
settings (``training``) and with the DP schedule minus the privacy (same batch size,
optimiser, learning rate and epochs; no clipping, no noise), which isolates the time DP adds.

Needs ``data/05_model_input/model_input.npz`` (``make bench-privacy`` builds it).
Writes ``bench/results/privacy_tradeoff.{json,md,png}``.

Run: ``python bench/privacy_tradeoff.py [--seeds 42 43 44]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from fairlearn.metrics import MetricFrame  # noqa: E402
from sklearn.metrics import accuracy_score  # noqa: E402
from torchmetrics.functional.classification import multiclass_calibration_error  # noqa: E402

from tai_project.models.network import SmallCNN  # noqa: E402
from tai_project.models.private_training import PrivacyConfig, train_private_network  # noqa: E402
from tai_project.models.training import (  # noqa: E402
    TrainingConfig,
    predict_proba,
    train_network,
)
from tai_project.pipelines.model_evaluation.nodes import (  # noqa: E402
    attack_membership,
    compute_privacy_metrics,
)

ROOT = Path(__file__).resolve().parents[1]
EPSILONS = (1.0, 3.0, 8.0)
CPU = torch.device("cpu")


def _params() -> tuple[dict[str, Any], dict[str, Any]]:
    read = lambda name: yaml.safe_load((ROOT / f"conf/base/parameters/{name}.yml").read_text())  # noqa: E731
    return read("model_engineering")["model_engineering"]["training_setup"], read(
        "model_evaluation"
    )["model_evaluation"]


def _network(data: dict[str, np.ndarray], setup: dict[str, Any]) -> SmallCNN:
    return SmallCNN(num_classes=10, channels=tuple(setup["network"]["channels"]),
                    groups=setup["network"]["groups"], pixel_mean=data["pixel_mean"].tolist(),
                    pixel_std=data["pixel_std"].tolist())


def _measure(network: torch.nn.Module, data: dict[str, np.ndarray], evaluation: dict[str, Any],
             budget: dict[str, Any], seed: int) -> dict[str, float]:
    probabilities = predict_proba(network, data["test_pixels"], batch_size=1024, device=CPU)
    predicted = probabilities.argmax(axis=1)
    attack = attack_membership(network, data, evaluation["membership_inference"],
                               {"batch_size": 1024, "device": "cpu"}, seed)
    privacy = compute_privacy_metrics(attack, budget)
    return {
        "accuracy": float((predicted == data["test_labels"]).mean()),
        # the project's definition (trust/fairness.py): fairlearn's MetricFrame group_min()
        "worst_group_accuracy": float(MetricFrame(
            metrics=accuracy_score, y_true=data["test_labels"], y_pred=predicted,
            sensitive_features=data["test_groups"],
        ).group_min()),
        "ece": float(multiclass_calibration_error(
            torch.as_tensor(probabilities), torch.as_tensor(data["test_labels"]),
            num_classes=probabilities.shape[1], n_bins=15, norm="l1",
        )),
        "mia_auc": privacy["mia_auc"],
        "mia_tpr_at_1pct_fpr": privacy["mia_tpr_at_1pct_fpr"],
    }


def run(seeds: list[int]) -> list[dict[str, Any]]:
    data = dict(np.load(ROOT / "data/05_model_input/model_input.npz", allow_pickle=False))
    setup, evaluation = _params()
    dp = {k: v for k, v in setup["privacy"].items() if k != "enabled"}
    train = (data["train_pixels"], data["train_labels"])
    validation = (data["validation_pixels"], data["validation_labels"])
    rows = []
    for seed in seeds:
        torch.manual_seed(seed)
        for epsilon in EPSILONS:
            result = train_private_network(
                _network(data, setup), train, validation, device=CPU, seed=seed,
                config=PrivacyConfig(**{**dp, "target_epsilon": epsilon}),
            )
            budget = {"epsilon": result.budget.epsilon, "delta": result.budget.delta}
            rows.append({"setting": f"DP eps={epsilon:g}", "target_epsilon": epsilon,
                         "epsilon": result.budget.epsilon, "seed": seed,
                         "noise_multiplier": result.budget.noise_multiplier,
                         "seconds_per_epoch": float(np.mean(result.epoch_seconds)),
                         **_measure(result.training.network, data, evaluation, budget, seed)})
        same_schedule = TrainingConfig(
            max_epochs=dp["epochs"], batch_size=dp["batch_size"],
            learning_rate=dp["learning_rate"], weight_decay=0.0,
            early_stopping_patience=dp["epochs"] + 1,
        )
        for name, config in (("no DP (shipped non-private settings)",
                              TrainingConfig(**setup["training"])),
                             ("no DP (DP schedule, no clipping/noise)", same_schedule)):
            started = time.perf_counter()
            result = train_network(_network(data, setup), train, validation, config=config,
                                   device=CPU, seed=seed)
            seconds = (time.perf_counter() - started) / len(result.history)
            budget = {"epsilon": float("inf"), "delta": 0.0}
            rows.append({"setting": name, "target_epsilon": float("inf"),
                         "epsilon": float("inf"), "seed": seed, "noise_multiplier": 0.0,
                         "seconds_per_epoch": seconds,
                         **_measure(result.network, data, evaluation, budget, seed)})
    return rows


def _summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    metrics = ["epsilon", "accuracy", "worst_group_accuracy", "ece", "mia_auc",
               "mia_tpr_at_1pct_fpr", "seconds_per_epoch"]
    out = []
    for setting in dict.fromkeys(row["setting"] for row in rows):
        chosen = [row for row in rows if row["setting"] == setting]
        out.append({"setting": setting, "n_seeds": len(chosen),
                    **{m: float(np.mean([r[m] for r in chosen])) for m in metrics},
                    **{f"{m}_std": float(np.std([r[m] for r in chosen])) for m in metrics}})
    return out


def _markdown(summary: list[dict[str, Any]], reference: float) -> str:
    lines = [
        "| setting | epsilon spent | test accuracy | worst-group accuracy | ECE | MIA AUC "
        "| MIA TPR @ 1% FPR | s / epoch | DP time ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summary:
        lines.append(
            f"| {row['setting']} | {row['epsilon']:.2f} | {row['accuracy']:.4f} | "
            f"{row['worst_group_accuracy']:.4f} | {row['ece']:.4f} | {row['mia_auc']:.3f} | "
            f"{row['mia_tpr_at_1pct_fpr']:.3f} | {row['seconds_per_epoch']:.3f} | "
            f"{row['seconds_per_epoch'] / reference:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def _plot(summary: list[dict[str, Any]], path: Path) -> None:
    dp_rows = [r for r in summary if np.isfinite(r["epsilon"])]
    free = next(r for r in summary if "shipped" in r["setting"])
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    eps = [r["epsilon"] for r in dp_rows]
    for metric, label in (("accuracy", "test accuracy"),
                          ("worst_group_accuracy", "worst-group accuracy")):
        line, = axes[0].plot(eps, [r[metric] for r in dp_rows], "o-", label=label)
        axes[0].axhline(free[metric], color=line.get_color(), linestyle=":",
                        label=f"{label}, no DP")
    axes[0].set(xscale="log", xlabel="epsilon (delta = 1e-5)", title="Utility")
    axes[0].legend(fontsize=8)
    axes[1].plot(eps, [r["mia_auc"] for r in dp_rows], "o-", label="MIA AUC")
    axes[1].axhline(free["mia_auc"], linestyle=":", label="MIA AUC, no DP")
    axes[1].axhline(0.5, color="k", linewidth=0.8, label="chance")
    axes[1].set(xscale="log", xlabel="epsilon (delta = 1e-5)", title="Membership inference")
    axes[1].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    args = parser.parse_args()
    started = time.perf_counter()
    rows = run(args.seeds)
    summary = _summary(rows)
    reference = next(r for r in summary if "shipped" in r["setting"])["seconds_per_epoch"]
    out = ROOT / "bench/results"
    out.mkdir(parents=True, exist_ok=True)
    machine = {"platform": platform.platform(), "processor": platform.processor(),
               "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
               "torch": torch.__version__, "wall_seconds": time.perf_counter() - started}
    (out / "privacy_tradeoff.json").write_text(
        json.dumps({"machine": machine, "summary": summary, "runs": rows}, indent=2)
    )
    table = _markdown(summary, reference)
    (out / "privacy_tradeoff.md").write_text(table)
    _plot(summary, out / "privacy_tradeoff.png")
    print(table)
    print(f"{machine}")


if __name__ == "__main__":
    main()
