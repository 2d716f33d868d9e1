"""The MLflow model-from-code file of the registered classifier.

``ModelRegistryDataset`` logs this file instead of a pickled ``ImageClassifierModel``, so
loading a registered model runs reviewed source code (this file, hashed in the model's
SHA-256 manifest) and never unpickles an object (MLflow "models from code").
"""

import mlflow

from tai_project.models.inference import ImageClassifierModel

mlflow.models.set_model(ImageClassifierModel())
