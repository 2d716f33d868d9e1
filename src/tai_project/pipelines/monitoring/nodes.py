"""Nodes of the monitoring stage: read a production batch, score it with the champion, test
it for drift against the training reference, measure live trust metrics, recommend an action."""

from __future__ import annotations

import html
import io
import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from tai_project.data_description import group_columns, group_of
from tai_project.errors import DataValidationError, ParameterError
from tai_project.image_layout import channels_last
from tai_project.lazy import lazy_module
from tai_project.pipelines.tracking import as_metric_history

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from tai_project.trust.live_metrics import LiveMetrics

decomposition = lazy_module("sklearn.decomposition")
trust_drift = lazy_module("tai_project.trust.drift")
embedding = lazy_module("tai_project.models.embedding")
trust_live_metrics = lazy_module("tai_project.trust.live_metrics")
plt = lazy_module("matplotlib.pyplot")

DECISIONS = ("ok", "warn", "retrain")

logger = logging.getLogger(__name__)


HOLDOUT_BATCH = "holdout"
"""``monitoring.batch`` naming the slice of the labelled data data_engineering set aside."""


def load_production_batch(
    images: dict[str, Callable[[], bytes]],
    metadata: dict[str, Callable[[], pd.DataFrame]],
    batch_name: str,
    data_schema: dict[str, Any],
    model_input: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Return the batch ``batch_name`` as arrays: ``pixels`` (uint8, channels-last
    ``(n, height, width, channels)``),
    ``ids``, and ``labels`` (class index) / ``groups`` when its metadata.csv has ``label`` /
    the group columns. ``holdout`` is the labelled slice data_engineering set aside
    (``model_input``'s ``production`` split); any other name is a folder under
    ``data_schema.production``. Raises ``DataValidationError`` naming the file for a missing
    or empty batch, an unknown label, a missing, corrupt or wrongly shaped image."""
    if batch_name == HOLDOUT_BATCH:
        return _holdout_batch(model_input)
    where = f"{data_schema['production']}/{batch_name}"
    if f"{batch_name}/metadata" not in metadata:
        available = sorted({key.split("/")[0] for key in metadata})
        raise DataValidationError(
            f"Production batch {batch_name!r} not found: no {where}/metadata.csv. Available "
            f"batches: {available} and {HOLDOUT_BATCH!r} (the held-out slice of your data). "
            "Set monitoring.batch (e.g. `kedro run --pipeline monitoring --params "
            f"monitoring.batch={HOLDOUT_BATCH}`) or add a folder {where}/ with images/ and "
            "metadata.csv (image_id, path[, label and the group columns])."
        )
    table = metadata[f"{batch_name}/metadata"]()
    if table.empty:
        raise DataValidationError(
            f"Production batch {batch_name!r} is empty: {where}/metadata.csv has no rows. "
            "Expected one row per image (image_id, path[, label])."
        )
    height, width = data_schema["image_height"], data_schema["image_width"]
    pixels = np.stack([
        _decode(images, where, batch_name, str(path), (width, height), data_schema["image_mode"])
        for path in table["path"]
    ])
    batch = {"pixels": pixels, "ids": table["image_id"].astype(str).to_numpy()}
    if "label" in table:
        batch["labels"] = _class_indices(table["label"], data_schema["classes"], where)
    if set(group_columns(data_schema)) <= set(table.columns):
        batch["groups"] = group_of(table, data_schema).to_numpy()
    return batch


def _holdout_batch(model_input: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if not len(model_input.get("production_ids", ())):
        raise DataValidationError(
            f"monitoring.batch is {HOLDOUT_BATCH!r}, but data_engineering set no slice of the "
            "data aside (model_input has no production split). Set dataset.production_holdout "
            "(e.g. 0.1) in conf/base/globals.yml and run `kedro run`, or set monitoring.batch "
            "to a batch folder under dataset.production."
        )
    return {key: model_input[f"production_{key}"] for key in ("pixels", "ids", "labels", "groups")}


def _decode(images: dict[str, Callable[[], bytes]], where: str, batch: str, path: str,
            size: tuple[int, int], mode: str) -> np.ndarray:
    file = f"{where}/images/{path}"
    key = f"{batch}/images/{path.removesuffix('.png')}"
    if key not in images:
        raise DataValidationError(
            f"{file} is listed in {where}/metadata.csv but does not exist. "
            "Add the image or remove its row."
        )
    try:
        image = Image.open(io.BytesIO(images[key]()))
        image.load()
    except (UnidentifiedImageError, OSError) as error:
        raise DataValidationError(
            f"{file} is not a readable image ({error}). Expected a {mode} PNG of "
            f"{size[0]}x{size[1]} pixels; re-export or remove it from the batch."
        ) from error
    if image.size != size or image.mode != mode:
        raise DataValidationError(
            f"Production batch {batch!r}: {file} is {image.size[1]}x{image.size[0]}x{image.mode} "
            f"(HxWxmode); expected {size[1]}x{size[0]}x{mode} (the dataset description, "
            "conf/base/globals.yml). Resize/convert the batch's images as the training "
            "images were, or describe the data they belong to."
        )
    return channels_last(np.asarray(image, dtype=np.uint8))


def _class_indices(labels: pd.Series, classes: list[Any], where: str) -> np.ndarray:
    index = {str(c): i for i, c in enumerate(classes)}
    unknown = sorted(set(labels.astype(str)) - set(index))
    if unknown:
        raise DataValidationError(
            f"{where}/metadata.csv has labels {unknown} that are not in data_schema.classes "
            f"{classes}. Fix the labels or leave the label column out (an unlabelled batch)."
        )
    return labels.astype(str).map(index).to_numpy()


def score_with_champion(champion_model: Any, pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Return the deployed champion's outputs for ``pixels``: ``label``, ``confidence``,
    ``referred`` (the pyfunc, as served) and ``embeddings`` (its network's penultimate layer).

    The one place monitoring reaches into the champion (an MLflow pyfunc of
    ``ImageClassifierModel``): a verified loader can replace the catalog entry behind it.
    """
    frame = champion_model.predict(np.asarray(pixels, dtype=np.float32))
    network = champion_model.unwrap_python_model().network
    return {
        "label": frame["label"].astype(str).to_numpy(),
        "confidence": frame["confidence"].to_numpy(dtype=np.float64),
        "referred": frame["referred"].to_numpy(dtype=bool),
        "embeddings": embedding.penultimate_embeddings(network, pixels),
    }


def score_reference(
    champion_model: Any, deployment_record: dict[str, Any], model_input: dict[str, np.ndarray],
    params: dict[str, Any], seed: int,
) -> dict[str, Any]:
    """Return the champion's scores on the drift reference (a seeded sample of at most
    ``max_images`` of ``params.split``) and on the held-out ``params.holdout_split`` (with its
    labels and groups), the baseline the batch's live metrics are compared with."""
    _require_champion(deployment_record)
    pixels = model_input[f"{params['split']}_pixels"]
    _require_champion_input(champion_model, pixels, f"The {params['split']} split (model_input)")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.permutation(len(pixels))[: params["max_images"]])
    holdout = params["holdout_split"]
    return {
        "reference": {"pixels": pixels[chosen],
                      **score_with_champion(champion_model, pixels[chosen])},
        "holdout": {"labels": model_input[f"{holdout}_labels"],
                    "groups": model_input[f"{holdout}_groups"],
                    **score_with_champion(champion_model, model_input[f"{holdout}_pixels"])},
    }


def score_batch(champion_model: Any, deployment_record: dict[str, Any],
                batch: dict[str, np.ndarray], batch_name: str) -> dict[str, np.ndarray]:
    """Return the champion's scores of the production batch (see ``score_with_champion``)."""
    _require_champion(deployment_record)
    _require_champion_input(champion_model, batch["pixels"], f"Production batch {batch_name!r}")
    return score_with_champion(champion_model, batch["pixels"])


def _require_champion_input(champion_model: Any, pixels: np.ndarray, what: str) -> None:
    """Refuse, in one line, images of another shape than the champion's input signature
    (a champion of another dataset), before MLflow's schema enforcement dumps the array."""
    schema = champion_model.metadata.get_input_schema()
    if schema is None or not schema.inputs:
        return
    expected = tuple(int(d) for d in schema.inputs[0].shape[1:])
    found = tuple(int(d) for d in np.shape(pixels)[1:])
    if expected != found:
        raise DataValidationError(
            f"{what} holds images of {_shape_text(found)}, but the champion takes "
            f"{_shape_text(expected)}: monitor a batch of the champion's data, or train and "
            "promote a model on this dataset first (`kedro run`; the registered model is "
            "tai_<dataset.name>)."
        )


def _shape_text(shape: tuple[int, ...]) -> str:
    """``(8, 8)`` -> ``8x8xL``; ``(32, 32, 3)`` -> ``32x32xRGB``; other shapes as ``AxBxC``."""
    modes = {1: "L", 3: "RGB", 4: "RGBA"}
    if len(shape) == 2:  # noqa: PLR2004 - a grayscale image is height x width
        return f"{shape[0]}x{shape[1]}xL"
    if len(shape) == 3 and shape[-1] in modes:  # noqa: PLR2004 - height x width x channels
        return f"{shape[0]}x{shape[1]}x{modes[shape[-1]]}"
    return "x".join(str(d) for d in shape)


def _require_champion(deployment_record: dict[str, Any]) -> None:
    # deployment_record as an input also orders scoring after this run's deployment
    if deployment_record.get("champion") is None:
        raise DataValidationError(
            f"No champion in the registry ({deployment_record}): monitoring scores batches "
            "with the champion. Run `kedro run` until a model passes the trust gate."
        )


def detect_drift(
    reference_scores: dict[str, Any], batch: dict[str, np.ndarray],
    batch_scores: dict[str, np.ndarray], params: dict[str, Any], seed: int,
) -> dict[str, Any]:
    """Return the three drift tests of the batch against the reference (KS per image
    statistic, MMD on embeddings, chi-square on predicted classes) at family-wise ``alpha``."""
    if 1 / (params["n_permutations"] + 1) >= params["alpha"] / 3:
        raise ParameterError(
            f"monitoring.drift.n_permutations is {params['n_permutations']}: the smallest "
            f"permutation p-value 1/{params['n_permutations'] + 1} cannot fall below the "
            f"embedding test's alpha {params['alpha']}/3, so it could never flag drift. "
            f"Set n_permutations >= {int(3 / params['alpha'])} in conf/base/parameters/monitoring.yml."
        )
    reference = reference_scores["reference"]
    drift = trust_drift.detect_batch_drift(
        reference_pixels=reference["pixels"], reference_embeddings=reference["embeddings"],
        reference_predictions=reference["label"], batch_pixels=batch["pixels"],
        batch_embeddings=batch_scores["embeddings"], batch_predictions=batch_scores["label"],
        alpha=params["alpha"], n_permutations=params["n_permutations"], seed=seed,
    )
    return {"drifted": drift.drifted, "drifted_tests": drift.drifted_tests,
            **{k: v for k, v in asdict(drift).items()}}


def measure_live_metrics(
    reference_scores: dict[str, Any], batch: dict[str, np.ndarray],
    batch_scores: dict[str, np.ndarray], params: dict[str, Any], data_schema: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Return the live trust metrics of the batch and, as the baseline, of the champion on
    the held-out split (accuracy, worst-group accuracy, ECE only when labels exist)."""
    holdout = reference_scores["holdout"]
    return {
        "labelled": "labels" in batch,
        "batch": asdict(_live(batch_scores, batch.get("labels"), batch.get("groups"),
                              params, data_schema, seed)),
        "holdout": asdict(_live(holdout, holdout["labels"], holdout["groups"], params,
                                data_schema, seed)),
    }


def _live(scores: dict[str, np.ndarray], labels: np.ndarray | None, groups: np.ndarray | None,
          params: dict[str, Any], data_schema: dict[str, Any], seed: int) -> LiveMetrics:
    classes = np.asarray([str(c) for c in data_schema["classes"]])
    correct = None if labels is None else scores["label"] == classes[np.asarray(labels)]
    return trust_live_metrics.live_metrics(
        confidence=scores["confidence"], referred=scores["referred"], correct=correct,
        groups=groups, n_bins=params["n_bins"], confidence_level=params["confidence_level"],
        n_boot=params["n_boot"], seed=seed,
    )


def recommend_action(
    drift: dict[str, Any], live: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any]:
    """Return ``{"decision": ok | warn | retrain, "reasons": [...]}``.

    ``retrain``: the batch is labelled and a live metric is worse than the champion's
    held-out value by more than its allowed margin, beyond the interval (so the evidence is
    at the configured confidence level). ``warn``: a drift test fired, or (no labels) the
    abstention rate rose beyond its margin: the inputs moved, labels would tell whether the
    model suffers. ``ok``: neither.
    """
    degraded = _degradations(live, params)
    reasons = list(degraded)
    if drift["drifted"]:
        reasons.append(f"drift detected by {', '.join(drift['drifted_tests'])} "
                       f"(family-wise alpha {drift['alpha']})")
    if degraded and live["labelled"]:
        decision = "retrain"
    elif reasons:
        decision = "warn"
        if not live["labelled"]:
            reasons.append("the batch has no labels: label a sample to confirm before retraining")
    else:
        decision = "ok"
    return {"decision": decision, "reasons": reasons}


def _degradations(live: dict[str, Any], params: dict[str, Any]) -> list[str]:
    batch, holdout = live["batch"], live["holdout"]
    found = []
    for metric, margin_key, worse in (
        ("accuracy", "max_accuracy_drop", "lower"),
        ("worst_group_accuracy", "max_worst_group_accuracy_drop", "lower"),
        ("ece", "max_ece_increase", "higher"),
        ("abstention_rate", "max_abstention_increase", "higher"),
    ):
        measured, baseline = _estimate(batch, metric), _estimate(holdout, metric)
        margin = params[margin_key]
        if measured is None or baseline is None or margin is None:
            continue
        if worse == "lower" and measured["high"] < baseline["value"] - margin:
            found.append(f"{metric} {measured['value']:.3f} (interval up to {measured['high']:.3f})"
                         f" is more than {margin} below the held-out {baseline['value']:.3f}")
        if worse == "higher" and measured["low"] > baseline["value"] + margin:
            found.append(f"{metric} {measured['value']:.3f} (interval from {measured['low']:.3f})"
                         f" is more than {margin} above the held-out {baseline['value']:.3f}")
    return found


def _estimate(metrics: dict[str, Any], metric: str) -> dict[str, float] | None:
    if metric == "worst_group_accuracy":
        worst = metrics["worst_group"]
        return None if worst is None else metrics["group_accuracy"][worst]
    return metrics[metric]


def build_monitoring_report(
    batch: dict[str, np.ndarray], drift: dict[str, Any], live: dict[str, Any],
    action: dict[str, Any], deployment_record: dict[str, Any], batch_name: str,
) -> dict[str, Any]:
    """Return the monitoring report: batch, champion version, decision and reasons, drift
    tests and live metrics (the JSON a reviewer reads)."""
    logger.info("Monitoring batch %r: %s%s", batch_name, action["decision"].upper(),
                "".join(f"\n  - {reason}" for reason in action["reasons"]))
    return {
        "batch": batch_name,
        "n_images": len(batch["pixels"]),
        "labelled": "labels" in batch,
        "champion_version": deployment_record.get("champion"),
        **action,
        "drift": drift,
        "live_metrics": live,
    }


def monitoring_metrics(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Return the report's headline numbers in kedro-mlflow's metric shape."""
    drift, batch = report["drift"], report["live_metrics"]["batch"]
    flat = {
        "decision_code": DECISIONS.index(report["decision"]),
        "embedding_mmd2": drift["embedding"]["mmd2"],
        "embedding_p_value": drift["embedding"]["p_value"],
        "prediction_p_value": drift["predictions"]["p_value"],
        "min_feature_p_value": min(f["p_value"] for f in drift["features"]),
        "abstention_rate": batch["abstention_rate"]["value"],
        "median_confidence": batch["confidence_quantiles"]["q50"],
    }
    for metric in ("accuracy", "ece"):
        if batch[metric] is not None:
            flat[metric] = batch[metric]["value"]
    if batch["worst_group"] is not None:
        flat["worst_group_accuracy"] = batch["group_accuracy"][batch["worst_group"]]["value"]
    return as_metric_history(flat)


def render_monitoring_html(report: dict[str, Any]) -> str:
    """Return the report as a self-contained HTML page: decision, reasons, drift tests, live
    metrics of the batch next to the champion's held-out values."""
    drift, live = report["drift"], report["live_metrics"]
    rows = [("image statistic " + f["feature"], f"KS {f['ks_statistic']:.3f}", f["p_value"],
             f["drifted"]) for f in drift["features"]]
    rows += [("embedding (MMD, permutation)", f"MMD² {drift['embedding']['mmd2']:.4f}",
              drift["embedding"]["p_value"], drift["embedding"]["drifted"]),
             ("predicted classes (chi-square)", f"χ² {drift['predictions']['chi2']:.1f}",
              drift["predictions"]["p_value"], drift["predictions"]["drifted"])]
    drift_rows = "".join(
        f"<tr><td>{html.escape(n)}</td><td>{s}</td><td>{p:.2g}</td><td>{'DRIFT' if d else 'ok'}"
        "</td></tr>" for n, s, p, d in rows)
    live_rows = "".join(
        f"<tr><td>{m}</td><td>{_fmt(_estimate(live['batch'], m))}</td>"
        f"<td>{_fmt(_estimate(live['holdout'], m))}</td></tr>"
        for m in ("accuracy", "worst_group_accuracy", "ece", "abstention_rate"))
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in report["reasons"]) or "<li>none</li>"
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Monitoring report</title>"
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;border-bottom:1px solid #ccc}"
        "</style></head><body>"
        f"<h1>Monitoring: batch {html.escape(report['batch'])} ({report['n_images']} images)</h1>"
        f"<p>Champion version {report['champion_version']}. Decision: "
        f"<b>{report['decision'].upper()}</b></p><ul>{reasons}</ul>"
        f"<h2>Drift tests (family-wise alpha {drift['alpha']}, per test {drift['test_alpha']:.4g}"
        ")</h2><table><tr><th>test</th><th>statistic</th><th>p-value</th><th>result</th></tr>"
        f"{drift_rows}</table><h2>Live trust metrics (value [interval])</h2><table><tr><th>metric"
        f"</th><th>batch</th><th>champion, held-out</th></tr>{live_rows}</table></body></html>"
    )


