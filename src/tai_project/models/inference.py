"""The MLflow pyfunc inference model: raw pixels in; label, confidence and referral out."""

from __future__ import annotations

import json

import mlflow.pyfunc
import numpy as np
import pandas as pd
import torch
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from tai_project.models.network import load_checkpoint
from tai_project.models.training import predict_proba

REFER = "REFER_TO_HUMAN"
"""The ``decision`` of a case whose confidence is below the threshold: a human decides."""


class ImageClassifierModel(mlflow.pyfunc.PythonModel):
    """Preprocessing and network in one model: the network standardises its own input.

    Input: a float32 tensor of raw pixels, channels-last ``(n, height, width, channels)``
    (channels = 1 for grayscale, 3 for RGB), in the units of the training images; the MLflow
    signature records that shape (``image_shape`` in the policy is ``[height, width,
    channels]``).

    Artifacts: ``network`` (a checkpoint written by ``save_checkpoint``), ``labels`` (a JSON
    list mapping class index to label) and optionally ``policy`` (JSON: ``temperature`` that
    divides the logits, ``confidence_threshold`` below which a case is referred to a human,
    and the input limits ``image_shape``, ``pixel_range``, ``max_batch_size``).

    A batch that is empty, too large, of the wrong shape, not numeric, non-finite or outside
    the pixel range is refused with an ``INVALID_PARAMETER_VALUE`` error (HTTP 400 from
    ``mlflow models serve``) that says what was found and what is expected.

    Output columns: ``label`` (the top class), ``confidence``, ``referred`` (True: a human
    decides) and ``decision`` (the label as text, or ``REFER_TO_HUMAN``).
    """

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.network = load_checkpoint(context.artifacts["network"])
        with open(context.artifacts["labels"], encoding="utf-8") as handle:
            self.labels = json.load(handle)
        self.temperature, self.confidence_threshold, self.limits = 1.0, None, {}
        if "policy" in context.artifacts:
            with open(context.artifacts["policy"], encoding="utf-8") as handle:
                policy = json.load(handle)
            self.temperature = float(policy["temperature"])
            self.confidence_threshold = policy["confidence_threshold"]
            self.limits = {k: policy[k] for k in ("image_shape", "pixel_range", "max_batch_size")
                           if policy.get(k) is not None}

    def predict(self, context, model_input, params=None) -> pd.DataFrame:  # noqa: ARG002
        pixels = self._validated(model_input)
        probabilities = predict_proba(
            self.network, pixels, batch_size=1024, device=torch.device("cpu"),
            temperature=self.temperature,
        )
        labels = [self.labels[i] for i in probabilities.argmax(axis=1)]
        confidence = probabilities.max(axis=1)
        referred = (
            confidence < self.confidence_threshold
            if self.confidence_threshold is not None
            else np.zeros(len(confidence), dtype=bool)
        )
        return pd.DataFrame(
            {
                "label": labels,
                "confidence": confidence,
                "referred": referred,
                "decision": [REFER if r else str(label) for r, label in zip(referred, labels)],
            }
        )

    def _validated(self, model_input) -> np.ndarray:
        """Return the batch as float32 pixels, or raise ``MlflowException`` (400) saying why not."""
        try:
            pixels = np.asarray(model_input, dtype=np.float32)
        except (TypeError, ValueError):
            _refuse("the input is not numeric pixel values (found non-numeric entries)")
        shape = tuple(self.limits.get("image_shape", pixels.shape[1:]))
        if pixels.ndim != 1 + len(shape) or tuple(pixels.shape[1:]) != shape:
            _refuse(f"expected a batch of shape (n, {', '.join(map(str, shape))}), "
                    f"found shape {tuple(pixels.shape)}")
        if len(pixels) == 0:
            _refuse("the batch is empty; send at least one image")
        limit = self.limits.get("max_batch_size")
        if limit is not None and len(pixels) > limit:
            _refuse(f"the batch holds {len(pixels)} images, more than max_batch_size={limit}; "
                    "split it into smaller requests")
        if not np.isfinite(pixels).all():
            _refuse(f"{int((~np.isfinite(pixels)).sum())} pixel value(s) are NaN or infinite")
        low, high = self.limits.get("pixel_range", (-np.inf, np.inf))
        if pixels.min() < low or pixels.max() > high:
            _refuse(f"pixel values must lie in [{low}, {high}], found "
                    f"[{float(pixels.min())}, {float(pixels.max())}]")
        return pixels


def _refuse(reason: str) -> None:
    raise MlflowException(f"Invalid input: {reason}.", error_code=INVALID_PARAMETER_VALUE)
