"""The schema of every parameter (``conf/*/parameters.yml`` and ``conf/*/parameters/*.yml``),
checked when a session starts, before any data is read.

One pydantic model per parameters file (``Parameters`` lists them by top-level key), every
model ``extra="forbid"`` and ``strict`` (a YAML or ``--params`` value must already have the
type the nodes will get: nodes keep receiving the plain dicts, never these models).
``trust_requirements`` has its own schema in ``trust/requirements.py``.

To add a parameter, add one line to the section model that holds it (for example a
``weights_path: str | None = None`` line in ``Network``); a new top-level key gets a model
and a line in ``Parameters``. A field with a default may be left out of the YAML.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from tai_project.errors import ParameterError
from tai_project.trust.requirements import COMPARABLE_METRICS, parse_requirements

PositiveInt = Annotated[int, Field(ge=1)]
Count = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]
Rate = Annotated[float, Field(ge=0.0, le=1.0)]
Probability = Annotated[float, Field(gt=0.0, lt=1.0)]
"""A level in the open interval (0, 1): alpha, delta, a confidence level."""
def _device(value: str) -> str:
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", value):
        raise ValueError("expected auto, cpu, cuda or cuda:<n>")
    return value


Device = Annotated[str, AfterValidator(_device)]
"""``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:<n>``."""
Range = Annotated[list[float], Field(min_length=2, max_length=2)]
"""``[min, max]``."""

SplitName = Literal["train", "validation", "calibration", "test"]
HeldOutSplit = Literal["validation", "calibration", "test"]
AttackName = Literal["loss", "confidence"]  # trust.privacy.ATTACKS
AttributionMethod = Literal["integrated_gradients", "saliency", "input_x_gradient"]  # trust.transparency
MetricName = Literal[COMPARABLE_METRICS]  # type: ignore[valid-type]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _ordered(bounds: list[float], what: str) -> None:
    if bounds[0] > bounds[1]:
        raise ValueError(f"{what} must be [min, max] with min <= max")


# --- parameters.yml -----------------------------------------------------------------------
class DataSchema(_Section):
    """``data_schema``: what the images and metadata must look like (derived from the
    ``dataset:`` description in ``conf/base/globals.yml``)."""

    classes: Annotated[list[int | str], Field(min_length=2)]
    group_columns: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    groups: dict[str, Annotated[list[str | int], Field(min_length=1)]]
    image_height: PositiveInt
    image_width: PositiveInt
    image_mode: Literal["L", "RGB"]
    pixel_range: Range
    images: Annotated[str, Field(min_length=1)]
    metadata: Annotated[str, Field(min_length=1)]
    production: Annotated[str, Field(min_length=1)]

    @model_validator(mode="after")
    def _check(self) -> DataSchema:
        _ordered(self.pixel_range, "pixel_range")
        named = {"classes": self.classes, **{f"groups.{c}": v for c, v in self.groups.items()}}
        for name, values in named.items():
            if len({str(v) for v in values}) != len(values):
                raise ValueError(f"{name} has duplicates: {values}")
        missing = [column for column in self.group_columns if column not in self.groups]
        if missing:
            raise ValueError(f"groups names no allowed values for group column(s) {missing} "
                             "(dataset.groups in conf/base/globals.yml)")
        return self


# --- parameters/data_understanding.yml -----------------------------------------------------
class DataQuality(_Section):
    min_images_per_class_and_group: Count
    pixel_range: Range
    file_size_bytes: Annotated[list[int], Field(min_length=2, max_length=2)]

    @model_validator(mode="after")
    def _check(self) -> DataQuality:
        _ordered(self.pixel_range, "pixel_range")
        _ordered(self.file_size_bytes, "file_size_bytes")
        return self


class DataUnderstanding(_Section):
    data_quality: DataQuality


# --- parameters/data_engineering.yml -------------------------------------------------------
class Split(_Section):
    """Fractions of the stratified split; each in (0, 1), together 1."""

    train: Probability
    validation: Probability
    calibration: Probability
    test: Probability

    @model_validator(mode="after")
    def _sums_to_one(self) -> Split:
        total = self.train + self.validation + self.calibration + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"the four fractions must sum to 1; they sum to {total:g}")
        return self


Levels = Annotated[list[NonNegativeFloat], Field(min_length=1)]


class Severities(_Section):
    """Corrupted copies of the test split; a corruption left out is not made. Add a
    corruption here with one line (its levels' type)."""

    # a key left out or null: that corruption is not made
    gaussian_noise: Levels | None = None        # noise std, multiples of the training noise profile
    gaussian_blur: Levels | None = None         # blur sigma, pixels
    contrast: Levels | None = None              # contrast factor
    acquisition_shift: Annotated[list[Annotated[list[NonNegativeFloat], Field(min_length=2, max_length=2)]],
                                 Field(min_length=1)] | None = None   # [contrast factor, sensor-noise std]


class Perturbations(_Section):
    severities: Severities


class Prototypes(_Section):
    per_class: PositiveInt


class SplitChecks(_Section):
    min_images_per_class: Count
    min_images_per_group: Count
    max_class_share_deviation: Rate
    max_group_share_deviation: Rate


class DataEngineering(_Section):
    keep_columns: list[str]
    production_holdout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    forbidden_columns: list[str]
    split: Split
    perturbations: Perturbations
    prototypes: Prototypes
    split_checks: SplitChecks


# --- parameters/model_engineering.yml ------------------------------------------------------
class ResNet(_Section):
    base_width: PositiveInt
    blocks_per_stage: Annotated[list[PositiveInt], Field(min_length=1, max_length=4)]
    small_input_stem: bool


class Network(_Section):
    architecture: Literal["small_cnn", "resnet18"] = "small_cnn"
    channels: Annotated[list[PositiveInt], Field(min_length=1)]
    groups: PositiveInt
    resnet: ResNet | None = None
    weights_path: str | None = None

    @model_validator(mode="after")
    def _group_norm(self) -> Network:
        bad = [c for c in self.channels if c % self.groups]
        if bad:
            raise ValueError(f"GroupNorm needs every channel count divisible by groups "
                             f"({self.groups}); {bad} are not")
        return self


class Training(_Section):
    max_epochs: PositiveInt
    batch_size: PositiveInt
    learning_rate: PositiveFloat
    weight_decay: NonNegativeFloat
    early_stopping_patience: PositiveInt


class Privacy(_Section):
    """DP-SGD (``models.private_training.PrivacyConfig`` plus ``enabled``)."""

    enabled: bool
    target_epsilon: PositiveFloat
    target_delta: Probability
    max_grad_norm: PositiveFloat
    epochs: PositiveInt
    batch_size: PositiveInt
    learning_rate: PositiveFloat
    optimiser: Literal["sgd", "adam"] = "sgd"
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.9
    accountant: Literal["prv", "rdp", "gdp"] = "prv"
    grad_sample_mode: Literal["hooks", "functorch", "ew", "ghost"] = "hooks"


class TrainingSetup(_Section):
    device: Device
    fairness_mitigation: Literal["none", "reweight_groups"]
    network: Network
    training: Training
    privacy: Privacy | None = None


class ModelEngineering(_Section):
    training_setup: TrainingSetup


# --- parameters/model_evaluation.yml -------------------------------------------------------
class Inference(_Section):
    device: Device
    batch_size: PositiveInt


class MembershipInference(_Section):
    nonmember_splits: Annotated[list[HeldOutSplit], Field(min_length=1)]
    attacks: Annotated[list[AttackName], Field(min_length=1)]
    max_per_side: PositiveInt | None


class Calibration(_Section):
    n_bins: PositiveInt
    temperature_scaling: bool


class Conformal(_Section):
    method: Literal["aps", "lac"]
    randomized: bool
    alpha: Probability


class Adversarial(_Section):
    eps: NonNegativeFloat
    pgd_steps: PositiveInt
    pgd_step_size: PositiveFloat
    n_samples: PositiveInt


class Selective(_Section):
    target_accuracy: Annotated[float, Field(gt=0.0, le=1.0)]


class Fairness(_Section):
    sensitive_features: Annotated[list[str], Field(min_length=1)]
    n_boot: PositiveInt
    confidence_level: Probability


class Transparency(_Section):
    methods: Annotated[list[AttributionMethod], Field(min_length=1)]
    faithfulness_method: AttributionMethod
    n_test_images: PositiveInt
    ig_steps: PositiveInt
    ig_internal_batch_size: PositiveInt | None = None
    baseline: float
    deletion_fractions: Annotated[list[Rate], Field(min_length=2)]
    n_random_orders: PositiveInt
    grid_images: PositiveInt

    @model_validator(mode="after")
    def _check(self) -> Transparency:
        if self.faithfulness_method not in self.methods:
            raise ValueError(f"faithfulness_method {self.faithfulness_method!r} must be one of "
                             f"methods {self.methods}")
        if self.deletion_fractions != sorted(self.deletion_fractions):
            raise ValueError("deletion_fractions must be increasing")
        return self


class ModelEvaluation(_Section):
    inference: Inference
    membership_inference: MembershipInference
    calibration: Calibration
    conformal: Conformal
    adversarial: Adversarial
    selective: Selective
    fairness: Fairness
    transparency: Transparency


# --- parameters/deployment.yml -------------------------------------------------------------
class Release(_Section):
    input_example_size: PositiveInt
    tagged_metrics: list[MetricName]
    human_approval_required: bool
    max_batch_size: PositiveInt


class Serving(_Section):
    """``deployment.serving``: the request guard's limits (``request_guard.py``)."""

    max_body_bytes: PositiveInt
    max_nesting_depth: PositiveInt
    body_timeout_seconds: PositiveFloat


class Deployment(_Section):
    release: Release
    serving: Serving


# --- parameters/monitoring.yml -------------------------------------------------------------
class Reference(_Section):
    split: SplitName
    max_images: PositiveInt
    holdout_split: SplitName


class Drift(_Section):
    alpha: Probability
    n_permutations: PositiveInt

    @model_validator(mode="after")
    def _resolution(self) -> Drift:
        if 1 / (self.n_permutations + 1) >= self.alpha / 3:
            raise ValueError(f"n_permutations {self.n_permutations} is too small to ever flag "
                             f"drift at alpha {self.alpha} (the smallest p-value "
                             f"1/(n_permutations+1) must fall below alpha/3); use at least "
                             f"{math.ceil(3 / self.alpha)}")
        return self


class Live(_Section):
    confidence_level: Probability
    n_bins: PositiveInt
    n_boot: PositiveInt


class Decision(_Section):
    max_accuracy_drop: Rate | None
    max_worst_group_accuracy_drop: Rate | None
    max_ece_increase: Rate | None
    max_abstention_increase: Rate | None


class Monitoring(_Section):
    batch: Annotated[str, Field(min_length=1)] | int   # a folder name; `--params` reads 2024 as int
    reference: Reference
    drift: Drift
    live: Live
    decision: Decision


# --- parameters/retrain.yml ----------------------------------------------------------------
class Merge(_Section):
    test_fraction: Rate


class Retrain(_Section):
    merge: Merge


# --- all of them ---------------------------------------------------------------------------
class Parameters(_Section):
    """Every top-level parameter key. ``mlflow_experiment`` is the runtime-only key that
    ``make monitor`` passes (conf/base/mlflow.yml reads it)."""

    seed: Annotated[int, Field(ge=0, lt=2**32)]
    data_schema: DataSchema
    data_understanding: DataUnderstanding
    data_engineering: DataEngineering
    model_engineering: ModelEngineering
    model_evaluation: ModelEvaluation
    deployment: Deployment
    monitoring: Monitoring
    retrain: Retrain
    trust_requirements: dict[str, Any]   # its own schema: trust.requirements.parse_requirements
    mlflow_experiment: Annotated[str, Field(min_length=1)] | None = None


def validate_parameters(params: Mapping[str, Any], sources: ParameterSources | None = None) -> None:
    """Check every parameter; raise ``ParameterError`` listing each problem with its dotted
    key, the file it comes from (``sources``), the value found and what is valid.
    ``trust_requirements`` is checked by ``parse_requirements`` (``RequirementsError``)."""
    sources = sources or ParameterSources()
    try:
        Parameters.model_validate(dict(params))
    except ValidationError as exc:
        problems = list(dict.fromkeys(_describe(error, sources) for error in _merged(exc.errors())))
        raise ParameterError(
            f"{len(problems)} problem(s) in the parameters; nothing was run:\n"
            + "\n".join(f"  - {problem}" for problem in problems)
            + "\nFix the value in the file named (or the --params given) and run again."
        ) from None
    parse_requirements(params.get("trust_requirements", {}))


class ParameterSources:
    """Where each parameter was written: ``--params`` first, then the run environment's
    files (``conf/local``), then the base files, as Kedro merges them."""

    def __init__(self, files: list[tuple[str, Mapping[str, Any]]] | None = None,
                 runtime: Mapping[str, Any] | None = None) -> None:
        self._layers = [("--params", runtime or {}), *(files or [])]

    @classmethod
    def from_config_loader(cls, loader: Any, project_path: Path) -> ParameterSources:
        """Read the parameters files the way ``OmegaConfigLoader`` finds them (its
        ``config_patterns["parameters"]`` in the base and the run environment)."""
        envs = [loader.base_env, loader.env or loader.default_run_env]
        files = []
        for env in reversed(list(dict.fromkeys(e for e in envs if e))):
            root = Path(loader.conf_source) / env
            found = {path for pattern in loader.config_patterns["parameters"]
                     for path in root.glob(f"{pattern}/*" if pattern.endswith("**") else pattern)
                     if path.is_file() and path.suffix in {".yml", ".yaml", ".json"}
                     and not any(part.startswith(".") for part in path.relative_to(root).parts)}
            for path in sorted(found):
                try:
                    tree = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                except yaml.YAMLError:
                    continue
                shown = path.relative_to(project_path) if path.is_relative_to(project_path) else path
                files.append((str(shown), tree if isinstance(tree, Mapping) else {}))
        return cls(files, getattr(loader, "runtime_params", None))

    def of(self, loc: tuple[str, ...]) -> str:
        """The file (or ``--params``) that holds the longest prefix of ``loc``."""
        best, depth = "the parameters", 0
        for name, tree in self._layers:
            found = _depth(tree, loc)
            if found > depth:
                best, depth = name, found
        return best


def _depth(tree: Any, loc: tuple[str, ...]) -> int:
    depth = 0
    for part in loc:
        if not isinstance(tree, Mapping) or part not in tree:
            break
        tree, depth = tree[part], depth + 1
    return depth


def _merged(errors: list[Any]) -> list[dict[str, Any]]:
    """One error per place: the branches of a union (``int | str``) become "... or ..."."""
    merged: dict[tuple[str, ...], dict[str, Any]] = {}
    for error in errors:
        loc = tuple(str(part) for part in error["loc"] if not _union_branch(str(part)))
        msg = error["msg"].removeprefix("Value error, ")
        if loc in merged:
            merged[loc]["msg"] += " or " + msg.removeprefix("Input should be ")
        else:
            merged[loc] = {**error, "loc": loc, "msg": msg}
    return list(merged.values())


def _union_branch(part: str) -> bool:
    return part in {"int", "str", "float", "bool"} or part.startswith(("constrained-", "function-"))


def _describe(error: Mapping[str, Any], sources: ParameterSources) -> str:
    loc = tuple(str(part) for part in error["loc"] if not str(part).isdigit())
    key = ".".join(loc) or "(top level)"
    where = sources.of(tuple(str(part) for part in error["loc"] if not str(part).isdigit()))
    if error["type"] == "extra_forbidden":
        valid = sorted(_model_at(loc[:-1]).model_fields)
        close = difflib.get_close_matches(loc[-1], valid, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"valid keys here are {valid}"
        return f"{key}: unknown key ({where}); {hint}"
    if error["type"] == "missing":
        return f"{key}: missing ({where}); write it in that file"
    index = [str(part) for part in error["loc"] if str(part).isdigit()]
    item = f" (item {index[-1]})" if index else ""
    return f"{key}{item}: {error['msg']}; found {error.get('input')!r} ({where})"


def _model_at(loc: tuple[str, ...]) -> type[BaseModel]:
    """The model class of the section at ``loc`` (for the valid keys of an unknown key)."""
    model: type[BaseModel] = Parameters
    for part in loc:
        annotation = model.model_fields[part].annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        model = next(c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel))
    return model
