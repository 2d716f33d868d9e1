"""What to try when the gate refuses: per requirement, the knobs that usually move it.

``HINTS`` maps each requirement (``<principle>.<requirement>`` of ``trust_requirements.yml``)
to hints, each under the condition in which it applies (``always``; ``dp`` / ``no_dp``:
differential privacy on or off; ``reweighting`` / ``no_reweighting``; ``temperature_scaling``
/ ``no_temperature_scaling``). A hint names the parameter keys (full dotted paths of
``conf/base/parameters``) or the command to run. ``hints_for`` picks the hints that apply
to the run's ``TrainingSettings``; a ``non_regression`` row gets the hints of the
requirement on the same metric. The advice is the usual direction, not a guarantee: DP-SGD
trades accuracy for privacy (Abadi et al. 2016) and costs minority groups the most
(Bagdasaryan et al. 2019); temperature scaling repairs calibration (Guo et al. 2017).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

SETUP = "model_engineering.training_setup"
EVALUATION = "model_evaluation"

Condition = str
"""``always``, ``dp``, ``no_dp``, ``reweighting``, ``no_reweighting``, ``temperature_scaling``
or ``no_temperature_scaling``."""

_ACCURACY_DP = (
    "dp",
    f"DP-SGD costs accuracy: raise {SETUP}.privacy.epochs, tune {SETUP}.privacy.learning_rate "
    f"and {SETUP}.privacy.max_grad_norm (the clipping norm), or a larger {SETUP}.privacy.batch_size",
)
_TRADEOFF_DP = (
    "dp",
    "run `make bench-privacy` on your data: it trains at several epsilons and shows what each "
    f"costs in accuracy; then set {SETUP}.privacy.target_epsilon as high as "
    "trust_requirements.privacy.max_epsilon allows",
)
_ACCURACY_NO_DP = (
    "no_dp",
    f"train longer or better: {SETUP}.training.max_epochs, "
    f"{SETUP}.training.early_stopping_patience, {SETUP}.training.learning_rate, "
    f"a wider {SETUP}.network.channels",
)
_MORE_DATA = ("always", "more labelled images per class usually help most")
_REWEIGHT = (
    "no_reweighting",
    f"set {SETUP}.fairness_mitigation: reweight_groups (every group weighs the same in the loss)",
)
_REWEIGHTED = (
    "reweighting",
    f"{SETUP}.fairness_mitigation is already reweight_groups: add images of the worst group "
    "(the model card's class x group counts show which)",
)
_MINORITY_DATA = ("always", "more images of the smallest group (data, then `dvc add`)")
_FAIRNESS_DP = (
    "dp",
    "DP-SGD hurts small groups most: a larger "
    f"{SETUP}.privacy.max_grad_norm or {SETUP}.privacy.target_epsilon narrows the gap",
)
_DP_ON = (
    "no_dp",
    f"switch on {SETUP}.privacy.enabled: true (DP-SGD; without it epsilon is infinite and "
    "membership inference is unbounded)",
)

HINTS: dict[str, tuple[tuple[Condition, str], ...]] = {
    "data.min_group_share": (
        ("always", "add images of the smallest group to the raw data (then `dvc add`); no "
                   "training setting changes this share"),
        ("always", "if the group is rare by design, only the requirement owner may lower "
                   "trust_requirements.data.min_group_share"),
    ),
    "reliability.min_accuracy": (_ACCURACY_DP, _TRADEOFF_DP, _ACCURACY_NO_DP, _MORE_DATA),
    "reliability.max_ece": (
        ("no_temperature_scaling",
         f"switch on {EVALUATION}.calibration.temperature_scaling: true"),
        ("temperature_scaling",
         "temperature scaling is on: a larger calibration split "
         "(data_engineering.split.calibration) fits the temperature better"),
        ("dp", f"DP noise makes confidence noisy: more {SETUP}.privacy.epochs or a larger "
               f"{SETUP}.privacy.target_epsilon"),
    ),
    "reliability.min_conformal_coverage": (
        ("always", f"lower {EVALUATION}.conformal.alpha (sets aim at coverage 1 - alpha) or set "
                   f"{EVALUATION}.conformal.randomized: false (conservative sets)"),
        ("always", "a larger calibration split (data_engineering.split.calibration) makes "
                   "the conformal quantile more stable"),
    ),
    "reliability.min_mean_corruption_accuracy": (
        ("always", "add training images taken under the corruptions of "
                   "data_engineering.perturbations (noise, blur, low contrast)"),
        _ACCURACY_DP, _ACCURACY_NO_DP,
    ),
    "reliability.min_adversarial_accuracy": (
        ("always", "this template has no adversarial training: a smoother model helps "
                   f"({SETUP}.training.weight_decay, DP's clipping {SETUP}.privacy.max_grad_norm)"),
        ("always", f"{EVALUATION}.adversarial.eps is the attacker's strength: change it only "
                   "with the requirement owner's sign-off"),
    ),
    "fairness.min_worst_group_accuracy": (_REWEIGHT, _REWEIGHTED, _MINORITY_DATA, _FAIRNESS_DP,
                                          _ACCURACY_DP, _ACCURACY_NO_DP),
    "fairness.max_accuracy_gap": (_REWEIGHT, _REWEIGHTED, _MINORITY_DATA, _FAIRNESS_DP),
    "fairness.max_equalized_odds_difference": (
        _REWEIGHT, _REWEIGHTED, _MINORITY_DATA, _FAIRNESS_DP,
        ("always", "with few test images of a group one error moves it a lot: a larger "
                   "data_engineering.split.test"),
    ),
    "privacy.max_epsilon": (
        _DP_ON,
        ("dp", f"set {SETUP}.privacy.target_epsilon at or below "
               "trust_requirements.privacy.max_epsilon"),
    ),
    "privacy.max_mia_auc": (
        _DP_ON,
        ("no_dp", f"overfitting leaks membership: fewer {SETUP}.training.max_epochs, a smaller "
                  f"{SETUP}.training.early_stopping_patience or more {SETUP}.training.weight_decay"),
        ("dp", f"a smaller {SETUP}.privacy.target_epsilon or fewer {SETUP}.privacy.epochs"),
    ),
    "privacy.max_mia_tpr_at_1pct_fpr": (
        _DP_ON,
        ("no_dp", f"overfitting leaks membership: fewer {SETUP}.training.max_epochs or more "
                  f"{SETUP}.training.weight_decay"),
        ("dp", f"a smaller {SETUP}.privacy.target_epsilon or fewer {SETUP}.privacy.epochs"),
    ),
    "autonomy.max_abstention_rate": (
        ("always", f"lower {EVALUATION}.selective.target_accuracy (a lower confidence threshold "
                   "refers fewer cases to a human)"),
        ("always", "a more accurate model refers fewer cases: see reliability.min_accuracy"),
        _ACCURACY_DP,
    ),
    "autonomy.min_selective_accuracy": (
        ("always", f"raise {EVALUATION}.selective.target_accuracy (more cases go to a human)"),
        _ACCURACY_DP, _ACCURACY_NO_DP,
    ),
    "transparency.min_deletion_faithfulness_ratio": (
        ("always", f"{EVALUATION}.transparency.faithfulness_method chooses the checked "
                   "method (integrated_gradients, saliency, input_x_gradient); "
                   f"{EVALUATION}.transparency.ig_steps and baseline change how it is measured"),
        ("always", "a better-trained model usually has more faithful explanations"),
        _ACCURACY_DP, _ACCURACY_NO_DP,
    ),
}

_REGRESSION = ("a regression against the champion: the same knobs as the requirement on this "
               "metric; if the champion itself is wrong, roll it back first (`make rollback`)")


@dataclass(frozen=True)
class TrainingSettings:
    """The settings that decide which hint applies."""

    differential_privacy: bool
    fairness_mitigation: str
    temperature_scaling: bool

    def conditions(self) -> set[Condition]:
        """Return the conditions that hold for these settings (``always`` included)."""
        return {
            "always",
            "dp" if self.differential_privacy else "no_dp",
            "no_reweighting" if self.fairness_mitigation == "none" else "reweighting",
            "temperature_scaling" if self.temperature_scaling else "no_temperature_scaling",
        }


def hints_for(principle: str, requirement: str, metric: str,
              settings: TrainingSettings) -> tuple[str, ...]:
    """Return the hints for one gate row that apply under ``settings``, in ``HINTS`` order;
    for a ``non_regression`` row, the hints of the requirement on the same ``metric``."""
    holds = settings.conditions()
    if principle == "non_regression":
        key = _requirement_of_metric().get(metric)
        return (_REGRESSION, *(hints_for(*key.split("."), metric, settings) if key else ()))
    return tuple(text for condition, text in HINTS.get(f"{principle}.{requirement}", ())
                 if condition in holds)


def _requirement_of_metric() -> dict[str, str]:
    return {key.split(".")[1].split("_", 1)[1]: key for key in HINTS}


def render_hints(hints: Mapping[str, Iterable[str]]) -> str:
    """Return ``What to try`` as text: per failed requirement, one indented line per hint."""
    if not hints:
        return ""
    lines = ["What to try:"]
    for requirement, texts in hints.items():
        lines.append(f"  {requirement}:")
        lines += [f"    - {text}" for text in texts]
    return "\n".join(lines)


def gate_hints(failures: Iterable[object], settings: TrainingSettings) -> dict[str, tuple[str, ...]]:
    """Return, per failed gate row (``<principle>.<requirement>``), the hints that apply."""
    hints = {f"{c.principle}.{c.requirement}": hints_for(c.principle, c.requirement, c.metric, settings)
             for c in failures}
    return {key: texts for key, texts in hints.items() if texts}
