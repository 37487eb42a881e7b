"""The `mlflow` backend type: MLflow scoring servers (`/invocations`)."""
