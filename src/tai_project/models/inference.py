"""The MLflow pyfunc inference model: raw pixels in, label and confidence out."""

from __future__ import annotations

import json

import mlflow.pyfunc
import numpy as np
import pandas as pd
import torch

from tai_project.models.network import load_checkpoint
from tai_project.models.training import predict_proba


class ImageClassifierModel(mlflow.pyfunc.PythonModel):
    """Preprocessing and network in one model: the network standardises its own input.

    Artifacts: ``network`` (a checkpoint written by ``save_checkpoint``) and ``labels``
    (a JSON list mapping class index to label).
    """

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.network = load_checkpoint(context.artifacts["network"])
        with open(context.artifacts["labels"], encoding="utf-8") as handle:
            self.labels = json.load(handle)

    def predict(self, context, model_input, params=None) -> pd.DataFrame:  # noqa: ARG002
        pixels = np.asarray(model_input, dtype=np.float32)
        probabilities = predict_proba(
            self.network, pixels, batch_size=1024, device=torch.device("cpu")
        )
        return pd.DataFrame(
            {
                "label": [self.labels[i] for i in probabilities.argmax(axis=1)],
                "confidence": probabilities.max(axis=1),
            }
        )