def _fmt(estimate: dict[str, float] | None) -> str:
    if estimate is None:
        return "n/a (no labels)"
    return f"{estimate['value']:.3f} [{estimate['low']:.3f}, {estimate['high']:.3f}]"


def plot_feature_drift(reference_scores: dict[str, Any], batch: dict[str, np.ndarray],
                       batch_name: str) -> Figure:
    """Return histograms of each per-image statistic (per channel too for colour images):
    reference against the batch."""
    reference = trust_drift.image_statistics(reference_scores["reference"]["pixels"])
    current = trust_drift.image_statistics(batch["pixels"])
    columns = min(len(reference), 6)  # colour images add per-channel rows
    rows = -(-len(reference) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3 * rows), squeeze=False)
    for axis in axes.ravel()[len(reference):]:
        axis.axis("off")
    for axis, feature in zip(axes.ravel(), reference):
        bins = np.histogram_bin_edges(np.r_[reference[feature], current[feature]], bins=30)
        axis.hist(reference[feature], bins=bins, density=True, alpha=0.5, label="reference")
        axis.hist(current[feature], bins=bins, density=True, alpha=0.5, label=batch_name)
        axis.set_title(f"pixel {feature}")
    axes[0, 0].legend(fontsize="small")
    figure.tight_layout()
    return figure


def plot_embedding_drift(reference_scores: dict[str, Any], batch_scores: dict[str, np.ndarray],
                         batch_name: str, seed: int) -> Figure:
    """Return the 2-D PCA projection (fitted on the reference) of the penultimate-layer
    embeddings of the reference and the batch."""
    reference = reference_scores["reference"]["embeddings"]
    pca = decomposition.PCA(n_components=2, random_state=seed).fit(reference)
    figure, axis = plt.subplots(figsize=(5, 4.5))
    for name, points in (("reference", reference), (batch_name, batch_scores["embeddings"])):
        projected = pca.transform(points)
        axis.scatter(projected[:, 0], projected[:, 1], s=6, alpha=0.5, label=name)
    axis.set(title="Penultimate-layer embeddings (PCA of the reference)", xlabel="PC 1",
             ylabel="PC 2")
    axis.legend(fontsize="small")
    figure.tight_layout()
    return figure
