"""The MLflow pyfunc inference model: raw pixels in; label, confidence and referral out."""

from __future__ import annotations

import json

import mlflow.pyfunc
import numpy as np
import pandas as pd
import torch

from tai_project.models.network import load_checkpoint
from tai_project.models.training import predict_proba

REFER = "REFER_TO_HUMAN"
"""The ``decision`` of a case whose confidence is below the threshold: a human decides."""


class ImageClassifierModel(mlflow.pyfunc.PythonModel):
    """Preprocessing and network in one model: the network standardises its own input.

    Artifacts: ``network`` (a checkpoint written by ``save_checkpoint``), ``labels`` (a JSON
    list mapping class index to label) and optionally ``policy`` (JSON: ``temperature`` that
    divides the logits, ``confidence_threshold`` below which a case is referred to a human).

    Output columns: ``label`` (the top class), ``confidence``, ``referred`` (True: a human
    decides) and ``decision`` (the label as text, or ``REFER_TO_HUMAN``).
    """

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.network = load_checkpoint(context.artifacts["network"])
        with open(context.artifacts["labels"], encoding="utf-8") as handle:
            self.labels = json.load(handle)
        self.temperature, self.confidence_threshold = 1.0, None
        if "policy" in context.artifacts:
            with open(context.artifacts["policy"], encoding="utf-8") as handle:
                policy = json.load(handle)
            self.temperature = float(policy["temperature"])
            self.confidence_threshold = policy["confidence_threshold"]

    def predict(self, context, model_input, params=None) -> pd.DataFrame:  # noqa: ARG002
        pixels = np.asarray(model_input, dtype=np.float32)
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
