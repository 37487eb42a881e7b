"""Save an MLflow scikit-learn iris classifier (with its signature) to a folder (run as a script).

Usage: python -m tests.predictive.mlflow_iris DIR
Run in its own process: importing mlflow is slow and the test process does not need it.
"""

from __future__ import annotations

import sys

import mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def main(path: str) -> None:
    features, labels = load_iris(return_X_y=True, as_frame=True)
    features.columns = COLUMNS
    classifier = LogisticRegression(max_iter=1000).fit(features, labels)
    signature = infer_signature(features, classifier.predict(features))
    mlflow.sklearn.save_model(classifier, path, signature=signature)


if __name__ == "__main__":
    main(sys.argv[1])
